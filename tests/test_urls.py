"""monitor.urls: the data-driven table in tests/data/url_cases.toml, properties of the key
(idempotent, never raises), and, when NEWSMON_CORPUS points at the shared corpus, real feeds:
the Google Alerts feed unwraps to the publishers, and no feed has two different entries whose
links collapse to one key unless only a fragment, `www.` or a trailing slash told them apart."""

from __future__ import annotations

import ast
import itertools
import random
import sys
import tomllib
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from monitor import redirectors, urls
from monitor.urls import canonical, host, outlet_of, unwrap
from conftest import corpus_dir

CASES_FILE = Path(__file__).parent / "data" / "url_cases.toml"
CASE_KEYS = {"id", "url", "key", "unwrap", "idempotent", "note"}
GROUP_KEYS = {"id", "key", "urls", "note"}


def load_table() -> dict:
    with CASES_FILE.open("rb") as handle:
        return tomllib.load(handle)


TABLE = load_table()
CASES = TABLE["case"]
SAME = TABLE["same"]
DIFFERENT = TABLE["different"]


# --- the table -----------------------------------------------------------------------------------
def test_table_is_well_formed():
    ids = [case["id"] for case in CASES] + [group["id"] for group in SAME + DIFFERENT]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for case in CASES:
        assert set(case) <= CASE_KEYS and {"id", "url", "key"} <= set(case), case["id"]
    for group in SAME:
        assert set(group) <= GROUP_KEYS and len(group["urls"]) >= 2, group["id"]
    for group in DIFFERENT:
        assert set(group) <= GROUP_KEYS - {"key"} and len(group["urls"]) >= 2, group["id"]
    assert len(CASES) >= 50


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_case(case):
    key = canonical(case["url"])
    assert key == case["key"]
    if "unwrap" in case:
        assert unwrap(case["url"]) == case["unwrap"]
    if case.get("idempotent", True):
        assert canonical(key) == key


@pytest.mark.parametrize("group", SAME, ids=[group["id"] for group in SAME])
def test_same_page_one_key(group):
    keys = {url: canonical(url) for url in group["urls"]}
    assert {key for key in keys.values()} == {group["key"]}, keys


@pytest.mark.parametrize("group", DIFFERENT, ids=[group["id"] for group in DIFFERENT])
def test_different_pages_different_keys(group):
    keys = defaultdict(list)
    for url in group["urls"]:
        keys[canonical(url)].append(url)
    collapsed = {key: found for key, found in keys.items() if len(found) > 1}
    assert not collapsed


def test_six_variants_of_one_article_are_one_entry_key():
    """Issue #5's acceptance example, spelled out."""
    article = "https://www.dawn.com/news/1234567/ttp-attack"
    variants = [
        article,
        article + "?utm_source=twitter&utm_medium=social",
        "http://dawn.com/news/1234567/ttp-attack/#comments",
        article + "/amp",
        "https://amp.dawn.com/news/1234567/ttp-attack",
        "https://www.google.com/url?rct=j&sa=t&url=" + article + "&ct=ga&usg=AFQjCNE",
        "https://news.google.com/news/url?sa=t&fd=R&url=https%3A%2F%2Fwww.dawn.com%2Fnews%2F1234567%2Fttp-attack",
    ]
    assert len({canonical(url) for url in variants}) == 1
    # and the redirectors hand the pipeline the publisher's URL to fetch
    assert unwrap(variants[5]) == article and unwrap(variants[6]) == article


# --- properties ----------------------------------------------------------------------------------
def test_non_strings_do_not_raise():
    assert canonical(None) == "" and unwrap(None) == ""  # type: ignore[arg-type]
    assert canonical(b" https://WWW.dawn.com/a/ ") == "https://dawn.com/a"  # type: ignore[arg-type]
    assert canonical(42) == "42"  # type: ignore[arg-type]


FUZZ_ATOMS = [
    "http://", "https://", "HTTP://", "//", "www.", "amp.", "dawn.com", "bücher.de", "[::1]", "[zz]", ":80",
    ":443", ":x", ":8080", "/", "//", "/amp", "/amp/", "amp.html", ".amp", "-1234567-amp.html", "index.html",
    "/./", "/../", "..", "?", "&", "=", "#", "%", "%2", "%7e", "%2F", "%zz", "%2E", "utm_source=x", "amp", "amp=1",
    "outputType=amp", "CMP=1", "a=1", "b=2", " ", "é", "\u3002", "\ud800", "\\", "@", "user:pw@", "-", "x", "1",
    "/1", "amp_articleshow", "\t", "\n", ";", "+",
]
REDIRECTOR_ATOMS = ["google.com/url?url=", "google.com/amp/s/", "news.google.com/rss/articles/CBMi",
                    ".cdn.ampproject.org/c/s/", "l.facebook.com/l.php?u=", "feedproxy.google.com/?url="]


def fuzz(seed: int, atoms: list[str], count: int):
    rng = random.Random(seed)
    for _ in range(count):
        yield "".join(rng.choice(atoms) for _ in range(rng.randint(1, 12)))


def test_never_raises_on_garbage():
    for text in fuzz(1, FUZZ_ATOMS + REDIRECTOR_ATOMS, 20_000):
        assert isinstance(canonical(text), str)
        assert isinstance(unwrap(text), str)


