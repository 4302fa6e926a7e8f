"""monitor.atomic: a file is replaced whole or not at all."""

from __future__ import annotations

import os
import stat

import pytest

from monitor import atomic


def test_a_file_is_written_whole_with_its_mode(tmp_path):
    path = tmp_path / "kept.txt"
    path.write_text("old\n")
    atomic.write(path, lambda out: out.write(b"new\n"), sync=True)
    assert path.read_text() == "new\n" and stat.S_IMODE(path.stat().st_mode) == 0o600
    atomic.write(path, lambda out: out.write(b"shared\n"), mode=0o644)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(tmp_path) == ["kept.txt"]  # no temporary left beside it


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "kept.txt"
    path.write_text("old\n")

    def half(out) -> None:
        out.write(b"half of it")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic.write(path, half)
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["kept.txt"]
