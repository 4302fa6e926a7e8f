"""`python -m bench.backtest_bench`: `newsmon backtest` over a large store, the target of issue 19.

    python -m bench.backtest_bench                  # 100,000 articles, 50 rules: prints the results
    python -m bench.backtest_bench --markdown       # ... as the "## Backtest" section of docs/benchmarks.md

Target: backtesting 100,000 stored articles with 50 rules takes under a minute.

A state database is made with newsmon's own store (`monitor.store.open_store`, every migration)
and filled with direct SQL: feeds, entries (a few recorded quietly, as a first poll does),
stories of 1 to 8 articles from several outlets (a few merged into another), articles fetched
over the last 30 days, and the alerts (and their recorded hits) a live run would have queued for
the first article of each story that could alert, less a few and plus a few, as when rules were
edited since. The article texts are the shared corpus's ground-truth article texts (--corpus,
$NEWSMON_CORPUS or ../shared/corpus; the bundled demo articles without it), each story's a
sentence-shuffled copy with its own title, and about a third of them carry a sentence or two
naming the bundled pack's actors and places. Nothing of the corpus is written outside the
temporary directory. The 50 rules use the pack's entities in `any`/`all`/`none` lists and in
queries. The real command, `newsmon --config CFG backtest --since 30d --json`, is timed in a
subprocess: wall, CPU and peak RSS of that process (os.wait4), median of 3 runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import match_bench, report

TARGET_S = 60.0
DAY = 86400.0
FEEDS = 120
TAGS = ("pakistan", "afghanistan", "international", "analysis")
# Sentences of the region's news, naming the pack's entities; about a third of stories carry one or two.
REGIONAL = [
    "Police in Bannu said fighters of the Tehreek-e-Taliban Pakistan attacked a checkpoint overnight, killing two constables.",
    "The TTP claimed the attack in North Waziristan in a statement sent to reporters.",
    "Islamic State Khorasan Province said it was behind the bombing near a mosque in Kabul.",
    "A suicide bomber struck a market in Jalalabad, and officials blamed ISKP.",
    "The Baloch Liberation Army said its fighters attacked a passenger train in Balochistan.",
    "Security forces killed three militants in Dera Ismail Khan, in Khyber Pakhtunkhwa, the army said.",
    "The Torkham border crossing stayed closed for a third day after clashes between border guards.",
    "Lashkar-e-Taiba was named in the indictment filed on Monday.",
    "The Haqqani network denied any role in the attack.",
    "Officials in Quetta said the Balochistan Liberation Front had claimed the blast.",
    "The Taliban said they had detained suspects linked to the explosion in Kabul.",
    "Jaish-e-Mohammed was blamed for the ambush on a police convoy.",
    "The Hafiz Gul Bahadur group said it attacked a security post in South Waziristan.",
    "Trade resumed at the Chaman crossing after a week of protests by traders.",
    "Al-Qaeda in the Indian Subcontinent issued a statement praising the attack.",
    "Jamaat-ul-Ahrar claimed the bombing of a police van in Peshawar.",
    "Gunmen killed four labourers in Gwadar, and no group has claimed the killings.",
    "The government accused Fitna al-Hindustan of planning the attack in Turbat.",
    "Flooding cut roads across Khyber Pakhtunkhwa and the former FATA districts.",
    "Officials said fighting along the Durand Line had displaced hundreds of families.",
    "An explosion at a cricket ground in Quetta injured spectators, police said.",
    "Voters in Khyber Pakhtunkhwa went to the polls in a provincial by-election.",
    "The Baloch Raaji Aajoi Sangar said it had attacked a gas pipeline near Sui.",
    "Kabul said it would reopen the Ghulam Khan crossing to trucks next week.",
]


def rules() -> list[dict]:
    """50 rules shaped like an analyst's: the pack's actors, actors in a region, regions with
    words, exclusions, queries; a few limited to feeds of a tag."""
    actors = ["ttp", "jamaat-ul-ahrar", "hafiz-gul-bahadur", "lashkar-e-taiba", "jaish-e-mohammed", "bla", "blf",
              "baloch-republican-army", "bras", "fitna-al-hindustan", "afghan-taliban", "haqqani-network", "iskp",
              "aqis"]
    out = [{"name": f"{actor}-activity", "any": [f"@pack.{actor}"]} for actor in actors]
    pairs = [("ttp", "kp"), ("ttp", "waziristan"), ("ttp", "kp-districts"), ("iskp", "kabul"), ("bla", "balochistan"),
             ("blf", "balochistan-districts"), ("afghan-taliban", "torkham"), ("afghan-taliban", "durand-line"),
             ("haqqani-network", "kabul"), ("hafiz-gul-bahadur", "waziristan")]
    out += [{"name": f"{actor}-in-{region}", "all": [f"@pack.{actor}", f"@pack.{region}"]} for actor, region in pairs]
    regions = ["kp", "kp-districts", "fata", "waziristan", "balochistan", "balochistan-districts", "kabul", "torkham",
               "chaman", "border-crossings"]
    for region in regions:
        out.append({"name": f"{region}-violence", "any": [f"@pack.{region}"],
                    "all": ["attack*"] if region in ("kp", "kabul") else [],
                    "none": ["cricket", "by-election", "flood*"]})
    out += [{"name": "borders-trade", "any": ["@pack.torkham", "@pack.chaman", "@pack.border-crossings"],
             "all": ["trade"], "feed_tags": ["pakistan", "afghanistan"]},
            {"name": "militancy-international", "any": ["@pack.ttp", "@pack.iskp", "@pack.bla"],
             "feed_tags": ["international"], "severity": "high"}]
    queries = [
        "@pack.ttp NEAR/15 (attack* OR bomb* OR kill*)",
        "(@pack.bla OR @pack.blf OR @pack.bras) AND (train OR pipeline OR convoy) NOT cricket",
        "@pack.iskp AND (mosque OR market) AND (bomb* OR blast OR explosion)",
        "title:@pack.kabul AND (explosion OR blast OR attack*)",
        "(@pack.kp OR @pack.fata) AND flood*",
        "@pack.afghan-taliban NEAR/10 (detain* OR arrest*)",
        "\"suicide bomber\" AND (@pack.kp-districts OR @pack.balochistan-districts OR @pack.kabul)",
        "(@pack.lashkar-e-taiba OR @pack.jaish-e-mohammed) AND (indictment OR ambush OR convoy)",
        "@pack.durand-line AND (displaced OR fighting OR clash*)",
        "ransomware NEAR/20 (attack* OR hacker*)",
        "(election* OR vote*) AND @pack.kp NOT cricket",
        "\"climate change\" AND (flood* OR drought)",
        "(police OR army) NEAR/5 (killed OR shot) AND @pack.balochistan",
        "@pack.aqis OR (\"al-Qaeda\" AND statement)",
    ]
    out += [{"name": f"query-{index + 1:02}", "query": query, **({"severity": "high"} if index < 4 else {})}
            for index, query in enumerate(queries)]
    return out


def corpus_texts(corpus: Path | None) -> tuple[list[str], str]:
    """The article texts to build from, and where they come from: the corpus's ground truth
    (aeb's articleBody, Readability's expected HTML as text), else the bundled demo articles."""
    from monitor.extract import extract
    from monitor.feeds import html_to_text

    if corpus is None:
        directory = match_bench.ROOT / "monitor" / "demo" / "data" / "articles"
        return [extract(path.read_bytes(), None).text for path in sorted(directory.glob("*.html"))], \
            "the bundled demo articles (no corpus found)"
    from bench.corpus import load_pages

    texts = []
    for page in load_pages(corpus):
        if page.truth is None or not page.truth.is_file():
            continue
        if page.truth.suffix == ".json":
            text = json.loads(page.truth.read_text(encoding="utf-8")).get("articleBody") or ""
        else:
            text = html_to_text(page.truth.read_text(encoding="utf-8"))
        text = re.sub(r"[ \t]+", " ", text).strip()
        if len(text) >= 500:
            texts.append(text)
    return texts, f"{len(texts)} ground-truth article texts of the shared corpus"


def sentences(text: str) -> list[str]:
    return [part for part in re.split(r"(?<=[.!?])\s+", text) if part]


def story_text(base: list[str], regional: list[str], rng: random.Random) -> tuple[str, str]:
    """(title, text): the base text's sentences, rotated and a few swapped, with the regional
    sentences put in; the title from the first regional sentence or a sentence of the text."""
    body = list(base)
    if len(body) > 3:
        cut = rng.randrange(len(body))
        body = body[cut:] + body[:cut]
        for _ in range(len(body) // 8):
            index = rng.randrange(len(body) - 1)
            body[index], body[index + 1] = body[index + 1], body[index]
    for sentence in regional:
        body.insert(rng.randrange(min(len(body), 6) + 1), sentence)
    lines = [" ".join(body[start:start + 4]) for start in range(0, len(body), 4)]
    source = regional[0] if regional and rng.random() < 0.7 else rng.choice(body)
    title = " ".join(source.split()[:rng.randint(7, 12)]).rstrip(",.;:")
    return title, "\n".join(lines)


def fill(state: Path, texts: list[str], articles: int, rule_list: list[dict], seed: int = 19) -> dict:
    """Fill a new store in `state` with `articles` articles; returns counts of what was written."""
    from monitor import match
    from monitor.store import open_store

    rng = random.Random(seed)
    store = open_store(state)
    db = store.db
    now = time.time()
    bases = [sentences(text) for text in texts]
    matcher = match.Matcher([], model_rules(rule_list))
    feeds = [(index + 1, f"https://news{index + 1:03}.example/rss.xml", TAGS[index % len(TAGS)]) for index in range(FEEDS)]
    db.execute("BEGIN")
    db.executemany("INSERT INTO feeds (id, url, title, site_url, last_success, created, catch_up) VALUES (?, ?, ?, ?, ?, ?, 0)",
                   [(id_, url, f"News {id_}", url.rsplit("/", 1)[0], now, now - 40 * DAY) for id_, url, _tag in feeds])
    db.execute("COMMIT")
    counts = {"articles": 0, "stories": 0, "entries": 0, "quiet": 0, "merged": 0, "alerts": 0, "followups": 0,
              "hits": 0, "regional": 0}
    matched: dict[tuple, list] = {}  # (base, regional, title) -> the rules' matches, as alerted
    article_id = entry_id = story_id = 0
    start, span = now - 29.5 * DAY, 29 * DAY
    while article_id < articles:
        rows = {"stories": [], "articles": [], "entries": [], "alerts": [], "hits": []}
        chunk_end = min(articles, article_id + 5000)
        while article_id < chunk_end:
            story_id += 1
            size = min(chunk_end - article_id, rng.choice((1, 1, 1, 2, 2, 3, 4, 5, 8)))
            base = rng.randrange(len(bases))
            regional = tuple(sorted(rng.sample(range(len(REGIONAL)), rng.choice((1, 1, 2))))) \
                if rng.random() < 0.33 else ()
            counts["regional"] += bool(regional)
            title, text = story_text(bases[base], [REGIONAL[index] for index in regional], rng)
            first = start + span * article_id / articles
            merged = story_id - 1 if story_id > 1 and rng.random() < 0.01 else None
            counts["merged"] += merged is not None
            rows["stories"].append((story_id, first, article_id + 1, title, "[]", merged, first + 3600 if merged else None))
            alerted = False
            for copy in range(size):
                article_id += 1
                feed, url, _tag = feeds[rng.randrange(FEEDS)]
                fetched = first + copy * rng.uniform(300, 7200)
                outlet = url.split("/")[2]
                rows["articles"].append((article_id, f"https://{outlet}/{story_id}/{article_id}",
                                         f"https://{outlet}/{story_id}/{article_id}", title if copy == 0 else
                                         f"{title} - {outlet}", f"{text}\nReporting by {outlet} staff.", "page", outlet,
                                         "en", fetched - 900, fetched, story_id))
                quiet = "first poll" if rng.random() < 0.04 else None
                counts["quiet"] += quiet is not None
                feeds_of = [feed] + ([rng.randrange(FEEDS) + 1] if rng.random() < 0.08 else [])
                for feed_id in dict.fromkeys(feeds_of):
                    entry_id += 1
                    rows["entries"].append((entry_id, feed_id, f"guid-{entry_id}", f"h{entry_id}", title,
                                            rows["articles"][-1][1], fetched, fetched, article_id, quiet))
                if quiet or alerted:
                    continue
                alerted = True
                key = (base, regional, title)
                if key not in matched:
                    matched[key] = matcher.match(title, rows["articles"][-1][4])
                found = {item.rule: item.hits for item in matched[key] if rng.random() >= 0.03}  # 3%: edited since
                if rng.random() < 0.01:  # a rule edited since: alerted then, would not now
                    found.setdefault(rng.choice(rule_list)["name"], ())
                for rule, hits in found.items():
                    _alert(rows, counts, rule, story_id, article_id, fetched, hits, rng)
        counts["articles"], counts["stories"], counts["entries"] = article_id, story_id, entry_id
        _write(db, rows)
    store.close()
    return counts


def model_rules(rule_list: list[dict]) -> list:
    from monitor.model import Rule

    return [Rule(name=rule["name"], all=tuple(rule.get("all", ())), any=tuple(rule.get("any", ())),
                           none=tuple(rule.get("none", ())), query=rule.get("query", ""),
                           feed_tags=tuple(rule.get("feed_tags", ()))) for rule in rule_list]


def _alert(rows, counts, rule, story, article, fetched, hits, rng) -> None:
    created = fetched + rng.uniform(1, 30)
    status = rng.choices(("sent", "dead", "pending"), (96, 2, 2))[0]
    message = json.dumps({"rule": rule, "story": story})
    rows["alerts"].append((rule, story, "console", 0, article, status, created, created,
                           created + 2 if status == "sent" else None, message))
    counts["alerts"] += 1
    if rng.random() < 0.05:
        rows["alerts"].append((rule, story, "console", 1, article, "sent", created + 3600, created + 3600,
                               created + 3602, message))
        counts["followups"] += 1
    for hit in hits:
        rows["hits"].append((article, rule, hit.term, hit.entity, hit.alias, hit.field, hit.start, hit.end))
        counts["hits"] += 1


def _write(db, rows) -> None:
    db.execute("BEGIN")
    db.executemany("INSERT INTO stories (id, first_seen, representative_article, title, outlets, merged_into, merged_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)", rows["stories"])
    db.executemany("INSERT INTO articles (id, url, canonical_url, title, text, source, outlet, language, published, "
                   "fetched, story_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows["articles"])
    db.executemany("INSERT INTO entries (id, feed_id, entry_key, content_hash, title, link, first_seen, last_seen, "
                   "article_id, quiet) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows["entries"])
    db.executemany("INSERT INTO alerts (rule, story_id, channel, seq, article_id, status, next_attempt, created, sent, "
                   "message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows["alerts"])
    db.executemany('INSERT INTO hits (article_id, rule, term, entity, alias, field, start, "end") '
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows["hits"])
    db.execute("COMMIT")


def write_config(directory: Path, state: Path, rule_list: list[dict]) -> Path:
    import tomli_w

    config = {"newsmon": {"state_dir": str(state), "default_channels": ["console"], "include": []},
              "channels": {"console": {"urls": ["console://"]}},
              "feeds": [{"url": f"https://news{index + 1:03}.example/rss.xml", "tags": [TAGS[index % len(TAGS)]]}
                        for index in range(FEEDS)],
              "rules": rule_list}
    path = directory / "config.toml"
    path.write_bytes(tomli_w.dumps(config).encode())
    return path


def time_command(command: list[str]) -> dict:
    """Run `command`; its wall and CPU seconds, peak RSS (MiB) and standard output."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE)
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        error = process.stderr.read().decode(errors="replace")
        process.stderr.close()
        if process.returncode != 0:
            raise SystemExit(f"bench: {' '.join(command)} failed ({process.returncode}):\n{error}")
        out.seek(0)
        return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024,
                "output": out.read().decode()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backtest_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", help="the shared corpus directory (default: $NEWSMON_CORPUS, ../shared/corpus)")
    parser.add_argument("--articles", type=int, default=100_000, help="stored articles (default 100,000)")
    parser.add_argument("--rules", type=int, default=50, help="rules, of the 50 (default 50)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs, the median reported (default 3)")
    parser.add_argument("--keep", metavar="DIR", help="build the store in DIR and keep it (default: a temporary one)")
    parser.add_argument("--markdown", action="store_true", help="print the results as the docs/benchmarks.md section")
    args = parser.parse_args(argv)

    directory = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="newsmon-backtest-"))
    try:
        return _run(args, directory)
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)


