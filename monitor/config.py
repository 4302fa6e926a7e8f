"""Reading and checking the configuration: TOML files in, a `Config` out, or a `ConfigError`
listing every problem found (never just the first).

The schema is data (`NEWSMON_KEYS`, `FEED_KEYS`, ... in `monitor.schema`): each key maps to a
converter that takes the raw TOML value and returns the checked value or raises `Invalid` with a
message.
"""

from __future__ import annotations

import glob
import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor import __version__
from monitor.errors import ConfigError, Problem
from monitor.model import ChannelSpec, Entity, FeedSpec, Rule
from monitor.schema import (CHANNEL_KEYS, ENTITY_KEYS, FEED_KEYS, HTTP_KEYS, INCLUDE_KEYS, ITEMS, NEWSMON_KEYS, REQUIRED,
                            RULE_KEYS, TOP_KEYS, Invalid, describe, nonempty_string, suggest)
from monitor.schema import parse_duration, parse_size  # re-exported: callers use config.parse_duration, ...

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

    def admin_channels(self) -> tuple[str, ...]:
        """Where newsmon's own notices (a feed gone silent) go: admin_channels, else every channel."""
        if self.settings.admin_channels is not None:
            return self.settings.admin_channels
        return tuple(channel.name for channel in self.channels)

    def rule_channels(self, rule: Rule) -> tuple[str, ...]:
        """The channels a rule's alerts go to."""
        if rule.channels:
            return rule.channels
        if self.settings.default_channels is not None:
            return self.settings.default_channels
        return tuple(channel.name for channel in self.channels)


ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
TERM_PREFIX = re.compile(r"^(.*?)\*$")


# ---------------------------------------------------------------- reading


