"""One alert per story: the same wire story from several outlets, URL variants, retitles, guid
flips, follow-ups, restarts. Loopback feeds and pages written for the tests."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime

from conftest import run_newsmon
from fixtures import RFC822, page, rfc822_days_ago, write_config

from monitor import cli, stories, story_index

WIRE = [
    "Militants stormed a police station in the Bannu district of Khyber Pakhtunkhwa before dawn on "
    "Tuesday, killing four officers and wounding six others in a gun and grenade attack that lasted "
    "nearly three hours, police officials said.",
    "The attackers cut the power to the compound at about 3 a.m. and opened fire from two directions "
    "before forcing their way through the main gate, according to a senior officer who asked not to be "
    "named because he was not authorised to speak to the media.",
    "Reinforcements from the Frontier Constabulary reached the station after an hour and the fighting "
    "continued until sunrise, when two of the attackers were killed and the others escaped towards the "
    "hills along the district boundary, the officer said.",
    "Hospital staff in Bannu said the wounded included a civilian cook who worked at the station and "
    "that two of the injured officers were in a critical condition after being hit by shrapnel.",
    "Attacks on police posts in the province's southern districts have risen sharply over the past year, "
    "with officers complaining of old weapons, thin night patrols and a shortage of armoured vehicles.",
]
CLAIM = ("The Tehreek-e-Taliban Pakistan (TTP) said in a statement to reporters that its fighters had "
         "carried out the raid in revenge for recent security operations.")
OTHER_ATTACK = [
    "Gunmen on motorcycles ambushed a polio vaccination team in Lakki Marwat on Tuesday afternoon, "
    "killing the policeman escorting the health workers, district officials said.",
    "The vaccinators, two women from a nearby village, escaped unhurt and were taken to a rural health "
    "centre, where the campaign was suspended for the rest of the week.",
    "The TTP denied any part in the ambush, while a local elder blamed a criminal gang that has clashed "
    "with the vaccination teams before over access to the villages.",
]


def item(guid, path, title, summary="A report from the frontier.", date=None):
    return {"guid": guid, "path": path, "title": title, "summary": summary, "date": date or RFC822}


def rss(title, site, items):
    entries = "\n".join(
        f"""<item><title>{i['title']}</title><link>{{BASE}}{i.get('link', i['path'])}</link>
<guid isPermaLink="false">{i['guid']}</guid><pubDate>{i.get('date', RFC822)}</pubDate>
<description>{i['summary']}</description></item>""" for i in items)
    return f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>
<link>https://{site}/</link><description>t</description>{entries}</channel></rss>"""


def serve(web, feed_path, title, site, items):
    web.add(feed_path, rss(title, site, items), "application/rss+xml")


RULES = {
    "entities": {
        "ttp": {"names": ["TTP", "Tehreek-e-Taliban Pakistan"]},
        "kp": {"kind": "region", "names": ["Khyber Pakhtunkhwa", "Bannu", "Lakki Marwat"]},
    },
    "rules": [{"name": "kp-attacks", "all": ["@kp"], "any": ["attack*", "ambush*", "storm*"]}],
}


def hook(web):
    return web.base.replace("http://", "json://") + "/hook"


def titles(web):
    return [post["title"] for post in web.json_posts("/hook")]


KOHAT_TIMES = format_datetime((datetime.now(timezone.utc) - timedelta(hours=3)).replace(second=0, microsecond=0))


def three_outlets(web):
    """The same wire story at three outlets, each with its own title, URL and trimmings."""
    web.add("/a/bannu.html", page("/a/bannu.html", "Four police killed in Bannu station attack", "Frontier Post", *WIRE))
    web.add("/b/2026/11/24/bannu-raid.html", page("/b/2026/11/24/bannu-raid.html", "Militants storm Bannu police station",
                                                  "Daily Indus", "BANNU: " + WIRE[0], *WIRE[1:4]))
    web.add("/c/news/991.html", page("/c/news/991.html", "Bannu: four officers die as station is raided", "Kohat Times",
                                     *WIRE, "Our correspondent in Bannu contributed to this report."))
    serve(web, "/a/rss.xml", "Frontier Post", "frontierpost.example", [item("a-1", "/a/bannu.html", "Four police killed in Bannu station attack")])
    serve(web, "/b/rss.xml", "Daily Indus", "dailyindus.example", [item("b-1", "/b/2026/11/24/bannu-raid.html", "Militants storm Bannu police station")])
    serve(web, "/c/rss.xml", "Kohat Times", "kohattimes.example", [item("c-1", "/c/news/991.html", "Bannu: four officers die as station is raided", date=KOHAT_TIMES)])


def config(tmp_path, web, feeds, rules=RULES, **settings):
    return write_config(tmp_path, [{"url": web.base + f, "alert_on_first_poll": True} for f in feeds],
                        {"hook": [hook(web)]}, watchlist=rules, **settings)


