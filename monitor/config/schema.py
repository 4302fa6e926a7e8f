"""The configuration schema as data, and the converters it is made of.

Each table (`NEWSMON_KEYS`, `FEED_KEYS`, `ENTITY_KEYS`, `RULE_KEYS`,
`HTTP_KEYS`) maps a key to a converter that takes the raw TOML value and returns the checked
value or raises `Invalid` with a message; `ITEMS` converts the items of array keys one by one,
`REQUIRED` names the keys each kind of table must have. `Checker` applies them, collecting problems.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from monitor import shown, urls
from monitor.errors import Problem

ENTITY_KINDS = ("actor", "region", "topic")


class Invalid(Exception):
    """A value does not fit its key; the message says why."""


# ---------------------------------------------------------------- converters

DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_duration(text: str) -> float:
    """Seconds in a duration such as "90s", "15m", "1h30m" or "7d"; raises `Invalid`."""
    if not isinstance(text, str):
        raise Invalid(f"expected a duration such as \"15m\", got {describe(text)}")
    compact = text.strip().lower().replace(" ", "")
    parts = DURATION_PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise Invalid(f"bad duration {text!r}: use a number and a unit s, m, h, d or w, e.g. \"90s\", \"15m\", \"1h\", \"7d\"")
    seconds = sum(float(number) * DURATION_UNITS[unit] for number, unit in parts)
    if seconds <= 0:
        raise Invalid(f"bad duration {text!r}: must be longer than zero")
    return seconds


SIZE_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-z]*)$")


def parse_size(text: Any) -> int:
    """Bytes in a size such as "10MB", "512KB" or "1GB" (KiB/MiB/GiB also accepted)."""
    if not isinstance(text, str):
        raise Invalid(f"expected a size such as \"10MB\", got {describe(text)}")
    found = SIZE.match(text.strip().lower())
    if not found or found.group(2) not in SIZE_UNITS:
        raise Invalid(f"bad size {text!r}: use a number and a unit KB, MB or GB, e.g. \"10MB\"")
    size = int(float(found.group(1)) * SIZE_UNITS[found.group(2)])
    if size <= 0:
        raise Invalid(f"bad size {text!r}: must be more than zero")
    return size


def positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"expected a whole number, got {describe(value)}")
    if value < 1:
        raise Invalid(f"must be at least 1, got {value}")
    return value


def _web_url(value: Any, what: str) -> str:
    """An http(s) URL with a host, or Invalid saying it is not `what` (quoting it without
    credentials: feed and proxy URLs may hold some)."""
    text = nonempty_string(value).strip()
    if urls.web_url(text) is None:
        raise Invalid(f"{shown.url(text)!r} is not {what}")
    return text


def proxy_url(value: Any) -> str:
    return _web_url(value, 'a proxy URL such as "http://proxy.example:3128"')


def describe(value: Any) -> str:
    """How a value of the wrong type is named in a message: "an integer (3)", "an array"."""
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "an array", dict: "a table"}
    return f"{names.get(type(value), type(value).__name__)} ({value!r})" if not isinstance(value, (list, dict)) else names[type(value)]


def string(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"expected a string, got {describe(value)}")
    return value


def nonempty_string(value: Any) -> str:
    if not string(value).strip():
        raise Invalid("must not be empty")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"expected true or false, got {describe(value)}")
    return value


def string_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise Invalid(f"expected an array of strings, got {describe(value)}")
    return tuple(value)  # items are checked one by one by the caller, for exact key paths


def http_url(value: Any) -> str:
    return _web_url(value, "an http:// or https:// URL")


def network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(string(value), strict=False)
    except ValueError:
        raise Invalid(f"{value!r} is not an address range in CIDR form, e.g. \"10.0.0.0/8\" or \"::1/128\"") from None


def choice(*options: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if string(value) not in options:
            raise Invalid(f"must be one of {', '.join(repr(o) for o in options)}, got {value!r}{suggest(value, options)}")
        return value
    return check


def suggest(word: Any, known: Any) -> str:
    """A hint naming the closest of `known` to `word` (" (did you mean 'x'?)"), or ""."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ---------------------------------------------------------------- names

BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Cyrillic and Greek letters drawn like Latin ones, mapped to the Latin letter (after NFKC).
LOOK_ALIKES = str.maketrans({
    "а": "a", "е": "e", "і": "i", "ј": "j", "к": "k", "о": "o", "р": "p", "с": "c", "ѕ": "s",
    "у": "y", "х": "x", "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w", "ӏ": "l",
    "А": "A", "В": "B", "Е": "E", "І": "I", "Ј": "J", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Ѕ": "S", "Т": "T", "Х": "X", "У": "Y",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "ο": "o", "ι": "i", "κ": "k", "ν": "v", "ρ": "p", "υ": "u",
    "χ": "x", "α": "a",
})


def name_problem(name: str) -> str | None:
    """Why `name` (of a rule, entity or channel) cannot be a name, or None: it must be printable,
    without control, format (bidi, zero-width) or line-break characters."""
    for char in name:
        if char in BIDI_CONTROLS:
            return f"a name may not hold a bidirectional control character (U+{ord(char):04X}): {name!r}"
        if not char.isprintable():
            what = "a line break" if char in "\n\r\u2028\u2029\x85" else f"U+{ord(char):04X} ({unicodedata.category(char)})"
            return f"a name must be printable, without control characters; this one holds {what}: {name!r}"
    return None


def skeleton(name: str) -> str:
    """What `name` looks like: NFKC-normalized, with Cyrillic and Greek look-alikes made Latin.
    Two names with the same skeleton cannot be told apart on screen."""
    return unicodedata.normalize("NFKC", name).translate(LOOK_ALIKES)


def look_alike_problem(kind: str, name: str, seen: dict[str, str]) -> str | None:
    """Why `name` is refused next to the names of its kind already in `seen` (skeleton ->
    name), or None; `name` is added to `seen` when it is new."""
    other = seen.setdefault(skeleton(name), name)
    if other != name:
        return f"{kind} {name!r} looks the same as {kind} {other!r} (they differ only by look-alike characters)"
    return None


# ---------------------------------------------------------------- tables

# Each table: key -> converter. List items are converted by ITEMS[key] when present.
NEWSMON_KEYS: dict[str, Callable[[Any], Any]] = {
    "state_dir": nonempty_string,
    "poll_interval": parse_duration,
    "user_agent": nonempty_string,
    "default_channels": string_list,
    "include": string_list,
    "allow_private_networks": string_list,
    "max_connections": positive_int,
    "max_connections_per_host": positive_int,
    "request_timeout": parse_duration,
    "max_feed_size": parse_size,
    "max_page_size": parse_size,
    "max_backoff": parse_duration,
    "parse_timeout": parse_duration,
    "worker_memory": parse_size,
    "story_window": parse_duration,
    "retention": parse_duration,
    "alert_max_age": parse_duration,
    "admin_channels": string_list,
    "stop_grace": parse_duration,
    "failing_alert_after": parse_duration,
    "heartbeat_url": nonempty_string,  # ${VAR} expanded, then checked, by config._settings
    "http": lambda value: value,  # a table, checked by config._settings
    "severity": lambda value: value,  # a table (SEVERITY_KEYS), checked by config._settings
    "material_toll_change": lambda value: value,  # an inline table (MATERIAL_KEYS), likewise
}
HTTP_KEYS: dict[str, Callable[[Any], Any]] = {"listen": nonempty_string}