class _Reader:
    """Collects problems while reading one configuration."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ
        self.problems: list[Problem] = []
        self.file = ""

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, path, message))

    def load_toml(self, path: Path) -> dict | None:
        self.file = str(path)
        try:
            with open(path, "rb") as handle:
                return tomllib.load(handle)
        except FileNotFoundError:
            self.problem("", "file not found")
        except IsADirectoryError:
            self.problem("", "is a directory, not a TOML file")
        except PermissionError:
            self.problem("", "permission denied")
        except UnicodeDecodeError as error:
            self.problem("", f"not UTF-8 text ({error.reason})")
        except tomllib.TOMLDecodeError as error:
            message = str(error)
            place = re.search(r"\(at line (\d+), column (\d+)\)", message)
            text = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
            if place:
                self.problems.append(Problem(self.file, "", f"invalid TOML: {text}",
                                             int(place.group(1)), int(place.group(2))))
            else:
                self.problem("", f"invalid TOML: {text}")
        return None

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

    def secret(self, name: str) -> str | None:
        """`name` from the environment, else from systemd's credentials directory
        ($CREDENTIALS_DIRECTORY/name, as LoadCredential= provides), else None."""
        if name in self.environ:
            return self.environ[name]
        directory = self.environ.get("CREDENTIALS_DIRECTORY")
        if directory:
            try:
                return (Path(directory) / name).read_text(encoding="utf-8").strip()
            except OSError:
                return None
        return None

    def expand(self, text: str, path: str) -> str:
        """`${VAR}` replaced from the environment or credentials; "" (and a problem) if unset."""
        values = {name: self.secret(name) for name in ENV_REFERENCE.findall(text)}
        missing = [name for name, value in values.items() if value is None]
        for name in missing:
            where = " (nor a credential of that name)" if self.environ.get("CREDENTIALS_DIRECTORY") else ""
            self.problem(path, f"environment variable {name!r} is not set{where}")
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
                                              "config.example.toml is a start")])


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


def read(path: Path | str, environ: Mapping[str, str] | None = None) -> tuple[Config, list[Problem]]:
    """Like `load`, but returns the best-effort `Config` together with the problems, so that
    later checks (channel URLs, rule compilation) can add theirs to the same report."""
    environ = os.environ if environ is None else environ
    path = Path(path)
    reader = _Reader(environ)
    raw = reader.load_toml(path)
    base = path.resolve().parent
    files = [path]
    feeds_raw: list[tuple[str, int, Any]] = []
    entities_raw: list[tuple[str, str, Any]] = []
    rules_raw: list[tuple[str, int, Any]] = []
    settings_raw: dict[str, Any] = {}
    channels: list[ChannelSpec] = []
    if raw is not None:
        for key in raw:
            if key not in TOP_KEYS:
                reader.problem(key, f"unknown key {key!r}{suggest(key, TOP_KEYS)}")
        settings_raw = reader.table(raw.get("newsmon", {}), "newsmon", NEWSMON_KEYS)
        _collect(reader, raw, str(path), feeds_raw, entities_raw, rules_raw)
        channels = _channels(reader, raw.get("channels", {}))
    for pattern in settings_raw.get("include", ("watchlist.d/*.toml",)):
        expanded = _expand_user(pattern, environ)
        full = expanded if os.path.isabs(expanded) else os.path.join(glob.escape(str(base)), expanded)
        matches = sorted(glob.glob(full))
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
            _collect(reader, included, match, feeds_raw, entities_raw, rules_raw)
    reader.file = str(path)
    settings = _settings(reader, settings_raw, base, environ)
    entities = _entities(reader, entities_raw)
    channel_names = [c.name for c in channels]
    entity_names = {e.name for e in entities}
    for key in ("default_channels", "admin_channels"):
        for index, name in enumerate(getattr(settings, key) or ()):
            if name not in channel_names:
                reader.problem(f"newsmon.{key}[{index}]", f"unknown channel {name!r}{suggest(name, channel_names)}")
    config = Config(
        path=path,
        settings=settings,
        feeds=_feeds(reader, feeds_raw),
        channels=tuple(channels),
        entities=tuple(entities),
        rules=_rules(reader, rules_raw, channel_names, entity_names),
        files=tuple(files),
    )
    return config, reader.problems


def _expand_user(path: str, environ: Mapping[str, str]) -> str:
    """`~` at the start of a path is the HOME of the given environment."""
    if path == "~" or path.startswith("~/"):
        return environ.get("HOME", str(Path.home())) + path[1:]
    return path


def _collect(reader: _Reader, raw: dict, file: str, feeds: list, entities: list, rules: list) -> None:
    reader.file = file
    for key, sink in (("feeds", feeds), ("rules", rules)):
        value = raw.get(key, [])
        if not isinstance(value, list):
            reader.problem(key, f"expected an array of tables ([[{key}]]), got {describe(value)}")
            continue
        sink.extend((file, index, item) for index, item in enumerate(value))
    value = raw.get("entities", {})
    if not isinstance(value, dict):
        reader.problem("entities", f"expected tables [entities.NAME], got {describe(value)}")
        return
    entities.extend((file, name, item) for name, item in value.items())


LISTEN = re.compile(r"^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d{1,5})$")


def _settings(reader: _Reader, raw: dict, base: Path, environ: Mapping[str, str]) -> Settings:
    state_dir = default_state_dir(environ)
    if "state_dir" in raw:
        state_dir = base / _expand_user(raw["state_dir"], environ)
    values = {key: value for key, value in raw.items() if key not in ("state_dir", "default_channels", "http")}
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
    return Settings(state_dir=state_dir, **values)


def _channels(reader: _Reader, raw: Any) -> list[ChannelSpec]:
    if not isinstance(raw, dict):
        reader.problem("channels", f"expected tables [channels.NAME], got {describe(raw)}")
        return []
    channels = []
    for name, table in raw.items():
        checked = reader.table(table, f"channels.{name}", CHANNEL_KEYS, REQUIRED["channels"])
        urls = tuple(reader.expand(url, f"channels.{name}.urls[{index}]") for index, url in enumerate(checked.get("urls", ())))
        if "urls" in checked and not urls:
            reader.problem(f"channels.{name}.urls", "a channel needs at least one apprise URL")
        channels.append(ChannelSpec(name=name, urls=urls))
    return channels


def _entities(reader: _Reader, raw: list) -> list[Entity]:
    entities: dict[str, Entity] = {}
    for file, name, table in raw:
        reader.file = file
        path = f"entities.{name}"
        extends = isinstance(table, dict) and "extends" in table
        checked = reader.table(table, path, ENTITY_KEYS, () if extends else REQUIRED["entities"])
        if name in entities:
            reader.problem(path, f"entity {name!r} is defined twice")
            continue
        if name.startswith("pack."):
            reader.problem(path, f"entity names starting with 'pack.' belong to the bundled pack: {name!r}")
        if "names" in checked and not checked["names"] and not extends:
            reader.problem(f"{path}.names", "an entity needs at least one name")
        entities[name] = _entity(reader, path, name, checked)
    return list(entities.values())


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
            reader.problem(f"{path}.url", f"feed {checked['url']!r} is listed twice (also in {seen[checked['url']]})")
            continue
        seen[checked["url"]] = f"{file} {path}"
        feeds.append(FeedSpec(**checked))
    return tuple(feeds)


def _rules(reader: _Reader, raw: list, channel_names: list[str], entity_names: set[str]) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    seen: set[str] = set()
    for file, index, table in raw:
        reader.file = file
        path = f"rules[{index}]"
        checked = reader.table(table, path, RULE_KEYS, REQUIRED["rules"])
        name = checked.get("name")
        if name is not None:
            if name in seen:
                reader.problem(f"{path}.name", f"duplicate rule name {name!r}")
            seen.add(name)
        for key in ("all", "any", "none"):
            for position, term in enumerate(checked.get(key, ())):
                message = term_problem(term, entity_names)
                if message:
                    reader.problem(f"{path}.{key}[{position}]", message)
        if "query" in checked:
            _query_problems(reader, path, checked["query"], entity_names)
        for position, channel in enumerate(checked.get("channels", ())):
            if channel not in channel_names:
                reader.problem(f"{path}.channels[{position}]", f"unknown channel {channel!r}{suggest(channel, channel_names)}")
        if isinstance(table, dict) and not checked.get("all") and not checked.get("any") and "query" not in table:
            reader.problem(path, "a rule needs at least one positive term in 'all' or 'any' (or a 'query')")
        if name:
            rules.append(Rule(name=name, **{k: checked[k] for k in ("all", "any", "none", "query", "feed_tags", "channels", "on_update",
                                                                    "group_wait") if k in checked}))
    return tuple(rules)


def term_problem(term: str, entity_names: set[str]) -> str | None:
    """Why a rule term is unusable, or None."""
    if term.startswith("@"):
        name = term[1:]
        if name not in entity_names:
            if name.startswith("pack."):
                pack = _pack_entities()
                return None if name in pack else f"unknown pack entity {name!r}{suggest(name, pack)}"
            return f"unknown entity {name!r}{suggest(name, entity_names)}"
        return None
    if not any(ch.isalnum() for ch in term):
        return f"a term needs at least one letter or digit: {term!r}"
    prefix = TERM_PREFIX.match(term.strip())
    if prefix and sum(ch.isalpha() for ch in prefix.group(1)) < 3:
        return f"a prefix term needs at least 3 letters before '*': {term!r}"
    if "*" in term.strip()[:-1]:
        return f"'*' may only end a term: {term!r}"
    return None


# ---------------------------------------------------------------- entities, queries, packs


def _pack_entities() -> dict[str, Entity]:
    from monitor import packs  # the bundled pack is read on first use only

    return packs.entities()


def _name_problem(alias: str) -> str | None:
    """Why an entity name cannot match, or None."""
    if alias.strip().startswith("@"):
        return f"a name cannot start with '@': {alias!r}"
    return term_problem(alias, set())


def _entity(reader: _Reader, path: str, name: str, checked: dict[str, Any]) -> Entity:
    """The entity of a checked [entities.NAME] table, with the pack entity it `extends` merged
    in (its names and list settings first, then this table's); problems go to `reader`."""
    base: Entity | None = None
    extends = checked.get("extends")
    if extends is not None:
        pack = _pack_entities()
        base = pack.get(extends)
        if base is None:
            reader.problem(f"{path}.extends", f"unknown pack entity {extends!r}{suggest(extends, pack)}")
    for index, alias in enumerate(checked.get("names", ())):
        message = _name_problem(alias)
        if message:
            reader.problem(f"{path}.names[{index}]", message)
    for key in ("context", "exclude"):
        for index, term in enumerate(checked.get(key, ())):
            message = (f"{key} terms are phrases, not entities: {term!r}" if term.strip().startswith("@")
                       else term_problem(term, set()))
            if message:
                reader.problem(f"{path}.{key}[{index}]", message)

    def merged(key: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*(getattr(base, key) or () if base else ()), *checked.get(key, ()))))

    names, context, exclude = merged("names"), merged("context"), merged("exclude")
    ambiguous = merged("ambiguous") if "ambiguous" in checked or (base and base.ambiguous is not None) else None
    for index, alias in enumerate(checked.get("ambiguous", ())):
        if alias not in names:
            reader.problem(f"{path}.ambiguous[{index}]", f"{alias!r} is not one of the entity's names{suggest(alias, names)}")
    if checked.get("ambiguous") and not context and not exclude:
        reader.problem(f"{path}.ambiguous", "ambiguous names need 'context' terms (or 'exclude' phrases) to be judged by")
    return Entity(name=name, names=names, kind=checked.get("kind", base.kind if base else "actor"),
                  case=checked.get("case", base.case if base else "auto"), context=context,
                  context_window=checked.get("context_window", base.context_window if base else 20),
                  ambiguous=ambiguous, exclude=exclude, extends=extends)


