"""Hostile configuration (issue #15): files that would crash, exhaust or hang the reader, and
names that cannot be told apart on screen. Each case runs the real `newsmon check` on real
files, under a timeout and a memory limit, and expects exit 2 with one clean problem line."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MEMORY_LIMIT = 2 * 1000 * 1000 * 1000  # address space of the checking process

BASE = """\
[newsmon]
state_dir = "state"
include = [INCLUDE]

[[feeds]]
url = "https://example.com/feed"

[channels.ops]
urls = ["json://localhost/"]

[[rules]]
name = "ttp-activity"
any = ["TTP"]
"""


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def check(config: Path | str, tmp_path: Path, timeout: float = 20) -> subprocess.CompletedProcess:
    """`newsmon --config CONFIG check`; fails the test (not hangs it) after `timeout` seconds."""
    environ = {**os.environ, "STATE_DIRECTORY": str(tmp_path / "default-state"), "HOME": str(tmp_path / "home")}
    try:
        return subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "check"], cwd=ROOT,
                              env=environ, capture_output=True, text=True, timeout=timeout,
                              preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail(f"newsmon check did not finish within {timeout} s")


def config(tmp_path: Path, extra: str = "", include: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(BASE.replace("INCLUDE", include) + extra, encoding="utf-8")
    return path


def one_problem(result: subprocess.CompletedProcess, *parts: str) -> str:
    """The single problem line of a failed check, which must contain every one of `parts`."""
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


# ---------------------------------------------------------------- files bounded before parsing


def test_deeply_nested_arrays_are_refused_before_parsing(tmp_path):
    path = config(tmp_path, "\n[[feeds]]\nurl = \"https://example.org/\"\ntags = " + "[" * 1000 + "]" * 1000 + "\n")
    one_problem(check(path, tmp_path), f"{path}:17:1:", "nested more than 32 deep")


def test_deep_inline_tables_are_refused(tmp_path):
    path = config(tmp_path, "x = " + "{a = " * 500 + "1" + "}" * 500 + "\n")
    one_problem(check(path, tmp_path), str(path), "nested more than 32 deep")


def test_a_dotted_key_of_50000_parts_is_refused_quickly(tmp_path):
    path = config(tmp_path, "\n[entities.x]\n" + ".".join(["a"] * 50_000) + " = 1\n")
    started = time.monotonic()
    result = check(path, tmp_path, timeout=30)
    assert time.monotonic() - started < 15
    one_problem(result, f"{path}:16:1:", "a dotted key of more than 64 parts")


def test_a_2_mb_config_is_refused(tmp_path):
    path = config(tmp_path, "# padding\n" * 200_000)
    one_problem(check(path, tmp_path), str(path), "bytes; a configuration file may be at most 1 MB")


def test_config_dev_zero_is_refused(tmp_path):
    one_problem(check("/dev/zero", tmp_path), "/dev/zero: is not a regular file (a device)")


def test_include_of_dev_zero_is_refused(tmp_path):
    path = config(tmp_path, include='"/dev/zero"')
    one_problem(check(path, tmp_path), "/dev/zero: is not a regular file (a device)")


def test_include_of_a_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "watchlist.d" / "feeds.toml"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    path = config(tmp_path, include='"watchlist.d/*.toml"')
    one_problem(check(path, tmp_path), f"{fifo}: is not a regular file (a FIFO)")


def test_config_that_is_a_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    one_problem(check(fifo, tmp_path), f"{fifo}: is not a regular file (a FIFO)")


def test_a_credential_that_is_a_fifo_is_skipped_without_hanging(tmp_path):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    os.mkfifo(credentials / "NEWSMON_HOSTILE_URL")
    path = config(tmp_path, '\n[channels.other]\nurls = ["${NEWSMON_HOSTILE_URL}"]\n')
    environ = {**os.environ, "CREDENTIALS_DIRECTORY": str(credentials), "HOME": str(tmp_path / "home")}
    environ.pop("NEWSMON_HOSTILE_URL", None)
    try:
        result = subprocess.run([sys.executable, "-m", "monitor", "--config", str(path), "check"], cwd=ROOT,
                                env=environ, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("newsmon check hung on a FIFO in $CREDENTIALS_DIRECTORY")
    one_problem(result, "environment variable 'NEWSMON_HOSTILE_URL' is not set")


# ---------------------------------------------------------------- names


@pytest.mark.parametrize("name, shown", [
    ("ttp\nactivity", "a line break"),
    ("ttp\u202eactivity", "bidirectional control character (U+202E)"),
    ("ttp\x07activity", "U+0007 (Cc)"),
    ("ttp\u200bactivity", "U+200B (Cf)"),
])
def test_rule_names_must_be_printable(tmp_path, name, shown):
    escaped = name.encode("unicode_escape").decode("ascii").replace("\\x", "\\u00")
    path = config(tmp_path, f'\n[[rules]]\nname = "{escaped}"\nany = ["Isis-K"]\n')
    one_problem(check(path, tmp_path), f"{path}: at 'rules[1].name':", shown)


def test_rule_names_that_differ_only_by_look_alikes_are_refused(tmp_path):
    path = config(tmp_path, '\n[[rules]]\nname = "ttр-activity"\nany = ["Isis-K"]\n')  # Cyrillic р
    one_problem(check(path, tmp_path), f"{path}: at 'rules[1].name':",
                "rule 'ttр-activity' looks the same as rule 'ttp-activity' (they differ only by look-alike characters)")


def test_entity_names_must_be_printable_and_distinct(tmp_path):
    path = config(tmp_path, '\n[entities."isis\\u202ek"]\nnames = ["Isis-K"]\n')
    one_problem(check(path, tmp_path), f"{path}: at 'entities': ", "bidirectional control character", "'isis\\u202ek'")
    path = config(tmp_path, '\n[entities.tehrik]\nnames = ["TTP"]\n[entities."tehrіk"]\nnames = ["Tehrik"]\n')
    one_problem(check(path, tmp_path), "entity 'tehrіk' looks the same as entity 'tehrik'")


def test_channel_names_must_be_printable_and_distinct(tmp_path):
    path = config(tmp_path, '\n[channels."оps"]\nurls = ["json://localhost/"]\n')  # Cyrillic о
    one_problem(check(path, tmp_path), "channel 'оps' looks the same as channel 'ops'")
    path = config(tmp_path, '\n[channels."a\\nb"]\nurls = ["json://localhost/"]\n')
    one_problem(check(path, tmp_path), f"{path}: at 'channels': ", "a line break: 'a\\nb'")


def test_names_in_other_scripts_are_still_accepted(tmp_path):
    path = config(tmp_path, '\n[[rules]]\nname = "تحریک طالبان"\nany = ["TTP"]\n'
                            '\n[[rules]]\nname = "Ops"\nany = ["TTP"]\n')
    result = check(path, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
