"""Secrets the same everywhere (#14, item 8): a `${VAR}` in a channel URL is looked up in the
environment, then in `$CREDENTIALS_DIRECTORY/VAR` (systemd `LoadCredential=`), then in the env
file the systemd units load with `EnvironmentFile=` (`/etc/newsmon/env` for a configuration in
/etc/newsmon, else `$XDG_CONFIG_HOME/newsmon/env` or `~/.config/newsmon/env`). So `check`,
`notify-test` and `run --once` from a shell see what the service sees, and an unset variable
says where newsmon looked. Real files in tmp_path; the commands run as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures import write_config

from monitor import config

ROOT = Path(__file__).resolve().parent.parent
SECRET = "Env5ecret-k7Q2x9"  # appears in no output, ever


# ---------------------------------------------------------------- helpers


def shell_env(home: Path, **extra: str) -> dict[str, str]:
    """A login shell's environment: HOME in tmp, no XDG_CONFIG_HOME, no credentials, no secrets."""
    environ = {key: value for key, value in os.environ.items()
               if key not in ("HOME", "XDG_CONFIG_HOME", "CREDENTIALS_DIRECTORY", "NEWSMON_CONFIG", "TOKEN")}
    environ.update(HOME=str(home), STATE_DIRECTORY=str(home / "state"), **extra)
    return environ


