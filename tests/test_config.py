"""The configuration as a user meets it: `newsmon check` on broken and valid files, durations,
where the state lives, `${VAR}` in channel URLs, and where the config file is looked for.

Broken configs are data: tests/configs/broken/*.toml, each starting with one
`# expect: <substring>` line per problem that `newsmon check` must report. In the substrings,
`{FILE}` stands for the path of the config as passed to --config and `{DIR}` for its directory.
Each case runs on a copy of tests/configs/broken/ in a temporary directory, so that the
configs' relative `state_dir = "state"` points there and we can see that `check` creates no state.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monitor import app, config
from monitor.errors import ConfigError

CONFIGS = Path(__file__).parent / "configs"
BROKEN = CONFIGS / "broken"
VALID = CONFIGS / "valid"
EXAMPLE = Path(__file__).parent.parent / "config.example.toml"
BROKEN_CASES = sorted(BROKEN.glob("*.toml"))

# One problem per line: FILE:LINE:COL: invalid TOML: ..., FILE: at 'KEY.PATH': ..., or FILE: ...
PROBLEM_LINE = re.compile(r"^/\S*\.toml(:\d+:\d+: invalid TOML: |: at '[^']+': |: )\S")
# Set up in the valid config's channel URLs; the telegram token only has to look like one.
TG_ENV = {"NEWSMON_TEST_TG_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
          "NEWSMON_TEST_TG_CHAT": "987654321"}


# ---------------------------------------------------------------- helpers


def run_newsmon(*args: str, env: dict[str, str] | None = None,
                unset: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run `python -m monitor ARGS` with the current environment plus `env`, minus `unset`."""
    environ = {**os.environ, **(env or {})}
    for name in ("NEWSMON_TEST_UNSET_VAR", *unset):
        environ.pop(name, None)
    return subprocess.run([sys.executable, "-m", "monitor", *args], env=environ,
                          capture_output=True, text=True, timeout=120)


def check_config(path: Path, tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`newsmon --config PATH check`, with the default state dir pointed into tmp_path."""
    state_env = {"STATE_DIRECTORY": str(tmp_path / "default-state"), **(env or {})}
    return run_newsmon("--config", str(path), "check", env=state_env)


def assert_no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stdout, result.stdout
    assert "Traceback" not in result.stderr, result.stderr


def assert_no_state(tmp_path: Path) -> None:
    """`check` touches no state: neither a database nor a state directory appeared."""
    made = [str(p) for p in tmp_path.rglob("newsmon.db")]
    made += [str(p) for p in (tmp_path / "default-state", tmp_path / "broken" / "state", tmp_path / "valid" / "state")
             if p.exists()]
    assert not made, f"check created state: {made}"


def expectations(path: Path) -> list[str]:
    """The `# expect:` substrings of a broken config, placeholders filled in."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    found = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("# expect:")]
    return [e.replace("{FILE}", str(path)).replace("{DIR}", str(path.resolve().parent)) for e in found]


def problem_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.strip()]


def assert_problems(stdout: str, expected: list[str]) -> None:
    """Exactly one line per expected problem, each in the documented format."""
    lines = problem_lines(stdout)
    unmatched = list(lines)
    for substring in expected:
        hit = next((line for line in unmatched if substring in line), None)
        assert hit is not None, f"no problem line contains {substring!r}; got:\n{stdout}"
        unmatched.remove(hit)
    assert not unmatched, f"unexpected extra problem line(s): {unmatched}\nfull output:\n{stdout}"
    for line in lines:
        assert PROBLEM_LINE.match(line), f"not a problem line: {line!r}"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- broken configs


def test_there_are_enough_broken_cases():
    assert len(BROKEN_CASES) >= 14
    for path in BROKEN_CASES:
        assert expectations(path), f"{path.name} has no '# expect:' line"


@pytest.mark.parametrize("case", BROKEN_CASES, ids=[p.stem for p in BROKEN_CASES])
def test_check_reports_broken_config(case: Path, tmp_path: Path):
    copy = shutil.copytree(BROKEN, tmp_path / "broken") / case.name
    result = check_config(copy, tmp_path)
    assert_no_traceback(result)
    assert result.returncode == 2, result.stdout + result.stderr
    assert_problems(result.stdout, expectations(copy))
    assert_no_state(tmp_path)


