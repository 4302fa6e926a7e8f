"""Worker processes for untrusted parsing: feedparser and trafilatura run here, never in the
event loop's process.

A `Sandbox` spreads work over one process per core (a slot each), bounds the work in flight
(a task waits for a free slot, so a burst of new articles cannot grow memory without limit),
puts a wall-clock deadline on each task and caps each worker's address space (`RLIMIT_AS`).

Each slot is its own single-process pool, so a task that overruns its deadline, exhausts its
memory or kills its process takes only its own worker down: that worker is killed and
replaced, the task raises `WorkerTimeout` or `WorkerCrashed`, and the tasks running on the
other workers carry on. Starting a worker (and, the first time, the forkserver, which imports
the parsers) happens off the event loop, so the loop never waits on it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

from monitor.errors import NewsmonError

log = logging.getLogger(__name__)
T = TypeVar("T")


class WorkerTimeout(NewsmonError):
    """A sandboxed task ran past its deadline and was killed."""


class WorkerCrashed(NewsmonError):
    """A sandboxed worker died (out of memory, killed) while running a task."""


class WorkerOutOfMemory(WorkerCrashed):
    """A sandboxed task needed more memory than the worker's cap; the worker was replaced."""


def _start_worker(limit: int | None) -> None:
    """In each new worker: cap its address space, and tie its life to newsmon's."""
    if limit:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    _die_with_forkserver()


def _die_with_forkserver() -> None:
    """Make sure no worker outlives newsmon, even one killed with SIGKILL.

    Left alone, every worker holds a copy of the pipe end whose closing tells the forkserver
    that newsmon is gone, and waits on its task queue (whose write end it also holds) forever:
    newsmon's death would leave the forkserver and all workers running. So the worker lets go
    of that pipe end, and asks the kernel for SIGKILL when its parent, the forkserver, exits:
    newsmon gone -> forkserver exits -> workers killed, even in the middle of a task."""
    try:
        from multiprocessing import forkserver

        server = forkserver._forkserver  # the worker's copy of the forkserver's state
        if server._forkserver_alive_fd is not None:
            os.close(server._forkserver_alive_fd)
            server._forkserver_alive_fd = None
    except (AttributeError, OSError):
        pass
    try:
        import ctypes
        import signal

        parent = os.getppid()
        if ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0) == 0 and os.getppid() != parent:  # PR_SET_PDEATHSIG
            os._exit(0)  # the forkserver was already gone
    except (AttributeError, OSError):
        pass  # not Linux: the forkserver's own end-of-pipe check still stops new work


class _Slot:
    """One worker process: a single-process pool, started on first use, replaced when killed."""

    def __init__(self) -> None:
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None

    def discard(self, *, kill: bool) -> None:
        """Drop this slot's pool; with `kill`, its process too (it may be mid-task)."""
        pool, self.pool = self.pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values())
        if kill:
            for process in processes:
                if process.is_alive():
                    process.kill()  # the forkserver reaps it
        pool.shutdown(wait=False, cancel_futures=True)


class Sandbox:
    """A pool of worker processes. `await run(fn, *args)` runs `fn` in a worker."""

    def __init__(self, workers: int | None = None, *, timeout: float = 20.0,
                 memory_limit: int | None = None, preload: tuple[str, ...] = ()):
        self.workers = workers or os.cpu_count() or 1
        self.timeout = timeout
        self.memory_limit = memory_limit
        self.context = multiprocessing.get_context("forkserver")
        if preload:
            self.context.set_forkserver_preload(list(preload))
        self.slots = [_Slot() for _ in range(self.workers)]
        self.idle: asyncio.Queue[_Slot] = asyncio.Queue()
        for slot in self.slots:
            self.idle.put_nowait(slot)

    def _pool(self, slot: _Slot) -> concurrent.futures.ProcessPoolExecutor:
        if slot.pool is None:
            slot.pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=1, mp_context=self.context,
                initializer=_start_worker, initargs=(self.memory_limit,),
            )
        return slot.pool

    async def run(self, function: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """Run `function(*args)` in a worker; its exceptions are raised here. Raises
        WorkerTimeout after `timeout` (default: the sandbox's) seconds of running, and
        WorkerCrashed (WorkerOutOfMemory) when the worker dies or runs out of memory."""
        limit = timeout or self.timeout
        name = getattr(function, "__qualname__", repr(function))
        slot = await self.idle.get()
        try:
            return await self._run(slot, function, args, limit, name)
        except asyncio.CancelledError:
            slot.discard(kill=True)  # nobody wants the result: free the worker now
            raise
        finally:
            self.idle.put_nowait(slot)

    async def _run(self, slot: _Slot, function: Callable[..., T], args: tuple, limit: float, name: str) -> T:
        loop = asyncio.get_running_loop()
        try:
            # submit() may start the worker process (and the forkserver): not on the loop
            future = await loop.run_in_executor(None, self._pool(slot).submit, function, *args)
        except concurrent.futures.process.BrokenProcessPool:
            slot.discard(kill=True)
            raise WorkerCrashed(f"{name}: the worker process could not be started or died; it was replaced") from None
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), limit)
        except TimeoutError:
            slot.discard(kill=True)
            raise WorkerTimeout(f"{name} took longer than {limit:g}s and was stopped") from None
        except concurrent.futures.process.BrokenProcessPool:
            slot.discard(kill=True)
            raise WorkerCrashed(f"{name}: the worker process died (killed, or out of memory); it was replaced") from None
        except MemoryError:
            slot.discard(kill=True)  # give its memory back; a fresh worker takes the next task
            cap = f" (worker_memory {self.memory_limit / 1e6:.0f} MB)" if self.memory_limit else ""
            raise WorkerOutOfMemory(f"{name} ran out of memory{cap} and was stopped") from None

    def close(self, timeout: float = 1.0) -> None:
        """Stop the workers: a worker still busy after `timeout` seconds is killed."""
        pools = [slot.pool for slot in self.slots if slot.pool is not None]
        for slot in self.slots:
            slot.pool = None
        processes = []
        for pool in pools:
            processes.extend(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