def _run(args, directory: Path) -> int:
    rule_list = rules()[:args.rules]
    texts, origin = corpus_texts(match_bench.find_corpus(args.corpus))
    state = directory / "state"
    _say(f"filling {state} with {args.articles:,} articles from {origin}")
    started = time.perf_counter()
    counts = fill(state, texts, args.articles, rule_list)
    built = time.perf_counter() - started
    size = (state / "newsmon.db").stat().st_size / 1e6
    _say(f"filled in {built:.0f} s: {counts}, {size:.0f} MB")
    config = write_config(directory, state, rule_list)
    command = [sys.executable, "-m", "monitor", "--config", str(config), "backtest", "--since", "30d", "--json"]
    runs = []
    for number in range(args.runs):
        load = os.getloadavg()[0]
        result = time_command(command)
        result["load"] = load
        runs.append(result)
        _say(f"run {number + 1}: {result['wall']:.1f} s wall, {result['cpu']:.1f} CPU-s, {result['rss']:.0f} MiB, "
             f"load {load:.2f}")
    document = json.loads(runs[0]["output"])
    if document["articles"] != counts["articles"]:
        raise SystemExit(f"bench: the backtest read {document['articles']} articles, not {counts['articles']}")
    wall = statistics.median(run["wall"] for run in runs)
    cpu = statistics.median(run["cpu"] for run in runs)
    rss = max(run["rss"] for run in runs)
    found = sum(len(rule["would_alert"]) for rule in document["rules"].values())
    added = sum(len(rule["added"]) for rule in document["rules"].values())
    dropped = sum(len(rule["dropped"]) for rule in document["rules"].values())
    machine = report.machine()
    lines = [
        f"`python -m bench.backtest_bench --articles {args.articles} --rules {len(rule_list)}` "
        f"({time.strftime('%Y-%m-%d')}; {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"Python {platform.python_version()}; a shared machine, load average "
        f"{', '.join(format(run['load'], '.1f') for run in runs)} at the runs' starts). Timed: "
        f"`newsmon --config CFG backtest --since 30d --json` in a subprocess, median of {len(runs)}.",
        "",
        f"Store: {counts['articles']:,} articles ({counts['regional'] / counts['stories']:.0%} of stories naming the "
        f"pack's actors or places), texts from {origin}, sentence-shuffled per story; {counts['stories']:,} stories "
        f"({counts['merged']} merged), {counts['entries']:,} entries ({counts['quiet']:,} articles recorded quietly), "
        f"{FEEDS} feeds, {counts['alerts']:,} alerts and {counts['followups']:,} follow-ups; {size:.0f} MB "
        f"(filled in {built:.0f} s, in the page cache when timed). Rules: {len(rule_list)} on the bundled pack's "
        f"entities (`any`, `all` with `none`, `feed_tags`; {sum('query' in rule for rule in rule_list)} queries "
        "with `NEAR`, `NOT`, `title:`).",
        "",
        "| measure | result | target |",
        "|---|---|---|",
        f"| wall time, {args.articles:,} articles × {len(rule_list)} rules (median of {len(runs)}; runs "
        f"{', '.join(format(run['wall'], '.1f') for run in runs)} s) | {wall:.1f} s | < {TARGET_S:g} s "
        f"{'✓' if wall < TARGET_S else '✗'} |",
        f"| articles per second | {args.articles / wall:,.0f} | — |",
        f"| CPU of the process and its matching workers (user + system, median) | {cpu:.1f} CPU-s | — |",
        f"| peak RSS (the largest process of the tree) | {rss:.0f} MiB | — |",
        f"| found | {found:,} (rule, story) pairs would alert; {added:,} added, {dropped:,} dropped against the "
        f"{counts['alerts']:,} alerted | — |",
    ]
    if args.markdown:
        print("## Backtest\n")
    print("\n".join(lines))
    return 0 if wall < TARGET_S else 1


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
