"""Running newsmon as a subprocess and measuring it.

CPU: newsmon's sandbox runs a forkserver and its workers, which are not the main process's
waited-for children, so `RUSAGE_CHILDREN` alone would miss them. This process makes itself a
child subreaper (Linux `PR_SET_CHILD_SUBREAPER`): when newsmon's main process exits, its
forkserver and workers are re-parented here, and reaping them adds their CPU time to our
`RUSAGE_CHILDREN`. So a `RUSAGE_CHILDREN` delta around one run is the CPU of newsmon's whole
process tree, and of nothing else (the farm stays running and is never reaped in between).

Memory: the resident set of a process tree, read from /proc (VmRSS, VmHWM in status; Pss in
smaps_rollup), sampled by a thread.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1
PROTECTED: set[int] = set()  # our own long-lived children (the farm): never reaped or killed here


def protect(pid: int) -> None:
    PROTECTED.add(pid)


def die_with_parent() -> None:
    """For `preexec_fn`: the child gets SIGTERM when the harness dies, so that no farm or
    newsmon daemon outlives an interrupted benchmark."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def become_subreaper() -> None:
    """Adopt orphaned descendants (Linux only); raises OSError if the kernel refuses."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2:].split()  # fields from "state" on; the name may hold spaces


def parents() -> dict[int, int]:
    """pid -> parent pid, for every process visible in /proc."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields:
                out[int(entry)] = int(fields[1])
    return out


def descendants(root: int) -> list[int]:
    """`root` and every process below it."""
    table = parents()
    children: dict[int, list[int]] = {}
    for pid, parent in table.items():
        children.setdefault(parent, []).append(pid)
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        if pid in table or pid == root:
            out.append(pid)
        stack.extend(children.get(pid, ()))
    return out


def reap_orphans(keep: set[int], timeout: float = 15.0) -> list[int]:
    """Wait for (and reap) every child of this process not in `keep`; kill what is left after
    `timeout`. Returns the pids reaped."""
    me = os.getpid()
    keep = keep | PROTECTED
    reaped = []
    deadline = time.monotonic() + timeout
    while True:
        orphans = [pid for pid, parent in parents().items() if parent == me and pid not in keep]
        if not orphans:
            return reaped
        for pid in orphans:
            try:
                done, _status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if done:
                reaped.append(pid)
        if time.monotonic() > deadline:
            for pid in orphans:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 5
        time.sleep(0.02)


@dataclass
class Usage:
    """One measured run: wall time, CPU of the whole tree, CPU of the main process alone."""

    wall: float
    user: float
    system: float
    returncode: int
    main_cpu: float = 0.0
    machine_cpu: float = 0.0  # CPU-seconds the whole machine was busy meanwhile (everyone's)

    @property
    def cpu(self) -> float:
        return self.user + self.system


def children_cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime, usage.ru_stime


def run_measured(command: list[str], *, keep: set[int], env: dict, cwd: Path, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL, timeout: float = 1800, on_start=None) -> Usage:
    """Run `command` to completion; wall time to its exit, CPU of its whole process tree.
    `on_start(pid)`, if given, is called as soon as the process exists (e.g. to start a
    `TreeSampler` on it)."""
    user0, sys0 = children_cpu()
    busy0 = system_busy()
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL)
    if on_start is not None:
        on_start(process.pid)
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        _pid, status, main = os.wait4(process.pid, 0)  # the main process's own rusage, as it is reaped
    finally:
        timer.cancel()
    wall = time.perf_counter() - started
    busy = system_busy() - busy0
    process.returncode = os.waitstatus_to_exitcode(status)
    reap_orphans(keep | {process.pid})
    user1, sys1 = children_cpu()
    return Usage(wall, user1 - user0, sys1 - sys0, process.returncode, main.ru_utime + main.ru_stime, busy)


# ---------------------------------------------------------------- the rest of the machine


def system_busy() -> float:
    """CPU-seconds the whole machine has spent busy (all processes, all cores) since boot."""
    with open("/proc/stat") as handle:
        fields = [int(value) for value in handle.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_quiet(threshold: float = 0.15, longest: float = 30.0) -> float:
    """Wait (up to `longest` seconds) until the machine's busy share over one second is below
    `threshold` of all cores, so that a measurement does not start on top of someone else's
    work. Returns the busy share last seen."""
    cores = os.cpu_count() or 1
    deadline = time.monotonic() + longest
    while True:
        before = system_busy()
        time.sleep(1.0)
        share = (system_busy() - before) / cores
        if share < threshold or time.monotonic() > deadline:
            return share


# ---------------------------------------------------------------- memory


def _status_kb(pid: int, keys: tuple[str, ...]) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                name, _, value = line.partition(":")
                if name in keys:
                    out[name] = int(value.split()[0])
    except OSError:
        pass
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class TreeMemory:
    """Peaks over a sampling period, in MiB."""

    peak_rss: float = 0.0  # largest sum of VmRSS over the tree at one instant
    peak_pss: float = 0.0  # same with proportional set size (shared pages split between sharers)
    hwm: dict[int, float] = field(default_factory=dict)  # per pid: its own VmHWM (peak RSS), last seen
    peak_processes: int = 0
    samples: int = 0

    @property
    def hwm_sum(self) -> float:
        """Sum of each process's own peak: an upper bound of the tree's peak."""
        return sum(self.hwm.values())


class TreeSampler(threading.Thread):
    """Samples the memory of `root`'s process tree every `interval` seconds until stopped."""

    def __init__(self, root: int, interval: float = 0.25):
        super().__init__(name="tree-sampler", daemon=True)
        self.root = root
        self.interval = interval
        self.result = TreeMemory()
        self.halt = threading.Event()

    def sample(self) -> None:
        pids = descendants(self.root)
        rss = pss = 0
        for pid in pids:
            status = _status_kb(pid, ("VmRSS", "VmHWM"))
            rss += status.get("VmRSS", 0)
            pss += _pss_kb(pid)
            if "VmHWM" in status:
                self.result.hwm[pid] = max(self.result.hwm.get(pid, 0.0), status["VmHWM"] / 1024)
        self.result.peak_rss = max(self.result.peak_rss, rss / 1024)
        self.result.peak_pss = max(self.result.peak_pss, pss / 1024)
        self.result.peak_processes = max(self.result.peak_processes, len(pids))
        self.result.samples += 1

    def run(self) -> None:
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(self.interval)

    def stop(self) -> TreeMemory:
        self.halt.set()
        self.join()
        return self.result
