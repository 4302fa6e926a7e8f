"""Reading the `[channels.NAME]` tables: where a channel's URLs come from (inline, `${ENV}`,
systemd credentials, a private `urls_file`), which alerts it takes (`min_severity`, `rules`),
and how (`title` / `body` templates, `digest`, `max_per_hour`, `min_outlets`). Each value's type and form is
checked here, once, at load; problems go to the reader like every other configuration problem.
What the values mean (routing, the placeholders a template may use, whether apprise accepts a
URL) is `monitor.alert`'s, checked by `monitor.app.check`.

No message written here may contain a channel URL or a part of one: they hold secrets.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Protocol

from monitor.model import SEVERITIES, ChannelSpec
from monitor.config.files import NotReadable, read_regular_file
from monitor.config.schema import (Invalid, describe, look_alike_problem, name_problem, parse_duration, string_list,
                                   suggest)

MAX_URLS_FILE_SIZE = 1000 * 1000
KEYS = ("urls", "urls_file", "min_severity", "rules", "title", "body", "digest", "timezone", "max_per_hour", "min_outlets",
        "quiet_after_ack", "quiet_hours", "quiet_min_severity", "escalate_after", "escalate_to", "escalate_min_severity",
        "heartbeat", "show_sites")
MIN_DIGEST = 60.0
MIN_HEARTBEAT = 300.0


class Reader(Protocol):
    """What checking a channel needs from config's reader."""

    file: str

    def problem(self, path: str, message: str) -> None: ...

    def expand(self, text: str, path: str) -> str: ...


def read(reader: Reader, raw: Any, base: Path) -> list[ChannelSpec]:
    """The channels of a `[channels]` table; problems go to `reader`. `base` is the directory
    relative `urls_file` paths start from."""
    if not isinstance(raw, dict):
        reader.problem("channels", f"expected tables [channels.NAME], got {describe(raw)}")
        return []
    skeletons: dict[str, str] = {}
    for name in raw:  # an unprintable name is shown escaped, in the message only
        if message := name_problem(name):
            reader.problem("channels", message)
        elif message := look_alike_problem("channel", name, skeletons):
            reader.problem(f"channels.{name}", message)
    specs = [spec for name, table in raw.items() if (spec := _channel(reader, name, table, base)) is not None]
    names = {spec.name for spec in specs}
    for spec in specs:
        if spec.escalate_to and spec.escalate_to not in names:
            reader.problem(f"channels.{spec.name}.escalate_to", f"no channel named {spec.escalate_to!r}"
                                                                f"{suggest(spec.escalate_to, tuple(names))}")
    return specs


def _channel(reader: Reader, name: str, table: Any, base: Path) -> ChannelSpec | None:
    path = f"channels.{name}"
    if not isinstance(table, dict):
        reader.problem(path, f"expected a table, got {describe(table)}")
        return None
    for key in table:
        if key not in KEYS:
            reader.problem(f"{path}.{key}", f"unknown key {key!r}{suggest(key, KEYS)}")
    values: dict[str, Any] = {}
    urls = _urls(reader, path, table, base)
    for key, check in (("min_severity", _severity), ("rules", _names), ("title", _template), ("body", _template),
                       ("timezone", _timezone), ("max_per_hour", _positive), ("min_outlets", _positive),
                       ("quiet_after_ack", _boolean), ("quiet_hours", _windows), ("quiet_min_severity", _severity),
                       ("escalate_after", _duration), ("escalate_to", _name), ("escalate_min_severity", _severity),
                       ("heartbeat", _heartbeat), ("show_sites", _boolean)):
        if key in table:
            try:
                values[key] = check(table[key])
            except Invalid as error:
                reader.problem(f"{path}.{key}", str(error))
    if "digest" in table:
        try:
            values.update(_digest(table["digest"], values.get("timezone", "UTC")))
        except Invalid as error:
            reader.problem(f"{path}.digest", str(error))
    if "timezone" in values and "digest" not in table and "quiet_hours" not in table:
        reader.problem(f"{path}.timezone", "only a digest or quiet_hours use a timezone (add 'digest' or 'quiet_hours')")
    if ("escalate_to" in table) != ("escalate_after" in table):
        reader.problem(path, "escalation needs both 'escalate_after' (how long unacknowledged) and 'escalate_to' "
                             "(the channel to escalate to)")
    elif table.get("escalate_to") == name:
        reader.problem(f"{path}.escalate_to", "a channel cannot escalate to itself")
    return ChannelSpec(name=name, urls=urls, **values)


