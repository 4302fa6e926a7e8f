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
its time in a cold cycle.)
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import struct
import sys
import threading
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
    """In each new worker: cap its address space, tie its life to newsmon's, and print its
    errors as usual (the forkserver it was forked from is quiet about some: forkserver_hook)."""
    sys.excepthook = sys.__excepthook__
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


class Task:
    """A function of a module the workers import (`Task("monitor.feeds", "parse")`), named
    rather than imported, so that the event loop's process never loads the parsers (feedparser,
    trafilatura, lxml: about 13 MB of its memory) only to name them."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name
        self.__qualname__ = name  # how errors name the task

    def __call__(self, *args: Any) -> Any:
        return getattr(importlib.import_module(self.module), self.name)(*args)

    def __repr__(self) -> str:
        return f"Task({self.module}.{self.name})"


HEADER = struct.Struct("!Q")  # the length of the pickled frame that follows
CHANNEL_BUFFER = 4 * 2**20  # bytes a channel holds (the kernel may cap it: net.core.wmem_max)
READY = b"R"  # what a worker says once it has imported what it preloads
STARTING = 120.0  # seconds a worker may take to start and import (a loaded machine, a slow disk)


def _serve(channel: socket.socket, limit: int | None, preload: tuple[str, ...]) -> None:
    """A worker's life: import `preload`, say so, then run each task that arrives on `channel`
    and send back its result (or its exception), until newsmon closes the channel."""
    _start_worker(limit)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is newsmon's to handle, not a task's
    for name in preload:  # "module", or "module:function" to import it and call that too
        module, _, function = name.partition(":")
        loaded = importlib.import_module(module)
        if function:
            getattr(loaded, function)()
    # The parsers' modules live as long as the worker: out of the cyclic collector's reach, a
    # full collection walks only what tasks made, not these ~33,000 objects again (4 ms a time).
    gc.freeze()
    channel.setblocking(True)
    try:
        _answer(channel)
    except (ConnectionResetError, BrokenPipeError):  # newsmon is gone (killed): nobody to answer
        return


def _answer(channel: socket.socket) -> None:
    """Say READY, then answer tasks until newsmon closes the channel."""
    channel.sendall(READY)
    while True:
        frame = _receive(channel)
        if frame is None:
            return
        try:
            function, args = pickle.loads(frame)
            outcome = (True, function(*args))
        except BaseException as error:  # the task's own failure: newsmon decides what it means
            outcome = (False, error)
        try:
            reply = pickle.dumps(outcome, pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # an unpicklable result or exception
            reply = pickle.dumps((False, RuntimeError(f"the result could not be sent back: {error!r}")))
        outcome = None
        channel.sendall(HEADER.pack(len(reply)))
        channel.sendall(reply)
        reply = None


def _receive(channel: socket.socket) -> bytearray | None:
    """One frame, read with blocking calls (in a worker); None when newsmon closed the channel."""
    header = _read_exactly(channel, HEADER.size)
    return None if header is None else _read_exactly(channel, HEADER.unpack(header)[0])


def _read_exactly(channel: socket.socket, size: int) -> bytearray | None:
    buffer = bytearray(size)
    view, done = memoryview(buffer), 0
    while done < size:
        got = channel.recv_into(view[done:])
        if not got:
            return None
        done += got
    return buffer


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
            process = context.Process(target=_serve, args=(theirs, limit, preload), daemon=True,
                                      name="newsmon-sandbox")
            process.start()
            theirs.close()
            ours.settimeout(STARTING)
            if ours.recv(len(READY)) != READY:
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

    __slots__ = ("call", "limit", "name", "future", "slot")

    def __init__(self, call: tuple[Callable, tuple], limit: float, name: str, future: asyncio.Future):
        self.call, self.limit, self.name, self.future = call, limit, name, future  # pickled only when sent
        self.slot: _Slot | None = None  # while it runs


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
        """Run the queued tasks on `slot`'s worker, one after the other, until closed."""
        assert self.jobs is not None
        while True:
            job = await self.jobs.get()
            if job.future.done():  # cancelled while it waited
                continue
            job.slot = slot
            try:
                frame = pickle.dumps(job.call, pickle.HIGHEST_PROTOCOL)
                value = await self._run(slot, frame, job.limit, job.name)
            except Exception as error:  # the task's (or its worker's) failure: the caller's to handle
                if not job.future.done():
                    job.future.set_exception(error)
            else:
                if not job.future.done():
                    job.future.set_result(value)
            finally:
                job.slot = frame = None

    async def _run(self, slot: _Slot, frame: bytes, limit: float, name: str) -> Any:
        loop = asyncio.get_running_loop()
        if slot.starting is not None:
            starting, slot.starting = slot.starting, None
            await loop.run_in_executor(None, starting.join)
        if slot.channel is None:
            try:  # may start the forkserver too: not on the loop
                await loop.run_in_executor(None, slot.start, self.context, self.memory_limit, self.preload)
            except OSError as error:
                raise WorkerCrashed(f"{name}: the worker process could not be started ({error})") from None
        channel = slot.channel
        try:
            async with asyncio.timeout(limit):
                await loop.sock_sendall(channel, HEADER.pack(len(frame)))
                await loop.sock_sendall(channel, frame)
                header = await _read(loop, channel, HEADER.size)
                ok, value = pickle.loads(await _read(loop, channel, HEADER.unpack(header)[0]))
        except TimeoutError:
            slot.discard(kill=True)
            raise WorkerTimeout(f"{name} took longer than {limit:g}s and was stopped") from None
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
