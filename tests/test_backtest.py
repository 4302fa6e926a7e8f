"""`newsmon backtest` on a store a real run filled: it finds exactly the stories the live run
alerted (none of a feed's silent first poll), and for a narrowed rule in an edited copy of the
configuration exactly the stories it drops, with the hits they were alerted on. `newsmon prune`
counts and forgets as the daily pruning does. Feeds and webhook receivers on loopback, the
real commands, real SQLite."""

from __future__ import annotations

import json
import sqlite3
import tomllib

import tomli_w
from conftest import run_newsmon
from fixtures import WATCHLIST as TTP_WATCHLIST, publish, rss, write_config
from test_events_end_to_end import WATCHLIST as KP_WATCHLIST, serve_reports

from monitor import cli

WATCHLIST = {"entities": TTP_WATCHLIST["entities"], "rules": [*TTP_WATCHLIST["rules"], *KP_WATCHLIST["rules"]]}


def filled(tmp_path, web):
    """A state a live `run --once` filled: reports of two incidents in Khyber Pakhtunkhwa from
    five outlets, two outlets' TTP and ISKP news, and a feed first polled silently."""
    feeds = serve_reports(web)
    courier, dispatch = publish(web)
    quiet = web.add("/quiet/rss.xml", rss("Swat Times", [{
        "guid": "swat-1", "path": "/quiet/swat.html", "title": "Floods cut roads in Khyber Pakhtunkhwa",
        "summary": "Heavy rain cut roads across Khyber Pakhtunkhwa on Sunday."}]), "application/rss+xml")
    feeds += [{"url": courier, "alert_on_first_poll": True}, {"url": dispatch, "alert_on_first_poll": True},
              {"url": quiet, "full_text": False}]
    hook = web.base.replace("http://", "json://") + "/hook"
    path = write_config(tmp_path, feeds, {"hook": [hook]}, watchlist=WATCHLIST)
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    return path


def backtest(capsys, *args) -> dict:
    capsys.readouterr()
    assert cli.main([*args, "backtest", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def alerted(path) -> dict[str, list[int]]:
    with sqlite3.connect(path.parent / "state" / "newsmon.db") as db:
        rows = db.execute("SELECT rule, story_id FROM alerts WHERE seq = 0 AND rule NOT LIKE 'newsmon:%'").fetchall()
    out: dict[str, list[int]] = {}
    for rule, story in rows:
        out.setdefault(rule, []).append(story)
    return {rule: sorted(set(stories)) for rule, stories in out.items()}


def test_a_backtest_finds_exactly_the_stories_the_live_run_alerted(tmp_path, web, capsys):
    path = filled(tmp_path, web)
    live = alerted(path)
    assert live.keys() == {"kp-attacks", "ttp-activity", "iskp-activity"} and len(live["kp-attacks"]) >= 2

    result = backtest(capsys, "--config", str(path))  # the global --config: the running configuration
    for rule, stories in live.items():
        found = sorted(item["story"] for item in result["rules"][rule]["would_alert"])
        assert found == stories == result["rules"][rule]["alerted"], rule
        assert result["rules"][rule]["added"] == [] and result["rules"][rule]["dropped"] == []
    assert result["articles"] > result["could_alert"]  # the silent first poll's article was read, not alerted
    assert not any("Floods" in item["title"] for item in result["rules"]["kp-attacks"]["would_alert"])
    bannu = next(item for item in result["rules"]["kp-attacks"]["would_alert"] if "Lakki" not in item["title"])
    assert bannu["articles"] >= 4 and any(hit["alias"] == "Bannu" for hit in bannu["hits"])

    capsys.readouterr()
    assert cli.main(["--config", str(path), "backtest", "--rule", "kp-attacks"]) == 0
    text = capsys.readouterr().out
    count = len(live["kp-attacks"])
    assert f"rule kp-attacks: {count} stories would alert ({count} alerted; same stories as alerted)" in text
    assert "by day: " in text and "hits: " in text


def test_a_narrowed_rule_lists_exactly_the_stories_it_drops(tmp_path, web, capsys):
    path = filled(tmp_path, web)
    document = tomllib.loads(path.read_text())
    for rule in document["rules"]:
        if rule["name"] == "kp-attacks":
            rule["none"] = ["Lakki Marwat"]
    narrowed = tmp_path / "narrowed.toml"
    narrowed.write_text(tomli_w.dumps(document))
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:  # kp-attacks' stories that mention Lakki Marwat
        lakki = {story for (story,) in db.execute(
            "SELECT DISTINCT a.story_id FROM articles a JOIN alerts l ON l.story_id = a.story_id AND l.rule = "
            "'kp-attacks' WHERE a.title LIKE '%Lakki Marwat%' OR a.text LIKE '%Lakki Marwat%'")}

    capsys.readouterr()
    assert cli.main(["--config", str(path), "backtest", "--config", str(narrowed), "--rule", "kp-attacks", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["rules"]["kp-attacks"]
    assert [item["story"] for item in result["dropped"]] == sorted(lakki) and len(lakki) >= 1
    assert result["added"] == []
    assert any(hit["alias"] == "Lakki Marwat" for hit in result["dropped"][0]["hits"])

    capsys.readouterr()
    assert cli.main(["--config", str(path), "backtest", "--config", str(narrowed), "--rule", "kp-attacks"]) == 0
    text = capsys.readouterr().out
    assert f"+0 −{len(lakki)} against what was alerted" in text and "would not alert now · it was alerted on: Lakki Marwat" in text


def test_prune_counts_then_forgets_what_is_older_than_retention(tmp_path, web, capsys):
    path = filled(tmp_path, web)
    database = tmp_path / "state" / "newsmon.db"
    with sqlite3.connect(database) as db:
        entries = db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
        db.execute("UPDATE entries SET first_seen = first_seen - 100 * 86400")
        db.execute("UPDATE articles SET fetched = fetched - 100 * 86400")
        db.execute("UPDATE alerts SET created = created - 100 * 86400")
    dry = run_newsmon("--config", str(path), "prune", "--dry-run")
    assert dry.returncode == 0 and f"would forget {entries} entries" in dry.stdout, dry.stdout
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == entries  # a dry run forgets nothing
    done = run_newsmon("--config", str(path), "prune", "--vacuum")
    assert done.returncode == 0 and f"forgot {entries} entries" in done.stdout and "vacuumed" in done.stdout, done.stdout
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 0