def test_the_same_wire_story_from_three_outlets_alerts_once_and_lists_the_others(tmp_path, web):
    three_outlets(web)
    path = config(tmp_path, web, ["/a/rss.xml"])
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert titles(web) == ["[kp-attacks] Four police killed in Bannu station attack"]

    path = config(tmp_path, web, ["/a/rss.xml", "/b/rss.xml", "/c/rss.xml"])
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert len(titles(web)) == 1  # the other outlets joined the story: no second alert

    result = run_newsmon("--config", str(path), "stories", "--json")
    assert result.returncode == 0, result.stderr
    (story,) = json.loads(result.stdout)["stories"]
    assert sorted(a["outlet"] for a in story["articles"]) == ["dailyindus.example", "frontierpost.example",
                                                               "kohattimes.example"]
    assert story["rules"] == ["kp-attacks"]
    # copies of one wire text count once, and are shown under the text they copy
    first = story["articles"][0]
    assert story["independent_outlets"] == [first["outlet"]]
    assert [a["copy_of"] for a in story["articles"]] == [None, first["id"], first["id"]]
    text = run_newsmon("--config", str(path), "stories").stdout
    assert "3 outlet(s), 1 independently" in text
    assert text.count("copy a:") == 2 and f"a:{first['id']} " in text


def test_group_wait_holds_the_alert_to_list_every_outlet(tmp_path, web):
    three_outlets(web)
    rules = {**RULES, "rules": [{**RULES["rules"][0], "group_wait": "10m"}]}
    path = config(tmp_path, web, ["/a/rss.xml", "/b/rss.xml", "/c/rss.xml"], rules=rules)
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert titles(web) == []  # waiting for outlets
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:  # ...ten minutes pass
        db.execute("UPDATE alerts SET next_attempt = next_attempt - 601")
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    (post,) = web.json_posts("/hook")
    assert "Also reported by:" in post["message"]
    # each with the time it published the story, not when newsmon happened to read it (the
    # outlet read first heads the alert, which one depends on which page came back first)
    when = f"{parsedate_to_datetime(KOHAT_TIMES):%Y-%m-%d %H:%M} UTC"
    assert f"kohattimes.example ({when})" in post["message"] or f"kohattimes.example · {when}" in post["message"]
    assert sum(name in post["message"] for name in ("dailyindus.example", "frontierpost.example", "kohattimes.example")) == 3


def test_the_earliest_report_heads_an_alert_still_waiting_whichever_was_read_first(tmp_path, web):
    """On a first poll, or catching up, reports arrive in no particular order: the alert of a
    story that is still waiting is headed by its earliest report, not by the first one read."""
    three_outlets(web)
    hours_ago = lambda hours: format_datetime(datetime.now(timezone.utc) - timedelta(hours=hours))  # noqa: E731
    serve(web, "/a/rss.xml", "Frontier Post", "frontierpost.example",
          [item("a-1", "/a/bannu.html", "Four police killed in Bannu station attack", date=hours_ago(5))])
    serve(web, "/b/rss.xml", "Daily Indus", "dailyindus.example",
          [item("b-1", "/b/2026/11/24/bannu-raid.html", "Militants storm Bannu police station", date=hours_ago(4))])
    rules = {**RULES, "rules": [{**RULES["rules"][0], "group_wait": "10m"}]}
    path = config(tmp_path, web, ["/c/rss.xml"], rules=rules)  # published 3 hours ago: read first
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    path = config(tmp_path, web, ["/c/rss.xml", "/b/rss.xml", "/a/rss.xml"], rules=rules)
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert titles(web) == []  # still waiting for outlets
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:  # ...ten minutes pass
        db.execute("UPDATE alerts SET next_attempt = next_attempt - 601")
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    (post,) = web.json_posts("/hook")
    assert post["title"] == "[kp-attacks] Four police killed in Bannu station attack"  # Frontier Post's, 5 hours ago
    assert "frontierpost.example ·" in post["message"]
    assert "kohattimes.example (" in post["message"] and "dailyindus.example (" in post["message"]
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        (url,) = db.execute("SELECT a.url FROM alerts JOIN articles a ON a.id = alerts.article_id").fetchone()
    assert url.endswith("/a/bannu.html")  # `newsmon alerts --why` explains the report at its head
    (story,) = json.loads(run_newsmon("--config", str(path), "stories", "--json").stdout)["stories"]
    assert story["title"] == "Four police killed in Bannu station attack"  # the story is shown by it too


def test_a_different_attack_the_same_day_is_its_own_story(tmp_path, web):
    three_outlets(web)
    web.add("/a/lakki.html", page("/a/lakki.html", "Polio team ambushed in Lakki Marwat", "Frontier Post", *OTHER_ATTACK))
    serve(web, "/a/rss.xml", "Frontier Post", "frontierpost.example",
          [item("a-2", "/a/lakki.html", "Polio team ambushed in Lakki Marwat"),
           item("a-1", "/a/bannu.html", "Four police killed in Bannu station attack")])
    path = config(tmp_path, web, ["/a/rss.xml", "/b/rss.xml"])
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    bannu, lakki = sorted(titles(web), key=lambda title: "Lakki" in title)
    assert "Bannu" in bannu and lakki == "[kp-attacks] Polio team ambushed in Lakki Marwat"


