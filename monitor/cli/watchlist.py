"""`newsmon feed|entity|rule add|list|show|remove` (and `feed enable|disable`): editing the
watchlist and the feeds from the command line. Additions go to newsmon's own drop-in files
(`monitor.config.dropins`); what a user's file defines is never rewritten; each edit is checked
as a whole configuration first and a running daemon reloads it (`monitor.cli.edit`)."""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

from monitor import shown
from monitor.cli import edit, opml as opml_commands
from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from monitor.config import dropins
from monitor.config.schema import ENTITY_KINDS
from monitor.model import SEVERITIES


def add_parsers(commands, duration) -> None:
    feed = commands.add_parser("feed", help="add, list, show or remove feeds (and enable, disable, import, export)",
                               description="Edit the feeds from the command line. What newsmon adds goes to its "
                                           "own files in the include directory (watchlist.d/newsmon-feed-*.toml); "
                                           "your files are never rewritten. Every edit is checked as a whole "
                                           "configuration first, and a running daemon reloads it.")
    verbs = feed.add_subparsers(dest="verb", metavar="VERB", required=True)
    add = verbs.add_parser("add", help="add a feed (given a web page: the feeds it links to)",
                           description="Add a feed. The URL is fetched once first (as the daemon would): given a "
                                       "web page instead of a feed, newsmon lists the feeds the page links to (and "
                                       "on a terminal offers them); a URL that is not a working feed is refused "
                                       "unless --no-check.")
    add.add_argument("url", metavar="URL")
    add.add_argument("--name", help="a name for status and logs (default: the feed's title)")
    add.add_argument("--interval", type=duration, help="how often to poll it, e.g. 30m (default: poll_interval)")
    add.add_argument("--tag", action="append", metavar="T", help="a tag, for rules' feed_tags (repeatable)")
    add.add_argument("--outlet", help="the outlet's name, when the feed's host is not it (e.g. a feed proxy)")
    add.add_argument("--no-check", action="store_true", help="do not fetch it first")
    add.set_defaults(handler=cmd_feed_add)
    _listing(verbs, "feed", "feeds")
    for verb, text in (("enable", "poll a disabled feed again"), ("disable", "stop polling a feed, keeping its history")):
        toggle = verbs.add_parser(verb, help=text, description=text[0].upper() + text[1:] + " (as 'newsmon "
                                  f"{verb}').")
        toggle.add_argument("feed", metavar="FEED", help="its URL or name")
        toggle.add_argument("--reason", default=None, help="a note shown by 'newsmon status'")
        toggle.set_defaults(handler=_toggle, toggle=verb)
    opml_commands.add_parsers(verbs)

    entity = commands.add_parser("entity", help="add, list, show or remove watched entities",
                                 description="Edit the watchlist's entities (actors, regions, topics and the names "
                                             "they go by) from the command line; see 'newsmon feed --help' for "
                                             "where edits go.")
    verbs = entity.add_subparsers(dest="verb", metavar="VERB", required=True)
    add = verbs.add_parser("add", help="add an entity", description="Add an entity: its names (--alias, in any "
                                                                    "spelling or script), or a pack entity it extends.")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--alias", action="append", metavar="A", help="a name it goes by (repeatable)")
    add.add_argument("--kind", choices=ENTITY_KINDS, default=None, help="actor (default), region or topic")
    add.add_argument("--extends", metavar="pack.X", help="add these names to a bundled pack's entity")
    add.set_defaults(handler=cmd_entity_add)
    _listing(verbs, "entity", "entities")

    rule = commands.add_parser("rule", help="add, list, show or remove rules",
                               description="Edit the watch rules from the command line; see 'newsmon feed --help' "
                                           "for where edits go.")
    verbs = rule.add_subparsers(dest="verb", metavar="VERB", required=True)
    add = verbs.add_parser("add", help="add a rule", description="Add a rule: a --query, or terms (@entity, a word, "
                                                                 "\"a phrase\") it needs all of, any of, none of.")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--query", help='e.g. \'@pack.ttp AND (attack OR blast) NOT "press conference"\'')
    add.add_argument("--all", action="append", metavar="T", help="a term every match needs (repeatable)")
    add.add_argument("--any", action="append", metavar="T", help="one of these terms (repeatable)")
    add.add_argument("--none", action="append", metavar="T", help="a term no match may have (repeatable)")
    add.add_argument("--channel", action="append", metavar="C", help="send to this channel (repeatable)")
    add.add_argument("--severity", choices=(*SEVERITIES, "auto"),
                     help="low, medium (default), high or critical; auto: graded from the event's facts")
    add.add_argument("--on-update", choices=("ignore", "new_hits", "material"),
                     help="follow-ups on an event already alerted: none (default), when it newly names one of the "
                          "rule's entities, or when its facts change materially (a toll revised, a claim)")
    add.set_defaults(handler=cmd_rule_add)
    _listing(verbs, "rule", "rules")


