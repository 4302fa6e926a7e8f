"""Feeds checked before they are trusted (#14): `newsmon check --online` fetches each feed once
and says what it is; a web page given as a feed is called one, with the feeds it links to (in
`check` and in the daemon's log); and `check` says when the state directory cannot be made or
written. Real loopback servers, the real command."""

from __future__ import annotations

import pickle

import pytest
from conftest import run_newsmon
from fixtures import COURIER_ITEMS, RECENT, rss, write_config

from monitor import cli, feeds, times
from monitor.errors import ParseError
from monitor.feeds import discovery

FEED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Indus Courier</title>
<link rel="stylesheet" type="text/css" href="/style.css">
<link rel="alternate" hreflang="ur" href="/ur/">
<link rel="alternate" type="application/rss+xml" title="Indus Courier &amp; World" href="/courier/rss.xml">
<link rel="alternate" type="application/atom+xml" href="atom.xml">
</head><body><header><nav><a href="/">Home</a></nav></header>
<main><p>Welcome to the Indus Courier.<br>Read our latest reports.</p></main></body></html>
"""

PLAIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>About us</title></head>
<body><p>We are a news outlet.<br>Contact the newsroom.</p></body></html>
"""


def hook(web) -> dict:
    return {"hook": [web.base.replace("http://", "json://") + "/hook"]}


def four_feeds(tmp_path, web) -> list[str]:
    """A good RSS feed, a page that links two feeds, a page that links none, and a 404."""
    good = web.add("/courier/rss.xml", rss("Indus Courier", COURIER_ITEMS), "application/rss+xml")
    linking = web.add("/courier/index.html", FEED_PAGE)
    plain = web.add("/about.html", PLAIN_PAGE)
    missing = web.base + "/gone/rss.xml"
    write_config(tmp_path, [{"url": url} for url in (good, linking, plain, missing)], hook(web))
    return [good, linking, plain, missing]


def test_check_online_says_what_each_feed_is(tmp_path, web, capsys):
    good, linking, plain, missing = four_feeds(tmp_path, web)

    code = cli.main(["--config", str(tmp_path / "config.toml"), "check", "--online"])

    out = capsys.readouterr().out
    lines = {line.split(": ", 1)[0].strip(): line.split(": ", 1)[1] for line in out.splitlines() if "  feed " in line}
    newest = times.shown(RECENT.timestamp())
    assert lines[f"feed {good}"] == f"RSS feed 'Indus Courier', 3 entries, newest {newest}"
    assert lines[f"feed {linking}"] == (f"this is a web page; it links to these feeds: {web.base}/courier/rss.xml "
                                        f"('Indus Courier & World'), {web.base}/courier/atom.xml")
    assert lines[f"feed {plain}"] == "this is a web page; it links to no feed"
    assert lines[f"feed {missing}"] == "FAILED (http-404): HTTP 404 Not Found"
    assert "4 feeds fetched: 1 OK, 3 failed" in out
    assert code == 1
    assert web.gets("/courier/index.html") == 1  # once each
    assert not (tmp_path / "state").exists()  # check touches no state


def test_check_online_exits_0_when_every_feed_works(tmp_path, web, capsys):
    good = web.add("/courier/rss.xml", rss("Indus Courier", COURIER_ITEMS), "application/rss+xml")
    path = write_config(tmp_path, [{"url": good}], hook(web))

    assert cli.main(["--config", str(path), "check", "--online"]) == 0

    out = capsys.readouterr().out
    assert f"feed {good}: RSS feed 'Indus Courier', 3 entries" in out
    assert "1 feed fetched: 1 OK, 0 failed" in out
    assert web.requests[0][2]["User-Agent"].startswith("newsmon/")  # the daemon's fetcher, its User-Agent


def test_check_without_online_fetches_nothing(tmp_path, web, capsys):
    four_feeds(tmp_path, web)

    assert cli.main(["--config", str(tmp_path / "config.toml"), "check"]) == 0

    assert web.requests == []
    assert " feed " not in capsys.readouterr().out


def test_the_daemon_logs_that_a_feed_is_a_web_page_and_the_feeds_it_links(tmp_path, web):
    linking = web.add("/courier/index.html", FEED_PAGE)
    path = write_config(tmp_path, [{"url": linking}], hook(web))

    result = run_newsmon("--config", str(path), "run", "--once")

    assert result.returncode == 1, result.stderr  # its only feed fails: exit 1
    assert (f"this is a web page (HTML), not a feed; it links to these feeds: {web.base}/courier/rss.xml, "
            f"{web.base}/courier/atom.xml") in result.stderr
    assert "not well-formed" not in result.stderr and "Traceback" not in result.stderr


def test_check_reports_a_state_dir_under_a_regular_file(tmp_path, web):
    (tmp_path / "somefile").write_text("not a directory\n")
    good = web.add("/courier/rss.xml", rss("Indus Courier", COURIER_ITEMS), "application/rss+xml")
    path = write_config(tmp_path, [{"url": good}], hook(web), state_dir="somefile/state")

    result = run_newsmon("--config", str(path), "check", "--online")

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.strip() == (f"{path}: at 'newsmon.state_dir': cannot create {tmp_path}/somefile/state: "
                                     f"{tmp_path}/somefile is not a directory")
    assert web.requests == []  # an invalid configuration: no feed is fetched


def test_check_reports_the_state_dir_with_the_other_problems(tmp_path, web):
    (tmp_path / "somefile").write_text("")
    path = write_config(tmp_path, [{"url": web.base + "/rss.xml"}], hook(web), state_dir="somefile/state",
                        pol_interval="5m")

    result = run_newsmon("--config", str(path), "check")

    assert result.returncode == 2
    assert "at 'newsmon.pol_interval': unknown key" in result.stdout
    assert "at 'newsmon.state_dir': cannot create" in result.stdout