def test_one_article_under_six_url_variants_is_one_entry(tmp_path, web):
    web.add("/news/1234/bannu-attack", page("/news/1234/bannu-attack", "Four police killed in Bannu station attack", "Dawn", *WIRE))
    variants = ["/news/1234/bannu-attack", "/news/1234/bannu-attack?utm_source=twitter&utm_medium=social",
                "/news/1234/bannu-attack/", "/news/1234/bannu-attack#comments", "/news/1234/bannu-attack/amp",
                "/news/1234/bannu-attack?fbclid=IwAR0abc"]
    for variant in variants:  # the site answers every variant with the page (fragments never reach it)
        web.routes[variant.split("#")[0]] = web.routes["/news/1234/bannu-attack"]
    items = [{**item(f"v-{n}", variant, f"Bannu attack (copy {n})"), "link": variant} for n, variant in enumerate(variants)]
    serve(web, "/v/rss.xml", "Variants", "dawn.example", items)
    path = config(tmp_path, web, ["/v/rss.xml"])
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert len(titles(web)) == 1
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        assert db.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(DISTINCT article_id) FROM entries").fetchone()[0] == 1


def test_a_retitled_entry_and_a_guid_flip_send_no_second_alert(tmp_path, web):
    three_outlets(web)
    path = config(tmp_path, web, ["/a/rss.xml"])
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    serve(web, "/a/rss.xml", "Frontier Post", "frontierpost.example",
          [item("a-1", "/a/bannu.html", "Five police killed in Bannu station attack (updated)")])
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    serve(web, "/a/rss.xml", "Frontier Post", "frontierpost.example",
          [item("a-1-flipped", "/a/bannu.html", "Five police killed in Bannu station attack (updated)")])
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert len(titles(web)) == 1


def test_on_update_new_hits_sends_exactly_one_follow_up_when_the_story_names_the_ttp(tmp_path, web):
    rules = {**RULES, "rules": [{"name": "kp-attacks", "all": ["@kp"], "any": ["attack*", "storm*", "@ttp"],
                                 "on_update": "new_hits"}]}
    three_outlets(web)
    path = config(tmp_path, web, ["/a/rss.xml"], rules=rules)
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    web.add("/a/bannu.html", page("/a/bannu.html", "TTP claims responsibility for Bannu station attack", "Frontier Post",
                                  *WIRE, CLAIM))
    serve(web, "/a/rss.xml", "Frontier Post", "frontierpost.example",
          [item("a-1", "/a/bannu.html", "TTP claims responsibility for Bannu station attack")])
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert cli.main(["--config", str(path), "run", "--once"]) == 0  # nothing new: nothing more
    assert titles(web) == ["[kp-attacks] Four police killed in Bannu station attack",
                           "[kp-attacks] Update: TTP claims responsibility for Bannu station attack"]


def test_a_restart_between_polls_keeps_one_alert_per_story(tmp_path, web):
    three_outlets(web)
    path = config(tmp_path, web, ["/a/rss.xml"])
    assert run_newsmon("--config", str(path), "run", "--once").returncode == 0  # one process...
    path = config(tmp_path, web, ["/a/rss.xml", "/b/rss.xml", "/c/rss.xml"])
    assert run_newsmon("--config", str(path), "run", "--once").returncode == 0  # ...and another
    assert len(titles(web)) == 1


def _as_legacy_signatures(database):
    """Rewrite every stored signature in the format and with the shingle hash of newsmon before
    signature version 2, as a store written by an older newsmon holds them (with no saved story
    window: `monitor.window`)."""
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT id, title, text FROM articles WHERE signature IS NOT NULL").fetchall()
        assert rows
        db.executemany("UPDATE articles SET signature = ? WHERE id = ?",
                       [(stories.legacy_signature(title, text).pack(), article_id) for article_id, title, text in rows])
    for saved in database.parent.glob("*-window.pickle"):  # nor did it keep its story window between runs
        saved.unlink()


def test_signatures_stored_by_an_older_newsmon_still_join_their_stories(tmp_path, web):
    three_outlets(web)
    path = config(tmp_path, web, ["/a/rss.xml"])
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    database = tmp_path / "state" / "newsmon.db"
    _as_legacy_signatures(database)  # ...then newsmon is upgraded
    path = config(tmp_path, web, ["/a/rss.xml", "/b/rss.xml", "/c/rss.xml"])
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert len(titles(web)) == 1  # the other outlets joined the story made before the upgrade
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(DISTINCT story_id) FROM articles").fetchone()[0] == 1
        blobs = [row[0] for row in db.execute("SELECT signature FROM articles")]
    assert len(blobs) == 3 and all(stories.is_current(blob) for blob in blobs)  # made again and stored


def sloppy_site(web, pages: list[tuple[str, str, tuple[str, ...]]], canonical: str) -> None:
    """An outlet whose CMS gives every page the same canonical URL; its feed lists the first page."""
    for path, title, body in pages:
        html = page(path, title, "Sloppy CMS", *body).replace(f'href="{{BASE}}{path}"', f'href="{{BASE}}{canonical}"')
        web.add(path, html)
    serve(web, "/x/rss.xml", "Sloppy", "sloppy.example", [item("x-1", pages[0][0], pages[0][1])])


def test_a_page_canonical_url_check_reads_an_older_newsmons_signature(tmp_path, web):
    """The same-text check behind a shared canonical URL compares with a stored signature of the
    old format by making it again from the stored text (outside the story window too)."""
    sloppy_site(web, [("/x/bannu.html", "Four police killed in Bannu station attack", WIRE),
                      ("/x/bannu-2.html", "Bannu station attack: four police killed", WIRE)], "/news/bannu")
    path = config(tmp_path, web, ["/x/rss.xml"], story_window="1s")
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    database = tmp_path / "state" / "newsmon.db"
    _as_legacy_signatures(database)
    with sqlite3.connect(database) as db:  # outside the story window: not made again at start
        db.execute("UPDATE articles SET fetched = fetched - 60")
    serve(web, "/x/rss.xml", "Sloppy", "sloppy.example",
          [item("x-2", "/x/bannu-2.html", "Bannu station attack: four police killed"),
           item("x-1", "/x/bannu.html", "Four police killed in Bannu station attack")])
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert len(titles(web)) == 1
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 1  # linked: the same text