def _listing(verbs, kind: str, plural: str) -> None:
    listing = verbs.add_parser("list", help=f"list the {plural}, with the file each is defined in",
                               description=f"List the {plural}, with the file each is defined in.")
    listing.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    listing.set_defaults(handler=cmd_list, kind=kind)
    show = verbs.add_parser("show", help=f"show one of the {plural} as TOML, and where it is defined",
                            description=f"Show one of the {plural} as TOML, and where it is defined.")
    show.add_argument("item", metavar="URL" if kind == "feed" else "NAME")
    show.set_defaults(handler=cmd_show, kind=kind)
    remove = verbs.add_parser("remove", help=f"remove one of the {plural} newsmon added",
                              description=f"Remove one of the {plural} that newsmon added (one defined in your own "
                                          "file is refused, naming the file and line to edit).")
    remove.add_argument("item", metavar="URL" if kind == "feed" else "NAME")
    remove.set_defaults(handler=cmd_remove, kind=kind)


# ------------------------------------------------------------------ items: what they are called, where they are

def _items(loaded, kind: str) -> list[tuple[str, object]]:
    """(key, item) of each configured item of `kind`: a feed's key is its URL, else the name."""
    if kind == "feed":
        return [(feed.url, feed) for feed in loaded.feeds]
    if kind == "entity":
        return [(entity.name, entity) for entity in loaded.entities if not entity.name.startswith("pack.")]
    return [(rule.name, rule) for rule in loaded.rules]


def _key(loaded, kind: str, given: str) -> str | None:
    """The key of the item `given` names (for a feed: its URL or its name)."""
    items = _items(loaded, kind)
    if any(key == given for key, _item in items):
        return given
    if kind == "feed":
        named = [key for key, feed in items if feed.name and feed.name.casefold() == given.casefold()]
        return named[0] if len(named) == 1 else None
    return None


