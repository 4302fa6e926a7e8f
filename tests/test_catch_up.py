"""A new feed's first poll records what the feed already holds without alerting, and it stays
"first" until it completes: interrupted by `kill -9` or SIGTERM at any point, the next run still
alerts nothing that was in the feed, then alerts what is new. A re-enabled feed catches up the
same way. A feed's TTL is a floor between polls after a 304 too, not only after a changed body.

Real `newsmon run --once` processes, a loopback feed whose article pages answer slowly (so the
interruption lands mid-poll), a real json:// receiver."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys

import pytest
from conftest import ROOT, Clock, run_newsmon, wait_for
from fixtures import RFC822, page, write_config

WORDS = ("checkpoint convoy district bazaar bridge garrison valley pass highway market tribal council border "
         "village outpost camp station compound mosque school clinic road river hill ridge fort depot tunnel "
         "ambush raid patrol curfew siege drone rocket mortar sniper blast claim statement militants officials "
         "police soldiers elders residents witnesses spokesman commander governor minister").split()


def items(count: int) -> list[dict]:
    """Matching entries unlike each other: each is its own story."""
    out = []
    for n in range(count):
        words = random.Random(n).sample(WORDS, 10)
        out.append({"guid": f"item-{n}", "path": f"/a/{n}.html", "title": f"Report {n}: TTP {' '.join(words[:4])}",
                    "text": f"The TTP was named in a report about {' '.join(words[4:])} in case {n * 7919}."})
    return out


def serve(web, entries: list[dict], delay: float = 0.0) -> str:
    for item in entries:
        web.add(item["path"], page(item["path"], item["title"], "Courier", item["text"]), delay=delay)
    body = "".join(f"<item><title>{i['title']}</title><link>{{BASE}}{i['path']}</link>"
                   f"<guid isPermaLink=\"false\">{i['guid']}</guid><pubDate>{RFC822}</pubDate>"
                   f"<description>{i['title']}.</description></item>" for i in entries)
    return web.add("/feed.xml", f'<?xml version="1.0"?><rss version="2.0"><channel><title>Courier</title>{body}'
                                "</channel></rss>", "application/rss+xml")


def config(tmp_path, web, url: str):
    hook = web.base.replace("http://", "json://") + "/hook"
    return write_config(tmp_path, [{"url": url}], {"hook": [hook]})


def recorded(tmp_path) -> int:
    database = tmp_path / "state" / "newsmon.db"
    if not database.exists():
        return 0
    with sqlite3.connect(database, timeout=5) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
        except sqlite3.OperationalError:  # not created yet
            return 0


def sent_titles(web) -> list[str]:
    return [post["title"] for post in web.json_posts("/hook")]


def alerts_json(path) -> list[dict]:
    result = run_newsmon("--config", str(path), "alerts", "--json", "--limit", "0")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["alerts"]


@pytest.mark.parametrize(("how", "after"), [(signal.SIGKILL, 1), (signal.SIGTERM, 5)],
                         ids=["kill-9-after-1-entry", "sigterm-after-5-entries"])
def test_an_interrupted_first_poll_stays_first(tmp_path, web, how, after):
    url = serve(web, items(12), delay=0.3)
    path = config(tmp_path, web, url)
    process = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(path), "run", "--once"], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: recorded(tmp_path) >= after, timeout=30), process.stderr.read() if process.poll() else ""
        process.send_signal(how)
        process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert 0 < recorded(tmp_path) < 12, "the interruption should land mid-poll"
    serve(web, items(12))  # the pages answer at once now

    rerun = run_newsmon("--config", str(path), "run", "--once")
    assert rerun.returncode == 0, rerun.stderr
    assert recorded(tmp_path) == 12
    assert sent_titles(web) == [] and alerts_json(path) == []  # everything was in the feed before newsmon

    serve(web, items(13))  # one new entry
    assert run_newsmon("--config", str(path), "run", "--once").returncode == 0
    assert sent_titles(web) == [f"[ttp-activity] {items(13)[12]['title']}"]
    assert len(json.loads(run_newsmon("--config", str(path), "stories", "--json").stdout)["stories"]) == 13


def test_a_re_enabled_feed_catches_up_silently(tmp_path, web):
    url = serve(web, items(2))
    path = config(tmp_path, web, url)
    assert run_newsmon("--config", str(path), "run", "--once").returncode == 0
    assert run_newsmon("--config", str(path), "disable", url).returncode == 0
    serve(web, items(6))  # four entries appear while the feed is disabled
    assert run_newsmon("--config", str(path), "run", "--once").returncode == 0
    assert recorded(tmp_path) == 2  # not polled while disabled
    assert run_newsmon("--config", str(path), "enable", url).returncode == 0
    caught_up = run_newsmon("--config", str(path), "run", "--once")
    assert caught_up.returncode == 0 and "feed caught up" in caught_up.stderr
    assert recorded(tmp_path) == 6 and sent_titles(web) == []
    serve(web, items(7))
    assert run_newsmon("--config", str(path), "run", "--once").returncode == 0
    assert sent_titles(web) == [f"[ttp-activity] {items(7)[6]['title']}"]
    assert len(json.loads(run_newsmon("--config", str(path), "stories", "--json").stdout)["stories"]) == 7


def test_the_ttl_floor_holds_after_a_304(tmp_path, web, harness):
    body = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Slow</title><ttl>60</ttl>'
            f"<item><title>Wheat prices ease</title><guid>w1</guid><pubDate>{RFC822}</pubDate></item></channel></rss>")
    url = web.add("/ttl.xml", body, "application/rss+xml")
    path = write_config(tmp_path, [{"url": url}], {"hook": ["json://127.0.0.1:9/x"]})
    clock = Clock()
    running = harness.open(path, clock)
    (first,) = harness.poll_all(running)
    assert first.status == "new" and first.next_poll - clock.now == 3600  # <ttl>60</ttl> minutes
    for _ in range(3):
        clock.advance(3601)
        (again,) = harness.poll_all(running)
        assert again.status == "unchanged" and again.next_poll - clock.now == 3600  # a 304: still an hour
    assert web.gets("/ttl.xml") == 4
