"""Issue #14, item 2: `request_timeout` measures the request, not the queue. A request's deadline
starts when it is granted a connection slot (at most `max_per_host` to one host, `max_connections`
in all); waiting for a slot has its own, longer bound and its own failure kind, "queue-timeout".

Real loopback servers (tests/conftest.py `web`, one thread per request) whose pages answer after
a delay. Timings carry a margin for a loaded machine; each bound they check is one the old code
broke by a whole page's delay or more.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time

import pytest
from conftest import WebServer

from monitor import fetch
from monitor.errors import FetchError

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]
PAGE = "<html><body><p>The article's full text.</p></body></html>"


def make_fetcher(**options) -> fetch.Fetcher:
    settings = {"timeout": 1.0, "max_per_host": 2, **options}
    return fetch.Fetcher(user_agent="newsmon-test", allowed_networks=LOOPBACK, **settings)


def fetch_all(urls: list[str], **options) -> tuple[list[tuple[fetch.Response | FetchError, float]], fetch.Fetcher]:
    """Fetch `urls` concurrently, as article links (through the guard), in this order; per URL
    the response or the FetchError, and the seconds from the start until it was done."""
    fetcher = make_fetcher(**options)

    async def one(url: str, started: float):
        try:
            outcome = await fetcher.get(url, max_bytes=1_000_000, untrusted=True, accept=fetch.PAGE_ACCEPT)
        except FetchError as error:
            outcome = error
        return outcome, time.monotonic() - started

    async def main():
        try:
            started = time.monotonic()
            return await asyncio.gather(*(one(url, started) for url in urls))
        finally:
            await fetcher.close()

    return asyncio.run(main()), fetcher


@pytest.fixture
def other_web():
    """A second loopback server: another port, so another host to the connection limits."""
    server = WebServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def test_requests_queued_behind_the_per_host_limit_get_their_whole_deadline(web):
    """The issue's case, scaled down: 8 pages of one host, each answering in 0.6 s, two at a
    time, a 1 s deadline. The last two wait 1.8 s for a slot; every one succeeds."""
    urls = [web.add(f"/article/{number}", PAGE, delay=0.6) for number in range(8)]
    results, fetcher = fetch_all(urls, timeout=1.0, max_per_host=2)

    failed = [(url, str(outcome)) for url, (outcome, _) in zip(urls, results) if isinstance(outcome, FetchError)]
    assert not failed, failed
    assert all(outcome.status == 200 and b"full text" in outcome.body for outcome, _ in results)
    assert all(web.gets(f"/article/{number}") == 1 for number in range(8))
    slowest = max(seconds for _, seconds in results)
    assert slowest >= 4 * 0.6 - 0.1, slowest  # the limit still holds: four rounds of two
    assert not fetcher.slots.hosts  # no host is remembered once its requests are done


def test_a_slow_page_still_times_out_a_deadline_after_its_request_started(web):
    """The deadline still holds, counted from the slot: a page slower than request_timeout,
    queued 0.6 s behind another, fails with "timeout" about 1 s after it got its slot."""
    busy = web.add("/busy", PAGE, delay=0.6)
    slow = web.add("/slow", PAGE, delay=2.5)
    (first, first_done), (second, second_done) = fetch_all([busy, slow], timeout=1.0, max_per_host=1)[0]

    assert isinstance(first, fetch.Response) and first.status == 200
    assert isinstance(second, FetchError), second
    assert second.kind == "timeout" and str(second) == "no complete response within 1s"
    own_time = second_done - first_done  # its slot was granted when the busy page was done
    assert 0.95 <= own_time <= 1.6, (first_done, second_done)
    assert web.gets("/slow") == 1


def test_every_redirect_hop_counts_against_the_one_deadline(web):
    """Two hops of 0.6 s each: 1.2 s of request, over a 1 s deadline, even though each hop is
    under it."""
    web.add("/hop", b"", status=302, headers={"Location": web.base + "/landing"}, delay=0.6, etag=False)
    web.add("/landing", PAGE, delay=0.6)
    ((outcome, seconds),), _ = fetch_all([web.base + "/hop"], timeout=1.0)

    assert isinstance(outcome, FetchError) and outcome.kind == "timeout", outcome
    assert 0.95 <= seconds <= 1.6, seconds


def test_a_redirect_to_another_host_takes_that_hosts_slot(web, other_web):
    """Each hop holds the slot of the host it asks, and lets it go before the next: with a
    single connection in all, a redirect to another host does not wait for itself."""
    landing = other_web.add("/landing", PAGE)
    web.add("/go", b"", status=302, headers={"Location": landing}, etag=False)
    ((outcome, seconds),), fetcher = fetch_all([web.base + "/go"], timeout=1.0, max_connections=1,
                                               max_per_host=1, queue_timeout=2.0)

    assert isinstance(outcome, fetch.Response), outcome
    assert outcome.status == 200 and outcome.url == landing and seconds < 1.0
    assert not fetcher.slots.hosts


def test_waiting_too_long_for_a_host_slot_fails_with_its_own_kind(web):
    """The wait has its own bound: past queue_timeout the request gives up, as "queue-timeout",
    saying which limit it waited on, and never reaches the server."""
    busy = web.add("/busy", PAGE, delay=1.0)
    queued = web.add("/queued", PAGE)
    (first, _), (second, seconds) = fetch_all([busy, queued], timeout=5.0, max_per_host=1, queue_timeout=0.3)[0]

    assert isinstance(first, fetch.Response) and first.status == 200
    assert isinstance(second, FetchError), second
    assert second.kind == "queue-timeout" and second.transient
    host = web.base.removeprefix("http://")
    assert str(second) == f"waited 0.3s for a free connection to {host} (max_connections_per_host = 1)"
    assert 0.25 <= seconds <= 0.8, seconds
    assert web.gets("/queued") == 0


def test_waiting_too_long_for_any_slot_names_max_connections(web, other_web):
    """The overall limit is shared by every host (and both sessions, feeds and article links)."""
    busy = web.add("/busy", PAGE, delay=1.0)
    elsewhere = other_web.add("/elsewhere", PAGE)
    (first, _), (second, _) = fetch_all([busy, elsewhere], timeout=5.0, max_connections=1, queue_timeout=0.3)[0]

    assert isinstance(first, fetch.Response) and first.status == 200
    assert isinstance(second, FetchError) and second.kind == "queue-timeout", second
    assert str(second).endswith("(max_connections = 1)"), second
    assert other_web.gets("/elsewhere") == 0


def test_the_queue_bound_defaults_to_several_deadlines():
    assert make_fetcher(timeout=30.0).queue_timeout == 120.0
    assert make_fetcher(timeout=60.0).queue_timeout == 240.0
    assert make_fetcher(timeout=60.0, queue_timeout=10.0).queue_timeout == 10.0


def test_requests_cancelled_in_the_queue_or_in_flight_give_their_slots_back(web):
    """A stopping daemon cancels its fetches: whether they held a slot or waited for one, the
    slots come back and the next request gets one at once."""
    busy = web.add("/busy", PAGE, delay=1.0)
    quick = web.add("/quick", PAGE)
    fetcher = make_fetcher(timeout=5.0, max_per_host=1, max_connections=1)

    async def main():
        try:
            pending = [asyncio.create_task(fetcher.get(busy, max_bytes=1_000_000, untrusted=True))
                       for _ in range(3)]  # one in flight, two queued
            await asyncio.sleep(0.3)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            assert not fetcher.slots.hosts
            started = time.monotonic()
            response = await asyncio.wait_for(fetcher.get(quick, max_bytes=1_000_000, untrusted=True), 2.0)
            return response, time.monotonic() - started
        finally:
            await fetcher.close()

    response, seconds = asyncio.run(main())
    assert response.status == 200 and seconds < 0.5, seconds
    assert web.gets("/busy") == 1
