"""Where `${VAR}` values in channel URLs come from, the same for every command as for the
service: the process environment, then systemd's credentials ($CREDENTIALS_DIRECTORY/NAME; for a
configuration in /etc/newsmon run from a shell, /etc/newsmon/credentials/NAME, which the
system unit loads with LoadCredential=), then the env file the units load with
EnvironmentFile=. No value is ever logged or shown; an unset variable's message says where
newsmon looked."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from monitor.config.files import NotReadable, read_regular_file

SYSTEM_CONFIG_DIR = Path("/etc/newsmon")
MAX_SECRET_SIZE = 64 * 1000  # a credential or env file larger than this is refused


class Secrets:
    """The `${VAR}` values one configuration can see."""

    def __init__(self, environ: Mapping[str, str], config_path: Path | str):
        self.environ = environ
        self.env_file = env_file(config_path, environ)
        self.credentials = credentials_dir(config_path, environ)
        self.env_state = ""  # what became of the env file, for the unset-variable message
        self._env_values: dict[str, str] | None = None

    def get(self, name: str) -> str | None:
        """`name` from the environment, else the credentials directory, else the env file."""
        if name in self.environ:
            return self.environ[name]
        if self.credentials is not None:
            try:
                return read_regular_file(self.credentials / name, MAX_SECRET_SIZE).decode("utf-8").strip()
            except (OSError, NotReadable, UnicodeDecodeError):
                pass
        return self.env_values().get(name)

    def env_values(self) -> dict[str, str]:
        """The env file's variables, read once and only when a `${VAR}` needs one; {} when
        there is no env file, it cannot be read, or it is refused (`env_state` says which)."""
        if self._env_values is None:
            self._env_values, self.env_state = _read_env_file(self.env_file)
        return self._env_values

    def looked(self, name: str) -> str:
        """Where `${name}` was looked for, for the unset-variable message; never a value."""
        places = ["the environment"]
        if self.credentials is not None:
            shown = (f"$CREDENTIALS_DIRECTORY={self.credentials}" if self.environ.get("CREDENTIALS_DIRECTORY")
                     else str(self.credentials))
            places.append(shown + ("" if self.credentials.is_dir() else " (not a directory)"))
        values = self.env_values()
        state = self.env_state
        if not state:
            exported = next((key for key in values if key.split() == ["export", name]), None)
            state = (f", whose line '{exported}=...' systemd ignores (remove the 'export ')" if exported
                     else ", which does not set it")
        places.append(f"{self.env_file}{state}")
        if len(places) == 2:
            return f"{places[0]} and {places[1]}"
        return ", ".join(places[:-1]) + f", and {places[-1]}"


def _in_system_config(config_path: Path | str) -> bool:
    return Path(os.path.abspath(config_path)).parent.is_relative_to(SYSTEM_CONFIG_DIR)


def credentials_dir(config_path: Path | str, environ: Mapping[str, str]) -> Path | None:
    """$CREDENTIALS_DIRECTORY (set by systemd for the service); else, for a configuration in
    /etc/newsmon, /etc/newsmon/credentials when it exists (what the system unit's
    LoadCredential= lines load from); else None."""
    if environ.get("CREDENTIALS_DIRECTORY"):
        return Path(environ["CREDENTIALS_DIRECTORY"])
    system = SYSTEM_CONFIG_DIR / "credentials"
    return system if _in_system_config(config_path) and system.is_dir() else None


def env_file(config_path: Path | str, environ: Mapping[str, str]) -> Path:
    """The env file newsmon reads `${VAR}` values from when neither the environment nor
    $CREDENTIALS_DIRECTORY has them: the one the systemd units load with EnvironmentFile=.
    /etc/newsmon/env for a configuration in /etc/newsmon (systemd/newsmon.service); for any
    other, $XDG_CONFIG_HOME/newsmon/env, else ~/.config/newsmon/env (systemd/newsmon-user.service,
    `%E/newsmon/env`), with HOME and XDG_CONFIG_HOME taken from `environ`."""
    if _in_system_config(config_path):
        return SYSTEM_CONFIG_DIR / "env"
    home = Path(environ.get("HOME") or str(Path.home()))
    return Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "newsmon" / "env"


def _read_env_file(file: Path | None) -> tuple[dict[str, str], str]:
    """(variables, state): the variables of an env file and, for the unset-variable message,
    what became of it ("" when it was read). Refused, like a `urls_file`, unless only its owner
    may read it. Never reports a value."""
    if file is None:
        return {}, ""
    try:
        mode = file.stat().st_mode
        if not stat.S_ISREG(mode):
            return {}, ", which is not a regular file"
        if mode & 0o044:
            readers = ("group and others" if mode & 0o004 and mode & 0o040 else
                       "others" if mode & 0o004 else "its group")
            return {}, (f", which newsmon does not read: it is readable by {readers} "
                        f"(mode {stat.S_IMODE(mode):04o}) and holds secrets; run 'chmod 600 {file}'")
        text = read_regular_file(file, MAX_SECRET_SIZE).decode("utf-8")
    except NotReadable as error:
        limit = f" (at most {MAX_SECRET_SIZE:,} bytes are read)" if error.too_large else ""
        return {}, f", which newsmon does not read: it {error}{limit}"
    except FileNotFoundError:
        return {}, ", which does not exist"
    except UnicodeDecodeError:
        return {}, ", which cannot be read (not UTF-8 text)"
    except OSError as error:
        reason = (error.strerror or type(error).__name__).lower()
        return {}, f", which cannot be read ({reason})"
    return parse_env(text), ""


def parse_env(text: str) -> dict[str, str]:
    """The variables of an env file, read as systemd reads an EnvironmentFile= (its
    `parse_env_file_internal`, so that `check` sees what the service sees): `KEY=value` lines;
    lines starting with `#` or `;` are comments; blanks around the key and before the value are
    skipped, and after an unquoted value; a backslash keeps the next character (or joins the next
    line); `'...'` is taken as it is; in `"..."` a backslash escapes only `"`, `\\`, `` ` `` and `$`
    (else it stays). A later line wins. A key that is not a variable name (`export KEY`, with
    its blank) is kept here as systemd keeps it, and ignored as systemd ignores it, because
    `${VAR}` only ever asks for names."""
    values: dict[str, str] = {}
    state, key, value, key_blank, value_blank = "pre_key", "", "", -1, -1

    def push() -> None:
        values[key[:key_blank] if key_blank >= 0 else key] = value

    for char in text:
        if state == "pre_key":
            if char in "#;":
                state = "comment"
            elif char not in " \t\n\r":
                state, key, value, key_blank = "key", char, "", -1
        elif state == "key":
            if char in "\n\r":
                state = "pre_key"
            elif char == "=":
                state, value_blank = "pre_value", -1
            else:
                if char not in " \t":
                    key_blank = -1
                elif key_blank < 0:
                    key_blank = len(key)
                key += char
        elif state == "pre_value":
            if char in "\n\r":
                push()
                state = "pre_key"
            elif char == "'":
                state = "single"
            elif char == '"':
                state = "double"
            elif char == "\\":
                state = "value_escape"
            elif char not in " \t":
                state, value = "value", value + char
        elif state == "value":
            if char in "\n\r":
                if value_blank >= 0:
                    value = value[:value_blank]
                push()
                state = "pre_key"
            elif char == "\\":
                state, value_blank = "value_escape", -1
            else:
                if char not in " \t":
                    value_blank = -1
                elif value_blank < 0:
                    value_blank = len(value)
                value += char
        elif state == "value_escape":
            state = "value"
            if char not in "\n\r":
                value += char
        elif state == "single":
            if char == "'":
                state = "pre_value"
            else:
                value += char
        elif state == "double":
            if char == '"':
                state = "pre_value"
            elif char == "\\":
                state = "double_escape"
            else:
                value += char
        elif state == "double_escape":
            state = "double"
            if char in '"\\`$':
                value += char
            elif char != "\n":
                value += "\\" + char
        elif state == "comment":
            if char == "\\":
                state = "comment_escape"
            elif char in "\n\r":
                state = "pre_key"
        elif state == "comment_escape":
            state = "pre_key" if char in "\n\r" else "comment"
    if state not in ("pre_key", "key", "comment", "comment_escape"):
        if state == "value" and value_blank >= 0:
            value = value[:value_blank]
        push()
    return values