def test_stories_command_reads_without_creating_state(tmp_path, web):
    path = config(tmp_path, web, ["/a/rss.xml"])
    result = run_newsmon("--config", str(path), "stories")
    assert result.returncode == 1 and "no newsmon state" in result.stderr
    assert not (tmp_path / "state" / "newsmon.db").exists()


def test_the_daemon_keeps_one_alert_per_story_across_cycles(tmp_path, web):
    import signal
    import subprocess
    import sys

    from conftest import ROOT, wait_for

    three_outlets(web)
    serve(web, "/b/rss.xml", "Daily Indus", "dailyindus.example", [])  # B has not published yet
    feeds = [{"url": web.base + "/a/rss.xml", "alert_on_first_poll": True},
             {"url": web.base + "/b/rss.xml", "interval": "2s"}]
    path = write_config(tmp_path, feeds, {"hook": [hook(web)]}, watchlist=RULES)
    process = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(path), "run"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: len(titles(web)) == 1, timeout=60)
        polls = web.gets("/b/rss.xml")
        serve(web, "/b/rss.xml", "Daily Indus", "dailyindus.example",
              [item("b-1", "/b/2026/11/24/bannu-raid.html", "Militants storm Bannu police station")])
        assert wait_for(lambda: web.gets("/b/2026/11/24/bannu-raid.html") >= 1 and web.gets("/b/rss.xml") > polls + 1,
                        timeout=30)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert len(titles(web)) == 1
    (story,) = json.loads(run_newsmon("--config", str(path), "stories", "--json").stdout)["stories"]
    assert {a["outlet"] for a in story["articles"]} == {"frontierpost.example", "dailyindus.example"}


def test_entries_published_long_ago_are_recorded_without_alerting(tmp_path, web):
    three_outlets(web)
    old = rss("Frontier Post", "frontierpost.example",
              [item("a-1", "/a/bannu.html", "Four police killed in Bannu station attack")])
    web.add("/a/rss.xml", old.replace(RFC822, rfc822_days_ago(22)),
            "application/rss+xml")
    path = config(tmp_path, web, ["/a/rss.xml"], alert_max_age="7d")
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert titles(web) == []
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        assert db.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 1


def test_retention_forgets_old_entries_and_never_inside_it(tmp_path, web):
    three_outlets(web)
    path = config(tmp_path, web, ["/a/rss.xml", "/b/rss.xml"], retention="30d")
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    database = tmp_path / "state" / "newsmon.db"
    with sqlite3.connect(database) as db:  # one entry was first seen 31 days ago, the other 29
        db.execute("UPDATE entries SET first_seen = first_seen - 31 * 86400 WHERE entry_key = 'guid:a-1'")
        db.execute("UPDATE articles SET fetched = fetched - 31 * 86400 WHERE outlet = 'frontierpost.example'")
        db.execute("UPDATE entries SET first_seen = first_seen - 29 * 86400 WHERE entry_key = 'guid:b-1'")
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    with sqlite3.connect(database) as db:
        keys = [row[0] for row in db.execute("SELECT entry_key FROM entries")]
        assert keys == ["guid:b-1"]
        assert db.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 1


def test_a_site_that_gives_every_page_one_canonical_url_still_alerts_on_each_story(tmp_path, web):
    sloppy_site(web, [("/x/bannu.html", "Four police killed in Bannu station attack", WIRE),
                      ("/x/lakki.html", "Polio team ambushed in Lakki Marwat", OTHER_ATTACK)], "/news")
    path = config(tmp_path, web, ["/x/rss.xml"])
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    serve(web, "/x/rss.xml", "Sloppy", "sloppy.example",
          [item("x-2", "/x/lakki.html", "Polio team ambushed in Lakki Marwat"),
           item("x-1", "/x/bannu.html", "Four police killed in Bannu station attack")])
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert sorted(titles(web)) == ["[kp-attacks] Four police killed in Bannu station attack",
                                   "[kp-attacks] Polio team ambushed in Lakki Marwat"]


def test_one_page_reached_by_many_links_is_one_article_with_its_features_read_once(tmp_path, web):
    """Entries whose links differ (a feed's tracking paths) but whose pages are one article (one
    canonical URL, one text): one article, with its event features, and one alert (a worker that
    has read the page before gives no features for it again: the entry is linked)."""
    sloppy_site(web, [(f"/x/track-{n}.html", "Four police killed in Bannu station attack", WIRE) for n in range(6)],
                "/news/bannu")
    serve(web, "/x/rss.xml", "Sloppy", "sloppy.example",
          [item(f"x-{n}", f"/x/track-{n}.html", "Four police killed in Bannu station attack") for n in range(6)])
    path = config(tmp_path, web, ["/x/rss.xml"])
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert titles(web) == ["[kp-attacks] Four police killed in Bannu station attack"]
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        assert db.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 6
        assert db.execute("SELECT COUNT(*), COUNT(features) FROM articles").fetchone() == (1, 1)


