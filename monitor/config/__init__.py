"""Reading and checking the configuration: TOML files in, a `Config` out, or a `ConfigError`
listing every problem found (never just the first).

The schema is data (`NEWSMON_KEYS`, `FEED_KEYS`, ... in `monitor.config.schema`): each key maps to a
converter that takes the raw TOML value and returns the checked value or raises `Invalid` with a
message.
"""

from __future__ import annotations

import fnmatch
import glob
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor import __version__, shown, urls
from monitor.config import channels as channels_module, geography, watchlist
from monitor.config.files import MAX_FILE_SIZE, MAX_NESTING, NotReadable, read_regular_file, text_problem
from monitor.config.secrets import Secrets
from monitor.config.secrets import env_file, parse_env  # noqa: F401 - re-exported
from monitor.errors import ConfigError, Problem
from monitor.model import ChannelSpec, Entity, FeedSpec, MaterialChange, Rule, SeverityGrades, Site
from monitor.config.schema import (FEED_KEYS, HTTP_KEYS, INCLUDE_KEYS, MATERIAL_KEYS, NEWSMON_KEYS, REQUIRED,
                                   SEVERITY_KEYS, TOP_KEYS, Checker, describe, suggest)
from monitor.config.schema import Invalid  # re-exported: callers catch config.Invalid
from monitor.config.schema import parse_duration, parse_size  # re-exported: callers use config.parse_duration, ...
from monitor.config.watchlist import pack_problems, term_problem  # re-exported: callers use config.pack_problems, ...

DEFAULT_USER_AGENT = f"newsmon/{__version__} (+https://github.com/newsmon/newsmon)"


@dataclass(frozen=True)
class Settings:
    """The `[newsmon]` table, checked and with defaults filled in."""

    state_dir: Path
    poll_interval: float = 900.0
    user_agent: str = DEFAULT_USER_AGENT
    default_channels: tuple[str, ...] | None = None  # None: every channel
    include: tuple[str, ...] = ("watchlist.d/*.toml",)
    allow_private_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    max_connections: int = 8
    max_connections_per_host: int = 2
    request_timeout: float = 30.0
    max_feed_size: int = 10 * 1000 * 1000
    max_page_size: int = 5 * 1000 * 1000
    max_backoff: float = 6 * 3600.0
    parse_timeout: float = 20.0
    worker_memory: int = 1000 * 1000 * 1000
    story_window: float = 72 * 3600.0
    retention: float = 90 * 86400.0
    alert_max_age: float = 7 * 86400.0
    admin_channels: tuple[str, ...] | None = None  # None: every channel
    stop_grace: float = 10.0
    http_listen: str | None = None  # "127.0.0.1:9464": serve /metrics and /healthz
    failing_alert_after: float = 3600.0  # a channel failing this long: one notice on the admin channels
    heartbeat_url: str | None = None  # fetched (GET) while healthy: a dead man's switch such as healthchecks.io
    severity: SeverityGrades = SeverityGrades()  # [newsmon.severity]: rules with severity = "auto"
    material_toll_change: MaterialChange = MaterialChange()  # rules with on_update = "material"

    @property
    def database(self) -> Path:
        return self.state_dir / "newsmon.db"


@dataclass(frozen=True)
class Config:
    """A whole configuration: the main file and its includes."""

    path: Path
    settings: Settings
    feeds: tuple[FeedSpec, ...]
    channels: tuple[ChannelSpec, ...]
    entities: tuple[Entity, ...]
    rules: tuple[Rule, ...]
    files: tuple[Path, ...]  # every file read, the main one first
    places: tuple[tuple[str, dict], ...] = ()  # [places.ID] tables: the user's own places, as written
    sites: tuple[Site, ...] = ()  # [[sites]]: the places the user watches (a `place` is looked up by app)

    def channel(self, name: str) -> ChannelSpec | None:
        return next((channel for channel in self.channels if channel.name == name), None)


ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


