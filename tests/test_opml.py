"""Moving outlets in and out as OPML, as a user does: `newsmon feed import FILE.opml [--check]
[--tag T]` and `newsmon feed export`, run in-process through `cli.main`.

Every real export in $NEWSMON_CORPUS/opml/ (see its MANIFEST) imports and re-exports with the
same feed URLs, names and categories, judged against an independent reading of the file with
xml.etree; the one that is not well-formed XML is refused with its line and column and writes
nothing; outlines that are not feeds are reported. A 200-feed import under --check (loopback
web server) reports each dead feed with its reason and imports the others. The reader's
defences (entities, size, not OPML) are checked on small files written here."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from conftest import corpus_dir
from fixtures import rss, write_config

from monitor import cli, config
from monitor.config import opml
from monitor.urls import canonical

CORPUS = corpus_dir() / "opml" if corpus_dir() is not None else None
CORPUS_FILES = sorted(path.name for path in CORPUS.glob("*.opml")) if CORPUS is not None and CORPUS.is_dir() else []
needs_corpus = pytest.mark.skipif(not CORPUS_FILES, reason="needs the shared corpus (NEWSMON_CORPUS) with opml/")


def setup(directory: Path, feeds: list[dict] | None = None) -> Path:
    (directory / "watchlist.d").mkdir(parents=True)
    return write_config(directory, feeds or [], {"hook": ["json://127.0.0.1:9/hook"]}, include=["watchlist.d/*.toml"])


def newsmon(capsys, main: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["--config", str(main), *args])
    out, err = capsys.readouterr()
    return code, out, err


def configured(main: Path) -> dict[str, tuple[str, str | None, tuple[str, ...]]]:
    loaded, problems = config.read(main)
    assert not problems, problems
    return {canonical(feed.url): (feed.url, feed.name, feed.tags) for feed in loaded.feeds}


def exported(text: str) -> dict[str, tuple[str, str | None, set[str]]]:
    """An export read with xml.etree: canonical URL -> (URL, name, every tag), each URL once."""
    body = ElementTree.fromstring(text.encode()).find("body")
    found = {}
    for group in body.findall("outline"):
        inside = group.findall("outline") if group.get("xmlUrl") is None else [group]
        for outline in inside:
            tags = {group.get("text")} if outline is not group else set()
            tags |= {tag for tag in (outline.get("category") or "").split(",") if tag}
            url = outline.get("xmlUrl")
            assert canonical(url) not in found, f"{url} exported twice"
            found[canonical(url)] = (url, None if outline.get("text") == url else outline.get("text"), tags)
    return found


# ------------------------------------------------------------------ the corpus of real exports

def manifest() -> dict[str, dict]:
    """The MANIFEST's summary table: file -> feeds (outlines with a feed URL), depth, strict XML."""
    rows = {}
    for line in (CORPUS / "MANIFEST.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 11 and cells[0].startswith("`") and cells[0].endswith(".opml`"):
            rows[cells[0].strip("`")] = {"feeds": int(re.match(r"\d+", cells[4]).group()), "depth": int(cells[6]),
                                         "strict": cells[8] == "yes"}
    return rows


def expected(data: bytes) -> tuple[dict[str, tuple[str, str | None, set[str]]], int, int]:
    """The file read with xml.etree, as the issue says an import should: canonical URL -> (the first
    URL, its name, the titles of every outline around any of its copies); and how many outlines
    are search folders and how many have only a web page link."""
    feeds: dict = {}
    searches = pages = 0

    def walk(element, titles):
        nonlocal searches, pages
        for outline in element.findall("outline"):
            title = (outline.get("text") or "").strip() or (outline.get("title") or "").strip()
            url = (outline.get("xmlUrl") or "").strip()
            if outline.get("type") == "vfolder" or url == "vfolder":
                searches += 1
                continue
            if url.startswith(("http://", "https://")):
                entry = feeds.setdefault(canonical(url), (url, title if title and title != url else None, set()))
                entry[2].update(titles)
            elif outline.get("htmlUrl") and not outline.findall("outline"):
                pages += 1
            walk(outline, [*titles, title] if title else titles)

    walk(ElementTree.fromstring(data).find("body"), [])
    return feeds, searches, pages


@needs_corpus
def test_the_manifest_lists_every_file():
    assert sorted(manifest()) == CORPUS_FILES


@needs_corpus
@pytest.mark.parametrize("name", CORPUS_FILES)
def test_a_real_export_imports_and_exports_with_the_same_feeds_names_and_categories(name, tmp_path, capsys):
    listed = manifest()[name]
    data = (CORPUS / name).read_bytes()
    main = setup(tmp_path / "one")
    code, out, err = newsmon(capsys, main, "feed", "import", str(CORPUS / name))
    if not listed["strict"]:
        try:
            ElementTree.fromstring(data)
        except ElementTree.ParseError as error:
            line, column = error.position
        assert code == 1 and out == ""
        assert f"not imported: {CORPUS / name}: not well-formed XML at line {line}, column {column + 1}" in err
        assert "nothing was written" in err
        assert list((tmp_path / "one" / "watchlist.d").iterdir()) == []  # never half-imported
        return
    assert code == 0, err
    assert len(opml.read(data).outlines) == listed["feeds"]
    feeds, searches, pages = expected(data)
    assert f"({'OPML'} " in out.splitlines()[0] and f": {len(feeds)} feeds" in out.splitlines()[0]
    assert out.count("a Liferea search folder") == searches
    assert out.count("only a web page link (htmlUrl), no feed URL") == pages
    assert out.count("\nimported ") == 1 and "applies when it next starts" in out

    imported = configured(main)
    assert {key: (url, name, set(tags)) for key, (url, name, tags) in imported.items()} == feeds
    assert max(len(tags) for _url, _name, tags in imported.values()) == listed["depth"] - 1
    drop_ins = list((tmp_path / "one" / "watchlist.d").iterdir())
    assert [path.name for path in drop_ins] == [f"newsmon-import-{Path(name).stem.lower()}.toml"]
    assert drop_ins[0].read_text(encoding="utf-8").startswith("# Written by newsmon")

    code, text, err = newsmon(capsys, main, "feed", "export")
    assert code == 0 and err == ""
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    assert exported(text) == feeds

    again = setup(tmp_path / "two")  # the export read back by newsmon: the same configuration
    (tmp_path / "export.opml").write_text(text, encoding="utf-8")
    code, out, err = newsmon(capsys, again, "feed", "import", str(tmp_path / "export.opml"))
    assert code == 0, err
    assert "skipped" not in out and "listed more than once" not in out
    assert configured(again) == imported


# ------------------------------------------------------------------ files written here

# A fictional subscription list with what real exports do: a byte-order mark, no <head>, three
# levels, an RTL category title wrapped in direction marks, a feed under two categories (and its
# http:// copy), a Liferea search folder, a page-only outline, a non-http URL, an empty category,
# a `category` attribute, a title with a comma, other elements inside an outline.
LIST = """\ufeff<?xml version="1.0"?>
<opml version="1.0">
<body>
  <outline text="Pakistan">
    <outline text="\u202bاردو\u202c">
      <outline text="Khabar Urdu" xmlUrl="https://khabar.example/urdu.xml" htmlUrl="https://khabar.example/"/>
    </outline>
    <outline text="Frontier Post" type="rss" xmlUrl="https://frontier.example/feed?a=1&amp;b=2"><note x="1"/></outline>
  </outline>
  <outline title="Security, Region" text="">
    <outline text="Frontier Post" xmlUrl="http://www.frontier.example/feed?b=2&amp;a=1"/>
    <outline text="Border Watch" xmlUrl="https://border.example/rss" category="/Asia/South,urgent"/>
  </outline>
  <outline text="Unread" type="vfolder" xmlUrl="vfolder"><outline type="rule" rule="unread"/></outline>
  <outline text="Comic" type="x-html" htmlUrl="https://comic.example/"/>
  <outline text="Old gopher" xmlUrl="gopher://old.example/feed"/>
  <outline text="Must Read"/>
  <outline xmlUrl="https://plain.example/atom.xml" text="https://plain.example/atom.xml"/>
  <outline text="Mine" xmlUrl="https://www.mine.example/rss/"/>
</body>
</opml>
"""


def test_an_import_tags_by_category_merges_copies_and_says_what_it_skipped(tmp_path, capsys):
    main = setup(tmp_path, feeds=[{"url": "https://mine.example/rss", "name": "My own"}])
    (tmp_path / "subs.opml").write_text(LIST, encoding="utf-8")
    code, out, err = newsmon(capsys, main, "feed", "import", str(tmp_path / "subs.opml"), "--tag", "imported")
    assert code == 0, err
    for said in ["(OPML 1.0): 5 feeds, 4 outlines skipped",
                 "line 14 'Unread': a Liferea search folder",
                 "line 15 'Comic': only a web page link (htmlUrl), no feed URL (xmlUrl)",
                 "line 16 'Old gopher': its feed URL 'gopher://old.example/feed' is not an http:// or https:// URL",
                 "line 17 'Must Read': no feed URL (xmlUrl): an empty category",
                 "line 11 'Frontier Post': the same feed as line 8 (http://www.frontier.example/feed?b=2&a=1): its "
                 "categories are added to it",
                 "'\\u202bاردو\\u202c' -> 'اردو'",
                 "'Security, Region' -> 'Security Region'",
                 f"already configured, left as they are (1):\n  https://www.mine.example/rss/ ({main} line",
                 "imported 4 feeds from"]:
        assert said in out, (said, out)
    assert configured(main) == {
        canonical("https://mine.example/rss"): ("https://mine.example/rss", "My own", ()),
        canonical("https://khabar.example/urdu.xml"): ("https://khabar.example/urdu.xml", "Khabar Urdu",
                                                        ("Pakistan", "اردو", "imported")),
        canonical("https://frontier.example/feed?a=1&b=2"): ("https://frontier.example/feed?a=1&b=2", "Frontier Post",
                                                              ("Pakistan", "Security Region", "imported")),
        canonical("https://border.example/rss"): ("https://border.example/rss", "Border Watch",
                                                  ("Security Region", "Asia", "South", "urgent", "imported")),
        canonical("https://plain.example/atom.xml"): ("https://plain.example/atom.xml", None, ("imported",)),
    }
    assert newsmon(capsys, main, "check")[0] == 0

    code, text, _err = newsmon(capsys, main, "feed", "export")
    assert code == 0
    assert '<outline text="Pakistan" title="Pakistan">' in text and 'category="اردو,imported"' in text
    assert 'xmlUrl="https://frontier.example/feed?a=1&amp;b=2" category="Security Region,imported"' in text
    assert '<outline type="rss" text="My own" title="My own" xmlUrl="https://mine.example/rss" />' in text
    assert exported(text)[canonical("https://plain.example/atom.xml")][1] is None

    code, out, _err = newsmon(capsys, main, "feed", "import", str(tmp_path / "subs.opml"))
    assert code == 0 and "already configured, left as they are (5)" in out and "nothing to import" in out
    assert len(list((tmp_path / "watchlist.d").iterdir())) == 1
    code, out, _err = newsmon(capsys, main, "feed", "remove", "https://plain.example/atom.xml")
    assert code == 0 and "removed feed" in out  # an imported feed is one of newsmon's: it can be removed


@pytest.mark.parametrize("text, said", [
    ('<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
     '<opml><body><outline text="&b;" xmlUrl="https://a.example/"/></body></opml>', "line 1: the file declares XML entities"),
    ('<?xml version="1.0"?>\n<!DOCTYPE opml [\n<!ENTITY x SYSTEM "file:///etc/passwd">\n]>\n'
     '<opml><body><outline text="&x;" xmlUrl="https://a.example/"/></body></opml>', "line 3: the file declares XML entities"),
    ('<rss version="2.0"><channel/></rss>', "not an OPML file: its root element is <rss>"),
    ('<opml version="2.0">\n<body>\n  <outline text="A" xmlUrl="https://a.example/">\n</body></opml>',
     "not well-formed XML at line 4, column 3: mismatched tag"),
    ('<opml version="2.0"><body><outline text="&nbsp;" xmlUrl="https://a.example/"/></body></opml>',
     "line 1, column 27: undefined entity"),
    ("<opml><body>" + " " * opml.MAX_SIZE + "</body></opml>", "newsmon reads OPML files up to 5,000,000 bytes"),
])
def test_what_the_reader_refuses(tmp_path, capsys, text, said):
    main = setup(tmp_path)
    (tmp_path / "bad.opml").write_text(text, encoding="utf-8")
    code, out, err = newsmon(capsys, main, "feed", "import", str(tmp_path / "bad.opml"))
    assert code == 1 and said in err, err
    assert list((tmp_path / "watchlist.d").iterdir()) == []


def test_a_doctype_without_entities_is_read():
    data = b'<!DOCTYPE opml><opml version="2.0"><head/><body><outline text="A" xmlUrl="https://a.example/"/></body></opml>'
    assert [outline.url for outline in opml.read(data).outlines] == ["https://a.example/"]


# ------------------------------------------------------------------ --check over a loopback web server

def test_a_200_feed_import_under_check_reports_each_dead_feed_with_its_reason(tmp_path, web, capsys):
    main = setup(tmp_path)
    dead = {}
    outlines = []
    for number in range(200):
        path = f"/feeds/{number}.xml"
        if number % 10 == 3:  # 20 dead feeds, four ways
            kind = ("http-404", "http-500", "web page", "not a feed")[number // 10 % 4]
            if kind == "http-500":
                web.add(path, "upstream failed", "text/plain", status=500)
            elif kind == "web page":
                web.add(path, "<html><head><title>Home</title></head><body><p>News</p></body></html>")
            elif kind == "not a feed":
                web.add(path, b"\x00\x01 not xml at all", "application/octet-stream")
            dead[web.base + path] = kind
        else:
            item = {"guid": f"{number}-1", "path": f"/a/{number}.html", "title": "Market report", "summary": "Prices."}
            web.add(path, rss(f"Outlet {number}", [item]), "application/rss+xml")
        outlines.append(f'<outline text="Outlet {number}" xmlUrl="{web.base}{path}"/>')
    groups = "".join(f'<outline text="Region {region}">{"".join(outlines[region::4])}</outline>' for region in range(4))
    (tmp_path / "many.opml").write_text(f'<opml version="2.0"><body>{groups}</body></opml>', encoding="utf-8")

    code, out, err = newsmon(capsys, main, "feed", "import", str(tmp_path / "many.opml"), "--check")
    assert code == 0, err
    assert "180 of 200 feeds work" in out and "left out, 20 dead feeds" in out
    left_out = out.split("left out, 20 dead feeds")[1].split("\nimported ")[0]
    reasons = dict(line.strip().split(": ", 1) for line in left_out.splitlines()[1:])
    assert set(reasons) == set(dead)
    for url, kind in dead.items():
        reason = reasons[url]
        assert {"http-404": "FAILED (http-404)", "http-500": "FAILED (http-500)", "web page": "this is a web page; it "
                "links to no feed", "not a feed": "FAILED (not-a-feed)"}[kind] in reason, (kind, reason)
    assert out.count("  works ") == 180 and out.count("  dead  ") == 20
    assert "imported 180 feeds" in out
    imported = configured(main)
    assert len(imported) == 180 and not {canonical(url) for url in dead} & set(imported)
    assert imported[canonical(web.base + "/feeds/0.xml")][2] == ("Region 0",)
    for number in range(200):  # each feed fetched once
        assert web.gets(f"/feeds/{number}.xml") == 1, number