def test_a_worker_reads_the_features_of_a_page_it_has_read_before_only_if_its_text_changed():
    from monitor import incidents

    def html(text: str) -> bytes:
        return page("/y/a.html", "Police station attacked in Bannu", "Once Only", text, filler=True).replace(
            'href="{BASE}/y/a.html"', 'href="http://once.example/news/a"').encode()

    about = ("Police station attacked in Bannu", None, "once.example")
    first = incidents.read_page(html(WIRE[0]), "http://once.example/y/a.html", False, False, about)
    again = incidents.read_page(html(WIRE[0]), "http://once.example/y/a.html?utm_source=x", False, False, about)
    changed = incidents.read_page(html(WIRE[1]), "http://once.example/y/a.html", False, False, about)
    assert first[0].canonical_url == "http://once.example/news/a" and first[1] is not None
    assert again[0] == first[0] and again[1] is None  # the event loop links it to the article it has
    assert changed[1] is not None  # the same canonical URL over another text: another article


def test_signature_format_carries_its_shingle_hash_version():
    text = " ".join(WIRE)
    current, legacy = stories.signature("Bannu attack", text), stories.legacy_signature("Bannu attack", text)
    assert current.shingles == legacy.shingles > 100  # the same shingles, hashed two ways
    assert stories.is_current(current.pack()) and not stories.is_current(legacy.pack())
    assert stories.unpack(current.pack(), "Bannu attack") == current
    assert stories.unpack(legacy.pack(), "Bannu attack") == legacy  # old blobs: no version byte
    assert len(legacy.pack()) == 8 * stories.K + 4 and len(current.pack()) == 8 * stories.K + 5
    assert stories.same_story(current, stories.signature("Bannu attack", text)) == (True, 1.0)
    assert stories.text_similarity(current, legacy) == 0.0  # values of two hashes are never compared


def test_signatures_are_the_same_in_every_process():
    """Stored signatures are compared after restarts: the hash must not depend on the process
    (as str hashes do, with PYTHONHASHSEED)."""
    import subprocess
    import sys

    code = "from monitor import stories; print(stories.signature('Bannu attack', 'Militants stormed a police station').sketch)"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(runs) == 1
    assert runs.pop().strip() == str(stories.signature("Bannu attack", "Militants stormed a police station").sketch)


def test_short_texts_have_one_shingle_and_empty_ones_none():
    assert stories.signature("", "").shingles == 0 and stories.signature("", "").sketch == ()
    assert stories.signature("Bannu", "").shingles == 1
    assert stories.signature("Bannu", "attack").sketch != stories.signature("attack", "Bannu").sketch
    assert stories.signature("a b c", "").shingles == 1 and stories.signature("a b c d", "").shingles == 2


def test_the_story_index_forgets_versioned_signatures_after_the_window():
    index = story_index.StoryIndex(window=100.0)
    signature = stories.signature("Bannu attack", " ".join(WIRE))
    index.add(7, signature, seen=0.0)
    assert index.find(signature, now=50.0) == 7
    assert index.find(signature, now=500.0) is None
    assert len(index) == 0 and index.by_value.live == 0


def test_the_value_table_behaves_like_a_dict_of_lists_through_growth_removals_and_stock_values():
    """The index's compact multimap against the obvious one, on random work with rebuilds,
    tombstones and values held by many entries (stock phrases)."""
    rng = random.Random(7)
    table, reference = story_index.ValueTable(capacity=16), {}
    stock = [rng.getrandbits(64) for _ in range(3)]
    live: list[tuple[int, int]] = []
    for number in range(1, 6000):
        for value in [rng.getrandbits(64) for _ in range(3)] + [rng.choice(stock)]:
            table.add((value,), number)
            reference.setdefault(value, []).append(number)
            live.append((value, number))
        if rng.random() < 0.4 and live:
            value, held = live.pop(rng.randrange(len(live)))
            table.remove(value, held)
            reference[value].remove(held)
        if number % 500 == 0:
            for value in rng.sample(sorted(set(reference) - set(stock)), 200):
                assert sorted(table.get(value, 10**6)) == sorted(reference[value])
            for value in stock:  # held by thousands: kept for at most HOLDERS_KEPT, still "too many"
                held = table.get(value, 10**6)
                assert set(held) <= set(reference[value]) and len(table.get(value, 33)) == 33
    assert table.get(rng.getrandbits(64), 10) == []


def test_a_phrase_every_item_shares_does_not_make_adding_quadratic():
    """Every copy of a value follows one probe chain: its holders are capped, so the work of
    adding n items that share a stock phrase grows with n, not n squared."""
    table = story_index.ValueTable()
    for number in range(1, 20001):
        table.add((12345,), number)
    assert len(table.get(12345, 10**6)) == story_index.HOLDERS_KEPT
    assert len(table.get(12345, story_index.COMMON + 1)) == story_index.COMMON + 1  # still a stock phrase