def _table(place: dropins.Place, kind: str, key: str) -> dict | None:
    """The item's own table as its file holds it."""
    try:
        document = tomllib.loads(place.file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    if kind == "entity":
        return document.get("entities", {}).get(key)
    field = "url" if kind == "feed" else "name"
    return next((table for table in document.get("feeds" if kind == "feed" else "rules", [])
                 if isinstance(table, dict) and table.get(field) == key), None)


def cmd_list(args: argparse.Namespace) -> int:
    loaded = edit.loaded_config(args)
    rows = []
    for key, item in _items(loaded, args.kind):
        place = dropins.find(loaded.files, args.kind, key)
        row = {"key": shown.url(key) if args.kind == "feed" else key, "file": str(place.file) if place else None,
               "line": place.line if place else None, "newsmon": bool(place and place.ours)}
        if args.kind == "feed":
            row.update(name=item.name, tags=list(item.tags), interval=item.interval)
        elif args.kind == "entity":
            row.update(kind=item.kind, names=list(item.names), extends=item.extends)
        else:
            row.update(severity=item.severity, channels=list(item.channels))
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    for row in rows:
        where = f"{row['file']}:{row['line']}" if row["file"] else "?"
        extra = (f" ({row['name']})" if args.kind == "feed" and row["name"] else
                 f" [{row['kind']}] {', '.join(row['names'][:4])}{' …' if len(row['names']) > 4 else ''}"
                 if args.kind == "entity" else f" [{row['severity']}]" if args.kind == "rule" else "")
        print(f"{row['key']}{extra} · {where}")
    if not rows:
        print(f"no {args.kind if args.kind != 'entity' else 'entitie'}s in {loaded.path}")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    import tomli_w

    loaded = edit.loaded_config(args)
    key = _key(loaded, args.kind, args.item)
    place = dropins.find(loaded.files, args.kind, key) if key else None
    table = _table(place, args.kind, key) if place else None
    if table is None:
        print(f"newsmon: no {args.kind} {shown.url(args.item)!r} in {loaded.path} or its includes", file=sys.stderr)
        return EXIT_FAILED
    print(f"# {place}{' (written by newsmon)' if place.ours else ''}")
    document = {"entities": {key: table}} if args.kind == "entity" else {"feeds" if args.kind == "feed" else "rules": [table]}
    print(tomli_w.dumps(document), end="")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    loaded = edit.loaded_config(args)
    key = _key(loaded, args.kind, args.item)
    place = dropins.find(loaded.files, args.kind, key) if key else None
    if place is None:
        print(f"newsmon: no {args.kind} {shown.url(args.item)!r} in {loaded.path} or its includes", file=sys.stderr)
        return EXIT_FAILED
    what = f"{args.kind} {shown.url(key) if args.kind == 'feed' else key}"
    if not place.ours:
        return edit.refuse_theirs(place, what)
    return edit.apply(args, {place.file: _without(place.file, args.kind, key)}, f"removed {what} ({place.file})")


def _without(file: Path, kind: str, key: str) -> str | None:
    """The text of newsmon's drop-in `file` without the item (None: nothing would be left)."""
    text = file.read_text(encoding="utf-8")
    document = tomllib.loads(text)
    if kind == "entity":
        document.get("entities", {}).pop(key, None)
        if not document.get("entities"):
            document.pop("entities", None)
    else:
        table, field = ("feeds", "url") if kind == "feed" else ("rules", "name")
        document[table] = [item for item in document.get(table, []) if item.get(field) != key]
        if not document[table]:
            document.pop(table)
    if not any(document.values()):
        return None
    notes = []  # the comment lines under the header: what the file is for
    for line in text.splitlines()[1:]:
        if not line.startswith("# "):
            break
        notes.append(line[2:])
    return dropins.render("\n".join(notes), document)


def _unquoted(term: str) -> str:
    term = term.strip()
    return term[1:-1].strip() if len(term) > 2 and term[0] == term[-1] and term[0] in "\"'" else term


# ------------------------------------------------------------------ add

def _exists(loaded, kind: str, key: str, what: str) -> int | None:
    if _key(loaded, kind, key) is None:
        return None
    place = dropins.find(loaded.files, kind, key)
    print(f"newsmon: {what} is already configured{f' ({place})' if place else ''}", file=sys.stderr)
    return EXIT_FAILED


def _new_item(loaded, kind: str, name: str) -> Path | int:
    """The drop-in file a new entity or rule goes to; an exit code (said why) when it exists
    already or there is no drop-in folder."""
    if (refused := _exists(loaded, kind, name, f"{kind} {name!r}")) is not None:
        return refused
    folder = edit.drop_in_folder(loaded)
    return EXIT_FAILED if folder is None else dropins.new_file(folder, kind, name)


def cmd_entity_add(args: argparse.Namespace) -> int:
    loaded = edit.loaded_config(args)
    if not args.alias and not args.extends:
        print("newsmon: an entity needs at least one --alias (or --extends pack.NAME)", file=sys.stderr)
        return EXIT_USAGE
    path = _new_item(loaded, "entity", args.name)
    if isinstance(path, int):
        return path
    table: dict = {}
    if args.kind:
        table["kind"] = args.kind
    if args.alias:
        table["names"] = list(dict.fromkeys(args.alias))
    if args.extends:
        table["extends"] = args.extends
    text = dropins.render(f"newsmon entity add {args.name}", {"entities": {args.name: table}})
    return edit.apply(args, {path: text}, f"added entity {args.name} ({path}); use it in a rule as @{args.name}")


def cmd_rule_add(args: argparse.Namespace) -> int:
    loaded = edit.loaded_config(args)
    if bool(args.query) == bool(args.all or args.any or args.none):
        print("newsmon: a rule needs either --query or terms (--all, --any, --none), not both", file=sys.stderr)
        return EXIT_USAGE
    path = _new_item(loaded, "rule", args.name)
    if isinstance(path, int):
        return path
    table: dict = {"name": args.name}
    if args.query:
        table["query"] = args.query
    for key in ("all", "any", "none"):
        if getattr(args, key):  # a phrase quoted twice ('"suicide attack"') is the phrase: a term has no quotes
            table[key] = list(dict.fromkeys(_unquoted(term) for term in getattr(args, key)))
    if args.channel:
        table["channels"] = list(dict.fromkeys(args.channel))
    if args.severity:
        table["severity"] = args.severity
    if args.on_update:
        table["on_update"] = args.on_update
    text = dropins.render(f"newsmon rule add {args.name}", {"rules": [table]})
    return edit.apply(args, {path: text}, f"added rule {args.name} ({path})")


def cmd_feed_add(args: argparse.Namespace) -> int:
    from monitor import urls

    loaded = edit.loaded_config(args)
    url = args.url.strip()
    if urls.web_url(url) is None:
        print(f"newsmon: {shown.url(url)!r} is not an http:// or https:// URL", file=sys.stderr)
        return EXIT_USAGE
    same = [feed for feed in loaded.feeds if urls.canonical(feed.url) == urls.canonical(url)]
    if same:
        return _exists(loaded, "feed", same[0].url, f"feed {shown.url(url)}") or EXIT_FAILED
    title = None
    if not args.no_check:
        from monitor.cli import feed_probe

        probe = feed_probe.probe(loaded, url)
        if probe.found and not probe.ok:
            chosen = feed_probe.choose(url, probe.found)
            if chosen is None:
                return EXIT_USAGE
            return _add_feed(args, loaded, chosen, None)
        if not probe.ok:
            print(f"newsmon: not added: {shown.url(url)}: {probe.text} (--no-check adds it anyway)", file=sys.stderr)
            return EXIT_FAILED
        title = probe.title
    return _add_feed(args, loaded, url, title)


def _add_feed(args: argparse.Namespace, loaded, url: str, title: str | None) -> int:
    from monitor import urls

    if any(urls.canonical(feed.url) == urls.canonical(url) for feed in loaded.feeds):
        return _exists(loaded, "feed", url, f"feed {shown.url(url)}") or EXIT_FAILED
    folder = edit.drop_in_folder(loaded)
    if folder is None:
        return EXIT_FAILED
    table: dict = {"url": url}
    name = args.name or title
    if name:
        table["name"] = name
    if args.interval:
        table["interval"] = f"{args.interval:g}s"
    if args.tag:
        table["tags"] = list(dict.fromkeys(args.tag))
    if args.outlet:
        table["outlet"] = args.outlet
    path = dropins.new_file(folder, "feed", args.name or urls.host(url) or "feed")
    text = dropins.render(f"newsmon feed add {shown.url(url)}", {"feeds": [table]})
    return edit.apply(args, {path: text}, f"added feed {shown.url(url)}{f' ({name})' if name else ''} ({path})")


def _toggle(args: argparse.Namespace) -> int:
    from monitor.cli import run

    args.verb = args.toggle
    return run.cmd_toggle(args)