def _query_problems(reader: _Reader, path: str, query: str, entity_names: set[str]) -> None:
    """Report a rule query that does not parse, names an unknown entity or a bad term, or holds
    without any of its terms; each problem shows the query with a caret under the place."""
    from monitor import query as querymod

    try:
        tree = querymod.parse_query(query)
    except querymod.QuerySyntaxError as error:
        reader.problem(f"{path}.query", querymod.show_position(query, error.position, f"bad query: {error.message}"))
        return
    for term in querymod.query_terms(tree):
        message = term_problem(term.text, entity_names)
        if message:
            reader.problem(f"{path}.query", querymod.show_position(query, term.position, f"bad query: {message}"))
    if querymod.query_holds_without_terms(tree):
        reader.problem(f"{path}.query", querymod.show_position(
            query, 0, "bad query: it holds for an article that has none of its terms; add a term that must appear"))


def _is_latin_name(alias: str) -> bool:
    return all(ord(ch) < 0x0250 or 0x1E00 <= ord(ch) <= 0x1EFF for ch in alias if ch.isalpha())


def pack_problems() -> list[Problem]:
    """Every problem in the bundled pack files, checked like a user's entities (`note` allowed,
    `extends` not), plus any name not in the Latin script without a note in [sources]."""
    from monitor import packs

    reader = _Reader({})
    schema = {**{key: value for key, value in ENTITY_KEYS.items() if key != "extends"}, "note": nonempty_string}
    for file in packs.FILES:
        reader.file = f"monitor/packs/{file}"
        data = packs.raw(file)
        for key in data:
            if key not in ("entities", "sources"):
                reader.problem(key, f"unknown key {key!r}: a pack holds [entities.NAME] tables and [sources]")
        sources = data.get("sources", {})
        every_name: set[str] = set()
        for name, table in data.get("entities", {}).items():
            path = f"entities.{name}"
            checked = reader.table(table, path, schema, REQUIRED["entities"])
            _entity(reader, path, packs.PREFIX + name, checked)
            for index, alias in enumerate(checked.get("names", ())):
                every_name.add(alias)
                if not _is_latin_name(alias) and not str(sources.get(alias, "")).strip():
                    reader.problem(f"{path}.names[{index}]", f"{alias!r} needs a note of where it comes from in [sources]")
        for alias in sources:
            if alias not in every_name:
                reader.problem(f"sources.{alias}", "no entity has this name")
    return reader.problems
