"""Turning results into the summary, the terminal table and docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import statistics
from importlib import metadata

PACKAGES = ("feedparser", "trafilatura", "apprise", "aiohttp", "lxml", "APScheduler", "newsmon")


def machine() -> dict:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = None
    try:
        with open("/proc/meminfo") as handle:
            memory = round(int(handle.readline().split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return {"cores": os.cpu_count(), "cpu": model, "memory_gib": memory, "kernel": platform.release(),
            "system": platform.system()}


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def source(repo) -> dict:
    """Which newsmon was measured: the commit, and whether monitor/ had uncommitted changes."""
    import subprocess

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": git("rev-parse", "--short", "HEAD") or "unknown",
            "monitor_changed": bool(git("status", "--porcelain", "--", "monitor", "pyproject.toml"))}


def _median(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(results: dict) -> dict:
    """The headline numbers: medians over runs, ratios, and whether each target is met."""
    s: dict = {}
    cycles = results.get("cycles") or []
    floors = results.get("floor") or []
    fixed = results.get("fixed") or []
    feeds = results["plan"]["feeds"]
    if cycles:
        cold = [c["cold"] for c in cycles]
        s["cold_rate"] = _median([c["entries"] / c["wall"] for c in cold])
        s["cold_cpu_ms"] = _median([1000 * c["cpu"] / c["entries"] for c in cold])
        s["cold_wall"] = _median([c["wall"] for c in cold])
        s["cold_entries"] = _median([c["entries"] for c in cold])
        s["cold_from_page"] = _median([c["from_page"] for c in cold])
        s["cold_articles"] = _median([c.get("articles") for c in cold])
        s["cold_failed_feeds"] = max(c["failed_feeds"] for c in cold)
        s["cold_complete"] = all(c["entries"] >= c.get("expected", 0) for c in cold)
        s["cold_farm_cpu"] = _median([c["farm_cpu"] for c in cold])
        s["cold_cpu_share"] = _median([c["cpu"] / (c["wall"] * (results["machine"]["cores"] or 1)) for c in cold])
        s["cold_main_cpu_ms"] = _median([1000 * c["main_cpu"] / c["entries"] for c in cold])
        s["cold_others_share"] = _median([c["others_cpu"] / (c["wall"] * (results["machine"]["cores"] or 1)) for c in cold])
        warm = [c["warm"] for c in cycles]
        s["warm_wall"] = _median([w["wall"] for w in warm])
        s["warm_cpu"] = _median([w["cpu"] for w in warm])
        s["warm_all_304"] = all(w["feed_304"] == feeds and w["feed_200"] == 0 for w in warm)
    if floors:
        s["floor_rate"] = _median([f["entries"] / f["wall"] for f in floors])
        s["floor_cpu_ms"] = _median([1000 * f["cpu"] / f["entries"] for f in floors])
        s["floor_entries"] = _median([f["entries"] for f in floors])
        s["floor_articles"] = _median([f["articles"] for f in floors])
        s["floor_cpu_share"] = _median([f["cpu"] / (f["wall"] * (results["machine"]["cores"] or 1)) for f in floors])
        s["floor_others_share"] = _median([f["others_cpu"] / (f["wall"] * (results["machine"]["cores"] or 1))
                                           for f in floors])
    if cycles and floors:
        s["rate_ratio"] = s["cold_rate"] / s["floor_rate"]
        s["cpu_ratio"] = s["cold_cpu_ms"] / s["floor_cpu_ms"]
        s["met_a_rate"] = s["rate_ratio"] >= 0.8
        s["met_a_cpu"] = s["cpu_ratio"] <= 1.25
    if fixed:
        s["fixed_wall"] = _median([f["wall"] for f in fixed])
        s["fixed_cpu"] = _median([f["cpu"] for f in fixed])
    if cycles and fixed:
        s["warm_cpu_ms_per_feed"] = 1000 * (s["warm_cpu"] - s["fixed_cpu"]) / feeds
        s["warm_wall_ms_per_feed"] = 1000 * (s["warm_wall"] - s["fixed_wall"]) / feeds
        s["met_c"] = s["warm_cpu_ms_per_feed"] <= 0.3
    latency = results.get("latency") or []
    if latency:
        s["latency_p50"] = _median([r["p50"] for r in latency])
        s["latency_p95"] = _median([r["p95"] for r in latency])
        s["latency_timed"] = sum(r["timed"] for r in latency)
        s["latency_events"] = sum(r["events"] for r in latency)
        s["latency_due"] = sum(r.get("due", r["events"]) for r in latency)  # the rest are copies (see scenarios.latency)
        s["latency_missed"] = sum(len(r.get("missed", r["untimed"])) for r in latency)
        s["latency_poll_wait"] = _median([r["poll_wait_p50"] for r in latency])
        s["latency_floor_p50"] = _median([r["floor_p50"] for r in latency])
        s["latency_floor_p95"] = _median([r["floor_p95"] for r in latency])
        s["met_d"] = s["latency_p95"] is not None and s["latency_p95"] <= 50 and not s["latency_missed"]
    memory = results.get("memory") or []
    if memory:
        s["memory_rss"] = _median([m["peak_rss"] for m in memory])
        s["memory_pss"] = _median([m["peak_pss"] for m in memory])
        s["memory_hwm_sum"] = _median([m["hwm_sum"] for m in memory])
        s["memory_main_hwm"] = _median([m["main_hwm"] for m in memory])
        s["met_e"] = s["memory_rss"] * 2**20 <= 400e6  # the target is in MB
    startup = results.get("startup")
    if startup:
        s["help_ms"] = 1000 * startup["newsmon --help"]["median"]
        s["check_ms"] = 1000 * startup["newsmon check"]["median"]
        s["python_ms"] = 1000 * startup["python -c pass"]["median"]
        s["met_f"] = s["help_ms"] <= 150
    quality = results.get("quality")
    if quality:
        extractors = quality["extractors"]
        s["f1_newsmon"] = extractors["newsmon (monitor.extract.extract)"]["shingles"]["f1"]
        s["f1_trafilatura"] = extractors["trafilatura.extract, default options"]["shingles"]["f1"]
        s["met_g"] = s["f1_newsmon"] >= 0.95 and s["f1_newsmon"] >= s["f1_trafilatura"]
    replayed = results.get("events")
    if replayed:
        for name, result in replayed.items():
            for key in ("stories_per_event", "bcubed_precision", "bcubed_recall", "features_ms_median",
                        "assign_ms_median", "assign_ms_p99"):
                s[f"events_{name}_{key}"] = result[key]
            s[f"events_{name}_hard"] = len(result["hard_pairs_joined"])
        e, c = replayed.get("events"), replayed.get("ecbplus")
        if e:
            s["met_k_events"] = (e["stories_per_event"] <= 1.3 and e["bcubed_precision"] >= 0.99
                                 and not e["hard_pairs_joined"])
        if c:
            s["met_k_ecbplus"] = c["stories_per_event"] <= 2.0 and c["bcubed_precision"] >= 0.98
        if e and c:
            s["met_k"] = s["met_k_events"] and s["met_k_ecbplus"]
    facts = results.get("facts")
    if facts:
        targets = facts["targets"]
        for level in ("per_text", "event_level"):
            for key, value in facts["ratios"][level].items():
                s[f"facts_{level}_{key}"] = value
        s["met_l"] = all(facts["ratios"][level][key] is not None and facts["ratios"][level][key] >= target
                         for level in ("per_text", "event_level") for key, target in targets.items())
    from bench import peer_report

    s.update(peer_report.summarise(results))
    return s


def _yes(value: bool | None) -> str:
    return "—" if value is None else ("**yes**" if value else "**no**")


def rows(results: dict) -> list[tuple[str, str, str, str]]:
    """(measure, value, target, met?) for every measure that ran."""
    s = results["summary"]
    plan = results["plan"]
    out = []
    if "cold_rate" in s:
        floor = f"{0.8 * s['floor_rate']:.1f}/s (0.8 × floor)" if "floor_rate" in s else "≥ 0.8 × floor"
        out.append(("(a) cold cycle, articles/s end to end",
                    f"{s['cold_rate']:.1f}/s ({s['cold_entries']:.0f} articles, {plan['feeds']} feeds, "
                    f"{s['cold_wall']:.0f} s)" + (f" = {s['rate_ratio']:.2f} × floor" if "rate_ratio" in s else ""),
                    "≥ " + floor, _yes(s.get("met_a_rate"))))
        out.append(("(a) cold cycle, CPU per article",
                    f"{s['cold_cpu_ms']:.1f} ms" + (f" = {s['cpu_ratio']:.2f} × floor" if "cpu_ratio" in s else ""),
                    f"≤ {1.25 * s['floor_cpu_ms']:.1f} ms (1.25 × floor)" if "floor_cpu_ms" in s else "≤ 1.25 × floor",
                    _yes(s.get("met_a_cpu"))))
    if "floor_rate" in s:
        out.append(("(b) floor: feedparser + trafilatura + matcher, 2 processes, in memory",
                    f"{s['floor_rate']:.1f} articles/s, {s['floor_cpu_ms']:.1f} ms CPU per article", "—", "—"))
    if "warm_cpu_ms_per_feed" in s:
        out.append(("(c) warm cycle (all 304), CPU per unchanged feed",
                    f"{s['warm_cpu_ms_per_feed']:.2f} ms (wall {s['warm_wall_ms_per_feed']:.2f} ms per feed; "
                    f"whole run {s['warm_cpu']:.2f} CPU-s / {s['warm_wall']:.2f} s, of which start-up "
                    f"{s['fixed_cpu']:.2f} CPU-s / {s['fixed_wall']:.2f} s)", "≤ 0.3 ms", _yes(s.get("met_c"))))
    if "latency_p95" in s:
        out.append(("(d) latency, feed served → alert at webhook",
                    f"p50 {s['latency_p50']:.0f} ms, p95 {s['latency_p95']:.0f} ms "
                    f"({s['latency_timed']} of {s['latency_events']} entries timed; {s['latency_due']} due to alert, "
                    f"{s['latency_missed']} of them missed; the others repeat an earlier entry's page: copies; "
                    f"the libraries' own work for the "
                    f"same entries: p50 {s['latency_floor_p50']:.0f} ms, p95 {s['latency_floor_p95']:.0f} ms)",
                    "p95 ≤ 50 ms", _yes(s.get("met_d"))))
    if "memory_rss" in s:
        out.append((f"(e) peak memory of the daemon's process tree, {plan['memory_feeds']:,} feeds, "
                    f"{plan['memory_entries']:,} stored entries",
                    f"{s['memory_rss']:.0f} MiB = {s['memory_rss'] * 2**20 / 1e6:.0f} MB RSS (PSS "
                    f"{s['memory_pss']:.0f} MiB; main process {s['memory_main_hwm']:.0f} MiB)",
                    "≤ 400 MB (381 MiB)", _yes(s.get("met_e"))))
    if "help_ms" in s:
        out.append(("(f) `newsmon --help`", f"{s['help_ms']:.0f} ms (bare `python -c pass`: {s['python_ms']:.0f} ms)",
                    "≤ 150 ms", _yes(s.get("met_f"))))
        out.append((f"(f) `newsmon check` ({plan['feeds']} feeds)", f"{s['check_ms']:.0f} ms", "—", "—"))
    if "f1_newsmon" in s:
        out.append(("(g) extraction F1 on the AEB pages",
                    f"{s['f1_newsmon']:.3f} (trafilatura default: {s['f1_trafilatura']:.3f})",
                    "≥ 0.95 and ≥ trafilatura default", _yes(s.get("met_g"))))
    for name, target in (("events", "≤ 1.3 stories per event, BCubed precision ≥ 0.99, no hard pair joined"),
                         ("ecbplus", "≤ 2.0 stories per event, BCubed precision ≥ 0.98")):
        if f"events_{name}_stories_per_event" in s:
            get = lambda key: s[f"events_{name}_{key}"]  # noqa: E731
            out.append((f"(k) one story per event: `{name}/` replayed (3 shuffles, median)",
                        f"{get('stories_per_event'):.2f} stories per event, BCubed precision {get('bcubed_precision'):.3f}, "
                        f"recall {get('bcubed_recall'):.3f}, {get('hard')} hard pairs joined; features "
                        f"{get('features_ms_median'):.1f} ms, assignment {get('assign_ms_median'):.1f} ms median "
                        f"(p99 {get('assign_ms_p99'):.1f} ms) per text", target, _yes(s.get(f"met_k_{name}"))))
    crowded = (results.get("events") or {}).get("events", {}).get("crowded")
    if crowded:
        out.append((f"(k) event assignment with {crowded['open_events']:,} events open",
                    f"median {crowded['find_ms_median']:.1f} ms, p99 {crowded['find_ms_p99']:.1f} ms per article",
                    "median ≤ 5 ms, p99 ≤ 20 ms",
                    _yes(crowded["find_ms_median"] <= 5 and crowded["find_ms_p99"] <= 20)))
    out += _facts_rows(results.get("facts"))
    from bench import peer_report

    return out + peer_report.rows(results)


FACTS_ROWS = (  # (measure, the ratio's key in facts_quality.TARGETS, right, of)
    ("event type", "type", ("type", "right"), ("type", "of")),
    ("killed", "killed", ("killed", "right"), ("killed", "of")),
    ("injured", "injured", ("injured", "right"), ("injured", "of")),
    ("claimed-by recall", "claim_recall", ("claim", "right"), ("claim", "of")),
    ("claimed-by precision", "claim_precision", ("claim", "given_right"), ("claim", "given")),
    ("no claim where none is stated", "no_claim", ("claim", "none_right"), ("claim", "none_of")),
    ("place (district)", "place", ("place", "right"), ("place", "of")),
)


def _facts_rows(facts: dict | None) -> list[tuple[str, str, str, str]]:
    """(l): one row per #20 target, per text and per event (met: at both levels), and the event
    level's evidence."""
    if not facts:
        return []
    out = []
    for name, key, right, of in FACTS_ROWS:
        target, values, met = facts["targets"][key], [], []
        for level, said in (("per_text", "per text"), ("event_level", "per event")):
            result, ratio = facts[level], facts["ratios"][level][key]
            count = f"{result[right[0]][right[1]]}/{result[of[0]][of[1]]}"
            values.append(f"{said} " + ("n/a (0/0)" if ratio is None else f"{ratio:.2f} ({count})"))
            met.append(ratio is not None and ratio >= target)
        out.append((f"(l) facts on `events/`: {name}", "; ".join(values), f"≥ {target} (each)", _yes(all(met))))
    evidence = facts["event_level"]["evidence"]
    out.append((f"(l) facts: of an event's gathered facts ({facts['texts']} texts, {facts['events']} events, "
                "folded by `event_facts.add` in order of arrival), those with their evidence sentence",
                f"{evidence['right']}/{evidence['of']}", "all", _yes(evidence["right"] == evidence["of"])))
    return out


def table(results: dict) -> str:
    """The results as a Markdown table (also readable in a terminal)."""
    lines = ["| measure | value | target | met? |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows(results)]
    return "\n".join(lines)


def markdown(results: dict) -> str:
    from bench import notes

    return notes.document(results, table(results))
