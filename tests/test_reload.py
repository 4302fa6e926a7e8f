"""`newsmon reload` checks the configuration first, signals the daemon, waits for its answer
and prints what changed by name; it exits 2 when the configuration (or the daemon) refuses,
without touching the running daemon in the first case. Read-only commands given a broken
configuration say so instead of guessing a state directory.

A real daemon in a subprocess, real loopback feeds."""

from __future__ import annotations


import pytest
from conftest import run_newsmon, wait_for
from fixtures import WATCHLIST, publish, write_config
from test_service import start, stop

HOOK = "json://127.0.0.1:9/x"


def test_reload_prints_what_changed_by_name(tmp_path, web):
    courier, dispatch = publish(web)
    path = write_config(tmp_path, [{"url": courier}], {"hook": [HOOK]})
    process = start(path)
    try:
        assert wait_for(lambda: web.gets("/courier/rss.xml") >= 1, timeout=30)
        watchlist = {**WATCHLIST, "rules": [{"name": "ttp-activity", "any": ["@ttp"], "severity": "high"},
                                            {"name": "iskp-bombings", "all": ["@iskp", "bombing"]}]}
        write_config(tmp_path, [{"url": courier, "interval": "5m"}, {"url": dispatch}], {"hook": [HOOK]},
                     watchlist=watchlist)
        reloaded = run_newsmon("--config", str(path), "reload")
        assert reloaded.returncode == 0, reloaded.stderr
        lines = reloaded.stdout.splitlines()
        assert lines[0].startswith(f"newsmon (pid {process.pid}) reloaded {path}")
        assert set(lines[1:]) == {f"  feed added: {dispatch}", f"  feed changed: {courier} (interval)",
                                  "  rule added: iskp-bombings", "  rule removed: iskp-activity",
                                  "  rule changed: ttp-activity"}
        assert wait_for(lambda: web.gets("/dispatch/atom.xml") >= 1, timeout=20)  # the new feed is polled

        again = run_newsmon("--config", str(path), "reload")
        assert again.returncode == 0 and "nothing changed" in again.stdout
    finally:
        code, stderr = stop(process)
    assert code == 0
    assert f"reload: feed added: {dispatch}" in stderr and "reload: rule removed: iskp-activity" in stderr


def test_reload_refuses_a_broken_configuration_without_signalling(tmp_path, web):
    courier, _dispatch = publish(web)
    path = write_config(tmp_path, [{"url": courier}], {"hook": [HOOK]})
    process = start(path)
    try:
        assert wait_for(lambda: web.gets("/courier/rss.xml") >= 1, timeout=30)
        good = path.read_text()
        path.write_text(good + '\n[[rules]]\nname = "x"\nany = ["y"]\nchannels = ["nope"]\n')
        refused = run_newsmon("--config", str(path), "reload")
        assert refused.returncode == 2
        assert "unknown channel 'nope'" in refused.stderr and "nothing was done" in refused.stderr
        assert process.poll() is None
    finally:
        code, stderr = stop(process)
    assert code == 0 and "reload refused" not in stderr and "reloaded" not in stderr  # the daemon was never asked


def test_reload_reports_the_daemons_refusal(tmp_path, web):
    """A secret the shell has but the daemon lacks: the shell's check passes, the daemon
    refuses, and `reload` says so with the daemon's own words (exit 2)."""
    courier, _dispatch = publish(web)
    path = write_config(tmp_path, [{"url": courier}], {"hook": [HOOK]})
    process = start(path)
    try:
        assert wait_for(lambda: web.gets("/courier/rss.xml") >= 1, timeout=30)
        write_config(tmp_path, [{"url": courier}], {"hook": ["json://127.0.0.1:9/${HOOK_TOKEN}"]})
        refused = run_newsmon("--config", str(path), "reload", env={"HOOK_TOKEN": "only-in-this-shell"})
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "refused the new configuration and keeps running on the previous one" in refused.stderr
        assert "environment variable 'HOOK_TOKEN' is not set" in refused.stderr
        assert "only-in-this-shell" not in refused.stdout + refused.stderr
    finally:
        code, _stderr = stop(process)
    assert code == 0


def test_reload_without_a_daemon_says_so(tmp_path, web):
    courier, _dispatch = publish(web)
    path = write_config(tmp_path, [{"url": courier}], {"hook": [HOOK]})
    result = run_newsmon("--config", str(path), "reload")
    assert result.returncode == 1 and "no running newsmon" in result.stderr


@pytest.mark.parametrize("command", [["status"], ["alerts"], ["stories"], ["enable", "x"], ["disable", "x"],
                                     ["reload"]])
def test_a_toml_syntax_error_is_reported_not_a_guessed_state_directory(tmp_path, web, command):
    courier, _dispatch = publish(web)
    path = write_config(tmp_path, [{"url": courier}], {"hook": [HOOK]})
    assert run_newsmon("--config", str(path), "run", "--once").returncode == 0  # the state exists
    path.write_text(path.read_text() + "\n[[feeds]\nurl = 'broken'\n")
    home = tmp_path / "home"
    result = run_newsmon("--config", str(path), *command, env={"HOME": str(home), "XDG_STATE_HOME": ""})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "invalid TOML" in result.stderr and f"{path}:" in result.stderr
    assert "no newsmon state" not in result.stderr and "no running newsmon" not in result.stderr
    assert not (home / ".local").exists()
