"""Issue #3, acceptance: servers that misbehave on purpose, payloads that make feedparser and
trafilatura blow up, and feeds that are messy but valid.

Each hostile feed runs in one `newsmon run --once` together with a healthy feed. The deadlines
are lowered in the configuration (request_timeout, parse_timeout, sizes, worker_memory) so that
every kill path is exercised in seconds: download deadline (drip), size cap (gzip bomb, endless
body, 50 MB feed), parse timeout (author regex, repeated paragraphs), memory cap (entity
expansion).

Memory is measured with `hostile.run_measured`: newsmon runs under a small wrapper that is a
child subreaper and waits for every process of the run (main process, forkserver, sandbox
workers, killed ones too), so `RUSAGE_CHILDREN.ru_maxrss` is the exact peak resident size of
the largest of them. (Sampling /proc would miss a worker's last moments before it is killed,
which are exactly the interesting ones; and without the subreaper the forkserver is orphaned
when newsmon exits and its workers' peaks are lost.)
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, wait_for
from fixtures import COURIER_ITEMS, publish, write_config
from hostile import (MB, HTML_NOT_A_FEED, author_regex_feed, big_feed, descendants, die, drip, endless,  # noqa: F401
                     entity_feed, gzip_bomb, hostile, nap, redirect, repeated_paragraphs_page, rss_feed, run_measured,
                     running, spin, static)

from monitor import app as app_module
from monitor import cli, pipeline, sandbox

HEALTHY_ALERTS = ["[iskp-activity] Blast near Kabul ministry, several hurt"]  # ISKP is named only in its page
LIMITS = {"request_timeout": "3s", "parse_timeout": "3s", "max_feed_size": "2MB", "max_page_size": "2MB",
          "worker_memory": "400MB"}
NOW = email.utils.formatdate(time.time(), usegmt=True)  # entries dated long ago record silently
SLACK = 6.0  # seconds on top of a deadline for the cycle (its own "seconds="): the healthy feed, a loaded machine
START_UP = 15.0  # and on top of that for the whole command: interpreter start-up and imports on a loaded machine
MEMORY_BOUND = 500 * MB


def hook_url(web) -> str:
    return web.base.replace("http://", "json://") + "/hook"


def cycle_seconds(stderr: str) -> float:
    """The cycle's own duration, from `run --once`'s "cycle done ... seconds=N" line."""
    found = re.findall(r"cycle done .* seconds=([0-9.]+)", stderr)
    assert found, stderr
    return float(found[-1])


def alert_titles(web) -> list[str]:
    return sorted(post["title"] for post in web.json_posts("/hook"))


def feed_status(path, capsys) -> dict[str, dict]:
    """`newsmon status --json`, by feed URL."""
    capsys.readouterr()
    assert cli.main(["--config", str(path), "status", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    return {feed["url"]: feed for feed in document["feeds"]}


def config_with(tmp_path, web, hostile_url: str, **limits):
    _courier, healthy = publish(web)
    feeds = [{"url": healthy, "alert_on_first_poll": True}, {"url": hostile_url, "alert_on_first_poll": True}]
    return write_config(tmp_path, feeds, {"hook": [hook_url(web)]}, **{**LIMITS, **limits}), healthy


# ---------------------------------------------------------------- hostile feeds

# name: (route, the error kind the feed is marked with and words of its message, the deadline
# that must cut it, limits on top of LIMITS)
HOSTILE = {
    # size cap on *decoded* bytes: ~1 MB on the wire would inflate to 1 GB
    "gzip bomb": (lambda: gzip_bomb(), ("too-large", "(decoded)"), 3.0, {}),
    # size cap while streaming: no Content-Length, never ends
    "endless body": (lambda: endless(), ("too-large", "over the 2000000 byte limit"), 3.0, {}),
    # total deadline: every read succeeds in time, one byte a second
    "1 byte/s drip": (lambda: drip(rss_feed([{"title": "Slow", "link": "https://hostile.example/s", "summary": "s"}])),
                      ("timeout", "within 3s"), 3.0, {}),
    # size cap from the declared length, before the body is read
    "50 MB feed": (lambda: big_feed(50 * MB), ("too-large", "50000000 bytes"), 3.0, {}),
    "redirect loop": (lambda: redirect("/feed"), ("redirects", "more than 5 redirects"), 3.0, {}),
    # parse timeout: feedparser's quadratic e-mail regex on one long <author>
    "author regex": (lambda: static(author_regex_feed(), "application/rss+xml"),
                     ("parse-timeout", "took longer than 3s"), 3.0, {}),
    # memory cap: the loose parser expands 20 000 references to a 60 KB entity (1.2 GB); the
    # deadline is out of reach here, so only the memory cap can end it
    "entity expansion": (lambda: static(entity_feed(), "application/rss+xml"),
                         ("parse-memory", "ran out of memory (worker_memory 400 MB)"), 15.0, {"parse_timeout": "15s"}),
    "HTML served as a feed": (lambda: static(HTML_NOT_A_FEED, "application/rss+xml"), ("not-a-feed", "not a feed"), 3.0, {}),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_feed_fails_alone_within_its_deadline(case, tmp_path, web, hostile, capsys):
    route, (kind, says), deadline, limits = HOSTILE[case]
    feed_url = hostile.add("/feed", route())
    path, healthy = config_with(tmp_path, web, feed_url, **limits)

    run = run_measured("--config", str(path), "run", "--once", timeout=deadline + 60)

    assert run.returncode == 0, run.stderr
    assert cycle_seconds(run.stderr) < deadline + SLACK, f"{case}: took {run.elapsed:.1f}s\n{run.stderr}"
    assert run.elapsed < deadline + SLACK + START_UP, f"{case}: took {run.elapsed:.1f}s\n{run.stderr}"
    assert run.peak_rss < MEMORY_BOUND, f"{case}: a newsmon process reached {run.peak_rss / MB:.0f} MB"
    assert "Traceback" not in run.stderr
    feeds = feed_status(path, capsys)
    assert feeds[feed_url]["health"].startswith("failing"), feeds[feed_url]
    assert feeds[feed_url]["error_kind"] == kind and says in feeds[feed_url]["last_error"], feeds[feed_url]
    assert feeds[healthy]["health"] == "ok", feeds[healthy]
    assert alert_titles(web) == HEALTHY_ALERTS
    print(f"{case}: {run.elapsed:.1f}s, peak {run.peak_rss / MB:.0f} MB, {feeds[feed_url]['last_error']}")


def test_a_page_that_outlasts_parse_timeout_falls_back_to_the_feed_text(tmp_path, web, hostile, capsys):
    """The article page is under the size cap but takes trafilatura far longer than
    parse_timeout: the worker is killed, the entry is recorded from the feed's own text and its
    title still alerts; the feed itself is healthy."""
    page = hostile.add("/page", static(repeated_paragraphs_page(), "text/html; charset=utf-8"))
    feed_url = hostile.add("/feed", static(rss_feed([{
        "title": "Armed men seen near Bannu checkpoint", "link": page, "guid": "slow-page-1", "date": NOW,
        "summary": "Residents said the TTP fighters were on the road before dawn."}]), "application/rss+xml"))
    path, healthy = config_with(tmp_path, web, feed_url, parse_timeout="2s", max_page_size="5MB")

    run = run_measured("--config", str(path), "run", "--once", timeout=90)

    assert run.returncode == 0, run.stderr
    assert cycle_seconds(run.stderr) < 2.0 + SLACK, f"took {run.elapsed:.1f}s\n{run.stderr}"
    assert run.elapsed < 2.0 + SLACK + START_UP, f"took {run.elapsed:.1f}s\n{run.stderr}"
    assert run.peak_rss < MEMORY_BOUND, f"a newsmon process reached {run.peak_rss / MB:.0f} MB"
    assert hostile.gets("/page") == 1
    assert "took longer than 2s" in run.stderr
    feeds = feed_status(path, capsys)
    assert feeds[feed_url]["health"] == "ok" and feeds[feed_url]["entries"] == 1, feeds[feed_url]
    assert feeds[healthy]["health"] == "ok"
    assert alert_titles(web) == sorted([*HEALTHY_ALERTS, "[ttp-activity] Armed men seen near Bannu checkpoint"])
    slow = next(post for post in web.json_posts("/hook") if "Bannu" in post["title"])
    assert "Residents said the «TTP» fighters" in slow["message"]  # the feed's summary stood in for the page
    print(f"repeated paragraphs: {run.elapsed:.1f}s, peak {run.peak_rss / MB:.0f} MB")


# ---------------------------------------------------------------- the main process stays live


def test_the_event_loop_never_stalls_while_workers_chew(tmp_path, web, hostile):
    """A heartbeat task in newsmon's own event loop, every 100 ms, while one worker is stuck in
    feedparser's regex, another in trafilatura, a third feed drips, and the healthy feed is
    processed: no beat is late by a second or more (a liveness bound, not a benchmark)."""
    author = hostile.add("/author.xml", static(author_regex_feed(), "application/rss+xml"))
    page = hostile.add("/page", static(repeated_paragraphs_page(), "text/html"))
    paragraphs = hostile.add("/paragraphs.xml", static(rss_feed([{
        "title": "TTP fighters seen near Bannu checkpoint", "link": page, "summary": "Armed men on the road."}]),
        "application/rss+xml"))
    dripping = hostile.add("/drip.xml", drip(b"<rss>" * 20))
    courier, _dispatch = publish(web)
    feeds = [{"url": url, "alert_on_first_poll": True} for url in (courier, author, paragraphs, dripping)]
    path = write_config(tmp_path, feeds, {"hook": [hook_url(web)]},
                        **{**LIMITS, "parse_timeout": "4s", "request_timeout": "4s", "max_page_size": "5MB"})

    cli.setup_logging("info")  # to this test's stderr

    async def main():
        running = app_module.open_app(app_module.check(path))
        lags: list[float] = []

        async def heartbeat() -> None:
            while True:
                before = time.monotonic()
                await asyncio.sleep(0.1)
                lags.append(time.monotonic() - before - 0.1)

        beat = asyncio.create_task(heartbeat())
        try:
            started = time.monotonic()
            results = await pipeline.cycle(running)
            elapsed = time.monotonic() - started
        finally:
            beat.cancel()
            await running.close()
        return {result.feed: result for result in results}, lags, elapsed

    results, lags, elapsed = asyncio.run(main())

    assert len(lags) >= 20, lags  # it did beat throughout
    assert max(lags) < 1.0, f"the event loop stalled for {max(lags):.2f}s"
    assert results[author].status == "failed" and results[author].error.startswith("parse-timeout")
    assert results[dripping].status == "failed" and results[dripping].error.startswith("timeout")
    assert results[paragraphs].status == "new" and results[courier].status == "new"
    assert elapsed < 4.0 + SLACK
    print(f"heartbeat: {len(lags)} beats, worst lag {max(lags) * 1000:.0f} ms, cycle {elapsed:.1f}s")


def test_a_killed_worker_takes_no_other_task_with_it():
    """One task overruns its deadline while another is mid-way on another worker: only the
    first fails; the second returns its value, and the sandbox keeps working."""
    async def main():
        box = sandbox.Sandbox(2, timeout=5.0)
        try:
            await box.run(nap, 0, "warm")  # workers started
            stuck = asyncio.create_task(box.run(spin, 30.0, timeout=1.0))
            await asyncio.sleep(0.2)
            innocent = asyncio.create_task(box.run(nap, 2.0, "innocent"))
            with pytest.raises(sandbox.WorkerTimeout):
                await stuck
            assert await innocent == "innocent"
            assert await box.run(nap, 0, "after") == "after"
        finally:
            box.close()

    asyncio.run(main())


def test_a_crashed_worker_takes_no_other_task_with_it():
    async def main():
        box = sandbox.Sandbox(2, timeout=5.0)
        try:
            innocent = asyncio.create_task(box.run(nap, 1.5, "innocent"))
            await asyncio.sleep(0.5)
            with pytest.raises(sandbox.WorkerCrashed):
                await box.run(die)
            assert await innocent == "innocent"
            assert await box.run(nap, 0, "after") == "after"
        finally:
            box.close()

    asyncio.run(main())


def test_a_cancelled_task_frees_its_worker():
    """A poll cancelled mid-parse (the daemon stopping) does not leave its worker busy."""
    async def main():
        box = sandbox.Sandbox(1, timeout=5.0)
        try:
            stuck = asyncio.create_task(box.run(spin, 30.0))
            await asyncio.sleep(1.0)
            stuck.cancel()
            with pytest.raises(asyncio.CancelledError):
                await stuck
            assert await box.run(nap, 0, "free") == "free"  # not queued behind 30 s of spinning
        finally:
            box.close()

    asyncio.run(main())


def test_named_tasks_run_in_the_workers_and_the_loop_never_imports_the_parsers():
    """The pipeline names its sandbox tasks (`sandbox.Task`): the parsers (feedparser,
    trafilatura, lxml) load in the workers only, not in the event loop's process."""
    async def main():
        box = sandbox.Sandbox(1, timeout=10.0, preload=("monitor.urls",))
        try:
            task = sandbox.Task("monitor.urls", "canonical")
            assert await box.run(task, "https://Example.com/a/b?utm_source=x") == "https://example.com/a/b"
            with pytest.raises(sandbox.WorkerTimeout, match="nap"):
                await box.run(sandbox.Task("hostile", "nap"), 5.0, timeout=0.5)
        finally:
            box.close()

    asyncio.run(main())
    code = ("import sys; from monitor import cli, daemon, pipeline; "
            "print(sorted({'feedparser', 'trafilatura', 'lxml', 'monitor.feeds', 'monitor.extract'} & set(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.strip() == "[]"


def test_no_worker_outlives_a_killed_newsmon(tmp_path, web):
    """newsmon killed with SIGKILL (the OOM killer, `timeout -s KILL` around a cron job) cannot
    clean up: its forkserver and sandbox workers must still go, not wait forever."""
    _courier, healthy = publish(web)
    path = write_config(tmp_path, [{"url": healthy, "alert_on_first_poll": True}], {"hook": [hook_url(web)]})
    daemon = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(path), "run"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    left: list[int] = []
    try:
        assert wait_for(lambda: len(web.json_posts("/hook")) == 1, timeout=60)  # workers parsed and extracted
        spawned = descendants(daemon.pid)
        assert len(spawned) >= 2, spawned  # at least the forkserver and a worker
        daemon.kill()
        daemon.wait()
        wait_for(lambda: not any(running(pid) for pid in spawned), timeout=10)
        left = [pid for pid in spawned if running(pid)]
        assert not left, f"still running 10 s after newsmon was killed: {left}"
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        for pid in left:  # leave nothing behind either way
            os.kill(pid, signal.SIGKILL)


def test_a_worker_out_of_memory_is_replaced_and_reported():
    async def main():
        box = sandbox.Sandbox(1, timeout=10.0, memory_limit=300 * MB)
        try:
            with pytest.raises(sandbox.WorkerCrashed, match="memory"):
                await box.run(bytearray, 600 * MB)
            assert await box.run(nap, 0, "still serving") == "still serving"
        finally:
            box.close()

    asyncio.run(main())


# ---------------------------------------------------------------- messy but valid

LATIN1_TITLE = "Café owner in Peshawar says TTP demanded money"
MESSY = {  # name: (feed bytes, Content-Type, entries read, alert titles)
    # unescaped &, unclosed <br> and <item>, no </rss>: not well-formed, yet readable
    "recoverable malformed XML": (
        b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Frontier & Tribal Desk</title>\n'
        b"<item><title>TTP claims attack on convoy near Tank</title><link>https://messy.example/1</link>"
        b"<description>Police said three & more were hurt<br></description></item>\n"
        b"<item><title>Markets steady in Quetta</title><description>Nothing to report.\n</channel>",
        "application/rss+xml", 2, ["[ttp-activity] TTP claims attack on convoy near Tank"]),
    # Latin-1 bytes, no encoding declared anywhere
    "Latin-1 without a declared charset": (
        b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Caf\xe9 Desk</title>\n'
        b"<item><title>" + LATIN1_TITLE.encode("latin-1") + b"</title><link>https://messy.example/2</link>"
        b"<description>The caf\xe9 owner said he was threatened.</description></item></channel></rss>",
        "application/xml", 1, [f"[ttp-activity] {LATIN1_TITLE}"]),
    # declared utf-8, but the bytes are Latin-1
    "Latin-1 bytes declared as UTF-8": (
        b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Desk</title>\n'
        b"<item><title>" + LATIN1_TITLE.encode("latin-1") + b"</title><link>https://messy.example/3</link>"
        b"<description>Threats reported.</description></item></channel></rss>",
        "application/rss+xml; charset=utf-8", 1, ["[ttp-activity] *Peshawar says TTP demanded money"]),
    # the HTTP header names a charset the bytes are not in (UTF-8 served as ISO-8859-1)
    "UTF-8 served as ISO-8859-1": (
        '<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Desk</title>\n'
        f"<item><title>{LATIN1_TITLE}</title><link>https://messy.example/4</link>"
        "<description>Threats reported.</description></item></channel></rss>".encode(),
        "text/xml; charset=iso-8859-1", 1, ["[ttp-activity] *Peshawar says TTP demanded money"]),
    "NUL bytes": (
        b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Nul\x00 Desk</title>\n'
        b"<item><title>ISKP claims\x00 blast in Jalalabad</title><link>https://messy.example/5</link>"
        b"<description>A bomb\x00 went off near a market.</description></item></channel></rss>",
        "application/rss+xml", 1, ["[iskp-activity] ISKP claims* blast in Jalalabad"]),
    # the same guid twice (one alert), no guid (keyed by link), neither guid nor link
    "duplicate and missing GUIDs": (
        b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Guid Desk</title>\n'
        b"<item><title>TTP attack on checkpoint in Tank district</title><link>https://messy.example/6</link>"
        b"<guid>same-guid</guid><description>Two soldiers were hurt.</description></item>\n"
        b"<item><title>TTP attack on checkpoint in Tank district</title><link>https://messy.example/6</link>"
        b"<guid>same-guid</guid><description>Two soldiers were hurt.</description></item>\n"
        b"<item><title>ISKP statement threatens Kabul schools</title><link>https://messy.example/7</link>"
        b"<description>The group named several schools.</description></item>\n"
        b"<item><title>Tehreek-e-Taliban Pakistan announce ceasefire end</title>"
        b"<description>The group said talks had failed.</description></item></channel></rss>",
        "application/rss+xml", 3, ["[iskp-activity] ISKP statement threatens Kabul schools",
                                "[ttp-activity] TTP attack on checkpoint in Tank district",
                                "[ttp-activity] Tehreek-e-Taliban Pakistan announce ceasefire end"]),
    "missing and absurd dates": (
        b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Date Desk</title>\n'
        b"<item><title>TTP militants storm police station in Dera Ismail Khan</title><link>https://messy.example/8</link>"
        b"<description>No date at all.</description></item>\n"
        b"<item><title>ISKP gunmen ambush bus outside Mazar-i-Sharif</title><link>https://messy.example/9</link>"
        b"<pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate><description>Epoch date.</description></item>\n"
        b"<item><title>Tehrik-i-Taliban Pakistan fighters seize hilltop in Kurram</title><link>https://messy.example/10</link>"
        b"<pubDate>Wed, 01 Jan 3000 00:00:00 GMT</pubDate><description>Far future.</description></item>\n"
        b"<item><title>Islamic State Khorasan Province claims Herat mosque bombing</title>"
        b"<link>https://messy.example/11</link><pubDate>sometime last week</pubDate>"
        b"<description>Unparseable date.</description></item></channel></rss>",
        "application/rss+xml", 4, ["[iskp-activity] ISKP gunmen ambush bus outside Mazar-i-Sharif",
                                "[iskp-activity] Islamic State Khorasan Province claims Herat mosque bombing",
                                "[ttp-activity] TTP militants storm police station in Dera Ismail Khan",
                                "[ttp-activity] Tehrik-i-Taliban Pakistan fighters seize hilltop in Kurram"]),
    "HTML in titles": (
        b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>&lt;b&gt;Bold&lt;/b&gt; Desk</title>\n'
        b"<item><title>&lt;b&gt;Breaking:&lt;/b&gt; &lt;i&gt;TTP&lt;/i&gt; claims Bajaur &amp;amp; Mohmand raids</title>"
        b"<link>https://messy.example/12</link><description>Two raids.</description></item>\n"
        b"<item><title><![CDATA[<span class=\"x\">ISKP</span> warns Kunar elders]]></title>"
        b"<link>https://messy.example/13</link><description>A warning.</description></item></channel></rss>",
        "application/rss+xml", 2, ["[iskp-activity] ISKP warns Kunar elders",
                                "[ttp-activity] Breaking: TTP claims Bajaur & Mohmand raids"]),
}


def _like(pattern: str, title: str) -> bool:
    """`*` in an expected title stands for whatever a charset mix-up or a NUL left there."""
    head, star, tail = pattern.partition("*")
    return title == pattern if not star else title.startswith(head) and title.endswith(tail)


# Failures found here whose fix lies outside fetch/sandbox (see the report on issue #3).
@pytest.mark.parametrize("case", list(MESSY))
def test_a_messy_but_valid_feed_is_read_and_alerts(case, tmp_path, web, capsys):
    body, content_type, entries, expected = MESSY[case]
    url = web.add("/messy.xml", body, content_type)
    path = write_config(tmp_path, [{"url": url, "alert_on_first_poll": True, "full_text": False}],
                        {"hook": [hook_url(web)]})

    assert cli.main(["--config", str(path), "run", "--once"]) == 0

    status = feed_status(path, capsys)[url]
    assert status["health"] == "ok" and status["entries"] == entries, status  # every entry was read
    titles = alert_titles(web)
    assert len(titles) == len(expected) and all(_like(p, t) for p, t in zip(sorted(expected), titles)), titles
    assert all("\x00" not in post["title"] + post["message"] for post in web.json_posts("/hook"))


def test_a_relative_link_is_resolved_against_the_feed(tmp_path, web):
    """A relative <link> resolves against the feed's URL: its page is fetched and its text alerts."""
    item = COURIER_ITEMS[0]  # its page alone names the TTP
    publish(web)
    url = web.add("/feeds/relative.xml",
                  f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Relative</title>'
                  f"<item><title>{item['title']}</title><link>..{item['path']}</link><pubDate>{NOW}</pubDate>"
                  f"<description>{item['summary']}</description></item></channel></rss>", "application/rss+xml")
    path = write_config(tmp_path, [{"url": url, "alert_on_first_poll": True}], {"hook": [hook_url(web)]})

    assert cli.main(["--config", str(path), "run", "--once"]) == 0

    assert web.gets(item["path"]) == 1
    assert alert_titles(web) == [f"[ttp-activity] {item['title']}"]
    assert f"{web.base}{item['path']}" in web.json_posts("/hook")[0]["message"]
