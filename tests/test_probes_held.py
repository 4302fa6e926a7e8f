"""Probes of an adversarial run (#15) that newsmon withstood, kept so that it goes on
withstanding them. Each complements the tests named in its section rather than repeating them.

Real parts only: loopback servers that count the connections they accept, the daemon in a
subprocess, webhook receivers behind real apprise URLs, real SQLite.
"""

from __future__ import annotations

import ipaddress
import json
import re
import signal
import time
import urllib.request

import pytest
from conftest import WebServer, free_port, wait_for
from fixtures import COURIER_ITEMS, RFC822, publish, rss, write_config
from hostile import MB, HostileServer, run_measured
from test_guard import get, target  # noqa: F401 (target: the fixture)
from test_service import start, stop

from monitor import cli
from monitor.errors import FetchError


def hook_url(web) -> str:
    return web.base.replace("http://", "json://") + "/hook"


# ---------------------------------------------------------------- the address guard
# test_guard.py's FORMS hold 127.1, 0x7f.1, 2130706433, 017700000001, 0, 0.0.0.0, a trailing
# dot, full-width digits, [::1], [::], [::ffff:127.0.0.1], localhost and a backslash, and one
# redirect chain to localhost. These are the other spellings the adversarial run tried.

# form: (URL with {port}, kinds the refusal may have)
REFUSED = ("refused",)
FORMS = {
    "0x7f000001 (hex, one number)": ("http://0x7f000001:{port}/article", REFUSED),
    "0177.0.0.1 (octal, dotted)": ("http://0177.0.0.1:{port}/article", REFUSED),
    "0x7f.0.0.1 (hex, dotted)": ("http://0x7f.0.0.1:{port}/article", REFUSED),
    "0177.1 (octal, short)": ("http://0177.1:{port}/article", REFUSED),
    "127.0.0.01 (a leading zero)": ("http://127.0.0.01:{port}/article", REFUSED),
    "[::ffff:7f00:1] (IPv4-mapped, in hex)": ("http://[::ffff:7f00:1]:{port}/article", REFUSED),
    "[::127.0.0.1] (IPv4-compatible)": ("http://[::127.0.0.1]:{port}/article", REFUSED),
    "[::1%25lo] (with a zone)": ("http://[::1%25lo]:{port}/article", REFUSED),
    "example.com@127.0.0.1 (userinfo)": ("http://example.com@127.0.0.1:{port}/article", REFUSED),
    "example.com:80@127.0.0.1 (userinfo and password)": ("http://example.com:80@127.0.0.1:{port}/article", REFUSED),
    "user:pass@localhost (userinfo, a name)": ("http://user:pass@localhost:{port}/article", REFUSED),
    "127.0.0.1#@example.com (fragment)": ("http://127.0.0.1:{port}#@example.com/article", REFUSED),
    "127.0.0.1?@example.com (query)": ("http://127.0.0.1:{port}?@example.com/article", REFUSED),
    "LOCALHOST (upper case)": ("http://LOCALHOST:{port}/article", REFUSED),
    # a name with a trailing dot: refused where the resolver answers 127.0.0.1, unresolvable elsewhere
    "localhost. (a name, trailing dot)": ("http://localhost.:{port}/article", ("refused", "dns")),
}
# the spellings test_guard.py fetches directly, here as a redirect's Location
REDIRECTED = {**FORMS,
              "127.0.0.1": ("http://127.0.0.1:{port}/article", REFUSED),
              "localhost": ("http://localhost:{port}/article", REFUSED),
              "2130706433 (decimal)": ("http://2130706433:{port}/article", REFUSED),
              "127.1 (short)": ("http://127.1:{port}/article", REFUSED),
              "0.0.0.0": ("http://0.0.0.0:{port}/article", REFUSED),
              "[::ffff:127.0.0.1]": ("http://[::ffff:127.0.0.1]:{port}/article", REFUSED)}


@pytest.mark.parametrize("form", list(FORMS))
def test_another_spelling_of_an_internal_address_is_refused_before_connecting(form, target):
    url, kinds = FORMS[form]
    with pytest.raises(FetchError) as refused:
        get(url.format(port=target.port))
    assert refused.value.kind in kinds, refused.value
    assert target.connections == 0


@pytest.fixture
def intranet():
    """A server on 127.0.0.2, the one range allowed: its redirects lead where a third party says."""
    server = HostileServer("127.0.0.2").start()
    yield server
    server.stop()