def count(value: Any) -> int:
    """A whole number, 0 or more."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Invalid(f"expected a whole number, 0 or more, got {describe(value)}")
    return value


def percent(value: Any) -> float:
    """A percentage: 25 or "25%"."""
    text = value.strip().removesuffix("%").strip() if isinstance(value, str) else value
    try:
        number = float(text) if not isinstance(text, bool) else -1.0
    except (TypeError, ValueError):
        number = -1.0
    if not 0 <= number <= 1000:
        raise Invalid(f"expected a percentage such as 25 or \"25%\", got {describe(value)}")
    return number


SEVERITY_LEVELS = ("low", "medium", "high", "critical")
SEVERITY_KEYS: dict[str, Callable[[Any], Any]] = {  # [newsmon.severity]: model.SeverityGrades
    "critical_killed": count, "high_killed": count, "medium_killed": count, "high_injured": count,
    "medium_injured": count, "near_site": choice(*SEVERITY_LEVELS), "otherwise": choice(*SEVERITY_LEVELS),
}
MATERIAL_KEYS: dict[str, Callable[[Any], Any]] = {"percent": percent, "at_least": count}  # model.MaterialChange
FEED_KEYS: dict[str, Callable[[Any], Any]] = {
    "url": http_url,
    "name": nonempty_string,
    "outlet": nonempty_string,
    "interval": parse_duration,
    "full_text": boolean,
    "tags": string_list,
    "alert_on_first_poll": boolean,
    "proxy": proxy_url,
    "expect_every": parse_duration,
}
ENTITY_KEYS: dict[str, Callable[[Any], Any]] = {
    "names": string_list,
    "kind": choice(*ENTITY_KINDS),
    "case": choice("auto", "sensitive", "insensitive"),
    "context": string_list,
    "context_window": positive_int,
    "ambiguous": string_list,
    "exclude": string_list,
    "extends": nonempty_string,
    "contains": string_list,  # a region's places (ids of the gazetteer, bundled or [places.ID])
}
RULE_KEYS: dict[str, Callable[[Any], Any]] = {
    "name": nonempty_string,
    "all": string_list,
    "any": string_list,
    "none": string_list,
    "query": nonempty_string,
    "feed_tags": string_list,
    "channels": string_list,
    "on_update": choice("ignore", "new_hits", "material"),
    "near": string_list,  # names of [[sites]]
    "group_wait": lambda value: 0.0 if value in ("0", "0s") else parse_duration(value),
    "severity": choice("low", "medium", "high", "critical", "auto"),
}
ITEMS: dict[str, Callable[[Any], Any]] = {
    "default_channels": nonempty_string,
    "admin_channels": nonempty_string,
    "include": nonempty_string,
    "allow_private_networks": network,
    "tags": nonempty_string,
    "names": nonempty_string,
    "all": nonempty_string,
    "any": nonempty_string,
    "none": nonempty_string,
    "channels": nonempty_string,
    "context": nonempty_string,
    "ambiguous": nonempty_string,
    "exclude": nonempty_string,
    "feed_tags": nonempty_string,
}
REQUIRED = {"feeds": ("url",), "entities": ("names",), "rules": ("name",)}
TOP_KEYS = ("newsmon", "feeds", "channels", "entities", "rules", "places", "sites")
INCLUDE_KEYS = ("feeds", "entities", "rules", "places")
SITE_KEYS = ("name", "place", "lat", "lon", "radius", "note")


def parse_radius(value: Any) -> float:
    """Kilometres in a radius such as "10km", "500m" or a number of km; raises `Invalid`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        km = float(value)
    elif isinstance(value, str) and (found := re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(km|m)\s*", value.lower())):
        km = float(found.group(1)) / (1000 if found.group(2) == "m" else 1)
    else:
        raise Invalid(f"expected a distance such as \"10km\" or \"500m\", got {describe(value)}")
    if not 0 < km <= 500:
        raise Invalid(f"a radius must be more than 0 and at most 500 km, got {value!r}")
    return km


# a [places.ID] table: a place of the user's, in the gazetteer's form (monitor.places)
PLACE_KEYS = ("names", "kind", "inside", "lat", "lon", "ambiguous", "context", "not_near", "exclude", "person", "note")


# ---------------------------------------------------------------- checking


class Checker:
    """Collects problems while checking tables against their schema."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.file = ""

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, path, message))

    def table(self, raw: Any, path: str, schema: dict[str, Callable[[Any], Any]], required: tuple[str, ...] = ()) -> dict[str, Any]:
        """Check a table against its schema; returns the keys that passed, converted."""
        if not isinstance(raw, dict):
            self.problem(path, f"expected a table, got {describe(raw)}")
            return {}
        out: dict[str, Any] = {}
        for key, value in raw.items():
            where = f"{path}.{key}" if path else key
            convert = schema.get(key)
            if convert is None:
                self.problem(where, f"unknown key {key!r}{suggest(key, schema)}")
                continue
            try:
                converted = convert(value)
            except Invalid as error:
                self.problem(where, str(error))
                continue
            if isinstance(converted, tuple) and key in ITEMS:
                converted = self.items(converted, where, ITEMS[key])
            out[key] = converted
        for key in required:
            if key not in raw:
                self.problem(path, f"missing required key {key!r}")
        return out

    def items(self, values: tuple, path: str, convert: Callable[[Any], Any]) -> tuple:
        out = []
        for index, value in enumerate(values):
            try:
                out.append(convert(value))
            except Invalid as error:
                self.problem(f"{path}[{index}]", str(error))
        return tuple(out)
