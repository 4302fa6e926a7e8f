"""The daemon polls every feed at start, then spreads the polls over the interval: feeds that
all fire at one moment bring their new entries in bursts, queued for the workers together, and
the last of a burst waits for all the others before it alerts."""

from __future__ import annotations

from conftest import wait_for
from fixtures import rss, write_config
from test_service import start, stop

from monitor import schedule

FEEDS = 8
INTERVAL = 4.0


def test_phases_are_spread_and_each_slot_is_one_interval_from_the_last():
    places = sorted(schedule.phase(number) for number in range(FEEDS))
    gaps = [b - a for a, b in zip(places, places[1:])] + [1 - places[-1] + places[0]]
    assert max(gaps) <= 2.7 * min(gaps)
    assert all(0 <= place < 1 for place in places)
    slot = schedule.phase_slot(100.0, 0.25, 10.0, after=131.0)
    assert slot == 132.5  # 100 + (0.25 + 3) * 10: the first such time at or after 131
    assert schedule.phase_slot(100.0, 0.25, 10.0, after=132.5) == 132.5
    assert schedule.phase_slot(100.0, 0.25, 10.0, after=132.6) == 142.5


def test_after_the_first_poll_each_feed_is_polled_at_its_own_place_in_the_interval(tmp_path, web):
    paths = [f"/feed{number}.xml" for number in range(FEEDS)]
    feeds = [{"url": web.add(path, rss(f"Feed {number}", []), "application/rss+xml"), "interval": f"{INTERVAL:g}s"}
             for number, path in enumerate(paths)]
    hook = web.base.replace("http://", "json://") + "/hook"
    process = start(write_config(tmp_path, feeds, {"hook": [hook]}))

    def polls() -> dict[str, list[float]]:
        with web.lock:
            seen = list(zip(web.requests, web.times))
        return {path: [at for (method, p, _), at in seen if method == "GET" and p == path] for path in paths}

    try:
        assert wait_for(lambda: all(len(times) >= 2 for times in polls().values()), timeout=30)
    finally:
        code, stderr = stop(process)
    assert code == 0, stderr
    times = polls()
    first = [times[path][0] for path in paths]
    second = sorted(times[path][1] for path in paths)
    assert max(first) - min(first) < 1.5  # every feed polled at once at start
    # then spread: the eight second polls cover most of an interval (at once, they took under a second)
    assert second[-1] - second[0] >= INTERVAL * 0.6
    assert max(b - a for a, b in zip(second, second[1:])) <= INTERVAL * 0.35
    for path in paths:  # and none waits more than an interval and a half, nor less than half of one
        assert INTERVAL * 0.45 <= times[path][1] - times[path][0] <= INTERVAL * 1.6
