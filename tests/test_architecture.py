"""The import direction of ARCHITECTURE.md, checked by import-linter (contract in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_imports_follow_the_layers():
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_every_command_has_help():
    for command in ([], ["run"], ["check"], ["demo"], ["status"], ["alerts"]):
        result = subprocess.run([sys.executable, "-m", "monitor", *command, "--help"], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("usage: newsmon")


def test_demo_prints_alerts_with_the_matched_words():
    result = subprocess.run([sys.executable, "-m", "monitor", "demo"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "[ttp-activity]" in result.stdout and "«Tehreek-e-Taliban Pakistan»" in result.stdout
    assert "[iskp-activity] Explosion at Jalalabad market" in result.stdout  # name only in the page body
    assert "Lahore" not in result.stdout  # the cricket report matches nothing
    assert "Traceback" not in result.stderr
