"""The `[channels.NAME]` tables: where a channel's URLs come from (inline, `${ENV}`, systemd
credentials, a private `urls_file`), which alerts it takes (`min_severity`, `rules`), and how
(`title` / `body` templates, `digest`, `max_per_hour`). Checked here, once, at load; problems
go to the reader like every other configuration problem.

No message written here may contain a channel URL or a part of one: they hold secrets.
"""

from __future__ import annotations

import os
import stat
import string
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from monitor.model import SEVERITIES, ChannelSpec, Rule
from monitor.schema import Invalid, describe, parse_duration, string_list, suggest

# What a template may use. Third-party values are escaped for the channel's format before they
# are put in; `snippet` carries the highlighted matched words in that format's markup.
PLACEHOLDERS = {
    "rule": "the rule's name",
    "severity": "the rule's severity (low, medium, high, critical)",
    "title": "the article's headline",
    "outlet": "the outlet that reported it first",
    "feed": "the feed's name",
    "url": "the article's link",
    "published": "when it was published (UTC), or 'time unknown'",
    "snippet": "the sentence around the first match, matched words highlighted",
    "entities": "the matched names, comma-separated",
    "also_reported_by": "the other outlets that have reported the story by delivery time",
    "update": "'Update: ' for a follow-up on a story already alerted, else empty",
}
KEYS = ("urls", "urls_file", "min_severity", "rules", "title", "body", "digest", "timezone", "max_per_hour")
MIN_DIGEST = 60.0


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
    return [spec for name, table in raw.items() if (spec := _channel(reader, name, table, base)) is not None]


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
                       ("timezone", _timezone), ("max_per_hour", _positive)):
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
    if "timezone" in values and "digest" not in table:
        reader.problem(f"{path}.timezone", "only a digest channel uses a timezone (add 'digest')")
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
        lines = file.read_text(encoding="utf-8").splitlines()
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


def template_problem(template: str) -> str | None:
    """Why a `title` / `body` template cannot be used, or None."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as error:
        return f"{error} (write {{{{ and }}}} for literal braces)"
    for _literal, field, spec, conversion in fields:
        if field is None:
            continue
        if field not in PLACEHOLDERS:
            known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
            return f"unknown placeholder {{{field}}}{suggest(field, PLACEHOLDERS)}; known: {known}"
        if spec or conversion:
            return f"placeholder {{{field}}} takes no format or conversion (write {{{field}}})"
    return None


def _template(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"expected a template string such as \"[{{rule}}] {{title}}\", got {describe(value)}")
    problem = template_problem(value)
    if problem:
        raise Invalid(problem)
    return value


def _digest(value: Any, timezone: str) -> dict[str, Any]:
    """`digest = "1h"` (every period, aligned in the channel's timezone) or a cron expression
    (`"0 8 * * *"`: minute hour day month weekday)."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"expected a period such as \"1h\" or a cron expression such as \"0 8 * * *\", got {describe(value)}")
    value = value.strip()
    if len(value.split()) == 5:
        from monitor import timing

        problem = timing.cron_problem(value, timezone)
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


def accepts(channel: ChannelSpec, rule: Rule) -> bool:
    """Whether a channel's filters let a rule's alerts in."""
    if SEVERITIES.index(rule.severity) < SEVERITIES.index(channel.min_severity):
        return False
    return channel.rules is None or rule.name in channel.rules


def routes(channels: Iterable[ChannelSpec], default: tuple[str, ...] | None, rule: Rule) -> tuple[str, ...]:
    """The channels a rule's alerts go to: the ones it names, else `default` (None: every
    channel), kept only where the channel's filters accept the rule."""
    by_name = {channel.name: channel for channel in channels}
    names = rule.channels or (default if default is not None else tuple(by_name))
    return tuple(name for name in names if name in by_name and accepts(by_name[name], rule))


def routing_problems(channels: tuple[ChannelSpec, ...], default: tuple[str, ...] | None,
                     rules: Iterable[Rule]) -> list[tuple[str, str]]:
    """(rule name, message) for rules whose alerts could go nowhere, or that name a channel
    whose filters refuse them: both would be silent surprises."""
    out = []
    rules = tuple(rules)
    by_name = {channel.name: channel for channel in channels}
    for rule in rules:
        for name in rule.channels:
            channel = by_name.get(name)
            if channel is not None and not accepts(channel, rule):
                why = (f"its min_severity is {channel.min_severity!r} and the rule's severity is {rule.severity!r}"
                       if SEVERITIES.index(rule.severity) < SEVERITIES.index(channel.min_severity)
                       else "its 'rules' list does not include this rule")
                out.append((rule.name, f"names channel {name!r}, which refuses it: {why}"))
        candidates = [name for name in (default if default is not None else by_name) if name in by_name]
        if candidates and not rule.channels and not routes(channels, default, rule):
            out.append((rule.name, f"reaches no channel: every channel it could use filters it out "
                                   f"(severity {rule.severity!r}); set the rule's 'channels' or a channel's filters"))
    rule_names = {rule.name for rule in rules}
    for channel in channels:
        for index, rule_name in enumerate(channel.rules or ()):
            if rule_name not in rule_names:
                out.append(("", f"channels.{channel.name}.rules[{index}]: unknown rule {rule_name!r}"))
    return out
