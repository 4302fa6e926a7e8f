"""`python -m bench.match_bench`: the matcher's speed targets of issue 4.

    python -m bench.match_bench               # prints the results
    python -m bench.match_bench --markdown    # ... as the "## Matching" section of docs/benchmarks.md

Targets: matching 10,000 aliases against a 5 KB article takes at most 1 ms (median, text
normalisation included); compiling 10,000 aliases takes at most 2 s.

The 10,000 aliases are the bundled pack's (~470) plus generated names shaped like real ones:
multi-word transliterations, capitalised acronyms (case-sensitive), Arabic-script names, prefixes
and a few common words, spread over 1,000 entities with a rule each, plus 50 query rules. The
articles are 5 KB of text: the bundled demo articles (ours, always there), and, when the shared
corpus is found (--corpus, $NEWSMON_CORPUS or ../shared/corpus), every corpus article page with
at least 5 KB of extracted text, cut to 5 KB. For comparison, the same articles are also matched
with one big Python `re` alternation of the same aliases, the approach issue 4 rules out.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import re
import statistics
import sys
import time
from pathlib import Path

from monitor import packs
from monitor.match import Matcher
from monitor.model import Entity, Rule

ALIASES = 10_000
ARTICLE_CHARS = 5_000
MATCH_TARGET_MS = 1.0
COMPILE_TARGET_S = 2.0
ROOT = Path(__file__).resolve().parent.parent
SYLLABLES = ["ka", "ra", "bul", "tan", "zai", "khel", "mir", "shah", "gul", "dar", "pur", "abad", "wal", "ghan",
             "sta", "ni", "li", "zo", "qa", "ho", "ba", "lo", "chi", "sang", "mar", "wat", "dir", "kot", "har", "nu"]
ARABIC_LETTERS = "ابپتثجچحخدذرزسشصضطظعغفقکگلمنوهی"
COMMON = ["police", "attack*", "border", "market", "minister", "district", "province", "militant*", "bomb*", "court"]


def generated_aliases(count: int, rng: random.Random) -> list[str]:
    """`count` distinct aliases shaped like the names users watch."""
    out: set[str] = set(COMMON)
    while len(out) < count:
        roll = rng.random()
        if roll < 0.55:
            words = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
                     for _ in range(rng.randint(1, 3))]
            out.add(("-" if rng.random() < 0.2 else " ").join(words))
        elif roll < 0.7:
            out.add("".join(rng.choice("ABCDEFGHIJKLMNOPRSTUWZ") for _ in range(rng.randint(2, 5))))
        elif roll < 0.9:
            out.add(" ".join("".join(rng.choice(ARABIC_LETTERS) for _ in range(rng.randint(3, 6)))
                             for _ in range(rng.randint(1, 3))))
        else:
            out.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))) + "*")
    return sorted(out)


def watchlist(total: int = ALIASES, seed: int = 4) -> tuple[list[Entity], list[Rule]]:
    """Entities and rules holding `total` aliases: the pack's and generated ones."""
    rng = random.Random(seed)
    pack = list(packs.entities().values())
    pack_aliases = sum(len(entity.names) for entity in pack)
    names = generated_aliases(total - pack_aliases, rng)
    rng.shuffle(names)
    entities = [Entity(f"e{index}", tuple(names[index::1000])) for index in range(1000)]
    rules = [Rule(f"r{index}", any=(f"@e{index}",)) for index in range(1000)]
    rules += [Rule(f"pack-{entity.name[5:]}", any=("@" + entity.name,)) for entity in pack]
    rules += [Rule(f"q{index}", query=f"@e{index} NEAR/10 (attack* OR bomb*) NOT court") for index in range(50)]
    return entities, rules


def alias_count(entities: list[Entity], rules: list[Rule]) -> int:
    return Matcher(entities, rules).alias_count