def test_a_value_many_texts_hold_is_one_slot_however_many_hold_it():
    """A value's holders after the first live outside the table (`ValueTable.many`): finding the
    value, adding a holder and removing one walk a short chain whatever their number, and the
    value goes back to one slot, then to none, as its holders go."""
    table = story_index.ValueTable()
    for number in range(1, 101):
        table.add((777, 1000 + number), number)
    assert table.live == 101 and table.holders() == 200  # 777 once, and 100 values of one holder
    assert table.get(777, 10**6) == list(range(1, 101)) and table.get(777, 5) == [1, 2, 3, 4, 5]
    for number in range(1, 100):
        table.remove(777, number)
    assert table.get(777, 10) == [100] and not table.many and table.live == 101
    table.remove(777, 100)
    assert table.get(777, 10) == [] and table.live == 100
    table.add((777,), 500)  # into its tombstone
    assert table.get(777, 10) == [500] and table.live == 101


def test_a_value_becomes_a_stock_phrase_and_stops_being_one_as_texts_come_and_go():
    """The leads a search follows change as their holders do: more than COMMON different texts make
    a stock phrase (not followed), copies of one text do not, and when the other texts leave the
    window the text is found again."""
    sig = stories.signature("Police post attacked", " ".join(WIRE))
    index = story_index.StoryIndex(window=100.0)
    for number in range(40):  # one text in forty stories: forty holders, one original
        index.add(1 + number, sig, 0.0, "Police post attacked", original=11)
    assert index.find_copy(sig, 1.0) == (40, 11)  # (the latest)
    for number in range(story_index.COMMON + 1):  # the same words as more than COMMON texts of their own
        index.add(100 + number, sig, 50.0, "Police post attacked", original=100 + number)
    assert index.find_copy(sig, 51.0) is None  # every lead a stock phrase now
    assert index.find_copy(sig, 120.0) is None  # the forty copies gone, the others still in
    index.add(1, sig, 130.0, "Police post attacked", original=11)
    assert index.find_copy(sig, 131.0) is None
    assert index.find_copy(sig, 160.0) == (1, 11)  # the others gone too: one text again


def test_a_copy_word_for_word_is_found_by_its_words_as_the_search_finds_it():
    """`find_copy` with the words' digest, and `copied` (the recorder's way for such a copy:
    no signature made), find what the search finds."""
    text = " ".join(WIRE)
    index = story_index.StoryIndex(window=100.0)
    sig = stories.signature("Police post attacked", text)
    assert sig.shingles >= stories.SHORT  # (a short text is searched for)
    index.add(1, sig, 0.0, "Police post attacked", original=11, words=b"digest-1")
    index.add(2, stories.signature("Flood relief reaches Sindh", "Relief convoys reached villages. " * 5), 1.0,
              "Flood relief reaches Sindh", original=12, words=b"digest-2")
    assert index.find_copy(sig, 2.0, b"digest-1") == index.find_copy(sig, 2.0) == (1, 11)
    # what a copy word for word takes without its signature made again: the same signature
    assert index.copied(b"digest-1", 2.0) == (1, 11, sig.pack(), "Police post attacked")
    assert index.copied(b"digest-9", 2.0) is None
    index.add(3, sig, 3.0, "Police post attacked", original=11, words=b"digest-1")  # a later copy, in story 3
    assert index.find_copy(sig, 4.0, b"digest-1") == index.find_copy(sig, 4.0) == (3, 11)  # the latest, as the search
    assert index.copied(b"digest-1", 4.0)[:2] == (3, 11)
    index.rename(3, 1)  # story 3 found to be story 1
    assert index.find_copy(sig, 5.0, b"digest-1") == (1, 11) == index.copied(b"digest-1", 5.0)[:2]
    assert index.find_copy(sig, 150.0, b"digest-1") is None  # gone with the window: searched, and not found
    assert index.copied(b"digest-1", 150.0) is None
    # a short text is found by its words only where the search would find it: a stock item with no
    # text ("Photo") in more than COMMON feeds has no lead but a stock phrase, and each is a story
    # of its own; a headline and a line are found
    short = stories.signature("Photo", "")
    for number in range(story_index.COMMON + 1):
        index.add(100 + number, short, 150.0, "Photo", original=200 + number, words=b"digest-3")
    assert index.find_copy(short, 151.0, b"digest-3") is None and index.find_copy(short, 151.0) is None
    assert index.copied(b"digest-3", 151.0) is None
    line = stories.signature("Gunmen attack police post in Lakki Marwat", "Two officers were wounded, police said.")
    assert line.shingles < stories.SHORT
    index.add(5, line, 152.0, "Gunmen attack police post in Lakki Marwat", original=15, words=b"digest-4")
    assert index.find_copy(line, 153.0, b"digest-4") == index.find_copy(line, 153.0) == (5, 15)
    assert index.copied(b"digest-4", 153.0) == (5, 15, line.pack(), "Gunmen attack police post in Lakki Marwat")
    # ...and so is it when more than COMMON feeds carry it word for word: copies of one text (one
    # original) are one text, not a stock phrase (a wire item in forty outlets' feeds)
    for number in range(40):
        index.add(5, line, 154.0, "Gunmen attack police post in Lakki Marwat", original=15, words=b"digest-4")
    assert index.find_copy(line, 155.0, b"digest-4") == index.find_copy(line, 155.0) == (5, 15)
    assert index.copied(b"digest-4", 155.0)[:2] == (5, 15)
    assert index.find_copy(short, 155.0, b"digest-3") is None  # the 33 "Photo" items are 33 texts