# ---------------------------------------------------------------- reading


class _Reader(Checker):
    """Collects problems while reading one configuration."""

    def __init__(self, environ: Mapping[str, str], secrets: Secrets, overlay: Mapping[Path, str | None] | None = None):
        super().__init__()
        self.environ = environ
        self.secrets = secrets
        # files as an edit would leave them (text, or None: removed), read instead of the disk's
        self.overlay = {Path(os.path.abspath(path)): text for path, text in (overlay or {}).items()}

    def matching(self, pattern: str) -> list[str]:
        """The files a glob pattern matches, as the overlay would leave them."""
        found = set(glob.glob(pattern))
        for path, text in self.overlay.items():
            if text is None:
                found.discard(str(path))
            elif fnmatch.fnmatchcase(str(path), pattern):
                found.add(str(path))
        return sorted(found)

    def load_toml(self, path: Path) -> dict | None:
        """The TOML table of the file at `path`, or None (and a problem) when it cannot be read
        or parsed. Only a regular file of at most MAX_FILE_SIZE bytes is read, and its text must
        keep within the nesting, key and line limits before tomllib sees it."""
        self.file = str(path)
        try:
            overlaid = self.overlay.get(Path(os.path.abspath(path)), False) if self.overlay else False
            if overlaid is None:
                raise FileNotFoundError(path)
            text = overlaid if isinstance(overlaid, str) else read_regular_file(path, MAX_FILE_SIZE).decode("utf-8")
        except NotReadable as error:
            self.problem("", f"{error}; a configuration file may be at most 1 MB" if error.too_large else str(error))
            return None
        except FileNotFoundError:
            self.problem("", "file not found")
            return None
        except PermissionError:
            self.problem("", "permission denied")
            return None
        except OSError as error:
            self.problem("", f"cannot read: {(error.strerror or type(error).__name__).lower()}")
            return None
        except UnicodeDecodeError as error:
            self.problem("", f"not UTF-8 text ({error.reason})")
            return None
        found = text_problem(text)
        if found:
            line, message = found
            self.problems.append(Problem(self.file, "", message, line, 1))
            return None
        try:
            return tomllib.loads(text)
        except RecursionError:  # text_problem should have caught it first
            self.problem("", f"too deeply nested (at most {MAX_NESTING} arrays or inline tables inside one another)")
        except tomllib.TOMLDecodeError as error:
            message = str(error)
            place = re.search(r"\(at line (\d+), column (\d+)\)", message)
            reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
            if place:
                self.problems.append(Problem(self.file, "", f"invalid TOML: {reason}",
                                             int(place.group(1)), int(place.group(2))))
            else:
                self.problem("", f"invalid TOML: {reason}")
        return None

    def expand(self, text: str, path: str) -> str:
        """`${VAR}` replaced from the environment, credentials or env file; "" (and a problem)
        if unset."""
        values = {name: self.secrets.get(name) for name in ENV_REFERENCE.findall(text)}
        missing = [name for name, value in values.items() if value is None]
        for name in missing:
            self.problem(path, f"environment variable {name!r} is not set (looked in {self.secrets.looked(name)})")
        if missing:
            return ""
        return ENV_REFERENCE.sub(lambda found: values[found.group(1)], text)


def find_config(explicit: str | None, environ: Mapping[str, str]) -> Path:
    """Which configuration file to read: --config, $NEWSMON_CONFIG, the user's, the system's."""
    if explicit:
        return Path(explicit)
    if environ.get("NEWSMON_CONFIG"):
        return Path(environ["NEWSMON_CONFIG"])
    home = Path(environ.get("HOME", str(Path.home())))
    candidates = [
        Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "newsmon" / "config.toml",
        Path("/etc/newsmon/config.toml"),
    ]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise ConfigError([Problem("newsmon", "", f"no configuration file found (looked for {looked}); "
                                              "pass --config PATH or set NEWSMON_CONFIG; "
                                              "'newsmon init' writes a starter one")])


