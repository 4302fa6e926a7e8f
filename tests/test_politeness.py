"""Politeness and persistence: Retry-After, backoff that never gives up, TTL and max-age floors,
moved and gone feeds, feed health in `newsmon status`. Real loopback servers; the clock is ours."""

from __future__ import annotations

import json
import random

import pytest
from conftest import Clock, run_newsmon
from fixtures import COURIER_ITEMS, publish, rss, write_config

from monitor import schedule

MINUTE = 60.0


def test_retry_after_is_honoured_per_feed_and_other_feeds_on_the_host_are_unaffected(tmp_path, web, harness):
    courier, dispatch = publish(web)
    web.add("/courier/rss.xml", b"slow down", "text/plain", status=429, headers={"Retry-After": "120"}, etag=False)
    path = write_config(tmp_path, [{"url": courier}, {"url": dispatch}], {"hook": ["json://127.0.0.1:9/x"]})
    clock = Clock()
    running = harness.open(path, clock)

    limited, other = harness.poll_all(running)
    assert limited.status == "failed" and "429" in limited.error
    assert other.status == "new"
    assert web.gets("/courier/rss.xml") == 1

    for seconds in (30, 60, 29):  # 119 s after the 429: still waiting
        clock.advance(seconds)
        limited, other = harness.poll_all(running)
        assert limited.status == "not-due"
        assert other.status == "unchanged"  # the same host, another feed: polled as usual
    assert web.gets("/courier/rss.xml") == 1
    assert web.gets("/dispatch/atom.xml") == 4

    clock.advance(2)  # 121 s
    limited, _ = harness.poll_all(running)
    assert limited.status == "failed"
    assert web.gets("/courier/rss.xml") == 2


def test_retry_after_as_an_http_date():
    assert schedule.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0 - 90) == pytest.approx(90)
    assert schedule.parse_retry_after("120", 0) == 120
    assert schedule.parse_retry_after("soon", 0) is None


def test_a_feed_failing_ten_times_is_still_polled_at_the_cap_and_recovers_after_one_success(tmp_path, web, harness):
    web.add("/flaky.xml", b"", "text/plain", status=503, etag=False)
    path = write_config(tmp_path, [{"url": web.base + "/flaky.xml"}], {"hook": ["json://127.0.0.1:9/x"]},
                        poll_interval="15m", max_backoff="6h")
    clock = Clock()
    running = harness.open(path, clock)
    holds = []
    for _attempt in range(10):
        (result,) = harness.poll_all(running)
        assert result.status == "failed"
        holds.append((result.next_poll or clock.now) - clock.now)
        clock.advance(max(holds[-1], 15 * MINUTE) + 1)  # the scheduler's next run
    assert web.gets("/flaky.xml") == 10  # never given up
    assert holds[0] == 0  # the first failure waits for the next regular poll
    assert all(later >= earlier * 0.8 for earlier, later in zip(holds[1:], holds[2:]))  # grows...
    assert 6 * 3600 * 0.85 <= holds[-1] <= 6 * 3600 * 1.1  # ...up to the cap, with jitter

    courier, _dispatch = publish(web)
    web.routes["/flaky.xml"] = web.routes["/courier/rss.xml"]  # it comes back
    (result,) = harness.poll_all(running)
    assert result.status == "new" and result.next_poll is None  # back on its normal schedule
    result = run_newsmon("--config", str(path), "status", "--json")
    (feed,) = json.loads(result.stdout)["feeds"]
    assert feed["health"] == "ok" and feed["consecutive_failures"] == 0


def test_backoff_policy_table():
    rng = random.Random(7)
    interval, cap = 900.0, 6 * 3600.0
    waits = [schedule.failure_hold(interval, n, cap, rng=rng) for n in range(1, 12)]
    assert waits[0] == 0
    assert 1600 < waits[1] < 2000  # 2 x interval, +-10 %
    assert all(wait <= cap * 1.1 for wait in waits)
    assert waits[-1] > cap * 0.85
    assert schedule.failure_hold(interval, 1, cap, retry_after=120) == 120
    assert schedule.failure_hold(interval, 1, cap, retry_after=10 * 86400) == cap  # capped


def test_ttl_and_max_age_are_a_floor_unless_the_user_set_the_interval(tmp_path, web, harness):
    items = COURIER_ITEMS
    body = rss("Indus Courier", items).replace("<description>Test feed</description>",
                                                "<description>Test feed</description><ttl>120</ttl>")
    publish(web)
    web.add("/ttl.xml", body, "application/rss+xml")
    web.add("/maxage.xml", rss("Max Age", items), "application/rss+xml", headers={"Cache-Control": "public, max-age=7200"})
    web.add("/explicit.xml", body.replace("Indus Courier", "Explicit"), "application/rss+xml")
    feeds = [{"url": web.base + "/ttl.xml"}, {"url": web.base + "/maxage.xml"},
             {"url": web.base + "/explicit.xml", "interval": "10m"}]
    path = write_config(tmp_path, feeds, {"hook": ["json://127.0.0.1:9/x"]}, poll_interval="15m")
    clock = Clock()
    running = harness.open(path, clock)
    ttl, max_age, explicit = harness.poll_all(running)
    assert ttl.next_poll - clock.now == 7200  # <ttl>120</ttl> minutes
    assert max_age.next_poll - clock.now == 7200
    assert explicit.next_poll is None  # the user's interval wins
    clock.advance(3600)
    ttl, max_age, explicit = harness.poll_all(running)
    assert (ttl.status, max_age.status, explicit.status) == ("not-due", "not-due", "unchanged")


