"""What changed between two configurations, by name: feeds, rules, entities, channels and
settings. Pure; the daemon logs it at a reload and `newsmon reload` prints it. Names only:
a channel's URLs hold secrets; feeds by their URLs without credentials (`monitor.shown`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from monitor import shown

if TYPE_CHECKING:
    from monitor.config import Config


def _by(items: Iterable[Any], key: Callable[[Any], str]) -> dict[str, Any]:
    return {key(item): item for item in items}


def _compare(kind: str, old: dict[str, Any], new: dict[str, Any], detail: bool = False,
             show: Callable[[str], str] = str) -> list[str]:
    """One line per item added, removed or changed; `show` gives how an item's key is shown."""
    lines = [f"{kind} added: {show(name)}" for name in new if name not in old]
    lines += [f"{kind} removed: {show(name)}" for name in old if name not in new]
    for name in new:
        if name in old and old[name] != new[name]:
            what = ""
            if detail:
                keys = [f.name for f in fields(new[name]) if getattr(old[name], f.name) != getattr(new[name], f.name)]
                what = f" ({', '.join(keys)})"
            lines.append(f"{kind} changed: {show(name)}{what}")
    return lines


def between(old: Config, new: Config, restart: Iterable[str] = ()) -> list[str]:
    """One line per change, e.g. "feed added: https://...", "rule changed: ttp-in-kp",
    "setting changed: poll_interval"; settings named in `restart` say they apply after a
    restart. Empty when nothing changed."""
    restart = set(restart)
    lines = _compare("feed", _by(old.feeds, lambda f: f.url), _by(new.feeds, lambda f: f.url), detail=True,
                     show=shown.url)
    lines += _compare("rule", _by(old.rules, lambda r: r.name), _by(new.rules, lambda r: r.name))
    lines += _compare("entity", _by(old.entities, lambda e: e.name), _by(new.entities, lambda e: e.name))
    lines += _compare("channel", _by(old.channels, lambda c: c.name), _by(new.channels, lambda c: c.name))
    for setting in fields(new.settings):
        if getattr(old.settings, setting.name) != getattr(new.settings, setting.name):
            later = " (applies after a restart)" if setting.name in restart else ""
            lines.append(f"setting changed: {setting.name}{later}")
    return lines
