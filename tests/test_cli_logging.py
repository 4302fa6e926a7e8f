"""What `newsmon` writes on stderr and how it reads its global options (#14): JSON logs keep
numbers as numbers; a failed send is one line (ours, with apprise's reason), not two; --config,
--log-level and --log-format work before or after the command."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest
from conftest import run_newsmon
from fixtures import COURIER_ITEMS, publish, write_config

from monitor import cli
from monitor.model import ChannelSpec


def json_url(web, path: str) -> str:
    return f"json://127.0.0.1:{web.base.rsplit(':', 1)[1]}{path}"


def json_lines(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


# ---------------------------------------------------------------- JSON logs: numbers as numbers

FIELDS = [  # (the value as logged, what the JSON key holds)
    ("3", 3), ("0", 0), ("-2", -2), ("1.5", 1.5), ("0.0", 0.0), ("-0.25", -0.25), ("12345678901", 12345678901),
    ("'42'", "42"), ('"7"', "7"),  # quoted: a string, whatever it looks like
    ("007", "007"), ("-0", "-0"), ("00.5", "00.5"), (".5", ".5"), ("500.", "500."), ("+3", "+3"),
    ("1.2.3", "1.2.3"), ("0x10", "0x10"), ("1e5", "1e5"), ("nan", "nan"), ("inf", "inf"), ("-inf", "-inf"),
    ("none", "none"), ("true", "true"), ("false", "false"), ("24h", "24h"), ("3,", "3,"),
    ("http://127.0.0.1:8080/feed.xml", "http://127.0.0.1:8080/feed.xml"),
]


@pytest.mark.parametrize(("logged", "expected"), FIELDS)
def test_a_json_field_is_a_number_only_when_it_is_a_plain_decimal_number(logged, expected):
    record = logging.LogRecord("newsmon", logging.INFO, __file__, 1, f"event value={logged} next=x", None, None)
    data = json.loads(cli.JsonFormatter().format(record))
    assert data["value"] == expected and type(data["value"]) is type(expected)
    assert data["next"] == "x" and data["message"] == f"event value={logged} next=x"


def test_a_field_named_like_a_fixed_key_does_not_replace_it():
    record = logging.LogRecord("newsmon", logging.INFO, __file__, 1, "odd level=3 logger=x", None, None)
    data = json.loads(cli.JsonFormatter().format(record))
    assert data["level"] == "info" and data["logger"] == "newsmon"


def test_json_logs_of_a_real_run_keep_counts_and_seconds_as_numbers(tmp_path, web):
    courier, _ = publish(web, dispatch_items=[])
    path = write_config(tmp_path, [{"url": courier, "alert_on_first_poll": True}], {"hook": [json_url(web, "/hook")]})
    result = run_newsmon("--log-format", "json", "--config", str(path), "run", "--once")
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stderr)
    done = next(line for line in lines if line["message"].startswith("cycle done"))
    assert done["feeds"] == 1 and done["new_entries"] == 3 and done["alerts_pending"] == 0
    assert type(done["feeds"]) is int and type(done["new_entries"]) is int and type(done["seconds"]) is float
    added = next(line for line in lines if line["message"].startswith("feed added"))
    assert added["feed"] == courier and added["entries"] == 3  # a URL stays a string
    matches = [line for line in lines if line["message"].startswith("match ")]
    assert matches and all(type(line["story"]) is int and isinstance(line["title"], str) for line in matches)


# ---------------------------------------------------------------- a failed send: one line


def test_a_failed_send_is_one_log_line_ours_with_apprises_reason(tmp_path, web):
    web.add("/hook", "{}", "application/json", status=500)
    courier, _ = publish(web, courier_items=COURIER_ITEMS[:1], dispatch_items=[])
    path = write_config(tmp_path, [{"url": courier, "alert_on_first_poll": True}], {"ops": [json_url(web, "/hook")]})
    result = run_newsmon("--config", str(path), "run", "--once")
    assert result.returncode == 0, result.stderr
    assert [path for method, path, _ in web.requests if method == "POST"] == ["/hook"]  # one alert, one try
    said = [line for line in result.stderr.splitlines()
            if "500" in line or "Failed" in line or "/hook" in line or "channel" in line]
    assert len(said) == 1, result.stderr
    assert "WARNING channel failed channel=ops" in said[0]
    assert "Failed to send JSON" in said[0] and "500" in said[0]  # apprise's reason, in our line

    as_json = json_lines(run_newsmon("--log-format", "json", "--config", str(path), "--log-level", "debug",
                                     "run", "--once").stderr)
    assert not [line for line in as_json if line["logger"].startswith("apprise")]

    tested = run_newsmon("--config", str(path), "notify-test", "ops")
    assert tested.returncode == 1
    assert "FAILED" in tested.stdout and "Failed to send JSON" in tested.stdout and "500" in tested.stdout
    assert "Failed to send" not in tested.stderr  # said once, on stdout


def test_concurrent_sends_each_get_their_own_reason_and_log_nothing_themselves(web):
    from monitor import alert

    web.add("/a", "{}", "application/json", status=500)
    web.add("/b", "{}", "application/json", status=503)
    channel = alert.Channel(ChannelSpec("ops", (json_url(web, "/a"), json_url(web, "/b"))))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)

    async def both():
        sends = [channel.deliver(target, "title", "body") for target in channel.targets for _ in range(3)]
        return await asyncio.gather(*sends)

    try:
        outcomes = asyncio.run(both())
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)
    reasons = [outcome.reason for outcome in outcomes]
    assert not any(outcome.ok for outcome in outcomes)
    assert all("error=500" in reason and "503" not in reason for reason in reasons[:3]), reasons
    assert all("error=503" in reason and "500" not in reason for reason in reasons[3:]), reasons
    assert "Failed to send" not in stream.getvalue()


# ---------------------------------------------------------------- global options after the command

POSITIONALS = {"enable": ["https://news.example/rss"], "disable": ["https://news.example/rss"],
               "notify-test": ["ops"], "match": ["-"], "silence": ["list"], "ack": ["1"], "unack": ["1"],
               "route-test": ["--rule", "x"], "feed": ["list"], "entity": ["list"], "rule": ["list"]}


def test_every_command_takes_the_global_options_after_it():
    parser = cli.build_parser()
    commands = next(action for action in parser._actions if action.dest == "command").choices
    for name in commands:
        option = "--main-config" if name == "backtest" else "--config"  # backtest --config: the config to test
        given = [name, *POSITIONALS.get(name, []), option, "b.toml", "--log-level", "DEBUG", "--log-format", "json"]
        args = parser.parse_args(given)
        assert (args.command, args.config, args.log_level, args.log_format) == (name, "b.toml", "debug", "json")
        before = parser.parse_args(["--config", "a.toml", "--log-level", "error", name, *POSITIONALS.get(name, [])])
        assert (before.config, before.log_level, before.log_format) == ("a.toml", "error", "text")
        later = parser.parse_args(["--config", "a.toml", "--log-format", "json", name, *POSITIONALS.get(name, []),
                                   option, "b.toml"])
        assert (later.config, later.log_format) == ("b.toml", "json")  # the later one counts; the rest stays


@pytest.mark.parametrize("command", [["check"], ["status"], ["run", "--once"]])
def test_global_options_work_before_and_after_the_command(tmp_path, web, command):
    courier, _ = publish(web, dispatch_items=[])
    feeds = [{"url": courier}, {"url": web.base + "/gone.xml"}]  # the second fails (404): a WARNING
    paths = []
    for name in ("before", "after"):  # a state each: each run --once polls its feeds for the first time
        (tmp_path / name).mkdir()
        paths.append(str(write_config(tmp_path / name, feeds, {"hook": [json_url(web, "/hook")]})))
        if command == ["status"]:
            assert run_newsmon("--config", paths[-1], "run", "--once").returncode == 0
    options = ["--log-level", "warning", "--log-format", "json"]
    before = run_newsmon("--config", paths[0], *options, *command)
    after = run_newsmon(*command, "--config", paths[1], *options)
    for result in (before, after):
        assert result.returncode == 0, result.stderr
        assert "unrecognized arguments" not in result.stderr
        lines = json_lines(result.stderr)  # every log line is JSON...
        assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
        assert not [line for line in lines if line["level"] in ("debug", "info")]  # ...at warning and up
        if command[0] == "run":
            assert [line["feed"] for line in lines if line["message"].startswith("feed failed")] == [feeds[1]["url"]]
    if command == ["check"]:
        assert after.stdout == before.stdout.replace("/before/", "/after/")
    if command == ["status"]:
        assert "hook" in after.stdout and courier in after.stdout


def test_the_later_config_counts(tmp_path):
    good = str(write_config(tmp_path, [], {}))
    missing = str(tmp_path / "missing.toml")
    assert run_newsmon("--config", missing, "check", "--config", good).returncode == 0
    wrong = run_newsmon("--config", good, "check", "--config", missing)
    assert wrong.returncode == 2 and "missing.toml" in wrong.stdout + wrong.stderr


def test_a_commands_help_lists_the_global_options():
    result = run_newsmon("status", "--help")
    assert result.returncode == 0
    assert "before or after the command" in result.stdout
    assert all(option in result.stdout for option in ("--config PATH", "--log-level", "--log-format"))


def test_help_imports_no_command_it_does_not_run():
    """`newsmon --help` (and a command's --help) builds the whole parser without importing the
    commands' modules, the store or asyncio: the commands defined in `monitor.cli` are imported
    when they run."""
    import subprocess
    import sys

    code = ("import sys; from monitor import cli; cli.build_parser(); "
            "print(sorted({'asyncio', 'sqlite3', 'monitor.store', 'monitor.cli.run', 'monitor.cli.check', "
            "'monitor.cli.status', 'monitor.cli.stories', 'monitor.cli.match'} & set(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
    result = run_newsmon("stories", "--help")
    assert result.returncode == 0 and "--why" in result.stdout