def test_a_permanently_moved_feed_keeps_its_identity_and_is_fetched_at_the_new_address(tmp_path, web, harness):
    courier, _dispatch = publish(web)
    web.add("/old.xml", b"", "text/plain", status=301, headers={"Location": "/courier/rss.xml"}, etag=False)
    path = write_config(tmp_path, [{"url": web.base + "/old.xml"}], {"hook": ["json://127.0.0.1:9/x"]})
    clock = Clock()
    running = harness.open(path, clock)
    (first,) = harness.poll_all(running)
    assert first.status == "new" and first.new == 3
    clock.advance(3600)
    (second,) = harness.poll_all(running)
    assert second.status == "unchanged"
    assert web.gets("/old.xml") == 1  # the second poll went straight to the new address
    result = run_newsmon("--config", str(path), "status", "--json")
    (feed,) = json.loads(result.stdout)["feeds"]
    assert feed["url"] == web.base + "/old.xml" and feed["fetch_url"] == courier and feed["entries"] == 3


def test_410_gone_disables_the_feed_until_the_user_enables_it(tmp_path, web):
    web.add("/gone.xml", b"", "text/plain", status=410, etag=False)
    _courier, dispatch = publish(web)
    path = write_config(tmp_path, [{"url": web.base + "/gone.xml"}, {"url": dispatch}], {"hook": ["json://127.0.0.1:9/x"]})

    first = run_newsmon("--config", str(path), "run", "--once")
    assert first.returncode == 0 and "feed disabled" in first.stderr and "410" in first.stderr
    run_newsmon("--config", str(path), "run", "--once")
    assert web.gets("/gone.xml") == 1  # not asked again

    status = json.loads(run_newsmon("--config", str(path), "status", "--json").stdout)
    gone = next(feed for feed in status["feeds"] if feed["url"].endswith("/gone.xml"))
    assert gone["status"] == "disabled" and "410" in gone["health"]

    assert run_newsmon("--config", str(path), "enable", web.base + "/gone.xml").returncode == 0
    run_newsmon("--config", str(path), "run", "--once")
    assert web.gets("/gone.xml") == 2


def test_disable_and_status_text(tmp_path, web):
    courier, dispatch = publish(web)
    path = write_config(tmp_path, [{"url": courier, "name": "Courier"}, {"url": dispatch}], {"hook": ["json://127.0.0.1:9/x"]})
    assert run_newsmon("--config", str(path), "run", "--once").returncode == 0
    assert run_newsmon("--config", str(path), "disable", courier, "--reason", "paywalled").returncode == 0
    missing = run_newsmon("--config", str(path), "disable", web.base + "/nope.xml")
    assert missing.returncode == 1 and "no feed" in missing.stderr

    run_newsmon("--config", str(path), "run", "--once")
    assert web.gets("/courier/rss.xml") == 1
    text = run_newsmon("--config", str(path), "status").stdout
    assert "Courier\n" in text and "disabled: paywalled" in text
    assert "Hindukush Dispatch" in text and "ok · 2 entries" in text


def test_a_silent_feed_raises_one_notice_and_one_recovery(tmp_path, web, harness):
    courier, _dispatch = publish(web)
    hook = web.base.replace("http://", "json://") + "/ops"
    path = write_config(tmp_path, [{"url": courier, "name": "Courier", "expect_every": "2h", "interval": "30m"}],
                        {"ops": [hook], "desk": ["json://127.0.0.1:9/x"]}, admin_channels=["ops"])
    clock = Clock()
    running = harness.open(path, clock)

    def sent():
        harness.drain(running, ignore_backoff=True)
        return [post["title"] for post in web.json_posts("/ops")]

    harness.poll_all(running)
    for hours in (1, 1, 1.5, 1):  # nothing new for 1, 2, 3.5, 4.5 hours
        clock.advance(hours * 3600)
        harness.poll_all(running)
    assert sent() == ["[newsmon] Feed silent: Courier"]

    new_item = {"guid": "courier-9", "path": "/courier/new.html", "title": "Flood warning for Swat valley",
                "summary": "Officials warned of floods.", "body": ("Officials warned of floods in Swat.",)}
    web.add("/courier/rss.xml", rss("Indus Courier", [new_item, *COURIER_ITEMS]), "application/rss+xml")
    clock.advance(1800)
    harness.poll_all(running)
    clock.advance(1800)
    harness.poll_all(running)
    assert sent() == ["[newsmon] Feed silent: Courier", "[newsmon] Feed recovered: Courier"]
    (notice,) = [post for post in web.json_posts("/ops") if "silent" in post["title"]]
    assert "expected at least every 2 h" in notice["message"]
