"""`python -m bench`: run newsmon's benchmarks and report them.

    python -m bench --quick     # about 8 minutes: fewer feeds, fewer runs; prints the table
    python -m bench             # the full run (about an hour, (h)-(j) most of it); rewrites docs/benchmarks.md
    python -m bench --only l    # one measure (here the facts, seconds); a partial run leaves the docs alone

Measures: (a) cold cycle, (b) the libraries' floor, (c) warm cycle, (d) latency, (e) memory,
(f) start-up, (g) extraction quality, (h) side by side with rss2email and feed2exec, (i) full-text
cold polls, (j) warm polls at scale, (k) one story per event, (l) facts: what happened, where, how
bad, on events/ (bench.facts_quality, per text and per event).

Results (every number, every run) go to bench/results/<mode>-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bench import corpus, peers, procs, report, scenarios, sidebyside

MEASURES = "abcdefghijkl"


@dataclass(frozen=True)
class Plan:
    """How big each measure is."""

    feeds: int  # (a)-(c): feeds in the cold and warm cycles
    items: int  # entries per farm feed at most
    hosts: int  # loopback addresses the farm serves feeds from
    runs: int  # repetitions of (a)-(c)
    latency_feeds: int
    latency_events: int
    latency_rate: float  # new entries per second
    latency_runs: int
    memory_feeds: int
    memory_entries: int
    memory_window: float  # seconds the daemon runs
    memory_rate: float  # new entries per second while it runs
    memory_runs: int
    startup_repeat: int
    peer_feeds: int = 500  # (h): newsmon, rss2email and feed2exec side by side
    peer_delays: tuple = (0.0, 50.0)  # ms per response
    peer_runs: int = 3  # warm and changed10 runs at the first delay (cold: one per tool and delay, but...)
    peer_cold_pairs: int = 3  # ...rss2email's and newsmon feed-only's at the first delay, in pairs back to back
    peer_delayed_runs: int = 1  # ... at the other delays
    text_feeds: tuple = (150, 500)  # (i): full-text cold polls (at the size (h) measured at 0 ms, its run is one of them)
    text_runs: int = 3  # medians of 3, as the issue measured them: one run moves with the machine by several %
    warm_sizes: tuple = (500, 2000)  # (j): warm polls, CPU per feed
    warm_runs: int = 5  # cheap, and the per-feed part at 500 feeds is small next to start-up


FULL = Plan(feeds=500, items=10, hosts=8, runs=3, latency_feeds=30, latency_events=60, latency_rate=2.0,
            latency_runs=3, memory_feeds=1000, memory_entries=1_000_000, memory_window=75.0, memory_rate=2.0,
            memory_runs=3, startup_repeat=10)
QUICK = Plan(feeds=50, items=10, hosts=8, runs=2, latency_feeds=10, latency_events=20, latency_rate=2.0,
             latency_runs=1, memory_feeds=100, memory_entries=100_000, memory_window=30.0, memory_rate=2.0,
             memory_runs=1, startup_repeat=10, peer_feeds=20, peer_runs=1, peer_cold_pairs=1, text_feeds=(10, 20), text_runs=1,
             warm_sizes=(50, 200), warm_runs=2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="newsmon's benchmarks: what newsmon costs, "
                                     "measured against its libraries' own floor, on a loopback feed farm.")
    parser.add_argument("--quick", action="store_true", help="a short run (about 8 minutes); docs are not rewritten")
    parser.add_argument("--corpus", help="the shared corpus (default: $NEWSMON_CORPUS, else ../shared/corpus)")
    parser.add_argument("--only", default=MEASURES, metavar="LETTERS",
                        help=f"which measures, e.g. 'abc' (default: all of {MEASURES}; a and c run together; "
                        "l: facts on events/, seconds, no farm)")
    parser.add_argument("--feeds", type=int, help="feeds in the cold/warm cycles (default 500; 50 with --quick)")
    parser.add_argument("--runs", type=int, help="repetitions of each measure (default 3; fewer with --quick)")
    parser.add_argument("--delays", metavar="MS,MS", help="(h): response delays of the farm, in ms (default 0,50)")
    parser.add_argument("--tools", metavar="NAME,NAME", help="(h): only these of " + ", ".join(peers.TOOLS))
    parser.add_argument("--write-docs", action=argparse.BooleanOptionalAction, default=None,
                        help="rewrite docs/benchmarks.md (default: yes for a full run of every measure)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (state, logs, configs)")
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None,
                        help="also profile newsmon's main process in a cold and a warm cycle (default: full run only)")
    parser.add_argument("--render", metavar="RESULTS.json",
                        help="measure nothing: rewrite docs/benchmarks.md from a results file of an earlier run")
    args = parser.parse_args(argv)
    if args.render:
        return render(Path(args.render))

    plan = QUICK if args.quick else FULL
    if args.feeds:
        plan = _replace(plan, feeds=args.feeds)
    if args.runs:
        plan = _replace(plan, runs=args.runs, latency_runs=args.runs, memory_runs=args.runs, peer_runs=args.runs,
                        peer_cold_pairs=args.runs, warm_runs=args.runs, text_runs=args.runs)
    if args.delays:
        plan = _replace(plan, peer_delays=tuple(float(value) for value in args.delays.split(",")))
    only = set(args.only.lower()) & set(MEASURES)
    if "c" in only:
        only.add("a")
    corpus_dir = corpus.find_corpus(args.corpus, scenarios.REPO)
    tools = tuple(name.strip() for name in args.tools.split(",")) if args.tools else peers.TOOLS
    if set(tools) - set(peers.TOOLS):
        raise SystemExit(f"bench: --tools: unknown {sorted(set(tools) - set(peers.TOOLS))}")
    if "h" in only and peers.missing():
        raise SystemExit(f"bench: (h) needs rss2email and feed2exec ({', '.join(peers.missing())} missing): "
                         f"{peers.INSTALL}")
    procs.become_subreaper()
    scenarios.compile_newsmon()  # as an installed newsmon is
    work = Path(tempfile.mkdtemp(prefix="newsmon-bench-"))
    mode = "quick" if args.quick else "full"
    results: dict = {"mode": mode, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "command": "python -m bench" + (" --quick" if args.quick else "")
                                + (f" --only {args.only}" if only != set(MEASURES) else "")
                     + (f" --runs {args.runs}" if args.runs else "") + (f" --feeds {args.feeds}" if args.feeds else "")
                     + (f" --delays {args.delays}" if args.delays else "")
                     + (f" --tools '{args.tools}'" if args.tools else ""),
                     "plan": plan.__dict__, "machine": report.machine(), "versions": report.versions(),
                     "source": report.source(scenarios.REPO),
                     "corpus": str(corpus_dir)}
    started = time.monotonic()
    farm_feeds = max(plan.feeds + (plan.latency_feeds * 2 if "d" in only else 0),
                     plan.memory_feeds if "e" in only else 0)
    farm = None
    try:
        if "k" in only:
            _say("(k) one story per event: replaying the events/ and ecbplus/ development sets")
            from bench import events_replay

            results["events"] = events_replay.measure(corpus_dir, worst=10, crowd=50_000)
        if "l" in only:
            _say("(l) facts: what happened, where, how bad, on events/ (per text and per event)")
            from bench import facts_quality

            results["facts"] = facts_quality.measure(corpus_dir)
        if "g" in only:
            _say("(g) extraction quality on the AEB pages")
            from bench import quality

            results["quality"] = quality.evaluate(corpus.load_pages(corpus_dir))
        if only & set("abcdef"):
            _say(f"starting the farm: {farm_feeds} feeds, at most {plan.items} entries each, {plan.hosts} loopback hosts")
            farm = scenarios.Farm(corpus_dir, farm_feeds, plan.items, plan.hosts, work / "farm")
            results["farm"] = {"feeds": farm_feeds, "templates": farm.info["templates"], "pages": farm.info["pages"],
                               "refused": farm.info["refused"], "hosts": plan.hosts,
                               "entries": sum(len(f["entries"]) for f in farm.info["feeds"][:plan.feeds])}
        config_for_checks = scenarios.write_config(work / "check", [f["url"] for f in farm.info["feeds"][:plan.feeds]]) \
            if farm else None
        if "f" in only:
            _say("(f) start-up")
            results["startup"] = scenarios.startup(config_for_checks, plan.startup_repeat)
        if only & set("abc"):
            cycles, floors, empties = [], [], []
            for run in range(plan.runs):
                if "a" in only:
                    _say(f"(a)+(c) cold then warm cycle, {plan.feeds} feeds, run {run + 1}/{plan.runs}")
                    cycles.append(scenarios.cold_and_warm(farm, work, plan.feeds, run))
                    _say(f"    cold: {_brief(cycles[-1]['cold'])}; warm: {_brief(cycles[-1]['warm'])}")
                    for phase in ("cold", "warm"):
                        if cycles[-1][phase]["error"]:
                            _say(f"    newsmon logged an error in the {phase} cycle: {cycles[-1][phase]['error']}")
                    if cycles[-1]["cold"]["entries"] < cycles[-1]["cold"]["expected"]:
                        _say(f"    incomplete: {cycles[-1]['cold']['entries']} of {cycles[-1]['cold']['expected']} "
                             "entries recorded")
                if "b" in only:
                    _say(f"(b) floor, run {run + 1}/{plan.runs}")
                    floors.append(scenarios.floor_run(farm, plan.feeds, config_for_checks))
                    _say(f"    {floors[-1]['articles']} articles, {floors[-1]['wall']:.1f} s, {floors[-1]['cpu']:.1f} CPU-s")
                if "c" in only:
                    empties.append(scenarios.fixed_cost(work, run))
            if cycles:
                results["cycles"] = cycles
            if floors:
                results["floor"] = floors
                _say("(b) where the floor's time goes (one process, first 50 feeds)")
                results["floor_breakdown"] = scenarios.floor_breakdown(farm, min(plan.feeds, 50), config_for_checks)
            if empties:
                results["fixed"] = empties
        if (args.profile if args.profile is not None else not args.quick) and "a" in only:
            _say("profiling newsmon's main process (cProfile) in a cold and a warm cycle")
            results["profile"] = scenarios.profile_cycles(farm, work, min(plan.feeds, 100), plan.feeds)
        if "d" in only:
            publishable = [f["id"] for f in farm.info["feeds"][plan.feeds:] if f["publishable"]]
            feed_ids = publishable[:plan.latency_feeds]
            results["latency"] = []
            for run in range(plan.latency_runs):
                _say(f"(d) latency, {len(feed_ids)} feeds every 5 s, {plan.latency_events} new entries, "
                     f"run {run + 1}/{plan.latency_runs}")
                results["latency"].append(scenarios.latency(farm, work, feed_ids, plan.latency_events,
                                                            plan.latency_rate, run))
                last = results["latency"][-1]
                _say(f"    p50 {_ms(last['p50'])}, p95 {_ms(last['p95'])} ({last['timed']}/{last['events']} timed)")
        if "e" in only:
            _say(f"(e) memory: prefilling a store with {plan.memory_feeds} feeds, {plan.memory_entries:,} entries")
            template, results["memory_store"] = scenarios.prefill(farm, work / "memory-template", plan.memory_feeds,
                                                                  plan.memory_entries)
            _say("    {entries:,} entries, {signatures:,} story signatures, {database_mib:.0f} MiB".format(
                **results["memory_store"]))
            results["memory"] = []
            for run in range(plan.memory_runs):
                _say(f"(e) memory, daemon for {plan.memory_window:.0f} s, run {run + 1}/{plan.memory_runs}")
                results["memory"].append(scenarios.memory(farm, work, template, plan.memory_feeds, plan.memory_window,
                                                          plan.memory_rate, run))
                last = results["memory"][-1]
                _say(f"    peak RSS {last['peak_rss']:.0f} MiB (PSS {last['peak_pss']:.0f} MiB), "
                     f"{last['processes']} processes, first poll {last['first_poll_after'] or 0:.1f} s after start"
                     + (f"; newsmon logged: {last['error']}" if last["error"] else ""))
        if only & set("hij"):
            started_new = time.monotonic()
            sidebyside.run(plan, only, corpus_dir, work, results, _say, tools)
            results["seconds_hij"] = time.monotonic() - started_new
    finally:
        if farm is not None:
            farm.stop()
        if args.keep:
            _say(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["seconds"] = time.monotonic() - started
    results["summary"] = report.summarise(results)
    out_dir = scenarios.REPO / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"{mode}-{stamp}.json"
    path.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print()
    print(report.table(results))
    print(f"\nall numbers: {path.relative_to(scenarios.REPO)} ({results['seconds'] / 60:.1f} minutes)")
    docs = args.write_docs if args.write_docs is not None else (not args.quick and only == set(MEASURES))
    if docs:
        print(f"wrote {write_docs(results).relative_to(scenarios.REPO)}")
    return 0


def write_docs(results: dict) -> Path:
    """docs/benchmarks.md from `results`, keeping any section another benchmark contributed."""
    from bench import notes

    docs = scenarios.REPO / "docs" / "benchmarks.md"
    docs.parent.mkdir(exist_ok=True)
    existing = docs.read_text(encoding="utf-8") if docs.exists() else ""
    docs.write_text(notes.merge(existing, report.markdown(results)), encoding="utf-8")
    return docs


def render(path: Path) -> int:
    results = json.loads(path.read_text(encoding="utf-8"))
    results["summary"] = report.summarise(results)
    print(report.table(results))
    print(f"wrote {write_docs(results).relative_to(scenarios.REPO)} from {path}")
    return 0


def _replace(plan: Plan, **changes) -> Plan:
    return Plan(**{**plan.__dict__, **changes})


def _say(text: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def _brief(phase: dict) -> str:
    extra = f", {phase['entries']} entries" if "entries" in phase else f", {phase['feed_304']} × 304"
    return f"{phase['wall']:.1f} s, {phase['cpu']:.1f} CPU-s{extra}"


if __name__ == "__main__":
    sys.exit(main())