def test_unwrap_skips_only_links_that_name_no_redirector():
    """`unwrap` reads a link's host only when the link names a redirector (`REDIRECTOR_NAMES`):
    every other link, garbage included, is one no redirector rule would have read."""
    for text in fuzz(3, FUZZ_ATOMS + REDIRECTOR_ATOMS + ["GOOGLE.COM/url?url=", "L.FaceBook.com/l.php?u="], 20_000):
        current = text.strip()
        if not any(name in current.lower() for name in redirectors.REDIRECTOR_NAMES):
            try:
                assert redirectors.unwrap_once(current) is None, text
            except ValueError:
                pass


def test_key_is_idempotent():
    """canonical(canonical(u)) == canonical(u). Only without redirectors: a key may itself be
    a redirector again once a level beyond MAX_UNWRAP, or garbage that normalising made
    readable, is reached (see the table's nested-four-levels case)."""
    for text in fuzz(2, FUZZ_ATOMS, 20_000):
        key = canonical(text)
        assert canonical(key) == key, text


def test_unwrap_leaves_ordinary_urls_alone():
    url = "https://www.dawn.com/news/1234567/ttp-attack/amp?utm_source=x#c"
    assert unwrap(url) == url
    assert unwrap(" " + url + "\n") == url


def test_key_is_quick():
    import time
    url = "https://www.google.com/url?rct=j&sa=t&url=https://www.dawn.com/news/1234567/ttp-attack/amp?utm_source=x"
    started = time.perf_counter()
    for _ in range(2000):
        canonical(url)
    assert (time.perf_counter() - started) / 2000 < 0.001  # measured ~30 µs; a generous bound


def test_host_and_outlet_unchanged():
    assert host("https://WWW.Dawn.com/x") == "www.dawn.com"
    assert outlet_of("https://www.dawn.com/x") == "dawn.com"
    assert host(None) is None and host("") is None and host("http://[::1") is None
    assert outlet_of("not a url") is None


def test_urls_imports_only_the_standard_library():
    """monitor.urls and monitor.redirectors are the ground floor: the standard library, and
    urls the redirectors module, nothing else."""
    for module, allowed in ((urls, {"monitor.redirectors"}), (redirectors, set())):
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        modules = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"relative import in {module.__name__}"
                modules.add(node.module or "")
        outside = {name for name in modules if name.split(".")[0] not in sys.stdlib_module_names | {"__future__"}}
        assert outside <= allowed, (module.__name__, outside)


def test_tracking_lists_leave_content_parameters_alone():
    """The parameters the module promises to keep are not matched by any rule."""
    for name in ("ref", "source", "from", "s", "src", "cid", "id", "p", "t", "v", "page", "partner", "rss",
                 "share", "feature", "cmp", "_r", "q", "pk_id", "amp"):
        assert name not in urls.TRACKING_PARAMETERS
        assert not name.startswith(urls.TRACKING_PREFIXES)
        assert canonical(f"https://example.com/a?{name}=2") == f"https://example.com/a?{name}=2"


# --- the shared corpus ---------------------------------------------------------------------------
def test_corpus_google_alerts_links_unwrap_to_publishers():
    root = corpus_dir()
    path = root / "feeds" / "feedjira" / "google_alerts_atom.xml" if root else None
    if path is None or not path.is_file():
        pytest.skip("NEWSMON_CORPUS is unset or has no feeds/feedjira/google_alerts_atom.xml")
    from monitor.feeds import parse

    document = parse(path.read_bytes(), "https://www.google.com/alerts/feeds/0/0")
    links = [entry.link for entry in document.entries if entry.link]
    assert len(links) >= 10 and len(links) == len(document.entries)
    for link in links:
        assert "google." in (host(link) or "")  # they really are redirector links
        target = unwrap(link)
        assert urlsplit(target).scheme in ("http", "https"), link
        assert "google" not in (host(target) or "google"), (link, target)
        key = canonical(link)
        assert "google" not in (host(key) or "google"), (link, key)
        assert key == canonical(target)
    assert len({canonical(link) for link in links}) == len(links)  # twenty different articles


def _loose(link: str) -> tuple:
    """What may legitimately tell two links to one page apart: scheme, `www.`, a trailing slash,
    a fragment."""
    parts = urlsplit(link.strip())
    name = (parts.hostname or "").removeprefix("www.")
    return name, parts.path.rstrip("/"), parts.query


def test_corpus_feeds_keys_do_not_merge_different_entries():
    root = corpus_dir()
    if root is None or not (root / "feeds").is_dir():
        pytest.skip("NEWSMON_CORPUS is unset or has no feeds/ directory")
    from monitor.errors import ParseError
    from monitor.feeds import parse

    checked, merged = 0, []
    for path in sorted(root.glob("feeds/*/*")):
        if not path.is_file() or path.name == "feeds_index.json":
            continue
        try:
            document = parse(path.read_bytes(), f"https://corpus.example/{path.name}")
        except ParseError:
            continue
        by_key = defaultdict(set)
        for entry in document.entries:
            if entry.link:
                key = canonical(entry.link)
                assert canonical(key) == key, entry.link
                by_key[key].add(entry.link)
                checked += 1
        for key, links in by_key.items():
            if len({_loose(link) for link in links}) > 1:
                merged.append(f"{path.name}: {key} <- {sorted(links)[:3]}")
    assert checked >= 1000
    assert not merged, "\n".join(merged[:20])


def test_group_urls_are_all_web_urls():
    """A group URL that silently fell back to "the input, stripped" would prove nothing."""
    for group in itertools.chain(SAME, DIFFERENT):
        for url in group["urls"]:
            assert canonical(url).startswith("https://"), url
