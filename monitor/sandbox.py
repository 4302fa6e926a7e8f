"""Worker processes for untrusted parsing: feedparser and trafilatura run here, never in the
event loop's process.

A `Sandbox` spreads work over one process per core, bounds the work in flight (so a burst of
new articles cannot grow memory without limit), and puts a wall-clock deadline on each task:
a task past its deadline gets its pool killed and replaced, and raises `WorkerTimeout`.
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


def _limit_memory(limit: int | None) -> None:
    if limit:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


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
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.slots = asyncio.Semaphore(self.workers * 2)

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self.pool is None:
            self.pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=self.context,
                initializer=_limit_memory, initargs=(self.memory_limit,),
            )
        return self.pool

    async def run(self, function: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """Run `function(*args)` in a worker; its exceptions are raised here."""
        async with self.slots:
            pool = self._pool()
            loop = asyncio.get_running_loop()
            try:
                future = loop.run_in_executor(pool, function, *args)
                return await asyncio.wait_for(future, timeout or self.timeout)
            except asyncio.TimeoutError:
                self._replace(pool)
                raise WorkerTimeout(f"{getattr(function, '__qualname__', function)} took longer than "
                                    f"{timeout or self.timeout:g}s and was stopped") from None
            except concurrent.futures.process.BrokenProcessPool:
                self._replace(pool)
                raise WorkerCrashed("a worker process died (out of memory or killed); it was replaced") from None

    def _replace(self, pool: concurrent.futures.ProcessPoolExecutor) -> None:
        if self.pool is not pool:
            return
        self.pool = None
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.kill()

    def close(self, timeout: float = 1.0) -> None:
        """Stop the workers: a worker still busy after `timeout` seconds is killed."""
        if self.pool is None:
            return
        pool, self.pool = self.pool, None
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