def default_state_dir(environ: Mapping[str, str]) -> Path:
    """$STATE_DIRECTORY (systemd), else $XDG_STATE_HOME/newsmon, else ~/.local/state/newsmon."""
    if environ.get("STATE_DIRECTORY"):
        return Path(environ["STATE_DIRECTORY"].split(":")[0])
    if environ.get("XDG_STATE_HOME"):
        return Path(environ["XDG_STATE_HOME"]) / "newsmon"
    home = Path(environ.get("HOME", str(Path.home())))
    return home / ".local" / "state" / "newsmon"


def load(path: Path | str, environ: Mapping[str, str] | None = None) -> Config:
    """Read and check the configuration at `path` and its includes.

    Raises `ConfigError` listing every problem found."""
    config, problems = read(path, environ)
    if problems:
        raise ConfigError(problems)
    return config


def read(path: Path | str, environ: Mapping[str, str] | None = None, *,
         overlay: Mapping[Path, str | None] | None = None) -> tuple[Config, list[Problem]]:
    """Like `load`, but returns the best-effort `Config` together with the problems, so that
    later checks (channel URLs, rule compilation) can add theirs to the same report. `overlay`:
    files as an edit would leave them (path -> text, or None for a file removed), read instead
    of what the disk holds, so that an edit is checked whole before it is written."""
    environ = os.environ if environ is None else environ
    path = Path(path)
    reader = _Reader(environ, Secrets(environ, path), overlay)
    raw = reader.load_toml(path)
    base = path.resolve().parent
    files = [path]
    feeds_raw: list[tuple[str, int, Any]] = []
    entities_raw: list[tuple[str, str, Any]] = []
    places_raw: list[tuple[str, str, Any]] = []
    rules_raw: list[tuple[str, int, Any]] = []
    settings_raw: dict[str, Any] = {}
    channels: list[ChannelSpec] = []
    if raw is not None:
        for key in raw:
            if key not in TOP_KEYS:
                reader.problem(key, f"unknown key {key!r}{suggest(key, TOP_KEYS)}")
        settings_raw = reader.table(raw.get("newsmon", {}), "newsmon", NEWSMON_KEYS)
        _collect(reader, raw, str(path), feeds_raw, entities_raw, rules_raw, places_raw)
        channels = channels_module.read(reader, raw.get("channels", {}), base)
    for pattern in settings_raw.get("include", ("watchlist.d/*.toml",)):
        expanded = _expand_user(pattern, environ)
        full = expanded if os.path.isabs(expanded) else os.path.join(glob.escape(str(base)), expanded)
        matches = reader.matching(full)
        if not matches and not glob.has_magic(pattern):
            reader.file = str(path)
            reader.problem("newsmon.include", f"included file {pattern!r} not found (looked for {full})")
        for match in matches:
            included = reader.load_toml(Path(match))
            files.append(Path(match))
            if included is None:
                continue
            for key in included:
                if key not in INCLUDE_KEYS:
                    reader.problem(key, f"an included file may hold only [[feeds]], [entities.NAME] and [[rules]], not {key!r}")
            _collect(reader, included, match, feeds_raw, entities_raw, rules_raw, places_raw)
    reader.file = str(path)
    settings = _settings(reader, settings_raw, base, environ)
    entities = watchlist.entities(reader, entities_raw)
    channel_names = [c.name for c in channels]
    entity_names = {e.name for e in entities}
    for key in ("default_channels", "admin_channels"):
        for index, name in enumerate(getattr(settings, key) or ()):
            if name not in channel_names:
                reader.problem(f"newsmon.{key}[{index}]", f"unknown channel {name!r}{suggest(name, channel_names)}")
    sites = geography.sites(reader, raw.get("sites", []) if raw is not None else [])
    reader.file = str(path)
    rules = watchlist.rules(reader, rules_raw, channel_names, entity_names, tuple(site.name for site in sites))
    config = Config(
        path=path,
        settings=settings,
        feeds=_feeds(reader, feeds_raw),
        channels=tuple(channels),
        entities=tuple(entities),
        rules=rules,
        files=tuple(files),
        places=geography.places(reader, places_raw),
        sites=sites,
    )
    return config, reader.problems


