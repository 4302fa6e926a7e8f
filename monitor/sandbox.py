"""Worker processes for untrusted parsing: feedparser and trafilatura run here, never in the
event loop's process.

A `Sandbox` spreads work over one process per core (a slot each), bounds the work in flight
(a task waits for a free slot, so a burst of new articles cannot grow memory without limit),
puts a wall-clock deadline on each task and caps each worker's address space (`RLIMIT_AS`).

Each slot is one worker process, so a task that overruns its deadline, exhausts its memory or
kills its process takes only its own worker down: that worker is killed and replaced, the task
raises `WorkerTimeout` or `WorkerCrashed`, and the tasks running on the other workers carry on.
Starting a worker (and, the first time, the forkserver) and its import of the parsers happen
off the event loop, so the loop never waits on them, and before its first task's deadline runs.

The loop talks to each worker over a socket pair of its own, with non-blocking reads and writes
on the loop itself: a task is one pickled frame out, its result one frame back. (With a
ProcessPoolExecutor per slot, each task crossed four threads of the main process, each waiting
for the GIL while the loop computed: a worker sat idle a median 3 ms between tasks, 16 % of
its time in a cold cycle.) A busy worker is sent its next task ahead, so that it never waits
for the loop between two tasks. What runs in the worker is `monitor.sandbox_worker`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import multiprocessing
import os
import pickle
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from monitor import sandbox_worker
from monitor.errors import NewsmonError
from monitor.sandbox_worker import Task

__all__ = ["Sandbox", "Task", "WorkerCrashed", "WorkerOutOfMemory", "WorkerTimeout"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class WorkerTimeout(NewsmonError):
    """A sandboxed task ran past its deadline and was killed."""


class WorkerCrashed(NewsmonError):
    """A sandboxed worker died (out of memory, killed) while running a task."""


class WorkerOutOfMemory(WorkerCrashed):
    """A sandboxed task needed more memory than the worker's cap; the worker was replaced."""


CHANNEL_BUFFER = 4 * 2**20  # bytes a channel holds (the kernel may cap it: net.core.wmem_max)
STARTING = 120.0  # seconds a worker may take to start and import (a loaded machine, a slow disk)
AHEAD = 1  # tasks sent to a busy worker ahead of its current one (see Sandbox._drive)


class _Slot:
    """One worker process and the loop's end of its channel: started on first use, replaced
    when killed."""

    def __init__(self) -> None:
        self.process: multiprocessing.process.BaseProcess | None = None
        self.channel: socket.socket | None = None
        self.starting: threading.Thread | None = None  # a start begun ahead of the first task

    def start_ahead(self, context: multiprocessing.context.BaseContext, limit: int | None,
                    preload: tuple[str, ...]) -> None:
        """`start`, in a thread of its own; a failure is left for the first task to meet again."""
        def start() -> None:
            with contextlib.suppress(Exception):
                self.start(context, limit, preload)

        self.starting = threading.Thread(target=start, name="newsmon-sandbox-start", daemon=True)
        self.starting.start()

    def start(self, context: multiprocessing.context.BaseContext, limit: int | None, preload: tuple[str, ...]) -> None:
        """Start the worker and wait until it has imported `preload` (blocking: run it off the
        loop). Raises OSError if it dies first."""
        ours, theirs = socket.socketpair()
        process = None
        try:
            process = context.Process(target=sandbox_worker.serve, args=(theirs, limit, preload), daemon=True,
                                      name="newsmon-sandbox")
            process.start()
            theirs.close()
            ours.settimeout(STARTING)
            if ours.recv(len(sandbox_worker.READY)) != sandbox_worker.READY:
                raise ConnectionError("the worker process died while starting")
        except BaseException:
            ours.close()
            theirs.close()
            if process is not None and process.pid is not None and process.is_alive():
                process.kill()
            raise
        ours.setblocking(False)
        with contextlib.suppress(OSError):  # a page in one send, not one loop turn per 200 KB
            ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHANNEL_BUFFER)
        self.process, self.channel = process, ours

    def kill(self) -> None:
        """End the worker's process at once; whoever waits on its channel sees it closed."""
        if self.process is not None and self.process.is_alive():
            self.process.kill()

    def discard(self, *, kill: bool) -> None:
        """Drop this slot's worker; with `kill`, end its process at once (it may be mid-task),
        else let it finish and exit when it sees its channel closed."""
        process, channel = self.process, self.channel
        self.process = self.channel = None
        if channel is not None:
            channel.close()
        if kill and process is not None and process.is_alive():
            process.kill()  # the forkserver reaps it


class _Job:
    """One task waiting for, or running on, a worker."""

    __slots__ = ("call", "limit", "name", "future", "slot", "started")

    def __init__(self, call: tuple[Callable, tuple], limit: float, name: str, future: asyncio.Future):
        self.call: tuple[Callable, tuple] | bytes = call  # pickled when first sent
        self.limit, self.name, self.future = limit, name, future
        self.slot: _Slot | None = None  # while it runs
        self.started = 0.0  # when it started running (loop time): its deadline counts from then


