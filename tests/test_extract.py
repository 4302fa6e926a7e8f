"""monitor.extract.extract: (a) a small article page written for these tests; (b) word-overlap
F1 against the AEB ground truth of the shared corpus when NEWSMON_CORPUS points at it."""

from __future__ import annotations

import gzip
import json
import statistics
from collections import Counter
from pathlib import Path

import pytest

from monitor.errors import ExtractError
from monitor.extract import extract
from monitor.model import Page
from conftest import corpus_dir


# --- an article page written for these tests ----------------------------------------------------

CANONICAL = "https://valley-courier.example.com/news/2026/03/bridge-repairs"
PARAGRAPHS = [
    "The provincial government said on Tuesday that repairs to the damaged bridge over the river "
    "would begin next month, once engineers finish surveying its foundations.",
    "Traders in the old market, which depends on the bridge for deliveries of fruit and vegetables, "
    "said they had lost nearly half of their business since the flood in late August.",
    "A spokesman for the works department said the new span would be wider, would carry a footpath "
    "on both sides, and that the budget had already been approved by the cabinet.",
]
NAV = ["Home", "Politics", "Sport", "Weather", "Contact us"]
FOOTER = "Copyright 2026 Valley Courier Media Group. All rights reserved. Subscribe to our newsletter."
ASIDE = "Cricket final postponed after heavy rain"


