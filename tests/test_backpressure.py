"""Backpressure (#16, part 1): however many entries a cycle brings, at most `max_connections +
2 x workers` article pages are in flight (being fetched, waiting for a worker, or extracted), so
page bodies never pile up in memory while the workers are busy; and however many feeds it polls,
at most `max_connections` + that many feed polls are (a feed's body and entries are held until
its last entry is recorded). Real loopback feeds and pages, real workers; nothing is timed."""

from __future__ import annotations

from conftest import Clock
from fixtures import page, write_config

from monitor import pipeline

ENTRIES = 2000
FEEDS = 40


def test_a_cycle_of_thousands_of_entries_keeps_pages_in_flight_within_the_bound(tmp_path, web, harness):
    items = []
    for number in range(ENTRIES):
        path = f"/p/{number}.html"
        if number % 10 == 0:  # one page in ten has text to extract; the rest are gone (404), read fast
            web.add(path, page(path, f"Story {number}", "Indus Courier", f"Paragraph of story {number} about the TTP."))
        items.append(f"<item><title>Story {number}</title><link>{{BASE}}{path}</link>"
                     f"<guid isPermaLink=\"false\">s{number}</guid><description>Story {number}</description></item>")
    feed = web.add("/feed.xml", "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Big</title>"
                   + "".join(items) + "</channel></rss>", "application/rss+xml")
    path = write_config(tmp_path, [{"url": feed}], {}, max_connections=6, max_connections_per_host=6)
    running = harness.open(path, Clock())
    assert running.pages_bound == 6 + 2 * running.sandbox.workers
    [result] = harness.poll_all(running)
    assert result.status == "new" and result.new == ENTRIES
    assert web_pages_read(web) == ENTRIES  # every page was asked for: the bound holds work back, it drops none
    assert 2 <= running.pages_peak <= running.pages_bound  # concurrent, and never more than the bound
    exposition = running.metrics.render().decode()
    assert "newsmon_pages_in_flight 0.0" in exposition
    assert f"newsmon_pages_in_flight_peak {float(running.pages_peak)}" in exposition


def test_a_cycle_of_many_feeds_keeps_feed_polls_in_flight_within_the_bound(tmp_path, web, harness):
    feeds = []
    for number in range(FEEDS):
        path = f"/f/{number}/1.html"
        web.add(path, page(path, f"Story {number}", "Indus Courier", f"Paragraph of story {number} about the TTP."))
        feeds.append({"url": web.add(f"/f/{number}.xml", "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel>"
                                     f"<title>Feed {number}</title><item><title>Story {number}</title>"
                                     f"<link>{{BASE}}{path}</link><guid isPermaLink=\"false\">f{number}</guid>"
                                     "</item></channel></rss>", "application/rss+xml")})
    path = write_config(tmp_path, feeds, {}, max_connections=2, max_connections_per_host=2)
    running = harness.open(path, Clock())
    assert running.feeds_bound == 2 + running.pages_bound < FEEDS
    results = harness.runner.run(pipeline.cycle(running))  # every feed at once, as `run --once` polls them
    assert [result.status for result in results] == ["new"] * FEEDS  # the bound holds polls back, it drops none
    assert 2 <= running.feeds_peak <= running.feeds_bound


def web_pages_read(web) -> int:
    return sum(1 for method, path, _headers in web.requests if method == "GET" and path.startswith("/p/"))
