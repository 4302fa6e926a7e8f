"""A sandbox worker process's side (see `monitor.sandbox`, the event loop's): it caps its own
memory, dies with newsmon, imports what it preloads, then answers the tasks that arrive on its
channel, one pickled frame in and one out, until newsmon closes the channel. Tasks are named
(`Task`), so that the event loop's process never imports the parsers they run.
"""

from __future__ import annotations

import gc
import importlib
import os
import pickle
import signal
import socket
import struct
import sys
from typing import Any

HEADER = struct.Struct("!Q")  # the length of the pickled frame that follows
READY = b"R"  # what a worker says once it has imported what it preloads


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


def _start(limit: int | None) -> None:
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


def serve(channel: socket.socket, limit: int | None, preload: tuple[str, ...]) -> None:
    """A worker's life: import `preload`, say so, then run each task that arrives on `channel`
    and send back its result (or its exception), until newsmon closes the channel."""
    _start(limit)
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
        answer(channel)
    except (ConnectionResetError, BrokenPipeError):  # newsmon is gone (killed): nobody to answer
        return


def answer(channel: socket.socket) -> None:
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