@pytest.mark.parametrize("untrusted", [True, False], ids=["article link", "feed URL"])
def test_a_redirect_to_any_spelling_of_an_internal_address_is_refused_before_connecting(untrusted, target, intranet):
    allowed = [ipaddress.ip_network("127.0.0.2/32")]
    for number, (form, (location, kinds)) in enumerate(REDIRECTED.items()):
        to = location.format(port=target.port)
        first_hop = intranet.add(f"/{number}", lambda exchange, to=to: exchange.head(302, {"Location": to,
                                                                                       "Content-Length": "0"}))
        with pytest.raises(FetchError) as refused:
            get(first_hop, allowed=allowed, untrusted=untrusted)
        assert refused.value.kind in kinds, (form, refused.value)
    assert len(intranet.requests) == len(REDIRECTED)  # every redirect was asked for
    assert target.connections == 0  # and none was followed


# ---------------------------------------------------------------- a reload storm
# test_service.py and test_reload.py reload once or twice; here SIGHUP comes 50 times in a row.


def test_fifty_sighups_while_polling_keep_it_polling_without_a_duplicate(tmp_path, web):
    courier, _dispatch = publish(web)
    path = write_config(tmp_path, [{"url": courier, "interval": "1s", "alert_on_first_poll": True}],
                        {"hook": [hook_url(web)]})
    process = start(path)
    try:
        assert wait_for(lambda: len(web.json_posts("/hook")) == 2, timeout=30)
        fresh = {"guid": "courier-4", "path": "/courier/bannu-checkpoint.html",
                 "title": "TTP fighters seen near Bannu checkpoint", "summary": "Residents reported armed men.",
                 "body": ("Residents said TTP fighters were seen near a checkpoint in Bannu before dawn.",)}
        for number in range(50):
            process.send_signal(signal.SIGHUP)
            if number == 25:  # a new story arrives in the middle of the storm
                publish(web, courier_items=[*COURIER_ITEMS, fresh])
            time.sleep(0.02)
        polls = web.gets("/courier/rss.xml")
        assert wait_for(lambda: web.gets("/courier/rss.xml") >= polls + 2, timeout=15), "polling stopped"
        assert wait_for(lambda: len(web.json_posts("/hook")) == 3, timeout=15)
        time.sleep(1)  # another poll: nothing more may come
        assert process.poll() is None
    finally:
        code, stderr = stop(process)
    assert code == 0, stderr
    titles = [post["title"] for post in web.json_posts("/hook")]
    assert len(titles) == len(set(titles)) == 3, titles
    assert "[ttp-activity] TTP fighters seen near Bannu checkpoint" in titles
    reloads = stderr.count("reloaded feeds=1 added=0 removed=0")
    assert 1 <= reloads <= 50, stderr[-3000:]
    assert "Traceback" not in stderr and " ERROR " not in stderr and "reload refused" not in stderr


# ---------------------------------------------------------------- a large feed
# test_hostile.py cuts a 50 MB feed at the size cap before parsing; these feeds fit the cap.

WORDS = [f"{stem}{suffix}" for stem in ("talk", "port", "rain", "bank", "road", "wheat", "court", "power", "trade",
                                        "school", "bridge", "market", "council", "harbour", "station")
         for suffix in ("", "s", "ed", "ing", "er", "ers", "ment", "ful", "less", "wise")]


