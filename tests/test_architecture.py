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
    for command in ([], ["run"], ["check"], ["demo"], ["status"], ["alerts"], ["route-test"]):
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


def _contract(kind: str) -> dict:
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    return next(contract for contract in contracts if contract["type"] == kind)


def _top_level_modules() -> set[str]:
    package = ROOT / "monitor"
    names = {f"monitor.{path.stem}" for path in package.glob("*.py") if path.stem != "__init__"}
    names |= {f"monitor.{path.name}" for path in package.iterdir() if (path / "__init__.py").exists()}
    return names


def test_every_module_is_in_the_layers_contract():
    named = {name.strip() for layer in _contract("layers")["layers"] for name in layer.split("|")}
    assert _top_level_modules() - named == set(), "add the new module to a layer in pyproject.toml (and ARCHITECTURE.md)"
    assert named - _top_level_modules() == set(), "the contract names a module that no longer exists"


def test_only_the_alert_package_may_import_apprise():
    forbidden = _contract("forbidden")
    assert forbidden["forbidden_modules"] == ["apprise"]
    assert set(forbidden["source_modules"]) == _top_level_modules() - {"monitor.alert", "monitor.__main__"}


def test_every_worker_task_names_a_real_function():
    """The pipeline names what the sandbox's workers run by strings (so that the event loop's
    process never imports the parsers): each must resolve, and so must what workers preload."""
    import importlib
    import inspect

    from monitor import app, article, pipeline, sandbox

    tasks = [value for module in (pipeline, article) for value in vars(module).values()
             if isinstance(value, sandbox.Task)]
    assert {repr(task) for task in tasks} == {"Task(monitor.feeds.parse_changed)", "Task(monitor.incidents.read_page)"}
    for task in tasks:
        assert callable(getattr(importlib.import_module(task.module), task.name)), task
    source = inspect.getsource(app.open_app)
    for module in ("monitor.feeds", "monitor.extract"):
        assert f'"{module}"' in source
        importlib.import_module(module)
    written = sum(path.read_text().count("sandbox.Task(") for path in (ROOT / "monitor").rglob("*.py"))
    assert written == len(tasks), "a sandbox.Task is made elsewhere than at pipeline's or article's module level: resolve it here too"


def test_the_template_placeholders_are_listed_once_and_all_filled():
    from monitor import alert
    from monitor.alert import formats

    for kind in formats.FORMATS:
        assert set(formats.values(alert.sample(), kind)) == set(alert.PLACEHOLDERS)
    sources = [path for path in (ROOT / "monitor").rglob("*.py") if "PLACEHOLDERS = " in path.read_text()]
    assert [path.relative_to(ROOT).as_posix() for path in sources] == ["monitor/alert/formats.py"]
