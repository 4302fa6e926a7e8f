"""One daemon per state directory, whatever happens to `newsmon.pid` (#15, item A5).

The lock is held on the state directory itself; `newsmon.pid` only says who holds it (for
`newsmon reload`), and the lock's holder is found without it. Real processes throughout: the
daemon in a subprocess, real loopback feeds and a webhook receiver behind a real apprise URL.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT, run_newsmon, wait_for
from fixtures import publish, write_config
from test_service import start, stop

from monitor import statelock
from monitor.errors import NewsmonError


def hook_url(web) -> str:
    return web.base.replace("http://", "json://") + "/hook"


def refused_at_once(path) -> tuple[int, str]:
    """Start a second `newsmon run` on the same configuration; it must exit by itself within
    20 s (interpreter start-up on a loaded machine). Returns its exit code and stderr."""
    second = start(path)
    try:
        code = second.wait(timeout=20)
    except subprocess.TimeoutExpired:
        second.kill()
        second.wait()
        pytest.fail(f"a second newsmon started on the same state directory:\n{second.stderr.read()}")
    return code, second.stderr.read()


def test_a_deleted_pid_file_does_not_let_a_second_daemon_start(tmp_path, web):
    courier, _dispatch = publish(web)
    path = write_config(tmp_path, [{"url": courier, "alert_on_first_poll": True}], {"hook": [hook_url(web)]})
    state = tmp_path / "state"
    first = start(path)
    try:
        assert wait_for(lambda: len(web.json_posts("/hook")) == 2, timeout=30)
        (state / "newsmon.pid").unlink()  # a user, a tmp cleaner

        code, stderr = refused_at_once(path)
        assert code == 1, stderr
        assert f"another newsmon (pid {first.pid}) is already running on {state}" in stderr
        assert "Traceback" not in stderr

        reloaded = run_newsmon("--config", str(path), "reload", timeout=30)  # still reaches the first daemon
        assert reloaded.returncode == 0, reloaded.stderr
        assert reloaded.stdout.startswith(f"newsmon (pid {first.pid}) reloaded {path}")
        assert first.poll() is None
        assert len(web.json_posts("/hook")) == 2  # every alert delivered once
    finally:
        code, stderr = stop(first)
    assert code == 0, stderr
    assert state.is_dir() and (state / "newsmon.db").exists()
    assert not (state / "newsmon.pid").exists()
    assert run_newsmon("--config", str(path), "reload").returncode == 1  # nobody to reload


# ---------------------------------------------------------------- StateLock across processes

HOLDER = """
import sys
from pathlib import Path
from monitor import statelock
lock = statelock.StateLock(Path(sys.argv[1])).acquire()
print("locked", flush=True)
sys.stdin.read()  # until the test closes our stdin
lock.release()
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock on tmp_path/state."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "state")], cwd=ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "locked", process.stderr.read()
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_the_holder_is_found_and_refuses_others_whatever_the_pid_file_says(tmp_path, holder):
    state = tmp_path / "state"
    pid_file = state / "newsmon.pid"
    assert pid_file.read_text() == f"{holder.pid}\n"
    assert statelock.running_pid(state) == holder.pid

    for damage in ("deleted", "emptied", "garbage", "another pid"):
        if damage == "deleted":
            pid_file.unlink()
        else:
            pid_file.write_text({"emptied": "", "garbage": "x\n", "another pid": f"{os.getpid()}\n"}[damage])
        assert statelock.running_pid(state) == holder.pid, damage  # the kernel's word, not the file's
        with pytest.raises(NewsmonError) as refused:
            statelock.StateLock(state).acquire()
        assert f"another newsmon (pid {holder.pid}) is already running on {state}" in str(refused.value), damage
        assert state.is_dir()

    pid_file.unlink()
    holder.stdin.close()  # the holder releases and exits
    assert holder.wait(timeout=10) == 0
    assert statelock.running_pid(state) is None
    with statelock.StateLock(state):
        assert pid_file.read_text() == f"{os.getpid()}\n"
        assert statelock.running_pid(state) == os.getpid()
    assert state.is_dir() and not pid_file.exists()
    assert statelock.running_pid(state) is None


def test_release_removes_only_its_own_pid_file_and_never_the_lock(tmp_path):
    state = tmp_path / "state"
    lock = statelock.StateLock(state).acquire()
    (state / "newsmon.pid").write_text("12345\n")  # not ours any more: somebody else's business
    lock.release()
    assert (state / "newsmon.pid").read_text() == "12345\n"
    assert statelock.running_pid(state) is None  # a pid file with no lock holder is stale
    again = statelock.StateLock(state).acquire()  # the lock is free at once
    again.release()
    again.release()  # twice is harmless


def test_a_killed_holder_leaves_a_stale_pid_file_that_blocks_nobody(tmp_path, holder):
    state = tmp_path / "state"
    holder.kill()  # SIGKILL: no clean-up; the kernel drops the lock with the process
    holder.wait()
    assert (state / "newsmon.pid").read_text() == f"{holder.pid}\n"
    assert statelock.running_pid(state) is None
    with statelock.StateLock(state):
        assert (state / "newsmon.pid").read_text() == f"{os.getpid()}\n"


def test_a_fifo_in_place_of_the_pid_file_hangs_nothing(tmp_path):
    state = tmp_path / "state"
    lock = statelock.StateLock(state).acquire()
    (state / "newsmon.pid").unlink()
    os.mkfifo(state / "newsmon.pid")  # reading it would block until someone writes
    lock.release()  # returns: the FIFO is not read, and not ours to remove
    assert statelock.running_pid(state) is None
    with statelock.StateLock(state):  # the next holder replaces it with its own pid file
        assert (state / "newsmon.pid").read_text() == f"{os.getpid()}\n"


def test_a_stale_pid_file_is_not_a_running_daemon(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "newsmon.pid").write_text(f"{os.getppid()}\n")  # a live process, but not holding the lock
    assert statelock.running_pid(state) is None
    assert statelock.running_pid(tmp_path / "missing") is None

