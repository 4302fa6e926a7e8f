"""A busy worker is handed its next task ahead (`sandbox.AHEAD`): it starts it the moment it is
done, even while the event loop is busy elsewhere; and a task sent ahead is neither lost nor
cut short by what happens to the task before it (a crash, a deadline, a cancel)."""

from __future__ import annotations

import asyncio
import time

import pytest
from hostile import die, nap, spin, stamp_after

from monitor import sandbox


def run(main) -> None:
    asyncio.run(main())


async def started_box(workers: int = 1, timeout: float = 5.0) -> sandbox.Sandbox:
    box = sandbox.Sandbox(workers, timeout=timeout)
    assert await box.run(nap, 0, "warm") == "warm"  # the worker is up: no start-up in the timings
    return box


def test_a_busy_worker_starts_its_next_task_while_the_loop_is_busy():
    """The loop blocks for a second right after handing out two tasks: the worker finishes the
    first and starts the second meanwhile (before: it waited for the loop, a second later)."""
    async def main():
        box = await started_box()
        try:
            first = asyncio.create_task(box.run(stamp_after, 0.2))
            second = asyncio.create_task(box.run(stamp_after, 0.0))
            await asyncio.sleep(0.05)  # both handed to the driver, the first running
            blocked = time.time()
            time.sleep(1.0)  # the loop busy, as when it records a burst of articles
            first_done, second_started = await first, await second
            assert second_started - first_done < 0.3, (blocked, first_done, second_started)
            assert second_started < blocked + 1.0
        finally:
            box.close()

    run(main)


@pytest.mark.parametrize(("failing", "failure"), [((spin, 30.0), sandbox.WorkerTimeout), ((die,), sandbox.WorkerCrashed)],
                         ids=["timeout", "crash"])
def test_a_task_sent_ahead_outlives_a_failure_before_it(failing, failure):
    """The task before it overruns its deadline, or its worker dies: the task sent ahead runs on
    the replacement and returns its value."""
    async def main():
        box = await started_box()
        try:
            first = asyncio.create_task(box.run(*failing, timeout=0.5))
            innocent = asyncio.create_task(box.run(nap, 0.1, "innocent"))
            with pytest.raises(failure):
                await first
            assert await innocent == "innocent"
        finally:
            box.close()

    run(main)


def test_a_deadline_counts_from_when_the_task_starts_not_when_it_was_sent():
    """0.8 s to run, sent while the worker still had a second of work before it: it succeeds."""
    async def main():
        box = await started_box()
        try:
            first = asyncio.create_task(box.run(nap, 1.0, "first"))
            second = asyncio.create_task(box.run(nap, 0.5, "second", timeout=0.8))
            assert await first == "first"
            assert await second == "second"
        finally:
            box.close()

    run(main)


def test_a_cancelled_task_sent_ahead_does_not_hold_its_worker():
    """A task sent ahead and then cancelled (a poll given up) is not run to its end: the worker
    is freed once the task before it is done, and the next task runs at once."""
    async def main():
        box = await started_box()
        try:
            first = asyncio.create_task(box.run(nap, 0.3, "first"))
            doomed = asyncio.create_task(box.run(spin, 30.0))
            await asyncio.sleep(0.1)
            doomed.cancel()
            assert await first == "first"
            began = time.monotonic()
            assert await box.run(nap, 0, "free") == "free"
            assert time.monotonic() - began < 10.0  # a new worker's start-up, not 30 s of spinning
        finally:
            box.close()

    run(main)


def test_tasks_keep_their_order_on_one_worker_and_all_answer():
    async def main():
        box = await started_box(workers=2)
        try:
            values = await asyncio.gather(*(box.run(nap, 0.01, number) for number in range(40)))
            assert values == list(range(40))
        finally:
            box.close()

    run(main)



def test_no_task_is_sent_ahead_to_a_busy_worker_while_another_is_idle():
    """Two tasks handed out together on two workers run side by side: the second is not sent
    ahead behind the first on one worker while the other waits (a burst's latency)."""
    async def main():
        box = await started_box(workers=2)
        try:
            await asyncio.gather(box.run(nap, 0, 1), box.run(nap, 0, 2))  # both workers up
            began = time.monotonic()
            assert await asyncio.gather(box.run(nap, 0.6, "a"), box.run(nap, 0.6, "b")) == ["a", "b"]
            assert time.monotonic() - began < 1.0  # side by side: 0.6 s, not 1.2
        finally:
            box.close()

    run(main)