def test_many_problems_are_all_reported_in_one_run(tmp_path: Path):
    copy = shutil.copytree(BROKEN, tmp_path / "broken") / "many_problems.toml"
    expected = expectations(copy)
    assert len(expected) >= 15
    result = check_config(copy, tmp_path)
    assert result.returncode == 2
    assert len(problem_lines(result.stdout)) == len(expected), result.stdout
    assert_problems(result.stdout, expected)


# ---------------------------------------------------------------- valid configs


def test_example_config_passes(tmp_path: Path):
    result = check_config(EXAMPLE.resolve(), tmp_path)
    assert_no_traceback(result)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = problem_lines(result.stdout)
    assert len(summary) == 2 and summary[1] == "  channel console: console://", result.stdout
    assert "OK" in summary[0] and "5 feeds" in summary[0]
    assert "5 entities" in summary[0] and "4 rules" in summary[0]
    assert_no_state(tmp_path)


def test_the_example_configs_commented_channels_are_valid_too(tmp_path: Path):
    """Uncommented, the example's email digest, Slack and Telegram channels pass `check`."""
    urls_file = tmp_path / "telegram.urls"
    urls_file.write_text("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-1001234567/\n", encoding="utf-8")
    urls_file.chmod(0o600)
    text = EXAMPLE.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^#(\[channels\.\w+\]|(?:urls|urls_file|digest|timezone|min_severity|max_per_hour|title|min_outlets|quiet_hours|escalate_after|escalate_to) = .*)$",
                  r"\1", text).replace("/etc/newsmon/telegram.urls", str(urls_file))
    copy = tmp_path / "config.toml"
    copy.write_text(text, encoding="utf-8")
    env = {"SMTP_PASSWORD": "pw", "SLACK_TOKEN_A": "T1ABCDEFG", "SLACK_TOKEN_B": "B2HIJKLMN",
           "SLACK_TOKEN_C": "abcdEFGHijklMNOPqrstUVWX"}
    result = check_config(copy, tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 channels" in result.stdout
    assert "digest at '0 8 * * mon-fri' (Asia/Karachi)" in result.stdout
    assert "min_severity high; max 20 per hour" in result.stdout and "own title template" in result.stdout
    assert "waits for 2 outlets; quiet 22:00-07:00 (Asia/Karachi) below critical; escalates critical alerts to " \
           "telegram after 15 min unacknowledged" in result.stdout


def test_valid_config_with_include_glob_passes(tmp_path: Path):
    copy = shutil.copytree(VALID, tmp_path / "valid") / "config.toml"
    result = check_config(copy, tmp_path, env=TG_ENV)
    assert_no_traceback(result)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip()
    assert f"{copy} (+2 included file(s)): OK:" in summary
    assert "3 feeds, 4 entities, 4 rules, 2 channels" in summary
    assert f"state in {copy.parent / 'state'}" in summary
    assert_no_state(tmp_path)


def test_valid_config_loads_rules_from_includes():
    loaded = config.load(VALID / "config.toml", environ={**TG_ENV, "HOME": "/nonexistent"})
    assert [r.name for r in loaded.rules] == ["ttp-activity", "ttp-in-kp", "militancy-balochistan", "bla-activity"]
    assert {e.name for e in loaded.entities} == {"ttp", "kp", "bla", "balochistan"}
    assert [f.url for f in loaded.feeds] == ["https://www.dawn.com/feeds/home", "https://tribune.com.pk/feed/home",
                                            "https://www.aljazeera.com/xml/rss/all.xml"]
    assert [p.name for p in loaded.files] == ["config.toml", "afpak-desk.toml", "balochistan-desk.toml"]
    routed = app.router(loaded).channels  # routing lives in monitor.alert, assembled by monitor.app
    assert routed["ttp-in-kp"] == ("telegram",)
    assert routed["bla-activity"] == ("console",)  # default_channels
    feeds = {f.url: f for f in loaded.feeds}
    assert feeds["https://tribune.com.pk/feed/home"].interval == 1800
    assert feeds["https://www.aljazeera.com/xml/rss/all.xml"].full_text is False
    assert loaded.settings.poll_interval == 600


def test_include_found_when_config_dir_has_glob_characters(tmp_path: Path):
    """A plain include name must be found even if the config's directory is named e.g. 'news[1]'."""
    directory = tmp_path / "news[1]"
    write(directory, "desk.toml", '[[feeds]]\nurl = "https://www.dawn.com/feeds/home"\n')
    path = write(directory, "config.toml", '[newsmon]\nstate_dir = "state"\ninclude = ["desk.toml"]\n')
    loaded = config.load(path, environ={"HOME": str(tmp_path)})
    assert [f.url for f in loaded.feeds] == ["https://www.dawn.com/feeds/home"]


# ---------------------------------------------------------------- durations


@pytest.mark.parametrize("text, seconds", [
    ("90s", 90), ("15m", 900), ("1h", 3600), ("7d", 604800), ("1h30m", 5400),
    ("1w", 604800), ("1.5h", 5400), (" 15m ", 900), ("1h 30m", 5400), ("15M", 900),
])
def test_parse_duration(text, seconds):
    assert config.parse_duration(text) == seconds


@pytest.mark.parametrize("value", ["", "15", "15 minutes", "-5m", "0s", "0m0s", "m", "5x", "15m!", 15, 1.5, None, True])
def test_parse_duration_rejects(value):
    with pytest.raises(config.Invalid):
        config.parse_duration(value)


# ---------------------------------------------------------------- state_dir


def test_relative_state_dir_is_relative_to_the_config_file(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the config's directory
    path = write(tmp_path / "etc" / "newsmon", "config.toml", '[newsmon]\nstate_dir = "data/state"\n')
    loaded = config.load(path, environ={"STATE_DIRECTORY": "/ignored", "HOME": str(tmp_path)})
    assert loaded.settings.state_dir == (tmp_path / "etc" / "newsmon" / "data" / "state")
    assert loaded.settings.database == loaded.settings.state_dir / "newsmon.db"


def test_relative_state_dir_from_relative_config_path(tmp_path: Path, monkeypatch):
    write(tmp_path / "conf", "config.toml", '[newsmon]\nstate_dir = "state"\n')
    monkeypatch.chdir(tmp_path)
    loaded = config.load("conf/config.toml", environ={"HOME": str(tmp_path)})
    assert loaded.settings.state_dir.resolve() == (tmp_path / "conf" / "state").resolve()


def test_absolute_state_dir_is_kept(tmp_path: Path):
    path = write(tmp_path, "config.toml", '[newsmon]\nstate_dir = "/var/lib/newsmon"\n')
    loaded = config.load(path, environ={"STATE_DIRECTORY": "/ignored"})
    assert loaded.settings.state_dir == Path("/var/lib/newsmon")


@pytest.mark.parametrize("environ, expected", [
    ({"STATE_DIRECTORY": "/var/lib/newsmon", "XDG_STATE_HOME": "/x/state", "HOME": "/home/u"}, "/var/lib/newsmon"),
    ({"STATE_DIRECTORY": "/var/lib/newsmon:/var/lib/other", "HOME": "/home/u"}, "/var/lib/newsmon"),
    ({"XDG_STATE_HOME": "/x/state", "HOME": "/home/u"}, "/x/state/newsmon"),
    ({"STATE_DIRECTORY": "", "XDG_STATE_HOME": "", "HOME": "/home/u"}, "/home/u/.local/state/newsmon"),
    ({"HOME": "/home/u"}, "/home/u/.local/state/newsmon"),
], ids=["STATE_DIRECTORY", "STATE_DIRECTORY-list", "XDG_STATE_HOME", "empty-vars", "HOME"])
def test_default_state_dir(tmp_path: Path, environ, expected):
    path = write(tmp_path, "config.toml", '[newsmon]\npoll_interval = "15m"\n')
    loaded = config.load(path, environ=environ)
    assert loaded.settings.state_dir == Path(expected)


# ---------------------------------------------------------------- ${VAR} in channel URLs


def test_env_vars_expanded_in_channel_urls(tmp_path: Path):
    path = write(tmp_path, "config.toml",
                 '[channels.telegram]\nurls = ["tgram://${TG_TOKEN}/${TG_CHAT}", "console://"]\n')
    loaded = config.load(path, environ={"TG_TOKEN": "123:abc", "TG_CHAT": "-100200", "HOME": str(tmp_path)})
    (channel,) = loaded.channels
    assert channel.name == "telegram"
    assert channel.urls == ("tgram://123:abc/-100200", "console://")


def test_env_vars_come_from_the_given_mapping_only(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TG_TOKEN", "from-the-process")
    path = write(tmp_path, "config.toml", '[channels.telegram]\nurls = ["tgram://${TG_TOKEN}/1"]\n')
    with pytest.raises(ConfigError) as caught:
        config.load(path, environ={"HOME": str(tmp_path)})
    (problem,) = caught.value.problems
    assert problem.path == "channels.telegram.urls[0]"
    assert problem.message == ("environment variable 'TG_TOKEN' is not set (looked in the environment and "
                               f"{tmp_path}/.config/newsmon/env, which does not exist)")  # where newsmon looked (#14)


def test_dollar_without_braces_is_left_alone(tmp_path: Path):
    path = write(tmp_path, "config.toml", '[channels.x]\nurls = ["json://host/$TOKEN"]\n')
    loaded = config.load(path, environ={"TOKEN": "secret"})
    assert loaded.channels[0].urls == ("json://host/$TOKEN",)


# ---------------------------------------------------------------- where the config is looked for


@pytest.fixture
def no_etc_config():
    if Path("/etc/newsmon/config.toml").exists():
        pytest.skip("/etc/newsmon/config.toml exists on this machine")


def test_find_config_explicit_path_wins(tmp_path: Path):
    xdg = write(tmp_path / "xdg" / "newsmon", "config.toml", "")
    environ = {"NEWSMON_CONFIG": str(tmp_path / "env.toml"), "XDG_CONFIG_HOME": str(xdg.parent.parent)}
    assert config.find_config(str(tmp_path / "explicit.toml"), environ) == tmp_path / "explicit.toml"


def test_find_config_newsmon_config_before_user_config(tmp_path: Path):
    xdg = write(tmp_path / "xdg" / "newsmon", "config.toml", "")
    environ = {"NEWSMON_CONFIG": str(tmp_path / "env.toml"), "XDG_CONFIG_HOME": str(xdg.parent.parent),
               "HOME": str(tmp_path)}
    assert config.find_config(None, environ) == tmp_path / "env.toml"


def test_find_config_xdg_config_home(tmp_path: Path):
    xdg = write(tmp_path / "xdg" / "newsmon", "config.toml", "")
    write(tmp_path / "home" / ".config" / "newsmon", "config.toml", "")  # not used: XDG wins
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    assert config.find_config(None, environ) == xdg


@pytest.mark.parametrize("xdg", [None, ""], ids=["unset", "empty"])
def test_find_config_home_dot_config(tmp_path: Path, xdg):
    home_config = write(tmp_path / ".config" / "newsmon", "config.toml", "")
    environ = {"HOME": str(tmp_path), "NEWSMON_CONFIG": ""}
    if xdg is not None:
        environ["XDG_CONFIG_HOME"] = xdg
    assert config.find_config(None, environ) == home_config


def test_find_config_none_found(tmp_path: Path, no_etc_config):
    environ = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    with pytest.raises(ConfigError) as caught:
        config.find_config(None, environ)
    message = str(caught.value)
    assert "no configuration file found" in message
    assert str(tmp_path / "xdg" / "newsmon" / "config.toml") in message
    assert "/etc/newsmon/config.toml" in message
    assert "--config" in message and "NEWSMON_CONFIG" in message


def test_cli_check_without_any_config(tmp_path: Path, no_etc_config):
    result = run_newsmon("check", env={"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)},
                         unset=("NEWSMON_CONFIG",))
    assert_no_traceback(result)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no configuration file found" in result.stdout
    assert str(tmp_path / "newsmon" / "config.toml") in result.stdout
    assert not list(tmp_path.iterdir()), "check created files in HOME"


def test_cli_check_uses_newsmon_config(tmp_path: Path):
    copy = shutil.copytree(VALID, tmp_path / "valid") / "config.toml"
    result = run_newsmon("check", env={"NEWSMON_CONFIG": str(copy), "HOME": str(tmp_path / "home"), **TG_ENV})
    assert_no_traceback(result)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{copy} (+2 included file(s)): OK:" in result.stdout


def test_cli_check_missing_explicit_config(tmp_path: Path):
    missing = tmp_path / "nope.toml"
    result = check_config(missing, tmp_path)
    assert_no_traceback(result)
    assert result.returncode == 2
    assert f"{missing}: file not found" in result.stdout
    assert_no_state(tmp_path)


def test_secrets_come_from_systemd_credentials_when_not_in_the_environment(tmp_path):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "HOOK_TOKEN").write_text("s3cret-token\n")
    path = tmp_path / "config.toml"
    path.write_text('[channels.hook]\nurls = ["json://127.0.0.1:9/${HOOK_TOKEN}"]\n')
    loaded = config.load(path, environ={"HOME": str(tmp_path), "CREDENTIALS_DIRECTORY": str(credentials)})
    assert loaded.channels[0].urls == ("json://127.0.0.1:9/s3cret-token",)