def demo_articles() -> list[str]:
    """The bundled demo articles' paragraphs, joined and cut to 5 KB pieces."""
    from monitor.extract import extract

    directory = ROOT / "monitor" / "demo" / "data" / "articles"
    text = "\n".join(extract(path.read_bytes(), None).text for path in sorted(directory.glob("*.html")))
    while len(text) < 2 * ARTICLE_CHARS:
        text += "\n" + text
    return [text[start:start + ARTICLE_CHARS] for start in range(0, len(text) - ARTICLE_CHARS, ARTICLE_CHARS // 2)][:8]


def find_corpus(explicit: str | None) -> Path | None:
    for candidate in (explicit, os.environ.get("NEWSMON_CORPUS"), str(ROOT.parent / "shared" / "corpus")):
        if candidate and (Path(candidate) / "articles" / "manifest.jsonl").is_file():
            return Path(candidate)
    return None


def corpus_articles(corpus: Path) -> list[str]:
    """Every corpus article page with at least 5 KB of extracted text, cut to 5 KB."""
    from monitor.errors import ExtractError
    from monitor.extract import extract

    texts = []
    for line in (corpus / "articles" / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        try:
            text = extract(gzip.decompress((corpus / "articles" / row["html"]).read_bytes()), row.get("url")).text
        except ExtractError:
            continue
        if len(text) >= ARTICLE_CHARS:
            texts.append(text[:ARTICLE_CHARS])
    return texts


def as_ascii(text: str) -> str:
    """`text` with curly quotes, dashes and accents replaced by their plain ASCII forms."""
    import unicodedata

    text = text.translate({0x2019: "'", 0x2018: "'", 0x201C: '"', 0x201D: '"', 0x2014: "-", 0x2013: "-"})
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def time_match(matcher: Matcher, articles: list[str], rounds: int) -> list[float]:
    """Seconds per `match(title, text)` call, every call of `rounds` passes over the articles."""
    for text in articles:
        matcher.match("", text)  # warm: first-use tables, caches
    samples = []
    clock = time.perf_counter
    for _ in range(rounds):
        for text in articles:
            started = clock()
            matcher.match("", text)
            samples.append(clock() - started)
    return samples


def time_compile(entities: list[Entity], rules: list[Rule], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        Matcher(entities, rules)
        samples.append(time.perf_counter() - started)
    return samples


def time_regex(entities: list[Entity], articles: list[str], runs: int) -> tuple[float, float]:
    """(compile seconds, median seconds per article) of one big `re` alternation of every alias."""
    aliases = sorted({alias.rstrip("*") for entity in entities for alias in entity.names}, key=len, reverse=True)
    started = time.perf_counter()
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(alias) for alias in aliases) + r")(?!\w)", re.IGNORECASE)
    compiled = time.perf_counter() - started
    samples = []
    for text in articles[:runs]:
        started = time.perf_counter()
        pattern.findall(text)
        samples.append(time.perf_counter() - started)
    return compiled, statistics.median(samples)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.match_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", help="the shared corpus directory (default: $NEWSMON_CORPUS, ../shared/corpus)")
    parser.add_argument("--rounds", type=int, default=200, help="passes over the articles (default 200)")
    parser.add_argument("--markdown", action="store_true", help="print the results as the docs/benchmarks.md section")
    args = parser.parse_args(argv)

    entities, rules = watchlist()
    compile_samples = time_compile(entities, rules, 5)
    matcher = Matcher(entities, rules)
    demo = demo_articles()
    sets = [("demo articles (ours, 5 KB pieces)", demo),
            ("the same demo articles made pure ASCII (the fast path)", [as_ascii(text) for text in demo])]
    corpus = find_corpus(args.corpus)
    if corpus is not None:
        sets.append(("shared corpus pages with 5 KB of text", corpus_articles(corpus)))
    results = []
    for label, articles in sets:
        samples = time_match(matcher, articles, max(1, args.rounds * 8 // max(1, len(articles))))
        ascii_share = sum(text.isascii() for text in articles) / len(articles)
        results.append((label, len(articles), ascii_share, samples))
    regex_compile, regex_median = time_regex(entities, sets[-1][1], 10)

    compile_median = statistics.median(compile_samples)
    pack_names = sum(len(entity.names) for entity in packs.entities().values())
    names = pack_names + sum(len(entity.names) for entity in entities)
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"pyahocorasick {_version('pyahocorasick')}. Command: `python -m bench.match_bench`.",
        "",
        f"Watchlist: {names:,} entity names ({pack_names} from the bundled pack, the rest generated: "
        f"transliterated names, acronyms, Arabic-script names, prefixes, a few common words) in "
        f"{len(entities) + len(packs.entities())} entities, and {len(rules)} rules (50 of them `NEAR` queries); "
        f"with the pack's context and exclusion phrases, {matcher.alias_count:,} aliases in the automata.",
        "",
        "| measure | result | target |",
        "|---|---|---|",
        f"| compile {matcher.alias_count:,} aliases (median of {len(compile_samples)}) | {compile_median:.2f} s | "
        f"≤ {COMPILE_TARGET_S:g} s {'✓' if compile_median <= COMPILE_TARGET_S else '✗'} |",
    ]
    for label, count, ascii_share, samples in results:
        median = statistics.median(samples) * 1000
        lines.append(f"| match one 5 KB article, {label}: {count} articles, {ascii_share:.0%} pure ASCII, "
                     f"{len(samples):,} calls | median {median:.3f} ms, p95 {percentile(samples, 0.95) * 1000:.3f} ms | "
                     f"≤ {MATCH_TARGET_MS:g} ms median {'✓' if median <= MATCH_TARGET_MS else '✗'} |")
    lines.append(f"| for comparison: one Python `re` alternation of the same aliases, {sets[-1][0]} | compile "
                 f"{regex_compile:.2f} s, median {regex_median * 1000:.1f} ms per article | (ruled out) |")
    lines += ["", "A match call is the whole of `Matcher.match(title, text)`: normalising the text (NFKC, "
              "case, diacritics, dashes, Arabic-script letters), one pass of the automaton, word-boundary, "
              "case and proclitic checks, context and exclusion windows, and judging every rule that has a hit."]
    if args.markdown:
        print("## Matching\n")
    print("\n".join(lines))
    failed = compile_median > COMPILE_TARGET_S or any(statistics.median(s) * 1000 > MATCH_TARGET_MS for *_x, s in results)
    return 1 if failed else 0


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