def page_html(body: str, canonical: str | None = CANONICAL) -> bytes:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    nav = "".join(f'<li><a href="/{name.lower()}">{name}</a></li>' for name in NAV)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Bridge repairs to start next month | Valley Courier</title>
{link}
<meta property="og:title" content="Bridge repairs to start next month">
<meta property="article:published_time" content="2026-03-10T08:00:00Z">
</head><body>
<header><a class="logo" href="/">Valley Courier</a><nav><ul>{nav}</ul></nav></header>
<main>{body}</main>
<aside><h3>Most read</h3><ul><li><a href="/a">{ASIDE}</a></li><li><a href="/b">Fuel prices rise</a></li></ul></aside>
<footer><p>{FOOTER}</p><p><a href="/privacy">Privacy policy</a> | <a href="/terms">Terms of use</a></p></footer>
</body></html>""".encode()


ARTICLE = page_html(
    "<article><h1>Bridge repairs to start next month</h1><p class=\"byline\">By a staff reporter</p>"
    + "".join(f"<p>{paragraph}</p>" for paragraph in PARAGRAPHS)
    + "</article>"
)


def test_article_text_has_body_without_boilerplate():
    page = extract(ARTICLE, CANONICAL + "?utm_source=feed")
    assert isinstance(page, Page)
    for paragraph in PARAGRAPHS:
        assert paragraph in page.text
    assert "Copyright 2026" not in page.text
    assert "All rights reserved" not in page.text
    assert "Privacy policy" not in page.text
    assert ASIDE not in page.text
    assert "Contact us" not in page.text


def test_article_paragraph_order_kept():
    text = extract(ARTICLE, CANONICAL).text
    positions = [text.index(paragraph) for paragraph in PARAGRAPHS]
    assert positions == sorted(positions)


def test_canonical_link_read():
    page = extract(ARTICLE, "https://valley-courier.example.com/amp/12345?utm_source=feed")
    assert page.canonical_url == CANONICAL


def test_canonical_link_read_without_url():
    assert extract(ARTICLE, None).canonical_url == CANONICAL


def test_metadata():
    page = extract(ARTICLE, CANONICAL)
    assert page.title == "Bridge repairs to start next month"
    assert page.published == "2026-03-10"


def test_non_utf8_page_declared_in_meta():
    body = "<article><h1>Ponte</h1>" + "".join(
        f"<p>{p} São Tomé e Príncipe.</p>" for p in PARAGRAPHS) + "</article>"
    html = page_html(body).replace(b'charset="utf-8"', b'charset="iso-8859-1"')
    html = html.decode("utf-8").encode("iso-8859-1")
    assert "São Tomé e Príncipe." in extract(html, CANONICAL).text


@pytest.mark.parametrize("html", [
    b"",
    b"   \n",
    b"<html><body></body></html>",
    page_html(""),  # header, nav, aside and footer only
    page_html("<article><p>Too short.</p></article>"),
    b"\x00\x01\x02 not html at all \xff\xfe",
], ids=["empty", "whitespace", "empty-body", "boilerplate-only", "too-short", "binary"])
def test_no_article_raises_extract_error(html):
    with pytest.raises(ExtractError):
        extract(html, "https://valley-courier.example.com/empty")


# --- the shared corpus: AEB ground truth -------------------------------------------------------

def word_f1(extracted: str, truth: str) -> float:
    """Bag-of-words F1 (tokens = whitespace split, counted with multiplicity)."""
    got, want = Counter(extracted.split()), Counter(truth.split())
    common = sum((got & want).values())
    if not common:
        return 0.0
    precision = common / sum(got.values())
    recall = common / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def test_word_f1():
    assert word_f1("a b c", "a b c") == 1.0
    assert word_f1("", "a b") == 0.0
    assert word_f1("a a b", "a b") == pytest.approx(0.8)


def aeb_rows(root: Path) -> list[dict]:
    manifest = root / "articles" / "manifest.jsonl"
    rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row for row in rows if row.get("collection") == "aeb"]


def test_corpus_aeb_median_f1():
    root = corpus_dir()
    if root is None or not (root / "articles" / "manifest.jsonl").is_file():
        pytest.skip("NEWSMON_CORPUS is unset or has no articles/manifest.jsonl")
    rows = aeb_rows(root)
    assert rows, "no aeb pages in the manifest"
    scores, failed = [], []
    for row in rows:
        html = gzip.decompress((root / "articles" / row["html"]).read_bytes())
        truth = json.loads((root / "articles" / row["truth"][0]).read_text(encoding="utf-8"))["articleBody"]
        try:
            text = extract(html, row.get("url")).text
        except ExtractError:
            text = ""
            failed.append(row["id"])
        scores.append(word_f1(text, truth))
    median = statistics.median(scores)
    print(f"\naeb: {len(scores)} pages, median word F1 {median:.4f}, mean {statistics.fmean(scores):.4f}, "
          f"ExtractError on {len(failed)}")
    assert median >= 0.80, f"median word F1 {median:.3f} over {len(scores)} aeb pages (ExtractError: {failed})"


# --- metadata: what the daemon asks for, read from the page's bytes --------------------------

def test_title_and_date_are_read_only_when_asked():
    page = extract(ARTICLE, CANONICAL, date=False, title=False)
    assert (page.title, page.published) == (None, None)
    assert page.canonical_url == CANONICAL and page.language == "en"
    assert extract(ARTICLE, CANONICAL).text == page.text


@pytest.mark.parametrize("head, url, expected", [
    ('<link href="/news/a" rel="canonical">', "https://site.example/amp/a", "https://site.example/news/a"),
    ("<link rel='Canonical alternate' href=https://site.example/b>", None, "https://site.example/b"),
    ('<meta property="og:url" content="https://site.example/c?x=1&amp;y=2">', None, "https://site.example/c?x=1&y=2"),
    ('<link rel="canonical" href="javascript:void(0)">', "https://site.example/d", "https://site.example/d"),
    ("", "https://site.example/e", "https://site.example/e"),
], ids=["relative", "unquoted-and-other-rels", "og-url-entities", "not-http", "none"])
def test_canonical_url(head, url, expected):
    html = ARTICLE.replace(f'<link rel="canonical" href="{CANONICAL}">'.encode(), head.encode())
    assert extract(html, url, date=False, title=False).canonical_url == expected


def test_tags_after_a_stray_element_in_the_head_still_count():
    # The HTML parser ends a head at the first element that cannot be in one: the tags after it
    # are in the body of the tree, and still the page's own.
    html = ARTICLE.replace(b"<title>", b"<div>promo</div><title>", 1).replace(b'<html lang="en">', b"<html>")
    html = html.replace(b"</head>", b'<meta http-equiv="Content-Language" content="ur_PK"></head>')
    page = extract(html, None)
    assert page.canonical_url == CANONICAL and page.language == "ur-PK"
    assert page.title == "Bridge repairs to start next month"


def test_a_page_of_unclosed_tags_costs_time_in_proportion_to_its_size():
    # Each pattern reads a bounded stretch of a tag: 100,000 unclosed <link and <meta cannot
    # make the reading quadratic (this test would not finish if they did).
    tags = b"<link rel=x " * 50_000 + b"<meta name=language " * 50_000
    hostile = ARTICLE.replace(b'<link rel="canonical"', tags + b'<link rel="canonical"').replace(b' lang="en"', b"")
    page = extract(hostile, "https://valley-courier.example.com/x", date=False, title=False)
    assert page.canonical_url == CANONICAL and page.language is None


# --- the page's tree: trafilatura's loader's tree, made for less -------------------------------

def _same_tree(html: bytes) -> None:
    import lxml.etree
    import lxml.html
    import trafilatura

    from monitor.extract import load

    ours, theirs = load(html), trafilatura.load_html(html)
    assert (ours is None) == (theirs is None)
    if ours is not None:
        assert lxml.etree.tostring(ours) == lxml.etree.tostring(theirs)
        assert all(isinstance(element, lxml.html.HtmlElement) for element in ours.iter())  # trafilatura needs them


@pytest.mark.parametrize("html", [
    ARTICLE,
    b"\xef\xbb\xbf" + ARTICLE,  # a byte-order mark
    ARTICLE.replace(b"<p>", b"<p>\x00\x01\x0b\x0c\x1f", 1),  # control characters XML forbids
    ARTICLE.replace(b"<p>", "<p>\ufffe\uffff".encode(), 1),  # so does it these two
    ARTICLE.replace(b"<p>", "<p>Caf\u00e9 \u0686\u0627\u06cc \U0001F600".encode(), 1),
    b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "x.dtd"/>\n' + ARTICLE,  # a doctype it repairs
    b'<html lang="en"/>\n' + ARTICLE,  # a self-closed <html/>
    b'<?xml version="1.0" encoding="utf-8"?>\n' + ARTICLE,
    ARTICLE.replace(b"<head>", b'<head><meta charset="windows-1252">'),  # a charset the bytes do not have
    "<html><body><p>caf\u00e9 au lait</p></body></html>".encode("cp1252"),  # not UTF-8
    b"\x1f\x8b\x08" + b"not really gzip",
    b"", b"   ", b"just some text, no markup", b"<p>one paragraph</p>", b"<html></html>",
])
def test_load_makes_trafilaturas_tree(html):
    _same_tree(html)


def _corpus_pages() -> list[tuple[dict, bytes]]:
    """Each corpus page's manifest row and HTML; skips without the corpus."""
    root = corpus_dir()
    if root is None or not (root / "articles" / "manifest.jsonl").is_file():
        pytest.skip("NEWSMON_CORPUS is unset or has no articles/manifest.jsonl")
    rows = [json.loads(line) for line in (root / "articles" / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    assert len(rows) > 200
    return [(row, gzip.decompress((root / "articles" / row["html"]).read_bytes())) for row in rows]


def test_load_makes_trafilaturas_tree_for_every_corpus_page():
    for _row, html in _corpus_pages():
        _same_tree(html)


def test_trafilatura_extracts_the_same_from_our_tree_on_every_corpus_page():
    """Our tree (its parser's C class lookup) and trafilatura's own loader's: the same text."""
    import trafilatura

    from monitor.extract import OPTIONS, load

    differ, texts = [], 0
    for row, html in _corpus_pages():
        ours, theirs = load(html), trafilatura.load_html(html)
        if ours is None or theirs is None:
            continue
        mine = trafilatura.bare_extraction(ours, url=row["url"], **OPTIONS)
        trafilaturas = trafilatura.bare_extraction(theirs, url=row["url"], **OPTIONS)
        texts += mine is not None and bool(mine.text)
        if (mine and mine.text) != (trafilaturas and trafilaturas.text):
            differ.append(row["id"])
    assert texts > 200 and differ == []