def newsmon(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitor", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def env_file(home: Path, text: str, mode: int = 0o600) -> Path:
    """~/.config/newsmon/env with `text`, chmod `mode`."""
    path = home / ".config" / "newsmon" / "env"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def credentials(tmp_path: Path, **values: str) -> Path:
    directory = tmp_path / "credentials"
    directory.mkdir(exist_ok=True)
    for name, value in values.items():
        (directory / name).write_text(value + "\n", encoding="utf-8")
    return directory


def hook_config(tmp_path: Path, url: str = "json://127.0.0.1:9/hook/${TOKEN}") -> Path:
    directory = tmp_path / "conf"
    directory.mkdir(exist_ok=True)
    return write_config(directory, [], {"hook": [url]})


def urls(path: Path, environ: dict[str, str]) -> tuple[str, ...]:
    loaded = config.load(path, environ)
    return loaded.channels[0].urls


def problems(path: Path, environ: dict[str, str]) -> list[str]:
    _loaded, found = config.read(path, environ)
    return [problem.message for problem in found]


# ---------------------------------------------------------------- from a shell


def test_check_from_a_shell_reads_the_user_env_file(tmp_path):
    home = tmp_path / "home"
    env_file(home, f"# newsmon's secrets\nTOKEN={SECRET}\n")
    path = hook_config(tmp_path)
    result = newsmon("--config", str(path), "check", env=shell_env(home))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "channel hook: json://127.0.0.1:9/hook/" in result.stdout
    assert SECRET not in result.stdout + result.stderr


def test_notify_test_delivers_with_the_secret_from_the_env_file(tmp_path, web):
    home = tmp_path / "home"
    env_file(home, f'TOKEN="{SECRET}"\n')
    port = web.base.rsplit(":", 1)[1]
    path = hook_config(tmp_path, f"json://127.0.0.1:{port}/hook/${{TOKEN}}")
    result = newsmon("--log-level", "debug", "--config", str(path), "notify-test", "hook", env=shell_env(home))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok ")
    (post,) = web.json_posts(f"/hook/{SECRET}")
    assert "newsmon test alert" in post["title"]
    assert SECRET not in result.stdout + result.stderr


def test_run_once_from_a_shell_reads_the_env_file_too(tmp_path):
    home = tmp_path / "home"
    env_file(home, f"TOKEN={SECRET}\n")
    path = hook_config(tmp_path)
    result = newsmon("--config", str(path), "run", "--once", env=shell_env(home))
    assert result.returncode == 0, result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_xdg_config_home_moves_the_env_file(tmp_path):
    home, xdg = tmp_path / "home", tmp_path / "xdg"
    env_file(home, "TOKEN=from-home\n")
    (xdg / "newsmon").mkdir(parents=True)
    (xdg / "newsmon" / "env").write_text("TOKEN=from-xdg\n", encoding="utf-8")
    (xdg / "newsmon" / "env").chmod(0o600)
    path = hook_config(tmp_path)
    assert urls(path, {"HOME": str(home)}) == ("json://127.0.0.1:9/hook/from-home",)
    assert urls(path, {"HOME": str(home), "XDG_CONFIG_HOME": str(xdg)}) == ("json://127.0.0.1:9/hook/from-xdg",)


def test_which_env_file_goes_with_which_configuration(tmp_path):
    home = {"HOME": "/home/u"}
    # systemd/newsmon.service: --config /etc/newsmon/config.toml, EnvironmentFile=-/etc/newsmon/env
    assert config.env_file("/etc/newsmon/config.toml", home) == Path("/etc/newsmon/env")
    # systemd/newsmon-user.service: --config %E/newsmon/config.toml, EnvironmentFile=-%E/newsmon/env
    assert config.env_file("/home/u/.config/newsmon/config.toml", home) == Path("/home/u/.config/newsmon/env")
    assert config.env_file("/srv/x/config.toml", {"HOME": "/home/u", "XDG_CONFIG_HOME": "/xdg"}) == Path("/xdg/newsmon/env")
    assert config.env_file(tmp_path / "config.toml", home) == Path("/home/u/.config/newsmon/env")


# ---------------------------------------------------------------- precedence


@pytest.mark.parametrize("sources, expected", [
    (("file",), "file-value"),
    (("credentials",), "credential-value"),
    (("environment",), "environment-value"),
    (("credentials", "file"), "credential-value"),
    (("environment", "file"), "environment-value"),
    (("environment", "credentials", "file"), "environment-value"),
])
def test_environment_then_credentials_then_env_file(tmp_path, sources, expected):
    home = tmp_path / "home"
    environ = {"HOME": str(home)}
    if "file" in sources:
        env_file(home, "TOKEN=file-value\n")
    if "credentials" in sources:
        environ["CREDENTIALS_DIRECTORY"] = str(credentials(tmp_path, TOKEN="credential-value"))
    if "environment" in sources:
        environ["TOKEN"] = "environment-value"
    assert urls(hook_config(tmp_path), environ) == (f"json://127.0.0.1:9/hook/{expected}",)


def test_a_credential_of_another_name_falls_through_to_the_env_file(tmp_path):
    home = tmp_path / "home"
    env_file(home, "TOKEN=file-value\n")
    environ = {"HOME": str(home), "CREDENTIALS_DIRECTORY": str(credentials(tmp_path, OTHER="x"))}
    assert urls(hook_config(tmp_path), environ) == ("json://127.0.0.1:9/hook/file-value",)


def test_the_env_file_fills_a_urls_file_too(tmp_path):
    home = tmp_path / "home"
    env_file(home, "TOKEN=file-value\n")
    directory = tmp_path / "conf"
    directory.mkdir()
    secrets = directory / "urls"
    secrets.write_text("json://127.0.0.1:9/hook/${TOKEN}\n", encoding="utf-8")
    secrets.chmod(0o600)
    path = write_config(directory, [], {"hook": {"urls_file": "urls"}})
    assert urls(path, {"HOME": str(home)}) == ("json://127.0.0.1:9/hook/file-value",)


def test_secrets_fill_channel_urls_only(tmp_path):
    home = tmp_path / "home"
    env_file(home, "TOKEN=file-value\n")
    directory = tmp_path / "conf"
    directory.mkdir()
    path = write_config(directory, [{"url": "https://news.example/${TOKEN}.xml"}], {"hook": ["console://"]},
                        user_agent="newsmon ${TOKEN}")
    loaded = config.load(path, {"HOME": str(home)})
    assert loaded.feeds[0].url == "https://news.example/${TOKEN}.xml"
    assert loaded.settings.user_agent == "newsmon ${TOKEN}"


# ---------------------------------------------------------------- a private file


def test_an_env_file_others_may_read_is_refused_with_a_chmod_hint(tmp_path):
    home = tmp_path / "home"
    file = env_file(home, f"TOKEN={SECRET}\n", mode=0o644)
    path = hook_config(tmp_path)
    refused = newsmon("--config", str(path), "check", env=shell_env(home))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    (line,) = refused.stdout.splitlines()
    assert line.startswith(f"{path}: at 'channels.hook.urls[0]': environment variable 'TOKEN' is not set")
    assert f"{file}, which newsmon does not read: it is readable by group and others (mode 0644)" in line
    assert f"run 'chmod 600 {file}'" in line
    assert SECRET not in refused.stdout + refused.stderr
    file.chmod(0o640)
    assert "readable by its group (mode 0640)" in problems(path, {"HOME": str(home)})[0]
    file.chmod(0o600)
    assert newsmon("--config", str(path), "check", env=shell_env(home)).returncode == 0


def test_an_open_env_file_is_no_problem_when_nothing_needs_it(tmp_path):
    home = tmp_path / "home"
    env_file(home, "TOKEN=file-value\n", mode=0o644)
    path = hook_config(tmp_path)
    assert urls(path, {"HOME": str(home), "TOKEN": "environment-value"}) == ("json://127.0.0.1:9/hook/environment-value",)
    assert problems(hook_config(tmp_path, "console://"), {"HOME": str(home)}) == []


# ---------------------------------------------------------------- where newsmon looked


def test_an_unset_variable_says_where_newsmon_looked(tmp_path):
    home = tmp_path / "home"
    directory = credentials(tmp_path, OTHER="x")
    path = hook_config(tmp_path)
    file = home / ".config" / "newsmon" / "env"
    assert problems(path, {"HOME": str(home), "CREDENTIALS_DIRECTORY": str(directory)}) == [
        f"environment variable 'TOKEN' is not set (looked in the environment, $CREDENTIALS_DIRECTORY={directory}, "
        f"and {file}, which does not exist)"]
    assert problems(path, {"HOME": str(home)}) == [
        f"environment variable 'TOKEN' is not set (looked in the environment and {file}, which does not exist)"]
    env_file(home, "OTHER=x\n")
    assert problems(path, {"HOME": str(home)}) == [
        f"environment variable 'TOKEN' is not set (looked in the environment and {file}, which does not set it)"]


def test_an_unset_variable_from_a_shell(tmp_path):
    home = tmp_path / "home"
    path = hook_config(tmp_path)
    result = newsmon("--config", str(path), "check", env=shell_env(home))
    assert result.returncode == 2
    file = home / ".config" / "newsmon" / "env"
    assert result.stdout.strip() == (f"{path}: at 'channels.hook.urls[0]': environment variable 'TOKEN' is not set "
                                     f"(looked in the environment and {file}, which does not exist)")


def test_an_env_file_that_is_a_directory(tmp_path):
    home = tmp_path / "home"
    (home / ".config" / "newsmon" / "env").mkdir(parents=True)
    (message,) = problems(hook_config(tmp_path), {"HOME": str(home)})
    assert message.endswith("/.config/newsmon/env, which is not a regular file)")


def test_an_exported_line_is_ignored_as_systemd_ignores_it_and_said_so(tmp_path):
    home = tmp_path / "home"
    env_file(home, f"export TOKEN={SECRET}\n")
    (message,) = problems(hook_config(tmp_path), {"HOME": str(home)})
    assert "environment variable 'TOKEN' is not set" in message
    assert "whose line 'export TOKEN=...' systemd ignores (remove the 'export ')" in message
    assert SECRET not in message


# ---------------------------------------------------------------- the env file's syntax


@pytest.mark.parametrize("text, expected", [
    ("TOKEN=plain\n", "plain"),
    ("TOKEN=plain", "plain"),  # no final newline
    ("  TOKEN =  padded  \n", "padded"),
    ("# comment\n; comment too\n\nTOKEN=after-comments\n", "after-comments"),
    ("TOKEN='single $quoted #x'\n", "single $quoted #x"),
    ('TOKEN="double \\"quoted\\" \\$x \\\\ \\n"\n', 'double "quoted" $x \\ \\n'),
    ("TOKEN=a#b;c\n", "a#b;c"),  # no comments after a value
    ("TOKEN=first\nTOKEN=second\n", "second"),
    ("TOKEN=with\\ space\\\n-joined\n", "with space-joined"),
    ('TOKEN="two\nlines"\n', "two\nlines"),
    ("TOKEN=crlf\r\nOTHER=x\r\n", "crlf"),
    ("TOKEN\nTOKEN=after-a-bare-name\n", "after-a-bare-name"),
])
def test_env_file_syntax_is_systemds(text, expected):
    assert config.parse_env(text)["TOKEN"] == expected


def test_env_file_lines_systemd_would_not_set_are_not_set():
    values = config.parse_env("export TOKEN=x\nBARE\n# TOKEN=commented\n")
    assert "TOKEN" not in values and "BARE" not in values
