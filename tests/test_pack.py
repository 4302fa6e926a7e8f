"""The bundled entity pack (monitor/packs/south-central-asia.toml): it passes the configuration's
own checks, every non-Latin name has a source, it finds what it should in short reports written
in English, Urdu, Pashto and Dari (tests/data/pack_texts.toml), and every hit it makes on the
shared corpus's article pages (and on its one Urdu feed, BBC Urdu, for real Urdu text) is kept in
a reviewed golden file (tests/golden/pack_corpus_hits.tsv).

The golden part runs when NEWSMON_CORPUS points at the shared corpus. After a deliberate change
to the pack or the matcher, regenerate the file with NEWSMON_UPDATE_GOLDEN=1, review the diff
line by line, and commit it with the change.
"""

from __future__ import annotations

import difflib
import gzip
import json
import os
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from monitor import config, feeds, packs
from monitor.errors import ExtractError
from monitor.extract import extract
from monitor.match import Matcher
from monitor.model import Rule
from conftest import corpus_dir as shared_corpus

HERE = Path(__file__).parent
TEXTS_FILE = HERE / "data" / "pack_texts.toml"
GOLDEN = HERE / "golden" / "pack_corpus_hits.tsv"
CONTEXT = 30  # characters of context on each side of a hit in the golden file
URDU_FEED = "miniflux/urdu_UTF8.xml"  # BBC Urdu, the corpus's one Urdu feed


def pack_matcher() -> Matcher:
    """Every pack entity, each in a rule of its own name."""
    return Matcher([], [Rule(name[len(packs.PREFIX):], any=("@" + name,)) for name in packs.entities()])


def test_pack_passes_the_configuration_checks():
    assert [str(problem) for problem in config.pack_problems()] == []


def test_pack_has_the_entities_issue_4_asks_for():
    names = set(packs.entities())
    for wanted in ("ttp", "jamaat-ul-ahrar", "hafiz-gul-bahadur", "afghan-taliban", "iskp", "bla", "lashkar-e-taiba",
                   "jaish-e-mohammed", "aqis", "kp", "kp-districts", "fata", "balochistan", "waziristan", "kabul",
                   "torkham", "chaman"):
        assert packs.PREFIX + wanted in names
    ttp = packs.entities()["pack.ttp"]
    assert "Fitna al-Khawarij" in ttp.names and "TTP" in ttp.ambiguous and ttp.context and ttp.exclude


def test_every_non_latin_name_has_a_source():
    sources = packs.raw(packs.FILES[0])["sources"]
    for entity in packs.entities().values():
        for name in entity.names:
            if any(ch.isalpha() and ord(ch) >= 0x0250 and not 0x1E00 <= ord(ch) <= 0x1EFF for ch in name):
                assert sources.get(name, "").strip(), f"{entity.name}: {name!r} has no source note"


def test_every_ambiguous_name_has_context_or_exclusions():
    for entity in packs.entities().values():
        if entity.ambiguous:
            assert entity.context or entity.exclude, entity.name
            assert set(entity.ambiguous) <= set(entity.names), entity.name


# --- short reports in four languages ---------------------------------------------------------

def load_texts() -> list[dict]:
    with TEXTS_FILE.open("rb") as handle:
        return tomllib.load(handle)["texts"]


TEXTS = load_texts()


def test_texts_cover_four_languages():
    languages = Counter(text["lang"] for text in TEXTS)
    assert set(languages) == {"en", "ur", "ps", "fa"}
    assert sum(1 for text in TEXTS if text["found"]) >= 30
    assert all(count >= 6 for count in languages.values()), languages


@pytest.mark.parametrize("report", TEXTS, ids=[f"{t['lang']}-{i}" for i, t in enumerate(TEXTS)])
def test_pack_finds_the_entities_of_a_report(report):
    matcher = pack_matcher()
    found = {match.rule for match in matcher.match("", report["text"])}
    assert found == set(report["found"]), [(h.entity, report["text"][h.start:h.end])
                                           for m in matcher.match("", report["text"]) for h in m.hits]


# Names added from the development corpus's reports in other scripts (sentences written for this test).
OTHER_SCRIPT_NAMES = [
    ("ur", "کابل میں ایک اجلاس کے دوران دھماکہ ہوا؛ حکام کے مطابق نشانہ حقانی نیٹ ورک کا ایک رہنما تھا۔", "haqqani-network"),
    ("ar", "قال مسؤولون إن الانفجار استهدف قياديا في شبكة حقاني داخل مبنى حكومي.", "haqqani-network"),
]


@pytest.mark.parametrize("lang, text, entity", OTHER_SCRIPT_NAMES, ids=[f"{lang}-{entity}" for lang, _t, entity in OTHER_SCRIPT_NAMES])
def test_pack_finds_names_in_other_scripts(lang, text, entity):
    assert entity in {match.rule for match in pack_matcher().match("", text)}


# --- the golden file of hits over the shared corpus ------------------------------------------

def corpus_dir() -> Path | None:
    """The shared corpus, when it has its article pages."""
    found = shared_corpus()
    return found if found is not None and (found / "articles" / "manifest.jsonl").is_file() else None


def context_of(text: str, start: int, end: int) -> str:
    """About 60 characters around a hit, the hit in «guillemets», on one line."""
    before = text[max(0, start - CONTEXT):start]
    after = text[end:end + CONTEXT]
    line = f"{'…' if start > CONTEXT else ''}{before}«{text[start:end]}»{after}{'…' if end + CONTEXT < len(text) else ''}"
    return " ".join(line.split())


def golden_lines(root: Path) -> list[str]:
    matcher = pack_matcher()
    lines = ["# page\tentity\tname\tfield:start-end\tcontext (hit in «»)"]
    rows = [json.loads(line) for line in (root / "articles" / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    for row in sorted(rows, key=lambda row: row["id"]):
        html = gzip.decompress((root / "articles" / row["html"]).read_bytes())
        try:
            page = extract(html, row.get("url"))
        except ExtractError:
            lines.append(f"# {row['id']}: no article text")
            continue
        fields = {"title": page.title or "", "text": page.text}
        for hit in matcher.hits(fields["title"], fields["text"]):
            value = fields[hit.field]
            lines.append("\t".join((row["id"], hit.entity, hit.alias, f"{hit.field}:{hit.start}-{hit.end}",
                                    context_of(value, hit.start, hit.end))))
    urdu = root / "feeds" / URDU_FEED
    if urdu.is_file():
        document = feeds.parse(urdu.read_bytes(), "http://www.bbcurdu.com", "application/rss+xml")
        for number, entry in enumerate(document.entries):
            fields = {"title": entry.title, "text": entry.content or entry.summary}
            for hit in matcher.hits(fields["title"], fields["text"]):
                lines.append("\t".join((f"feeds/{URDU_FEED}#{number}", hit.entity, hit.alias,
                                        f"{hit.field}:{hit.start}-{hit.end}",
                                        context_of(fields[hit.field], hit.start, hit.end))))
    return lines


def test_pack_hits_on_the_corpus_match_the_golden_file():
    root = corpus_dir()
    if root is None:
        pytest.skip("NEWSMON_CORPUS is unset or has no articles/manifest.jsonl")
    got = golden_lines(root)
    if os.environ.get("NEWSMON_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text("\n".join(got) + "\n", encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8").splitlines()
    diff = "\n".join(difflib.unified_diff(expected, got, "golden", "now", lineterm="", n=0))
    assert got == expected, ("pack hits on the corpus changed; review, then regenerate with "
                             f"NEWSMON_UPDATE_GOLDEN=1:\n{diff}")