def test_copies_word_for_word_are_one_holder_and_keep_their_text_findable_after_the_first_leaves():
    """The copies of one text are found through the first of them in the window: adding
    thousands costs no probe chain, and when the first leaves the window the next holds the
    text (a copy still inside finds it), until the last one leaves too."""
    sig = stories.signature("Police post attacked", " ".join(WIRE))
    index = story_index.StoryIndex(window=100.0)
    index.add(1, sig, 0.0, "Police post attacked", original=11, words=b"digest-1")
    for seen in range(1, 3001):
        index.add(1, sig, seen / 50, "Police post attacked", original=11, words=b"digest-1")  # within 60 s
    assert len(index) == 3001 and index.by_value.live == story_index.INDEXED  # one holder of each lead
    assert index.find_copy(sig, 99.0) == (1, 11)
    assert index.find_copy(sig, 130.0) == (1, 11)  # the first and 1,499 copies gone; the others find it
    assert len(index) == 1501 and index.by_value.live == story_index.INDEXED
    assert index.find_copy(sig, 161.0) is None and len(index) == 0 and index.by_value.live == 0
    assert not index.heads and not index.followers


class _NoHeads(dict):
    """A heads map that never finds one: every copy its own holder, as before heads."""

    def get(self, key, default=None):
        return None


def test_copies_as_one_holder_find_what_every_copy_as_a_holder_found():
    """On random work (texts, copies word for word, copies in other stories, near-duplicates,
    the window moving, stories renamed), the index finds the same story and original as one
    whose every copy is a holder of its own."""
    rng = random.Random(11)
    words = [f"w{n}" for n in range(400)]
    texts = []
    for number in range(60):
        body = " ".join(rng.choice(words) for _ in range(rng.choice((4, 30, 80))))
        title = f"title {number % 7}"
        texts.append((title, body))
    mine, plain = story_index.StoryIndex(window=50.0), story_index.StoryIndex(window=50.0)
    plain.heads = _NoHeads()
    known: list[tuple[int, int, int, str]] = []  # (text, story, original, title) of entries added
    now, article = 0.0, 0
    for step in range(3000):
        now += rng.random()
        article += 1
        choice = rng.random()
        if known and choice < 0.6:  # a copy word for word of an entry (its story, or another)
            text, story, original, title = rng.choice(known)
            story = story if rng.random() < 0.9 else rng.randrange(1, 40)
        else:
            text, story, original = rng.randrange(len(texts)), rng.randrange(1, 40), article
            title = texts[text][0]
            if choice > 0.9:  # a near-duplicate: a word changed
                title, body = texts[text]
                texts.append((title, body + " " + rng.choice(words)))
                text = len(texts) - 1
        sig = stories.signature(texts[text][0], texts[text][1])
        for index in (mine, plain):
            index.add(story, sig, now, title, original=original)
        known.append((text, story, original, title))
        if step % 97 == 0:
            old, new = rng.randrange(1, 40), rng.randrange(1, 40)
            for index in (mine, plain):
                index.rename(old, new)
            known = [(t, new if s == old else s, o, ti) for t, s, o, ti in known]
        probe = stories.signature(*texts[rng.randrange(len(texts))])
        assert mine.find_copy(probe, now) == plain.find_copy(probe, now)
    assert len(mine) == len(plain) and mine.by_value.holders() < plain.by_value.holders()