class Sandbox:
    """A pool of worker processes. `await run(fn, *args)` runs `fn` in a worker.

    Each slot has a driver task on the loop that takes the next task as soon as its worker
    answered and sends it in the same step, so a worker waits for the loop for one wake-up
    at most, not for a chain of task switches behind everything else the loop has to do."""

    def __init__(self, workers: int | None = None, *, timeout: float = 20.0,
                 memory_limit: int | None = None, preload: tuple[str, ...] = ()):
        self.workers = workers or os.cpu_count() or 1
        self.timeout = timeout
        self.memory_limit = memory_limit
        # Each worker imports `preload` itself, before its first task ("module:function" also calls
        # that function of the module, to load its data ahead): preloaded in the forkserver,
        # the parsers' ~27 MB would count once more in the process tree's resident memory.
        self.preload = tuple(preload)
        self.context = multiprocessing.get_context("forkserver")
        # the forkserver imports only this (not __main__, the default): it exits quietly when
        # newsmon is killed while asking it for a worker (see monitor.forkserver_hook)
        self.context.set_forkserver_preload(["monitor.forkserver_hook"])
        self.slots = [_Slot() for _ in range(self.workers)]
        self.jobs: asyncio.Queue[_Job] | None = None  # made, with the drivers, on first use
        self.idle = 0  # drivers waiting for a task
        self.drivers: list[asyncio.Task] = []

    async def run(self, function: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """Run `function(*args)` in a worker; its exceptions are raised here. Raises
        WorkerTimeout after `timeout` (default: the sandbox's) seconds of running, and
        WorkerCrashed (WorkerOutOfMemory) when the worker dies or runs out of memory."""
        if self.jobs is None:
            self.jobs = asyncio.Queue()
            self.drivers = [asyncio.create_task(self._drive(slot), name="newsmon-sandbox")
                            for slot in self.slots]
        name = getattr(function, "__qualname__", repr(function))
        job = _Job((function, args), timeout or self.timeout, name, asyncio.get_running_loop().create_future())
        self.jobs.put_nowait(job)
        try:
            return await job.future
        except asyncio.CancelledError:
            if job.slot is not None:
                job.slot.kill()  # nobody wants the result: free the worker now (its driver replaces it)
            raise

    async def _drive(self, slot: _Slot) -> None:
        """Run the queued tasks on `slot`'s worker, one after the other, until closed. While the
        worker runs a task and every other worker is busy too, the next waiting one is sent ahead
        (AHEAD), so that the worker starts it the moment it is done, not when the loop next turns
        to it: in a full-text cycle the loop records articles a few milliseconds at a time, and
        both workers waited on it."""
        assert self.jobs is not None
        loop = asyncio.get_running_loop()
        sent: collections.deque[_Job] = collections.deque()  # in the worker's channel, in order; the first runs
        sending: asyncio.Future | None = None  # the frame last sent ahead, on its way while the worker is busy
        try:
            while True:
                if not sent:
                    self.idle += 1
                    try:
                        job = await self.jobs.get()
                    finally:
                        self.idle -= 1
                    frame = self._frame(job)
                    if frame is None:
                        continue
                    try:
                        await self._start(slot, job.name)
                    except WorkerCrashed as error:
                        job.future.set_exception(error)
                        continue
                    with contextlib.suppress(OSError):  # a dead worker is found by reading its answer
                        await _send(loop, slot.channel, frame)  # now: an idle worker reads it at once
                    job.started = loop.time()
                    sent.append(job)
                # only while every other worker is busy too: a task an idle worker can start now
                # must not wait behind this one's (the latency of a burst of a few entries)
                while len(sent) <= AHEAD and not self.idle and not self.jobs.empty():
                    ahead = self.jobs.get_nowait()
                    frame = self._frame(ahead)
                    if frame is not None:
                        sending = await _sent_after(sending, loop, slot.channel, frame)
                        sent.append(ahead)
                job = sent.popleft()
                job.slot = slot
                try:
                    value = await self._answer(slot, job)
                except Exception as error:  # the task's (or its worker's) failure: the caller's to handle
                    if not job.future.done():
                        job.future.set_exception(error)
                else:
                    if not job.future.done():
                        job.future.set_result(value)
                finally:
                    job.slot = None
                if sent and sent[0].future.done() and slot.channel is not None:
                    slot.discard(kill=True)  # the task sent ahead was cancelled: free the worker now
                if slot.channel is None:  # the worker was stopped: what was sent ahead waits for the next
                    await _settled(sending, cancel=True)
                    sending = None
                    for waiting in sent:
                        if not waiting.future.done():
                            self.jobs.put_nowait(waiting)
                    sent.clear()
                elif sent:
                    sent[0].started = loop.time()  # it starts now: its deadline counts from here
        finally:
            if sending is not None:
                sending.cancel()

    @staticmethod
    def _frame(job: _Job) -> bytes | None:
        """The task pickled for its worker; None if it needs no running (cancelled while it
        waited) or cannot be pickled (the caller is told why)."""
        if job.future.done():
            return None
        if isinstance(job.call, tuple):
            try:
                job.call = pickle.dumps(job.call, pickle.HIGHEST_PROTOCOL)  # kept, in case it is sent again
            except Exception as error:  # an argument that cannot cross to a worker
                job.future.set_exception(error)
                return None
        return job.call

    async def _start(self, slot: _Slot, name: str) -> None:
        """Make sure `slot` has a worker: one started ahead is waited for, a stopped one replaced."""
        loop = asyncio.get_running_loop()
        if slot.starting is not None:
            starting, slot.starting = slot.starting, None
            await loop.run_in_executor(None, starting.join)
        if slot.channel is None:
            try:  # may start the forkserver too: not on the loop
                await loop.run_in_executor(None, slot.start, self.context, self.memory_limit, self.preload)
            except OSError as error:
                raise WorkerCrashed(f"{name}: the worker process could not be started ({error})") from None

    async def _answer(self, slot: _Slot, job: _Job) -> Any:
        """The result of `job`, which `slot`'s worker is running: raised if it raised, or if it
        ran past its deadline (counted from when it started) or its worker died."""
        loop, channel, name = asyncio.get_running_loop(), slot.channel, job.name
        try:
            async with asyncio.timeout_at(job.started + job.limit):
                header = await _read(loop, channel, sandbox_worker.HEADER.size)
                ok, value = pickle.loads(await _read(loop, channel, sandbox_worker.HEADER.unpack(header)[0]))
        except TimeoutError:
            slot.discard(kill=True)
            raise WorkerTimeout(f"{name} took longer than {job.limit:g}s and was stopped") from None
        except (OSError, EOFError):
            slot.discard(kill=True)
            raise WorkerCrashed(f"{name}: the worker process died (killed, or out of memory); it was replaced") from None
        except asyncio.CancelledError:  # the sandbox is closing
            slot.discard(kill=True)
            raise
        if ok:
            return value
        if isinstance(value, MemoryError):
            slot.discard(kill=True)  # give its memory back; a fresh worker takes the next task
            cap = f" (worker_memory {self.memory_limit / 1e6:.0f} MB)" if self.memory_limit else ""
            raise WorkerOutOfMemory(f"{name} ran out of memory{cap} and was stopped") from None
        raise value

    def start_ahead(self) -> None:
        """Start every worker now, in the background: each takes about half a second to import
        the parsers, which the first tasks would otherwise wait for (`run` starts them itself
        when this was not called)."""
        for slot in self.slots:
            if slot.channel is None and slot.starting is None:
                slot.start_ahead(self.context, self.memory_limit, self.preload)

    def close(self, timeout: float = 1.0) -> None:
        """Stop the workers: a worker still busy after `timeout` seconds is killed."""
        for slot in self.slots:
            if slot.starting is not None:  # let a start begun ahead finish, so its worker is stopped too
                slot.starting.join(STARTING)
                slot.starting = None
        for driver in self.drivers:
            driver.cancel()
        self.drivers, self.jobs = [], None
        processes = [slot.process for slot in self.slots if slot.process is not None]
        for slot in self.slots:
            slot.discard(kill=False)  # an idle worker sees its channel closed and exits
        deadline = time.monotonic() + timeout
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()


async def _read(loop: asyncio.AbstractEventLoop, channel: socket.socket, size: int) -> bytearray:
    """Exactly `size` bytes from a worker's channel; EOFError if the worker is gone."""
    buffer = bytearray(size)
    view, done = memoryview(buffer), 0
    while done < size:
        got = await loop.sock_recv_into(channel, view[done:])
        if not got:
            raise EOFError("the worker closed its channel")
        done += got
    return buffer


async def _send(loop: asyncio.AbstractEventLoop, channel: socket.socket, frame: bytes) -> None:
    """One frame to a worker: its length, then its bytes."""
    await loop.sock_sendall(channel, sandbox_worker.HEADER.pack(len(frame)))
    await loop.sock_sendall(channel, frame)


async def _sent_after(sending: asyncio.Future | None, loop: asyncio.AbstractEventLoop, channel: socket.socket,
                      frame: bytes) -> asyncio.Future:
    """`frame` on its way to a busy worker once the frame before it (`sending`) has gone: sent
    while the loop reads the worker's answers, so that neither side waits on a full channel. A
    failed send is not raised: a worker that died is found by reading its task's answer."""
    await _settled(sending)
    return asyncio.ensure_future(_send(loop, channel, frame))


async def _settled(sending: asyncio.Future | None, cancel: bool = False) -> None:
    """Wait for (or with `cancel`, stop) a frame sent ahead. Its failure is not raised: a worker
    that died is found by reading its task's answer."""
    if sending is None:
        return
    if cancel:
        sending.cancel()
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await sending
