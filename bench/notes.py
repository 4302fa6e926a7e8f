"""docs/benchmarks.md: the page around the results table, written from one run's results.

Everything with a number in it is computed here from the results; the prose says how each
number is measured and what, in that run, dominated it.
"""

from __future__ import annotations

import statistics

from bench import peer_report
from bench.corpus import EVENT_PAGES


def _f(value: float | None, digits: int = 1, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}{unit}"


def document(results: dict, table: str) -> str:
    s = results["summary"]
    plan = results["plan"]
    machine = results["machine"]
    versions = results["versions"]
    source = results.get("source", {})
    parts = [_head(results, table, s, plan, machine, versions, source)]
    if peer_report.section(results):
        parts.append(peer_report.section(results))
    parts.append(_setup(results, plan))
    parts.append(_dominates(results, s, plan))
    parts.append(_per_run(results))
    return "\n".join(parts).rstrip() + "\n"


def _head(results, table, s, plan, machine, versions, source) -> str:
    dirty = " plus uncommitted changes in `monitor/`" if source.get("monitor_changed") else ""
    quick = results["mode"] == "quick"
    lines = [
        "# Benchmarks",
        "",
        "What newsmon costs on one machine, next to what its own libraries cost for the same work",
        "(\"the floor\"). This page is written by `python -m bench` from its last full run; do not edit",
        "it by hand. Every number of that run, per repetition, is in `bench/results/` (not committed).",
        "",
        "## Running them",
        "",
        "From the repository root, with the project's virtualenv and the shared corpus beside the",
        "checkout (`../shared/corpus`, or `--corpus PATH`, or `$NEWSMON_CORPUS`):",
        "",
        "```",
        ".venv/bin/python -m bench --quick    # about 8 minutes, smaller; prints the table, leaves this page alone",
        ".venv/bin/python -m bench            # the full run (about an hour); rewrites this page",
        "```",
        "",
        "`--only abcdefghijkl` picks measures, `--feeds N` and `--runs N` resize them, `--keep` keeps the",
        "work directory (configs, state, newsmon's logs), `--profile` adds the main-process profile to a",
        "quick run, `--render RESULTS.json` rewrites this page from a saved run without measuring.",
        "Linux only (it reads `/proc` and uses `PR_SET_CHILD_SUBREAPER`). It sends traffic",
        "to loopback addresses (127.0.0.0/8) only, and reads the corpus in place. It first compiles",
        "newsmon's modules to bytecode (`__pycache__`), as `pip install` does for a user.",
        *peer_report.running_lines(),
        "",
        f"## Results ({'quick run: smaller than the full one, see the sizes below' if quick else 'full run'})",
        "",
        table,
        "",
        f"Medians of {plan['runs']} runs for (a)-(c), of {plan['latency_runs']} for the latency percentiles and "
        f"of {plan['memory_runs']} for the memory peaks; (f) is the median of {plan['startup_repeat']} invocations "
        "after one unmeasured one.",
        "",
        f"- Date: {results['date']}; the whole run took {results.get('seconds', 0) / 60:.0f} minutes.",
        f"- Machine: {machine['cores']} cores, {machine['cpu']}, {machine['memory_gib']} GiB memory, "
        f"{machine['system']} {machine['kernel']}.",
        "- Versions: " + ", ".join(f"{name} {version}" for name, version in versions.items())
        + f"; newsmon at commit `{source.get('commit', 'unknown')}`{dirty}.",
        f"- Command: `{results['command']}`.",
    ]
    others = [value for value in (s.get("cold_others_share"), s.get("floor_others_share")) if value is not None]
    if others:
        lines.append(f"- Other work on the machine while (a) and (b) ran (CPU not ours, not the farm's): "
                     f"{100 * max(others):.0f}% of its cores at most (median over runs). Each measurement "
                     "starts only once the machine has been under 15% busy for a second, or after 30 s.")
    if quick:
        lines += ["", "**This is a quick run**: fewer feeds, stored entries and runs than the full benchmark; "
                  "its numbers are indicative only."]
    return "\n".join(lines) + "\n"