@pytest.mark.parametrize("make, state_dir, expected", [
    (None, "state", None),  # not there yet: its parent is writable, and nothing is created
    (None, "deep/er/state", None),
    ("file", "state", "cannot use {dir}/state: it is not a directory"),
    ("dir", "state", None),
])
def test_state_dir_problem(tmp_path, make, state_dir, expected):
    from monitor.cli import check

    target = tmp_path / state_dir
    if make == "file":
        target.write_text("")
    elif make == "dir":
        target.mkdir()
    problem = check.state_dir_problem(target)
    assert problem == (expected.format(dir=tmp_path) if expected else None)
    if make is None:
        assert not target.exists() and not (tmp_path / "deep").exists()


BASE = "https://news.example/world/index.html"


@pytest.mark.parametrize("page, found", [
    # relative, root-relative, absolute and protocol-relative hrefs, against the page's address
    ('<link rel="alternate" type="application/rss+xml" href="rss.xml">', [("https://news.example/world/rss.xml", None, "application/rss+xml")]),
    ('<link rel="alternate" type="application/rss+xml" href="/rss.xml" title="Top  stories">', [("https://news.example/rss.xml", "Top stories", "application/rss+xml")]),
    ('<link rel=alternate type=application/atom+xml href=//feeds.example/a>', [("https://feeds.example/a", None, "application/atom+xml")]),
    ('<LINK REL="Alternate" TYPE="application/feed+json; charset=utf-8" HREF="https://j.example/feed.json">', [("https://j.example/feed.json", None, "application/feed+json")]),
    ('<link href="/f?a=1&amp;b=2" type="application/x-rss+xml" rel="feed alternate">', [("https://news.example/f?a=1&b=2", None, "application/x-rss+xml")]),
    ('<base href="https://cdn.example/x/"><link rel="alternate" type="application/rss+xml" href="rss">', [("https://cdn.example/x/rss", None, "application/rss+xml")]),
    # not feeds: another language's page, a stylesheet, JSON that is no JSON Feed, a script URL, no href
    ('<link rel="alternate" hreflang="fr" href="/fr/"><link rel="alternate stylesheet" type="text/css" href="/s.css">'
     '<link rel="alternate" type="application/json" href="/wp-json/wp/v2/pages/1">'
     '<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">'
     '<link rel="alternate" type="application/rss+xml">', []),
    ('<p>no links at all</p>', []),
    # the same feed twice is listed once; a title with a line break and a bidi override is one clean line
    ('<link rel="alternate" type="application/rss+xml" href="/rss" title="News\n\u202eevil">'
     '<link rel="alternate" type="application/rss+xml" href="https://news.example/rss">', [("https://news.example/rss", "News evil", "application/rss+xml")]),
])
def test_discover(page, found):
    assert discovery.discover(f"<!doctype html><html><head>{page}</head></html>".encode(), BASE) == tuple(found)


def test_discover_reads_only_the_start_of_a_huge_page():
    link = b'<link rel="alternate" type="application/rss+xml" href="/%d.xml">'
    early, late = link % 1, link % 2
    page = b"<!doctype html><html><head>" + early + b"<link " * 200_000 + b"x" * 600_000 + late
    assert discovery.discover(page, BASE) == (("https://news.example/1.xml", None, "application/rss+xml"),)
    unclosed = b"<!doctype html>" + b'<link rel="alternate" type="application/rss+xml" href="' + b"a" * 5_000_000
    assert discovery.discover(unclosed, BASE) == ()


def test_discover_lists_a_bounded_number_of_feeds():
    page = b"".join(b'<link rel="alternate" type="application/rss+xml" href="/%d.xml">' % n for n in range(500))
    assert len(discovery.discover(page, BASE)) == discovery.MAX_DISCOVERED


@pytest.mark.parametrize("body, content_type", [
    (FEED_PAGE.encode(), "text/html; charset=utf-8"),
    (FEED_PAGE.encode(), None),  # known by its bytes, whatever it is served as
    (b'<?xml version="1.0"?>\n<!-- a comment -->\n<html xmlns="http://www.w3.org/1999/xhtml"><head>'
     b'<link rel="alternate" type="application/rss+xml" href="/courier/rss.xml"/></head><body><p>x</p></body></html>',
     "application/xml"),
])
def test_a_web_page_given_as_a_feed_says_so(body, content_type):
    with pytest.raises(ParseError) as caught:
        feeds.parse(body, "https://courier.example/index.html", content_type)
    assert str(caught.value).startswith("this is a web page (HTML), not a feed; it links to these feeds: "
                                        "https://courier.example/courier/rss.xml")
    travelled = pickle.loads(pickle.dumps(caught.value))  # as it comes back from a sandbox worker
    assert travelled.feeds[0] == ("https://courier.example/courier/rss.xml",) + travelled.feeds[0][1:]


def test_a_web_page_error_names_at_most_five_feeds():
    page = b"<!doctype html>" + b"".join(b'<link rel="alternate" type="application/rss+xml" href="/%d.xml">' % n
                                         for n in range(8))
    with pytest.raises(ParseError, match=r"/4\.xml and 3 more$"):
        feeds.parse(page, "https://x.example/")


@pytest.mark.parametrize("body", [b'<?xml version="1.0"?><channel><titl>Broken &</channel>', b"plain text",
                                  b"<data><x>1</x></data>"])
def test_what_is_neither_feed_nor_page_is_still_not_a_feed(body):
    # served as text/html, as broken feeds often are: without an <html> tag it is no web page
    with pytest.raises(ParseError, match="^not a feed: "):
        feeds.parse(body, "https://x.example/rss", "text/html")
