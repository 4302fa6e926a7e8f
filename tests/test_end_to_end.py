"""The whole path, as a user runs it: feeds and pages on a loopback web server, alerts to a real
SMTP server through a mailto:// URL and to a webhook through a json:// URL."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time

from conftest import ROOT, run_newsmon, wait_for
from fixtures import COURIER_ITEMS, page, publish, rss, write_config

from monitor import cli


def hook_url(web) -> str:
    return web.base.replace("http://", "json://") + "/hook"


def setup(tmp_path, web, mailbox=None, **feed_options):
    """Both test feeds, a webhook channel, and an email channel when a mailbox is given.
    (apprise spaces emails 5.5 s apart, so only the tests about email use it.)"""
    courier, dispatch = publish(web)
    feeds = [{"url": courier, **feed_options}, {"url": dispatch, **feed_options}]
    channels = {"hook": [hook_url(web)]}
    if mailbox is not None:
        channels["email"] = [mailbox.url]
    return write_config(tmp_path, feeds, channels)


def titles(web) -> list[str]:
    return sorted(post["title"] for post in web.json_posts("/hook"))


def test_exactly_the_matching_articles_alert_on_every_channel(tmp_path, web, mailbox):
    path = setup(tmp_path, web, mailbox, alert_on_first_poll=True)

    assert cli.main(["--config", str(path), "run", "--once"]) == 0

    subjects = sorted(subject for subject, _ in mailbox.texts())
    assert subjects == sorted([
        "[ttp-activity] Police post attacked overnight in Lakki Marwat",
        "[ttp-activity] TTP commander killed in North Waziristan operation",
        "[iskp-activity] Blast near Kabul ministry, several hurt",
    ])
    bodies = {subject: body for subject, body in mailbox.texts()}
    lakki = bodies["[ttp-activity] Police post attacked overnight in Lakki Marwat"]
    assert f"{web.base}/courier/lakki-marwat-post.html" in lakki
    assert "Tehreek-e-Taliban Pakistan" in lakki and "claimed responsibility" in lakki
    assert "<b>Tehreek-e-Taliban Pakistan</b>" in lakki  # the matched words are highlighted in HTML mail
    kabul = bodies["[iskp-activity] Blast near Kabul ministry, several hurt"]
    assert "Islamic State Khorasan Province" in kabul and "ISKP" in kabul

    posts = web.json_posts("/hook")
    assert sorted(post["title"] for post in posts) == subjects
    lakki_post = next(post for post in posts if "Lakki" in post["title"])
    assert "«Tehreek-e-Taliban Pakistan»" in lakki_post["message"]
    assert "induscourier.example" in lakki_post["message"]  # outlet: the feed's site host without www.
    assert f"{web.base}/courier/lakki-marwat-post.html" in lakki_post["message"]


def test_a_second_run_sends_nothing_and_uses_conditional_get(tmp_path, web):
    path = setup(tmp_path, web, alert_on_first_poll=True)
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    page_gets = web.gets("/courier/lakki-marwat-post.html")
    assert len(web.json_posts("/hook")) == 3

    assert cli.main(["--config", str(path), "run", "--once"]) == 0

    assert len(web.json_posts("/hook")) == 3
    assert web.gets("/courier/lakki-marwat-post.html") == page_gets  # 304: pages not fetched again
    conditional = [h for m, p, h in web.requests if p == "/courier/rss.xml"][-1]
    assert conditional.get("If-None-Match")


def test_name_only_in_the_article_body_still_alerts(tmp_path, web):
    # The Lakki Marwat item's title and summary name no one; only its page says TTP.
    assert "TTP" not in COURIER_ITEMS[0]["summary"] + COURIER_ITEMS[0]["title"]
    path = setup(tmp_path, web, alert_on_first_poll=True)
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert "[ttp-activity] Police post attacked overnight in Lakki Marwat" in titles(web)


def test_alert_for_a_channel_that_was_down_arrives_on_the_next_run(tmp_path, web, mailbox, capsys):
    path = setup(tmp_path, web, mailbox, alert_on_first_poll=True)
    web.add("/hook", b"", status=500)  # the webhook receiver is failing

    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert len(mailbox.messages) == 3  # the other channel is not held up
    assert web.json_posts("/hook") == []
    assert cli.main(["--config", str(path), "alerts", "--pending"]) == 0
    assert capsys.readouterr().out.count("pending") == 3

    del web.routes["/hook"]  # the receiver is back
    assert cli.main(["--config", str(path), "run", "--once"]) == 0

    assert len(web.json_posts("/hook")) == 3
    assert len(mailbox.messages) == 3  # nothing sent twice
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert len(web.json_posts("/hook")) == 3


def test_first_poll_records_silently_then_new_entries_alert(tmp_path, web):
    path = setup(tmp_path, web)  # alert_on_first_poll defaults to false
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert titles(web) == []
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        assert db.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 5
        assert db.execute("SELECT COUNT(*) FROM hits").fetchone()[0] > 0  # recorded for replay

    new_item = {
        "guid": "courier-4", "path": "/courier/bannu-checkpoint.html",
        "title": "Checkpoint attacked in Bannu",
        "summary": "Gunmen fired on a checkpoint.",
        "body": ("Gunmen fired on a checkpoint in Bannu.", "A TTP spokesman said the group was behind it."),
    }
    web.add(new_item["path"], page(new_item["path"], new_item["title"], "Indus Courier", *new_item["body"]))
    web.add("/courier/rss.xml", rss("Indus Courier", [new_item, *COURIER_ITEMS]), "application/rss+xml")
    assert cli.main(["--config", str(path), "run", "--once"]) == 0

    assert titles(web) == ["[ttp-activity] Checkpoint attacked in Bannu"]


def test_a_broken_feed_is_logged_and_the_others_still_alert(tmp_path, web):
    courier, dispatch = publish(web)
    web.add("/broken.xml", b"<html><body>Document moved</body></html>", "text/html")
    feeds = [{"url": web.base + "/missing.xml", "alert_on_first_poll": True},
             {"url": web.base + "/broken.xml", "alert_on_first_poll": True},
             {"url": dispatch, "alert_on_first_poll": True}]
    path = write_config(tmp_path, feeds, {"hook": [hook_url(web)]})

    result = run_newsmon("--config", str(path), "run", "--once")

    assert result.returncode == 0, result.stderr
    assert titles(web) == ["[iskp-activity] Blast near Kabul ministry, several hurt"]
    assert result.stderr.count("/missing.xml") == 1 and "HTTP 404" in result.stderr
    assert result.stderr.count("/broken.xml kind=not-a-feed") == 1
    assert "Traceback" not in result.stderr


def test_article_links_to_private_addresses_are_not_fetched_without_permission(tmp_path, web):
    courier, dispatch = publish(web)
    feeds = [{"url": dispatch, "alert_on_first_poll": True}]
    path = write_config(tmp_path, feeds, {"hook": [hook_url(web)]}, allow_loopback=False)

    assert cli.main(["--config", str(path), "run", "--once"]) == 0

    # The page lives on 127.0.0.1: refused before any connection, so the server never saw it.
    assert web.gets("/dispatch/kabul-claim.html") == 0
    assert web.gets("/dispatch/atom.xml") == 1  # the feed itself is the user's choice
    # The ISKP name is only in the page body, so without the page there is no alert.
    assert titles(web) == []


def test_read_only_commands_never_create_a_database(tmp_path, web):
    path = setup(tmp_path, web)
    for command in ("status", "alerts"):
        result = run_newsmon("--config", str(path), command)
        assert result.returncode == 1
        assert str(tmp_path / "state") in result.stderr
        assert not (tmp_path / "state" / "newsmon.db").exists()


def test_status_shows_each_feed(tmp_path, web):
    path = setup(tmp_path, web, alert_on_first_poll=True)
    web.add("/hook", b"", status=500)
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    result = run_newsmon("--config", str(path), "status")
    assert result.returncode == 0
    assert "Indus Courier\n" in result.stdout and "ok · 3 entries" in result.stdout
    assert "Hindukush Dispatch\n" in result.stdout and "ok · 2 entries" in result.stdout
    assert "alerts: 3 pending" in result.stdout


def test_daemon_polls_then_stops_cleanly_on_sigterm(tmp_path, web):
    path = setup(tmp_path, web, alert_on_first_poll=True)
    process = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(path), "run"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: len(web.json_posts("/hook")) == 3, timeout=60)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=10)
        assert time.monotonic() - started < 10
        assert code == 0
        stderr = process.stderr.read()
        assert "stopped" in stderr and "Traceback" not in stderr
        assert len(web.json_posts("/hook")) == 3  # no alert sent twice by overlapping deliveries
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_daemon_stops_within_10_seconds_even_mid_poll(tmp_path, web):
    courier, _dispatch = publish(web)
    for item in COURIER_ITEMS:  # every article page hangs for a minute
        web.routes[item["path"]].delay = 60
    path = write_config(tmp_path, [{"url": courier, "alert_on_first_poll": True}], {"hook": [hook_url(web)]})
    process = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(path), "run"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if not wait_for(lambda: web.gets(COURIER_ITEMS[0]["path"]) >= 1, timeout=60):  # stuck in the poll
            process.kill()
            raise AssertionError(f"the daemon never fetched the page: {web.requests}\n{process.communicate()}")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # Nothing half-recorded: the interrupted poll stored no validators and no entries.
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        assert db.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 0
        assert db.execute("SELECT etag FROM feeds").fetchone()[0] is None


def test_a_state_directory_that_cannot_be_used_exits_1(tmp_path, web):
    path = setup(tmp_path, web)
    (tmp_path / "state").write_text("not a directory")
    result = run_newsmon("--config", str(path), "run", "--once")
    assert result.returncode == 1
    assert "cannot create the state directory" in result.stderr and str(tmp_path / "state") in result.stderr
    assert "Traceback" not in result.stderr