def _setup(results, plan) -> str:
    farm = results.get("farm") or {}
    store = results.get("memory_store") or {}
    lines = [
        "## How each number is measured",
        "",
        "**The feed farm** (`bench/farm.py`) is a separate process, so its CPU is never counted as",
        f"newsmon's: an aiohttp server on {plan['hosts']} loopback addresses (127.0.0.2 and up, one port each) plus",
        "a control port on 127.0.0.1. newsmon allows 8 connections in total and 2 per host, and aiohttp",
        "counts a host as host *and port*, so several addresses keep the per-host limit from serialising",
        f"everything. It serves {farm.get('feeds', '?')} feeds made from the corpus's {farm.get('templates', '?')} "
        "real feeds (RSS 0.9x-2.0, RDF, Atom, JSON Feed; legacy encodings and all), each capped at "
        f"{plan['items']} entries, with every absolute URL in it rewritten to a loopback URL (namespaces",
        "and the JSON Feed version are left alone) and RSS `<ttl>` removed (newsmon would otherwise hold those",
        "feeds back). Any other path is an article page: one of the corpus's "
        f"{farm.get('pages', '?')} real pages (all three collections), chosen by a hash of the path. Every farm",
        "feed is parsed with newsmon's own parser before it is served and refused unless every entry link",
        "is on loopback" + (f"; refused: {', '.join(farm['refused'])}" if farm.get("refused") else "") + ". Feeds "
        "have ETags and answer `If-None-Match` with 304; new entries (titled to match the demo watchlist's",
        "`ttp-activity` rule) can be published into them at a set rate.",
        "",
        "**newsmon** always runs as a subprocess, `python -m monitor --config X run [--once]`, from this",
        "checkout, with the demo watchlist (`monitor/demo/data/watchlist.toml`: 5 entities, 3 rules),",
        "`allow_private_networks = [\"127.0.0.0/8\"]`, feeds with `alert_on_first_poll = false`, and the",
        "`console://` channel, or for (d) and (e) a `json://` webhook to the farm. Its CPU is that of its",
        "whole process tree: the harness makes itself a child subreaper, so newsmon's forkserver and",
        "sandbox workers are re-parented to it and reaped, and a `RUSAGE_CHILDREN` delta covers them all.",
        "",
        f"- **(a) cold cycle**: fresh state, {plan['feeds']} feeds, every entry new, full text on: "
        "`run --once` end to end (start-up included); articles = entries recorded. Wall time and CPU-seconds.",
        "- **(b) floor**: the same feed bodies and the same article pages, already in memory:",
        "  `feedparser.parse(bytes)` (JSON Feeds: `json.loads`), then for every entry with a link",
        "  `trafilatura.bare_extraction(html, url=..., **monitor.extract.OPTIONS)` and",
        "  `monitor.match.Matcher` (compiled from the same watchlist) on title and text, in a 2-process",
        "  `multiprocessing.Pool` (fork); no network, no database, no sandbox.",
        "- **(c) warm cycle**: a second `run --once` on the state the cold cycle left; the farm checks that",
        "  every feed got a conditional request and answered 304. Per feed = (warm run − a `run --once` with",
        "  no feeds at all) / feeds, so start-up is not spread over the feeds.",
        f"- **(d) latency**: `newsmon run` (the daemon) with {plan['latency_feeds']} farm feeds at `interval = \"5s\"`; "
        f"once every feed has been polled (silently) and answered a 304, the farm publishes {plan['latency_events']} "
        f"new matching entries, {plan['latency_rate']:g} per second, round robin over those feeds. Each is timed "
        "in the farm process (one `time.monotonic` clock) from the moment it served the feed body holding the "
        "entry to the moment the alert naming it reached the webhook. The time before the poll (up to the "
        "5 s interval) is not part of it. Next to it, the libraries' own work for the same entries, one after "
        "the other in one process: parse that feed, extract that page, match. Each entry of a run leads to a page "
        "of its own (the corpus pages no feed entry leads to, with an opening sentence of the entry's own) while "
        "they last; an entry that leads to a page an earlier one of the run did is a copy of that article, joins "
        "its story and rightly sends nothing: the target needs every other entry's alert.",
        f"- **(e) memory**: `newsmon run` over {plan['memory_feeds']:,} feeds (`poll_interval = "
        f"\"{max(10, round(plan['memory_window'] / 2.5))}s\"`) on a store "
        f"prefilled with {store.get('entries', plan['memory_entries']):,} entries (each with its article and story; "
        f"spread over {store.get('history_days', '?')} days, so inside the default retention; the "
        f"{store.get('signatures', 0):,} fetched within the {_f(store.get('story_window_hours'), 0)} h story window "
        f"carry near-duplicate signatures of random values; database {_f(store.get('database_mib'), 0)} MiB), written "
        "with sqlite3 into the schema `monitor.store` creates. The feeds have no stored validators, so the first "
        f"round downloads and parses all of them; the farm publishes {plan['memory_rate']:g} new matching entries "
        f"per second; the daemon runs {plan['memory_window']:.0f} s. The process tree's VmRSS (and PSS, which "
        "splits pages shared between the workers) is summed every 0.25 s; the peak is reported.",
        "- **(f) start-up**: `python -m monitor --help` and `python -m monitor --config X check` (the cold "
        "cycle's configuration), wall time.",
        "- **(g) extraction quality**: the corpus's AEB pages (scrapinghub/article-extraction-benchmark, "
        f"{(results.get('quality') or {}).get('pages', '?')} pages here) with their `articleBody` ground truth, "
        "scored as that benchmark's `evaluate.py` does: `\\w+` tokens, 4-token shingles, per-page "
        "precision and recall over shingle multisets, means over pages, F1 of the means. A page newsmon "
        "refuses (too little text) counts as empty.",
        "- **(k) one story per event**: `bench/events_replay.py` replays the corpus's `events/` (142 texts: "
        "24 militant attacks in Pakistan and Afghanistan, 3-6 outlets each, and 18 singletons) and `ecbplus/` "
        "(982 reports of 86 events, two of one kind per topic) through newsmon's copy signatures and event "
        "join, every text arriving at once, in 3 fixed shuffles (median run reported). Stories per event: "
        "distinct stories among an event's texts, averaged over events; BCubed precision and recall over "
        "all texts; hard pairs: labelled look-alike incidents put in one story. Timing: features per text "
        "(`monitor.incidents.read`), and assignment per text on the event loop (copy lookup; event join "
        "with its merges; settling the grown event into one found to be the same), also with 50,000 "
        "events already open (made from the set's features with their words "
        "shuffled among a 30,000-word vocabulary and their dates moved).",
        "- **(l) facts**: `bench/facts_quality.py` reads each of the 142 `events/` texts with "
        "`monitor.incidents.read` (with its MANIFEST `published` date) and scores its type, killed, "
        "injured, claimant and district against the text's MANIFEST `facts` (districts labelled by hand "
        "per event in `tests/data/event_districts.toml`); then folds each event's texts with "
        "`monitor.event_facts.add` in order of arrival (dated reports first, follow-ups last) and scores "
        "the event's gathered facts (the toll against the highest figure its texts state).",
        *(peer_report.setup_lines(results) if any(key in results for key in ("peers", "full_text", "warm_scaling"))
          else []),
    ]
    if results["mode"] == "quick":
        lines += ["", "Quick run sizes: " + ", ".join(f"{key} {value}" for key, value in plan.items()) + "."]
    return "\n".join(lines) + "\n"