def _expand_user(path: str, environ: Mapping[str, str]) -> str:
    """`~` at the start of a path is the HOME of the given environment."""
    if path == "~" or path.startswith("~/"):
        return environ.get("HOME", str(Path.home())) + path[1:]
    return path


def _collect(reader: _Reader, raw: dict, file: str, feeds: list, entities: list, rules: list, places: list) -> None:
    reader.file = file
    for key, sink in (("feeds", feeds), ("rules", rules)):
        value = raw.get(key, [])
        if not isinstance(value, list):
            reader.problem(key, f"expected an array of tables ([[{key}]]), got {describe(value)}")
            continue
        sink.extend((file, index, item) for index, item in enumerate(value))
    for key, sink in (("entities", entities), ("places", places)):
        value = raw.get(key, {})
        if not isinstance(value, dict):
            reader.problem(key, f"expected tables [{key}.NAME], got {describe(value)}")
            continue
        sink.extend((file, name, item) for name, item in value.items())


LISTEN = re.compile(r"^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d{1,5})$")


def _settings(reader: _Reader, raw: dict, base: Path, environ: Mapping[str, str]) -> Settings:
    state_dir = default_state_dir(environ)
    if "state_dir" in raw:
        state_dir = base / _expand_user(raw["state_dir"], environ)
    values = {key: value for key, value in raw.items()
              if key not in ("state_dir", "default_channels", "http", "severity", "material_toll_change")}
    if "severity" in raw:
        values["severity"] = SeverityGrades(**reader.table(raw["severity"], "newsmon.severity", SEVERITY_KEYS))
    if "material_toll_change" in raw:
        values["material_toll_change"] = MaterialChange(**reader.table(
            raw["material_toll_change"], "newsmon.material_toll_change", MATERIAL_KEYS))
    if "http" in raw:
        http = reader.table(raw["http"], "newsmon.http", HTTP_KEYS)
        listen = http.get("listen")
        if listen is not None:
            found = LISTEN.match(listen)
            if not found or not 0 < int(found.group(3)) < 65536:
                reader.problem("newsmon.http.listen", f"expected HOST:PORT such as \"127.0.0.1:9464\", got {listen!r}")
            else:
                values["http_listen"] = listen
    if "default_channels" in raw:
        values["default_channels"] = raw["default_channels"]
    if "heartbeat_url" in raw:  # may hold a secret: ${VAR} like a channel URL, never repeated in a message
        expanded = reader.expand(raw["heartbeat_url"].strip(), "newsmon.heartbeat_url")
        values["heartbeat_url"] = expanded if expanded and urls.web_url(expanded) else None
        if expanded and not values["heartbeat_url"]:
            reader.problem("newsmon.heartbeat_url", "expected an http:// or https:// URL (such as a healthchecks.io "
                                                    "ping URL; not shown here: it may hold a secret)")
    return Settings(state_dir=state_dir, **values)


def _feeds(reader: _Reader, raw: list) -> tuple[FeedSpec, ...]:
    feeds: list[FeedSpec] = []
    seen: dict[str, str] = {}
    for file, index, table in raw:
        reader.file = file
        path = f"feeds[{index}]"
        checked = reader.table(table, path, FEED_KEYS, REQUIRED["feeds"])
        if "url" not in checked:
            continue
        if checked["url"] in seen:
            reader.problem(f"{path}.url", f"feed {shown.url(checked['url'])!r} is listed twice (also in {seen[checked['url']]})")
            continue
        seen[checked["url"]] = f"{file} {path}"
        feeds.append(FeedSpec(**checked))
    return tuple(feeds)