def test_ranked_overlap_is_overlap():
    """Ranking the few values two sketches share gives the overlap merging them gives: random
    sorted sketches of every size up to K, sharing from none to all of their values, their
    shared values anywhere in their union."""
    rng = random.Random(3)
    for _ in range(20_000):
        pool = rng.sample(range(1, 1 << 20), rng.randrange(1, 3 * stories.K))
        common = set(rng.sample(pool, rng.randrange(0, min(len(pool), 2 * stories.FEW) + 1)))
        rest = [value for value in pool if value not in common]
        a = sorted(common | set(rest[:len(rest) // 2]))[:stories.K]
        b = tuple(sorted(common | set(rest[len(rest) // 2:]))[:stories.K])
        if not a or not b:
            continue
        ranks = {value: at for at, value in enumerate(a)}
        assert stories.ranked_overlap(ranks, set(a), b) == stories.overlap(set(a), set(b))


class _EveryCandidateWeighed(story_index.StoryIndex):
    """`find_copy` as it was: every candidate weighed in order, the first best score kept."""

    def find_copy(self, sig, now, words=None):
        self.prune(now)
        shared: dict[int, int] = {}
        for holders in self._followed(sig.sketch[:story_index.INDEXED]):
            for number in holders:
                shared[number] = shared.get(number, 0) + 1

        def latest(number):
            copies = self.followers.get(number)
            return copies[-1] if copies else number

        best, mine, short = None, set(sig.sketch), sig.shingles < stories.SHORT
        for number in sorted(shared, key=lambda number: (shared[number], latest(number)), reverse=True)[:200]:
            story, packed, title, _seen, original = self.entries[number]
            version, sketch, shingles = stories.parts(packed)
            text = stories.overlap(mine, set(sketch)) if version == sig.version and mine and sketch else 0.0
            joined, score = stories.judged(text, short or shingles < stories.SHORT, lambda: stories.title_overlap(
                sig.title_words, stories.title_words_of(title)))
            if joined and (best is None or score > best[0]):
                best = (score, story, original)
                if score >= 1.0:
                    break
        return (best[1], best[2]) if best else None


def test_copies_under_other_headlines_are_weighed_only_when_another_story_could_win():
    """A text carried under many headlines (each copy a candidate of its own, none a perfect
    match) is weighed once per search, not once per copy; on random work (such copies, in their
    story and in others, near-duplicates, several texts sharing words, short texts, renames,
    the window moving) every search finds the story and original weighing every candidate finds."""
    rng = random.Random(5)
    words = [f"w{n}" for n in range(300)]
    bodies = [" ".join(rng.choice(words) for _ in range(rng.choice((5, 60, 120)))) for _ in range(25)]
    mine, plain = story_index.StoryIndex(window=40.0), _EveryCandidateWeighed(window=40.0)
    known: list[tuple[str, int, int]] = []  # (body, story, original) of entries added
    now, article, weighed = 0.0, 0, []
    counted = story_index.ranked_overlap

    def counting(*args):
        weighed.append(1)
        return counted(*args)

    for step in range(2500):
        now += rng.random() * 0.5
        article += 1
        if known and rng.random() < 0.7:  # a copy under a headline of its own, mostly in its story
            body, story, original = rng.choice(known)
            story = story if rng.random() < 0.85 else rng.randrange(1, 30)
            if rng.random() < 0.2:  # reworded a little
                body = body + " " + rng.choice(words)
        else:
            body, story, original = rng.choice(bodies), rng.randrange(1, 30), article
        title = " ".join(rng.choice(words) for _ in range(rng.choice((3, 8))))
        sig = stories.signature(title, body)
        for index in (mine, plain):
            index.add(story, sig, now, title, original=original)
        known.append((body, story, original))
        if step % 89 == 0:
            old, new = rng.randrange(1, 30), rng.randrange(1, 30)
            for index in (mine, plain):
                index.rename(old, new)
            known = [(b, new if s == old else s, o) for b, s, o in known]
        probe_body = rng.choice(known)[0] if rng.random() < 0.8 else rng.choice(bodies)
        probe = stories.signature(" ".join(rng.choice(words) for _ in range(5)), probe_body)
        assert mine.find_copy(probe, now) == plain.find_copy(probe, now)
    # one text under 200 headlines in one story: the search weighs one of them
    lone = story_index.StoryIndex(window=1000.0)
    body = " ".join(rng.choice(words) for _ in range(200))
    for n in range(200):
        lone.add(1, stories.signature(f"headline number {n}", body), 1.0, f"headline number {n}", original=7)
    story_index.ranked_overlap = counting
    try:
        assert lone.find_copy(stories.signature("yet another headline", body), 2.0) == (1, 7)
    finally:
        story_index.ranked_overlap = counted
    assert len(weighed) == 1


def test_one_article_in_many_feeds_of_one_cycle_by_its_link_or_its_tracking_links_is_one_article(tmp_path, web):
    """Eight feeds polled together carry one article: four by tracking links whose pages name
    its canonical URL, four by that URL itself. However their entries interleave (each is
    looked up when it comes, and again, if anything was recorded under its link meanwhile,
    after its page was read), one article, eight entries, one alert."""
    title = "Four police killed in Bannu station attack"
    canonical = "/news/bannu"
    for n in range(4):
        path = f"/x/track-{n}.html"
        web.add(path, page(path, title, "Sloppy CMS", *WIRE).replace(f'href="{{BASE}}{path}"', f'href="{{BASE}}{canonical}"'))
    web.add(canonical, page(canonical, title, "Sloppy CMS", *WIRE))
    feeds = []
    for n in range(8):
        serve(web, f"/f{n}/rss.xml", f"Feed {n}", "sloppy.example",
              [item(f"f{n}-1", f"/x/track-{n}.html" if n < 4 else canonical, title)])
        feeds.append(f"/f{n}/rss.xml")
    path = config(tmp_path, web, feeds)
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert titles(web) == [f"[kp-attacks] {title}"]
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        assert db.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 8
        assert db.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 1


def test_a_text_copied_word_for_word_by_other_feeds_joins_its_story_with_its_signature(tmp_path, web):
    """Five outlets' feeds carry one wire item word for word under their own links (feed text
    only). The first is read; the others are its copies: one story, one alert, each copy
    recorded with the first's text as its original and the signature its words make."""
    title = "Militants storm Bannu police station"
    summary = " ".join(WIRE[:3])
    feeds = []
    for n in range(5):
        serve(web, f"/w{n}/rss.xml", f"Outlet {n}", f"outlet{n}.example",
              [item(f"w{n}-1", f"/w{n}/bannu.html", title, summary=summary)])
        feeds.append({"url": web.base + f"/w{n}/rss.xml", "alert_on_first_poll": True, "full_text": False})
    path = write_config(tmp_path, feeds, {"hook": [hook(web)]}, watchlist=RULES)
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert titles(web) == [f"[kp-attacks] {title}"]
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        rows = db.execute("SELECT id, story_id, copy_of, signature FROM articles ORDER BY id").fetchall()
    assert len(rows) == 5 and len({story for _id, story, _copy, _sig in rows}) == 1
    first = rows[0][0]
    assert [copy for _id, _story, copy, _sig in rows] == [None] + [first] * 4
    made = stories.signature(title, summary).pack()
    assert all(signature == made for _id, _story, _copy, signature in rows)