def many_items(count: int) -> str:
    """An RSS feed of `count` distinct, unremarkable items (no rule matches them)."""
    items = []
    for number in range(count):
        words = [WORDS[(number * 7 + step * 13 + number // 150 * step) % len(WORDS)] for step in range(12)]
        items.append({"guid": f"item-{number}", "path": f"/items/{number}.html", "date": RFC822,
                      "title": f"{' '.join(words[:4])} {number}", "summary": " ".join(words[4:]) + f" number {number}."})
    return rss("Large Ledger", items)


def status_of(path, capsys) -> dict[str, dict]:
    """`newsmon status --json`, by feed URL."""
    capsys.readouterr()
    assert cli.main(["--config", str(path), "status", "--json"]) == 0
    return {feed["url"]: feed for feed in json.loads(capsys.readouterr().out)["feeds"]}


def test_a_50000_item_feed_is_stopped_at_the_parse_deadline_in_bounded_memory(tmp_path, web, capsys):
    """At full size: 50,000 items (about 15 MB) take feedparser longer than a lowered
    parse_timeout; the worker is stopped there, no process grows past the bound, and the other
    feed of the run alerts as usual."""
    _courier, dispatch = publish(web)
    body = many_items(50_000)
    large = web.add("/large.xml", body, "application/rss+xml")
    path = write_config(tmp_path, [{"url": dispatch, "alert_on_first_poll": True}, {"url": large}],
                        {"hook": [hook_url(web)]}, parse_timeout="2s", max_feed_size="40MB")

    run = run_measured("--config", str(path), "run", "--once", timeout=60)

    assert len(body) > 10 * MB
    cycle = float(re.search(r"cycle done .* seconds=([\d.]+)", run.stderr).group(1))  # without interpreter start-up
    assert cycle < 2.0 + 6.0, f"took {cycle:.1f}s\n{run.stderr}"  # feedparser needs far longer for 50,000 items
    assert run.peak_rss < 400 * MB, f"a newsmon process reached {run.peak_rss / MB:.0f} MB"
    assert "Traceback" not in run.stderr
    feeds = status_of(path, capsys)
    assert feeds[large]["error_kind"] == "parse-timeout", feeds[large]
    assert feeds[dispatch]["health"] == "ok"
    assert [post["title"] for post in web.json_posts("/hook")] == ["[iskp-activity] Blast near Kabul ministry, several hurt"]
    print(f"50,000 items, {len(body) / MB:.1f} MB: cycle {cycle:.1f}s, peak {run.peak_rss / MB:.0f} MB")


def test_a_1000_item_feed_is_recorded_whole_in_bounded_memory(tmp_path, web, capsys):
    """Scaled down from 50,000 so that every item is parsed and recorded within a few seconds
    (without article pages: the first poll would fetch all 1,000): all are recorded, without
    alerting."""
    large = web.add("/large.xml", many_items(1_000), "application/rss+xml")
    path = write_config(tmp_path, [{"url": large, "full_text": False}], {"hook": [hook_url(web)]})

    run = run_measured("--config", str(path), "run", "--once", timeout=60)

    assert run.returncode == 0, run.stderr
    assert run.peak_rss < 300 * MB, f"a newsmon process reached {run.peak_rss / MB:.0f} MB"
    assert "entries=1000 alerts=0 (first poll: recorded without alerting)" in run.stderr, run.stderr
    assert status_of(path, capsys)[large]["entries"] == 1000
    assert web.json_posts("/hook") == [] and web.gets("/items/0.html") == 0
    print(f"1,000 items: {run.elapsed:.1f}s, peak {run.peak_rss / MB:.0f} MB")


# ---------------------------------------------------------------- many slow feeds
# test_hostile.py keeps the event loop beating beside a few stuck workers and one dripping
# feed, within one cycle; here the daemon carries 200 slow feeds. They are on two hosts, so the
# per-host limit (2) leaves connection slots (max_connections 8) to every other host. (Spread
# over more hosts than max_connections / max_connections_per_host, slow feeds do take every
# slot, and other feeds wait behind them: not covered here.)


def test_two_hundred_slow_feeds_do_not_stall_the_daemon(tmp_path, web):
    courier, _dispatch = publish(web)
    slow_servers = [WebServer() for _ in range(2)]
    for server in slow_servers:
        server.thread.start()
    try:
        slow = [server.add(f"/slow/{number}.xml", rss(f"Slow {number}", []), "application/rss+xml", delay=2.0)
                for number in range(100) for server in slow_servers]
        port = free_port()
        feeds = [{"url": courier, "interval": "1s", "alert_on_first_poll": True},
                 *({"url": url, "interval": "1m"} for url in slow)]
        path = write_config(tmp_path, feeds, {"hook": [hook_url(web)]}, stop_grace="5s",
                            http={"listen": f"127.0.0.1:{port}"})

        def healthz() -> tuple[int | None, float]:
            started = time.monotonic()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    return response.status, time.monotonic() - started
            except OSError:
                return None, time.monotonic() - started

        process = start(path)
        try:
            assert wait_for(lambda: healthz()[0] == 200, timeout=30)
            assert wait_for(lambda: sum(len(server.requests) for server in slow_servers) >= 4, timeout=15)
            # its first poll done (it starts a worker, which loads what reading pages needs: on a
            # busy machine, seconds), the fast feed is measured from there
            assert wait_for(lambda: web.gets("/courier/rss.xml") >= 2, timeout=30)
            polls = web.gets("/courier/rss.xml")
            answers = []
            for _ in range(8):  # four seconds with the slow feeds in flight and queued
                answers.append(healthz())
                time.sleep(0.5)
            assert all(status == 200 for status, _ in answers), answers
            assert max(took for _, took in answers) < 1.0, answers
            assert web.gets("/courier/rss.xml") >= polls + 2, "the fast feed stopped being polled"
            assert wait_for(lambda: len(web.json_posts("/hook")) == 2, timeout=5)  # and its alerts went out
            assert sum(len(server.requests) for server in slow_servers) < len(slow)  # slow ones still queued
            assert process.poll() is None
        finally:
            code, stderr = stop(process)
        assert code == 0, stderr
        assert "Traceback" not in stderr
    finally:
        for server in slow_servers:
            server.httpd.shutdown()
            server.httpd.server_close()