def _urls(reader: Reader, path: str, table: dict, base: Path) -> tuple[str, ...]:
    urls: list[str] = []
    raw = table.get("urls", [])
    if isinstance(raw, str):  # the value is a URL, maybe with a secret in it: not repeated here
        reader.problem(f"{path}.urls", 'expected an array of strings, got a string (write urls = ["..."])')
        return ()
    try:
        raw = string_list(raw)
    except Invalid as error:
        reader.problem(f"{path}.urls", str(error))
        return ()
    for index, url in enumerate(raw):
        expanded = reader.expand(url.strip(), f"{path}.urls[{index}]")
        if expanded:
            urls.append(expanded)
        elif url.strip() == "":
            reader.problem(f"{path}.urls[{index}]", "an empty URL")
    if "urls_file" in table:
        urls.extend(_urls_file(reader, f"{path}.urls_file", table["urls_file"], base))
    if "urls" not in table and "urls_file" not in table:
        reader.problem(path, "missing 'urls' (a list of apprise URLs) or 'urls_file' (a file of them)")
    elif not urls and not raw and "urls_file" not in table:
        reader.problem(f"{path}.urls", "a channel needs at least one apprise URL")
    return tuple(urls)


def _urls_file(reader: Reader, path: str, value: Any, base: Path) -> list[str]:
    """One apprise URL per line (blank lines and '#' comments skipped). The file holds secrets,
    so it is refused when its owner is not the only one who may read it."""
    if not isinstance(value, str) or not value.strip():
        reader.problem(path, f"expected a file path, got {describe(value)}")
        return []
    file = Path(os.path.expanduser(value))
    file = file if file.is_absolute() else base / file
    try:
        mode = file.stat().st_mode
        if not stat.S_ISREG(mode):
            reader.problem(path, f"{file} is not a regular file")
            return []
        if mode & 0o044:
            reader.problem(path, f"{file} is readable by {'group and others' if mode & 0o004 and mode & 0o040 else 'others' if mode & 0o004 else 'its group'} "
                                 f"(mode {stat.S_IMODE(mode):04o}); it holds secrets: run 'chmod 600 {file}'")
            return []
        lines = read_regular_file(file, MAX_URLS_FILE_SIZE).decode("utf-8").splitlines()
    except NotReadable as error:
        reader.problem(path, f"{file} {error}" + (f"; a urls_file may be at most {MAX_URLS_FILE_SIZE:,} bytes"
                                                   if error.too_large else ""))
        return []
    except FileNotFoundError:
        reader.problem(path, f"{file} not found")
        return []
    except (OSError, UnicodeDecodeError) as error:
        reader.problem(path, f"cannot read {file}: {getattr(error, 'strerror', None) or type(error).__name__}")
        return []
    urls = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if line and not line.startswith("#"):
            expanded = reader.expand(line, f"{path} ({file}, line {number})")
            if expanded:
                urls.append(expanded)
    if not urls:
        reader.problem(path, f"{file} holds no URL (one apprise URL per line)")
    return urls


def _severity(value: Any) -> str:
    if value not in SEVERITIES:
        raise Invalid(f"expected one of {', '.join(SEVERITIES)}, got {value!r}")
    return value


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise Invalid(f"expected a list of rule names, got {describe(value)}")
    return tuple(value)


def _windows(value: Any) -> tuple[str, ...]:
    from monitor import schedule

    windows = string_list(value)
    for window in windows:
        try:
            schedule.quiet_window(window)
        except ValueError as error:
            raise Invalid(str(error)) from None
    return tuple(windows)


def _duration(value: Any) -> float:
    if not isinstance(value, str):
        raise Invalid(f"expected a duration such as \"15m\", got {describe(value)}")
    return parse_duration(value)


def _heartbeat(value: Any) -> float:
    seconds = _duration(value)
    if seconds < MIN_HEARTBEAT:
        raise Invalid(f"a heartbeat more often than every {MIN_HEARTBEAT / 60:g} minutes is noise, got {value!r}")
    return seconds


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid(f"expected a channel's name, got {describe(value)}")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"expected true or false, got {describe(value)}")
    return value


def _positive(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Invalid(f"expected a whole number of at least 1, got {value!r}")
    return value


def _timezone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(value, str) or not value:
        raise Invalid(f"expected a time zone name such as \"Asia/Karachi\" or \"UTC\", got {describe(value)}")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown time zone {value!r} (use an IANA name such as \"Europe/Berlin\" or \"UTC\")") from None
    return value


def _template(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"expected a template string such as \"[{{rule}}] {{title}}\", got {describe(value)}")
    return value  # its placeholders are checked by monitor.alert (formats.template_problem), which fills them


def _digest(value: Any, timezone: str) -> dict[str, Any]:
    """`digest = "1h"` (every period, aligned in the channel's timezone) or a cron expression
    (`"0 8 * * *"`: minute hour day month weekday)."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"expected a period such as \"1h\" or a cron expression such as \"0 8 * * *\", got {describe(value)}")
    value = value.strip()
    if len(value.split()) == 5:
        from monitor import schedule

        problem = schedule.cron_problem(value, timezone)
        if problem:
            raise Invalid(f"invalid cron expression {value!r}: {problem}")
        return {"digest_cron": value}
    try:
        every = parse_duration(value)
    except Invalid:
        raise Invalid(f"expected a period such as \"1h\" or \"1d\", or a cron expression of five fields such as "
                      f"\"0 8 * * *\" (minute hour day month weekday), got {value!r}") from None
    if every < MIN_DIGEST:
        raise Invalid(f"a digest period must be at least 1 minute, got {value!r}")
    return {"digest_every": every}
