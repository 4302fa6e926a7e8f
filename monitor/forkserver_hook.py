"""Imported by the sandbox's forkserver before it serves (its only preload): a forkserver whose
newsmon was killed (SIGKILL, the kernel's OOM killer) while asking it for a worker meets the end
of its socket mid-request and exits; without this it printed the standard library's traceback
(EOFError in multiprocessing.forkserver) into newsmon's log, an error that is not one. Any other
exception is printed as usual. Nothing else runs in the forkserver (the workers it forks import
what they need themselves), so this hook is the forkserver's alone."""

from __future__ import annotations

import sys

GONE = (EOFError, ConnectionError)  # newsmon went away in the middle of a request


def _quiet(kind: type[BaseException], value: BaseException, traceback) -> None:
    if issubclass(kind, GONE):
        return
    sys.__excepthook__(kind, value, traceback)


sys.excepthook = _quiet