def _profile_lines(profile: dict, phase: str, count: int = 6) -> list[str]:
    data = profile.get(phase)
    if not data:
        return []
    return [f"  - {100 * row['own']:.0f}% `{row['function']}` ({row['calls']:,} calls)" for row in data["top"][:count]]


def _dominates(results, s, plan) -> str:
    lines = ["## What dominates each number", ""]
    breakdown = results.get("floor_breakdown")
    profile = results.get("profile") or {}
    if "cold_rate" in s:
        text = (f"**(a)/(b) cold cycle.** newsmon recorded {s['cold_entries']:.0f} entries "
                f"({s['cold_from_page']:.0f} with the article page's text, the rest with the feed's own text, "
                "where the page had too little text; entries whose pages share a canonical URL share one "
                f"article: {_f(s.get('cold_articles'), 0)} articles), in "
                f"{s['cold_wall']:.0f} s, keeping {s['cold_cpu_share'] * 100:.0f}% of the machine's cores busy"
                + (f" (the floor: {s['floor_cpu_share'] * 100:.0f}%)" if s.get("floor_cpu_share") else "") + ". "
                f"Of its {s['cold_cpu_ms']:.1f} ms of CPU per article, {s['cold_main_cpu_ms']:.1f} ms are the main "
                "process (event loop: HTTP, the matcher, near-duplicate signatures, SQLite) and the rest the "
                "sandbox workers (feed parsing and extraction) and their process start-up. ")
        if breakdown:
            total = breakdown["parse_ms"] + breakdown["extract_ms"] + breakdown["match_ms"]
            text += (f"The floor's own work, one step at a time on the first {breakdown['feeds']} feeds: "
                     f"extraction {breakdown['extract_ms']:.1f} ms, matching {breakdown['match_ms']:.1f} ms, feed "
                     f"parsing {breakdown['parse_ms']:.1f} ms per article ({total:.1f} ms in all): trafilatura "
                     "dominates both. ")
        if "cold_farm_cpu" in s:
            text += (f"The farm used {s['cold_farm_cpu']:.1f} CPU-s per cold cycle on the same two cores, which "
                     "newsmon's wall time pays for and the floor's does not.")
        lines += [text, ""]
        if profile.get("cold"):
            lines += [f"  newsmon's main process during a cold cycle of {profile['cold']['feeds']} feeds, by own "
                      "CPU time (cProfile with a CPU clock, `monitor.pipeline.cycle` only; `bench/profiled.py`):", ""]
            lines += _profile_lines(profile, "cold") + [""]
            signature = max((row["cumulative"] for row in profile["cold"]["top"] if "stories.py" in row["function"]),
                            default=None)
            if signature:
                lines += [f"  The near-duplicate signature (`monitor/stories.py`: one blake2s digest per distinct "
                          f"word, combined per 3-shingle over whole arrays) takes at least {100 * signature:.0f}% of "
                          "that, cumulatively.", ""]
    if "warm_cpu_ms_per_feed" in s:
        text = (f"**(c) warm cycle.** The whole warm `run --once` over {plan['feeds']} feeds took "
                f"{s['warm_cpu']:.2f} CPU-s; the same command with no feeds takes {s['fixed_cpu']:.2f} CPU-s "
                "(interpreter, imports, reading and checking the configuration, opening the store), so start-up "
                f"dominates a single cycle, and the per-feed part is {s['warm_cpu_ms_per_feed']:.2f} ms: a "
                "conditional GET through aiohttp and a read of the feed's row in SQLite; the row's new timestamps "
                "are written with the next transaction or the daemon's 5-second tick, so many unchanged feeds share one "
                "commit (`synchronous = FULL`: an fsync per commit, which costs wall time rather than CPU). ")
        if not s.get("warm_all_304", True):
            text += "**Not every feed answered 304 in every warm run** (see the per-run numbers). "
        lines += [text, ""]
        if profile.get("warm"):
            lines += [f"  The main process during a warm cycle of {profile['warm']['feeds']} feeds, by own CPU "
                      "time:", ""]
            lines += _profile_lines(profile, "warm") + [""]
            environ = sum(row["own"] for row in profile["warm"]["top"]
                          if "<frozen os>" in row["function"] or "_collections_abc" in row["function"])
            if environ:
                lines += [f"  The `<frozen os>` lines ({100 * environ:.0f}% of the cycle's CPU among those listed) are "
                          "reads of `os.environ`: `urllib.request.getproxies()` scans the environment on every "
                          "request, called by newsmon's `fetch._env_proxy` and again by aiohttp for a session with "
                          "`trust_env=True`.", ""]
    if "latency_p95" in s:
        lines += [(f"**(d) latency.** p50 {s['latency_p50']:.0f} ms, p95 {s['latency_p95']:.0f} ms against the "
                   f"libraries' own p50 {s['latency_floor_p50']:.0f} ms, p95 {s['latency_floor_p95']:.0f} ms for the "
                   "same entries. The floor part is the whole changed feed parsed again (real feeds: a "
                   "few ms to over 100 ms for the big podcast feeds) plus the page's extraction. The daemon "
                   "parses only the items whose bytes changed since the feed's last body (`monitor.feedsplit`: "
                   "the feed's head, the new item, its tail), so its parse does not grow with the feed; it "
                   "reads the page's title, canonical URL and language itself and asks htmldate for a date "
                   "only when the feed gave none. It adds the article download, two trips through the sandbox, "
                   "the near-duplicate signature, one SQLite transaction for the entry and its outbox row, and "
                   "the delivery: apprise's json:// plugin (requests, in a thread), with the outbox's own "
                   "bookkeeping around it. What the daemon and its workers build at start is frozen out of "
                   "the cyclic garbage collector (`gc.freeze`): a full pass over the daemon's ~58,000 "
                   "start-up objects took 21 ms, in the middle of whatever poll it fell on. "
                   f"Waiting for the poll itself (median {_f(s.get('latency_poll_wait'), 0)} ms from publication "
                   "to the farm serving it) is not counted."), ""]
    if "memory_rss" in s:
        memory = results.get("memory") or []
        first = _median([m.get("first_poll_after") for m in memory])
        lines += [(f"**(e) memory.** Peak {s['memory_rss']:.0f} MiB RSS for the tree "
                   f"({s['memory_pss']:.0f} MiB PSS); the main process alone peaked at "
                   f"{s['memory_main_hwm']:.0f} MiB, the rest is the forkserver and two workers (each a Python "
                   "with feedparser, trafilatura and lxml loaded, plus the page being parsed). What grows with the "
                   "store in the main process is the near-duplicate story index (`monitor.story_index.StoryIndex`, "
                   f"rebuilt at start from the {_f((results.get('memory_store') or {}).get('signatures'), 0)} "
                   "signatures inside the story window); a feed's entry keys are loaded only while it is polled. "
                   + (f"The first poll came {first:.1f} s after the daemon started (prune, recovery and the story "
                      "index rebuild run before the scheduler)." if first else "")), ""]
    startup = results.get("startup")
    if startup:
        imports = startup.get("imports", {})

        def listing(name: str) -> str:
            return ", ".join(f"{package} {ms:.0f} ms" for package, ms in imports.get(name, [])[:5])

        lines += [(f"**(f) start-up.** The interpreter alone takes {s['python_ms']:.0f} ms. `--help` imports "
                   f"(cumulative, `-X importtime`): {listing('newsmon --help')}. `check` imports: "
                   f"{listing('newsmon check')}."), ""]
    quality = results.get("quality")
    if quality:
        rows = ["| extractor | F1 | precision | recall | pages with no text | CPU ms/page |", "|---|---|---|---|---|---|"]
        for name, data in quality["extractors"].items():
            shingles = data["shingles"]
            rows.append(f"| {name} | {shingles['f1']:.3f} | {shingles['precision']:.3f} | {shingles['recall']:.3f} | "
                        f"{data['empty']} | {data['cpu_ms_per_page']:.1f} |")
        words = quality["extractors"]["newsmon (monitor.extract.extract)"]["words"]
        lines += [("**(g) extraction quality.** Shingle scores as in the AEB's evaluate.py "
                   f"(with single words instead of shingles, newsmon's F1 is {words['f1']:.3f}). newsmon's "
                   "`fast` and `favor_recall` options (no fallback extractors; one pass with recall settings "
                   "instead of a balanced pass and, when that kept little, a recall pass) and its own "
                   "minimum-text rule are what separate it from trafilatura's defaults:"), "", *rows, ""]
    return "\n".join(lines)


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _per_run(results) -> str:
    lines = ["## Per run", ""]
    cycles = results.get("cycles") or []
    floors = results.get("floor") or []
    if cycles:
        lines += ["| run | cold wall s | cold CPU s | entries | farm CPU s | other CPU s | warm wall s | warm CPU s | "
                  "warm 304s |", "|---|---|---|---|---|---|---|---|---|"]
        for number, cycle in enumerate(cycles, 1):
            cold, warm = cycle["cold"], cycle["warm"]
            lines.append(f"| {number} | {cold['wall']:.1f} | {cold['cpu']:.1f} | {cold['entries']} | "
                         f"{cold['farm_cpu']:.1f} | {cold.get('others_cpu', 0):.1f} | {warm['wall']:.2f} | "
                         f"{warm['cpu']:.2f} | {warm['feed_304']} |")
        lines.append("")
    if floors:
        lines += ["| floor run | wall s | CPU s | entries | articles extracted | other CPU s |", "|---|---|---|---|---|---|"]
        for number, run in enumerate(floors, 1):
            lines.append(f"| {number} | {run['wall']:.1f} | {run['cpu']:.1f} | {run['entries']} | {run['articles']} | "
                         f"{run.get('others_cpu', 0):.1f} |")
        lines.append("")
    latency = results.get("latency") or []
    if latency:
        lines += ["| latency run | p50 ms | p95 ms | max ms | timed | no alert | due, missed | floor p50 ms | floor p95 ms |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for number, run in enumerate(latency, 1):
            lines.append(f"| {number} | {_f(run['p50'], 0)} | {_f(run['p95'], 0)} | {_f(run['max'], 0)} | "
                         f"{run['timed']}/{run['events']} | {run.get('not_arrived', '?')} | "
                         f"{run.get('due', '?')}, {len(run.get('missed', []))} | {_f(run['floor_p50'], 0)} | "
                         f"{_f(run['floor_p95'], 0)} |")
        lines.append("")
    memory = results.get("memory") or []
    if memory:
        lines += ["| memory run | peak RSS MiB | peak PSS MiB | main VmHWM MiB | polls 200/304 | alerts arrived / "
                  "entries published* | first poll after s |", "|---|---|---|---|---|---|---|"]
        for number, run in enumerate(memory, 1):
            lines.append(f"| {number} | {run['peak_rss']:.0f} | {run['peak_pss']:.0f} | {run['main_hwm']:.0f} | "
                         f"{run['feed_200']}/{run['feed_304']} | {run['alerted']}/{run['published']} | "
                         f"{_f(run.get('first_poll_after'), 1)} |")
        lines += ["", f"\\* Published entries land in feeds polled every {max(10, round(results['plan']['memory_window'] / 2.5))} s, "
                  "so the last ones are not polled before the daemon stops; and the farm keeps only "
                  f"{EVENT_PAGES} article pages for published entries, so later ones reuse a page and newsmon, "
                  "rightly, links them to the article it already has, without an alert.", ""]
    return "\n".join(lines)


OWN_SECTIONS = ("Running them", "Results", "Side by side", "How each number is measured", "What dominates each number",
                "Per run")


def merge(existing: str, written: str) -> str:
    """`written` followed by every "## " section of `existing` that this module does not write
    (e.g. a section another benchmark contributes), so that regenerating keeps them."""
    kept, current, keep = [], [], False
    for line in existing.splitlines():
        if line.startswith("## "):
            if keep:
                kept.append("\n".join(current).rstrip())
            current, keep = [line], not line[3:].strip().startswith(OWN_SECTIONS)
        elif current:
            current.append(line)
    if keep:
        kept.append("\n".join(current).rstrip())
    return written.rstrip() + "\n" + "".join(f"\n{section}\n" for section in kept)
