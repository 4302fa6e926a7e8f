"""`newsmon feed import FILE.opml [--check] [--tag T]` and `newsmon feed export`: moving outlets
in and out as OPML (`monitor.config.opml` reads and writes it).

Import: each enclosing outline's title becomes a tag of the feeds inside it (one per level); a
feed listed twice is one feed with every tag; feeds already configured (same canonical URL)
are left as they are. Every outline that is not taken is reported with why. The new feeds go
to one drop-in file per import (`watchlist.d/newsmon-import-<file>.toml`), written through
`monitor.cli.edit.apply`: checked as a whole configuration first, then a running daemon
reloads. A file that cannot be read whole is refused, and nothing is written.

`--check` fetches each new feed once, as the daemon would (`feed_probe.probe_all`), prints
what each is or why it does not work, and imports only the working ones: a dead feed would
only fail at every poll. The dead ones are listed with their reason and counted, so they can
be added later with `newsmon feed add URL --no-check`. A feed without a name in the file gets
its own title.

Export: OPML 2.0 on stdout, each feed once under its first tag, its other tags in the
`category` attribute. The configuration keeps no site link, so there is no `htmlUrl`: readers
take the site from the feed itself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitor import config, shown, urls
from monitor.cli import edit
from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, plural, read_config
from monitor.config import dropins, opml
from monitor.model import FeedSpec


def add_parsers(verbs) -> None:
    """The `import` and `export` verbs of `newsmon feed`."""
    given = verbs.add_parser(
        "import", help="add the feeds of an OPML file (exported by another reader)",
        description="Add the feeds an OPML file lists (OPML 1.0 to 2.0, as feed readers export them). The title "
                    "of each outline around a feed becomes one of its tags (one per level); a feed listed twice "
                    "is added once with every tag; feeds already configured are left as they are. What is not a "
                    "feed (search folders, outlines with only a web page link) is skipped and said why. The feeds "
                    "go to one file, watchlist.d/newsmon-import-<file>.toml (remove it to undo the import); the "
                    "configuration is checked first and a running daemon reloads it. A file that is not "
                    "well-formed XML is refused with its line and column, and nothing is written.")
    given.add_argument("file", metavar="FILE.opml", help="the OPML file (- for standard input)")
    given.add_argument("--check", action="store_true",
                       help="fetch each feed once first, say which work and why the others do not, and import "
                            "only the working ones")
    given.add_argument("--tag", action="append", metavar="T", help="a tag for every imported feed (repeatable)")
    given.set_defaults(handler=cmd_import)
    export = verbs.add_parser(
        "export", help="print the feeds as OPML 2.0, for another reader",
        description="Print every configured feed as OPML 2.0 on standard output: each feed once, under an outline "
                    "named for its first tag, its other tags in the 'category' attribute, its name as text and "
                    "title. Feed URLs are printed as configured, credentials included.")
    export.set_defaults(handler=cmd_export)


# ------------------------------------------------------------------ import

def cmd_import(args: argparse.Namespace) -> int:
    tags = [tag.strip() for tag in args.tag or []]
    if not all(tags):
        print("newsmon: a --tag must not be empty", file=sys.stderr)
        return EXIT_USAGE
    source = "standard input" if args.file == "-" else args.file
    try:
        data = _read(args.file)
        document = opml.read(data)
    except OSError as error:
        print(f"newsmon: cannot read {source}: {error.strerror or error}", file=sys.stderr)
        return EXIT_FAILED
    except opml.Refused as error:
        print(f"newsmon: not imported: {source}: {error}\nnothing was written: fix the file (or export it again "
              "from its reader) and import it again", file=sys.stderr)
        return EXIT_FAILED
    found = opml.subscriptions(document)
    print(f"{source} (OPML {document.version or '?'}): {plural(len(found.feeds), 'feed')}"
          + (f", {plural(len(document.skipped), 'outline')} skipped" if document.skipped else ""))
    _report(found, document)

    loaded = read_config(args)
    configured = {urls.canonical(feed.url): feed.url for feed in loaded.feeds}
    already = [feed for feed in found.feeds if urls.canonical(feed.url) in configured]
    if already:
        print(f"already configured, left as they are ({len(already)}):")
        for feed in already:
            place = dropins.find(loaded.files, "feed", configured[urls.canonical(feed.url)])
            print(f"  {shown.url(feed.url)}" + (f" ({place})" if place else ""))
    new = [feed for feed in found.feeds if urls.canonical(feed.url) not in configured]
    if not new:
        print("nothing to import: no feed in it that is not configured already")
        return EXIT_OK
    folder = edit.drop_in_folder(loaded)
    if folder is None:
        return EXIT_FAILED
    titles: dict[str, str | None] = {}
    if args.check:
        new, titles = _check(loaded.settings, new)
        if not new:
            print("nothing imported: none of the feeds works")
            return EXIT_FAILED
    tables = []
    for feed in new:
        table: dict = {"url": feed.url}
        name = feed.name or titles.get(feed.url)
        if name:
            table["name"] = name
        every = list(dict.fromkeys([*feed.tags, *tags]))
        if every:
            table["tags"] = every
        tables.append(table)
    stem = "stdin" if args.file == "-" else Path(args.file).stem
    target = dropins.new_file(folder, "import", stem)  # newsmon-import-<stem>[-N].toml
    note = (f"newsmon feed import {Path(source).name}{' --check' if args.check else ''}: "
            f"{plural(len(tables), 'feed')}.\nRemove one with 'newsmon feed remove URL', or all of them by "
            "deleting this file.")
    used = list(dict.fromkeys(tag for table in tables for tag in table.get("tags", ())))
    done = (f"imported {plural(len(tables), 'feed')} from {source} into {target}"
            + (f" (tags: {', '.join(_quoted(tag) for tag in used[:12])}{' …' if len(used) > 12 else ''})" if used else ""))
    return edit.apply(args, {target: dropins.render(note, {"feeds": tables})}, done)


def _read(name: str) -> bytes:
    """The file's bytes, at most one more than the OPML reader takes (so it can say the file
    is too big without reading all of it)."""
    if name == "-":
        return sys.stdin.buffer.read(opml.MAX_SIZE + 1)
    with open(name, "rb") as handle:
        return handle.read(opml.MAX_SIZE + 1)


def _report(found: opml.Subscriptions, document: opml.Document) -> None:
    """What is not imported as it is written, and why."""
    if document.skipped:
        print("skipped, not feeds:")
        for item in document.skipped:
            print(f"  line {item.line}{f' {_quoted(item.text)}' if item.text else ''}: {shown.urls_in(item.reason)}")
    if found.merged:
        print("listed more than once (imported once):")
        for item in found.merged:
            print(f"  line {item.line}{f' {_quoted(item.text)}' if item.text else ''}: {shown.urls_in(item.reason)}")
    if found.renamed:
        print("category titles made into tags (without direction marks, control characters, ',' and '/'):")
        for title, tag in found.renamed:
            shown_title = "".join(char if char.isprintable() else f"\\u{ord(char):04x}" for char in title)
            print(f"  '{shown_title}' -> {_quoted(tag)}")


def _check(settings, feeds: list[opml.Feed]) -> tuple[list[opml.Feed], dict[str, str | None]]:
    """Fetch each feed once; print what each is or why it fails. Returns the working feeds and
    their own titles (by URL)."""
    import asyncio

    from monitor.cli import feed_probe

    print(f"fetching each of the {plural(len(feeds), 'feed')} once ...", flush=True)
    probes = asyncio.run(feed_probe.probe_all(settings, [FeedSpec(url=feed.url) for feed in feeds]))
    working, dead = [], []
    for feed, probe in zip(feeds, probes):
        (working if probe.ok else dead).append((feed, probe))
        print(f"  {'works' if probe.ok else 'dead '} {shown.url(feed.url)}: {probe.text}")
    print(f"{len(working)} of {plural(len(feeds), 'feed')} work")
    if dead:
        print(f"left out, {plural(len(dead), 'dead feed')} (add one anyway with 'newsmon feed add URL --no-check'):")
        for feed, probe in dead:
            print(f"  {shown.url(feed.url)}: {probe.text}")
    return [feed for feed, _probe in working], {feed.url: probe.title for feed, probe in working}


def _quoted(text: str) -> str:
    """Third-party text in a report line: quoted, on one line, without control characters."""
    from monitor.cli.feed_probe import one_line

    return f"'{one_line(text)}'"


# ------------------------------------------------------------------ export

def cmd_export(args: argparse.Namespace) -> int:
    loaded = read_config(args)
    unread = [problem for problem in config.read(loaded.path)[1] if problem.path.startswith("feeds")]
    if unread:
        print(f"newsmon: {plural(len(unread), 'feed problem')} in the configuration ('newsmon check' lists them): "
              "a feed newsmon cannot read is not in the export", file=sys.stderr)
    feeds = [opml.Feed(url=feed.url, name=feed.name, tags=feed.tags) for feed in loaded.feeds]
    data = opml.write(feeds, title=f"newsmon feeds ({loaded.path.name})")
    sys.stdout.flush()
    out = getattr(sys.stdout, "buffer", None)
    if out is None:
        sys.stdout.write(data.decode("utf-8"))
    else:
        out.write(data)
        out.flush()
    if not feeds:
        print(f"newsmon: no feeds in {loaded.path} or its includes", file=sys.stderr)
    return EXIT_OK
