"""(h) newsmon side by side with rss2email and feed2exec, (i) full-text memory, (j) the warm
cycle at 2,000 feeds. Each function runs its measure and returns plain numbers.

(h) runs on a farm of every entry of the corpus's strict RSS/Atom/RDF feeds, each item link
its own page (`python -m bench.farm --items 0 --strict-xml --page-copies --no-check-each`).
For each response delay and each tool (bench/peers.py), in a fresh directory:

- cold: the first poll, recording every entry, alerting on none;
- warm: the next poll, every feed answering 304;
- changed10: a tenth of the feeds gain one new entry (one the demo watchlist's `ttp-activity`
  rule matches: every new entry alerts), and the tool mails each one; the sink (or
  feed2exec's Maildir) must hold every one of them, else the run is marked void. newsmon with
  full text reads each entry's page, and entries whose pages it reads as one incident (the
  farm's entries are synthetic, on pages of unrelated news) join one story and alert once:
  there every entry must be recorded and every story they made must have mailed.

The cold poll takes longest, so it is measured once per tool and delay (fresh state), and
warm and changed10 several times, each time on a copy of the state the cold poll left (the farm
put back as it was). The cold ratio of the target, newsmon feed-only's CPU over rss2email's,
is measured in pairs at the first delay: after every tool's runs there, more cold polls of the
two, one right after the other, so that a slow spell of a shared machine weighs on both (a
machine whose speed changed within the hour gave single-run ratios from 0.69 to 0.91). Their
warm and changed10 runs there alternate too, and each of those ratios is the median of the
pairs' ratios.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from bench import peers, procs, scenarios

PHASES = ("cold", "warm", "changed10")
PAIRED = ("rss2email", "newsmon feed-only")  # cold polls measured in pairs (see the module)


def _measure(farm: scenarios.Farm, tool: peers.Tool, sink: peers.SmtpSink, phase: str, memory: bool) -> dict:
    """One run of `tool`'s command for `phase`: wall, CPU and peak RSS of its process tree."""
    quiet = procs.wait_quiet(longest=10.0)  # many short runs: wait less for a busy machine than (a) does
    sink.take()
    mailed_before = tool.mailed()
    before = farm.stats()
    samplers: list[procs.TreeSampler] = []

    def start_sampler(pid: int) -> None:
        if memory:
            samplers.append(procs.TreeSampler(pid))
            samplers[0].start()

    with open(tool.directory / f"{phase}.log", "ab") as log:
        usage = procs.run_measured(tool.command(phase), keep={farm.pid}, env=tool.env(), cwd=tool.directory,
                                   stdout=log, stderr=log, on_start=start_sampler)
    tree = samplers[0].stop() if samplers else None
    after = farm.stats()
    messages, tokens = sink.take()
    mailed = tool.mailed()
    out = {"wall": usage.wall, "cpu": usage.cpu, "main_cpu": usage.main_cpu, "exit": usage.returncode,
           "busy_before": quiet, "farm_cpu": after["cpu"] - before["cpu"],
           "others_cpu": max(0.0, usage.machine_cpu - usage.cpu - (after["cpu"] - before["cpu"])),
           "feed_200": after["feed_200"] - before["feed_200"], "feed_304": after["feed_304"] - before["feed_304"],
           "pages": after["pages"] - before["pages"], "recorded": tool.recorded(),
           "mails": messages if mailed is None else mailed - (mailed_before or 0), "tokens": sorted(tokens)}
    if tree is not None:
        out.update(peak_rss=tree.peak_rss, peak_pss=tree.peak_pss, processes=tree.peak_processes)
    if isinstance(tool, peers.Newsmon):
        out["articles"] = tool.articles()
        out["error"] = scenarios.first_error(tool.directory / f"{phase}.log")
        done = [line for line in (tool.directory / f"{phase}.log").read_text(errors="replace").splitlines()
                if "cycle done" in line]
        out["cycle"] = done[-1][done[-1].find("cycle done"):] if done else None  # newsmon's own count of the run
    return out


def tool_runs(farm: scenarios.Farm, sink: peers.SmtpSink, work: Path, name: str, feeds: int, changed: list[int],
              cold_runs: int, runs: int, delay_ms: float, say) -> dict:
    """Every measured run of one tool at one response delay. Warm and changed10 start from a
    copy of the state of the tool's last cold poll (at this delay, or an earlier one when
    `cold_runs` is 0: the state does not depend on the delay)."""
    urls = [f["url"] for f in farm.info["feeds"][:feeds]]
    expected = sum(len(f["entries"]) for f in farm.info["feeds"][:feeds])
    directory = _directory(work, name)
    snapshot = _snapshot(directory)
    out: dict = {"cold": [], "warm": [], "changed10": [], "expected": expected, "changed_feeds": len(changed)}
    for run in range(cold_runs if cold_runs or snapshot.exists() else 1):
        result = _cold_poll(farm, sink, name, directory, urls, expected)
        if cold_runs:
            out["cold"].append(result)
            say(f"    {name}, {delay_ms:g} ms, cold {run + 1}/{cold_runs}: {_brief(result)}, "
                f"{result['recorded']}/{expected} entries recorded")
        shutil.rmtree(snapshot, ignore_errors=True)
        shutil.copytree(directory, snapshot)
    for run in range(runs):
        warm, changed10 = _warm_and_changed(farm, sink, name, directory, snapshot, urls, feeds, changed)
        out["warm"].append(warm)
        out["changed10"].append(changed10)
        say(f"    {name}, {delay_ms:g} ms, warm {run + 1}/{runs}: {_brief(warm)}, {warm['feed_304']} × 304; "
            f"changed10: {_brief(changed10)}, {changed10['alerted']}/{changed10['published']} mails")
    return out


def _warm_and_changed(farm: scenarios.Farm, sink: peers.SmtpSink, name: str, directory: Path, snapshot: Path,
                      urls: list[str], feeds: int, changed: list[int]) -> tuple[dict, dict]:
    """One warm run and one changed10 run of tool `name`, on a fresh copy of its cold poll's
    state (`snapshot`), the farm put back first."""
    farm.reset()
    tool = peers.make(name, directory, urls, sink.port)
    shutil.rmtree(directory)
    shutil.copytree(snapshot, directory)
    warm = _measure(farm, tool, sink, "warm", True)
    warm["all_304"] = warm["feed_304"] == feeds and warm["feed_200"] == 0
    published = farm.call("/_control/publish", {"feeds": changed, "count": len(changed), "rate": 0})["tokens"]
    changed10 = _measure(farm, tool, sink, "changed10", True)
    changed10["published"] = len(published)
    if name == "feed2exec":  # its mails are the Maildir's new files
        changed10["alerted"] = changed10["mails"]
    else:
        changed10["alerted"] = len(set(published) & set(changed10["tokens"]))
    changed10["complete"] = changed10["alerted"] == len(published) and changed10["exit"] == 0
    if isinstance(tool, peers.NewsmonFullText):  # entries whose pages report one incident: one story, one mail
        recorded, stories, alerted = tool.stories_of(published)
        changed10.update(stories=stories, stories_alerted=alerted)
        changed10["complete"] = (recorded == len(published) and alerted == stories == changed10["alerted"]
                                 and changed10["exit"] == 0)
    return warm, changed10


def _directory(work: Path, name: str) -> Path:
    """Where tool `name` keeps its state and logs in (h)."""
    return work / f"h-{name.replace(' ', '-')}"


def _snapshot(directory: Path) -> Path:
    """Where the state of a tool's cold poll in `directory` is kept for its warm runs."""
    return directory.with_name(directory.name + "-cold")


def _cold_poll(farm: scenarios.Farm, sink: peers.SmtpSink, name: str, directory: Path, urls: list[str],
               expected: int) -> dict:
    """One measured cold poll of tool `name` in a fresh `directory`, the farm put back first."""
    farm.reset()
    result = _measure(farm, peers.make(name, directory, urls, sink.port), sink, "cold", True)
    result["complete"] = _recorded_all(result["recorded"], expected) and result["exit"] == 0
    return result


def side_by_side(farm: scenarios.Farm, work: Path, feeds: int, delays: list[float], runs: list[int], say,
                 tools: tuple[str, ...] = peers.TOOLS, cold_pairs: int = 1) -> dict:
    """(h): every tool at every delay. `runs[n]` is the number of warm and changed10 runs at
    `delays[n]`; each tool's cold poll is measured once per delay, but newsmon's full-text one
    only at the first delay (it is CPU-bound, and takes longest), and rss2email's and newsmon
    feed-only's `cold_pairs` times there (`paired_cold`)."""
    publishable = [f["id"] for f in farm.info["feeds"][:feeds] if f["publishable"]]
    count = max(1, feeds // 10)
    step = max(1, len(publishable) // count)
    changed = publishable[::step][:count]
    sink = peers.SmtpSink()
    out: dict = {"feeds": feeds, "changed": len(changed), "delays": {}, "versions": peers.versions()}
    try:
        for number, delay in enumerate(delays):
            farm.call("/_control/delay", {"ms": delay})
            by_tool = {}
            paired = not number and set(PAIRED) <= set(tools)  # their warm and changed10 runs alternate
            for name in tools:
                cold_runs = 0 if number and name == "newsmon full text" else 1
                say(f"(h) {name}, {feeds} feeds, response delay {delay:g} ms")
                by_tool[name] = tool_runs(farm, sink, work, name, feeds, changed, cold_runs,
                                          0 if paired and name in PAIRED else runs[number], delay, say)
            if paired and cold_pairs > 1:
                paired_cold(farm, sink, work, feeds, cold_pairs, by_tool, delay, say)
            if paired:
                paired_warm(farm, sink, work, feeds, changed, runs[number], by_tool, delay, say)
            out["delays"][f"{delay:g}"] = by_tool
    finally:
        farm.call("/_control/delay", {"ms": 0})
        sink.stop()
    return out


def paired_cold(farm: scenarios.Farm, sink: peers.SmtpSink, work: Path, feeds: int, pairs: int, by_tool: dict,
                delay_ms: float, say) -> None:
    """More cold polls of the PAIRED tools, each pair one right after the other, added to
    `by_tool`'s (which holds their first) until each has `pairs`. Their directories are
    rewritten: `tool_runs` has measured warm and changed10 on them already."""
    urls, expected = [f["url"] for f in farm.info["feeds"][:feeds]], by_tool[PAIRED[0]]["expected"]
    for pair in range(len(by_tool[PAIRED[0]]["cold"]), pairs):
        for name in PAIRED:
            result = _cold_poll(farm, sink, name, _directory(work, name), urls, expected)
            by_tool[name]["cold"].append(result)
            say(f"    {name}, {delay_ms:g} ms, cold {pair + 1}/{pairs} (paired): {_brief(result)}, "
                f"{result['recorded']}/{expected} entries recorded")


def paired_warm(farm: scenarios.Farm, sink: peers.SmtpSink, work: Path, feeds: int, changed: list[int], runs: int,
                by_tool: dict, delay_ms: float, say) -> None:
    """The warm and changed10 runs of the PAIRED tools, one tool's run right after the
    other's, added to `by_tool`: a slow spell then weighs on both runs of a pair (measured one
    tool after the other, minutes apart, one full run gave changed10 0.77 x where alternating
    runs of the same code gave 0.59 x)."""
    urls = [f["url"] for f in farm.info["feeds"][:feeds]]
    for run in range(runs):
        for name in PAIRED if run % 2 == 0 else PAIRED[::-1]:
            directory = _directory(work, name)
            warm, changed10 = _warm_and_changed(farm, sink, name, directory, _snapshot(directory), urls, feeds, changed)
            warm["paired"] = changed10["paired"] = True
            by_tool[name]["warm"].append(warm)
            by_tool[name]["changed10"].append(changed10)
            say(f"    {name}, {delay_ms:g} ms, warm {run + 1}/{runs} (paired): {_brief(warm)}, {warm['feed_304']} × 304; "
                f"changed10: {_brief(changed10)}, {changed10['alerted']}/{changed10['published']} mails")


def full_text_cold(farm: scenarios.Farm, work: Path, feeds: int, runs: int, say) -> list[dict]:
    """(i): newsmon's cold full-text `run --once` over `feeds` feeds, fresh state each run;
    wall, CPU, entries and the peak RSS of the process tree."""
    urls = [f["url"] for f in farm.info["feeds"][:feeds]]
    expected = sum(len(f["entries"]) for f in farm.info["feeds"][:feeds])
    sink = peers.SmtpSink()
    out = []
    try:
        for run in range(runs):
            farm.reset()
            tool = peers.make("newsmon full text", work / f"i-{feeds}", urls, sink.port)
            result = _measure(farm, tool, sink, "cold", True)
            result.update(expected=expected, complete=_recorded_all(result["recorded"], expected) and result["exit"] == 0)
            out.append(result)
            say(f"    {feeds} feeds, run {run + 1}/{runs}: {_brief(result)}, {result['recorded']}/{expected} entries, "
                f"peak RSS {result['peak_rss']:.0f} MiB")
    finally:
        sink.stop()
    return out


def warm_scaling(farm: scenarios.Farm, work: Path, sizes: list[int], runs: int, say) -> dict:
    """(j): newsmon's warm `run --once` (every feed 304) at each size in `sizes`, each on the
    state of an unmeasured feed-only cold poll; and `run --once` with no feeds at all, so that
    per feed = (warm - empty) / feeds. The per-feed part of a warm run at 500 feeds is a small
    difference of two larger numbers, so the runs are interleaved (empty, then each size, `runs`
    times over): a busy spell of the machine then shifts all of them alike, and the least CPU of
    each kind of run is what counts (see bench.peer_report.summarise)."""
    sink = peers.SmtpSink()
    out: dict = {"sizes": {str(size): {"warm": []} for size in sizes}, "empty": []}
    try:
        tools = {}
        for size in sizes:
            farm.reset()
            tools[size] = peers.make("newsmon feed-only", work / f"j-{size}",
                                     [f["url"] for f in farm.info["feeds"][:size]], sink.port)
            say(f"(j) {size} feeds: the cold poll (not measured)")
            start = time.monotonic()
            procs.run_measured(tools[size].command("cold"), keep={farm.pid}, env=tools[size].env(),
                               cwd=tools[size].directory)
            out["sizes"][str(size)].update(setup_seconds=time.monotonic() - start, recorded=tools[size].recorded())
        empty = peers.make("newsmon feed-only", work / "j-empty", [], sink.port)
        for run in range(runs):
            procs.wait_quiet(longest=10.0)
            usage = procs.run_measured(empty.command("warm"), keep={farm.pid}, env=empty.env(), cwd=empty.directory)
            out["empty"].append({"wall": usage.wall, "cpu": usage.cpu})
            for size in sizes:
                result = _measure(farm, tools[size], sink, "warm", False)
                result["all_304"] = result["feed_304"] == size and result["feed_200"] == 0
                out["sizes"][str(size)]["warm"].append(result)
                say(f"    {size} feeds, warm {run + 1}/{runs}: {_brief(result)}, {result['feed_304']} × 304 "
                    f"(no feeds: {usage.cpu:.2f} CPU-s)")
    finally:
        sink.stop()
    return out


def _recorded_all(recorded: int, expected: int) -> bool:
    """Whether a tool recorded every entry: `expected` counts them as newsmon's parser does,
    and feed2exec keys an item by its GUID, or by its title when it has none, so a few corpus
    items (no GUID, a title another item of the feed has too) are one item to it."""
    return recorded >= expected * 0.999


def _brief(result: dict) -> str:
    return f"{result['wall']:.1f} s, {result['cpu']:.1f} CPU-s"


def run(plan, only: set[str], corpus_dir: Path, work: Path, results: dict, say,
        tools: tuple[str, ...] = peers.TOOLS) -> None:
    """Measures (h) (of `tools` only), (i) and (j) of `plan`, each on its own farm, into `results`."""
    if only & set("hi"):
        sizes = [plan.peer_feeds] if "h" in only else []
        sizes += list(plan.text_feeds) if "i" in only else []
        feeds = max(sizes)
        say(f"starting the peers' farm: {feeds} feeds, every entry kept, a page per link")
        farm = scenarios.Farm(corpus_dir, feeds, 0, plan.hosts, work / "farm-peers",
                              ("--strict-xml", "--page-copies", "--no-check-each"))
        try:
            results["peer_farm"] = {"feeds": feeds, "templates": farm.info["templates"], "pages": farm.info["pages"],
                                    "refused": farm.info["refused"], "used_templates": farm.info["used_templates"],
                                    "entries": {str(size): sum(len(f["entries"]) for f in farm.info["feeds"][:size])
                                                for size in sorted(set(sizes))}}
            if "h" in only:
                results["peers"] = side_by_side(farm, work, plan.peer_feeds, list(plan.peer_delays),
                                                [plan.peer_runs] + [plan.peer_delayed_runs] * (len(plan.peer_delays) - 1),
                                                say, tools, plan.peer_cold_pairs)
            if "i" in only:
                results["full_text"] = {}
                for size in plan.text_feeds:
                    runs = plan.text_runs
                    if "h" in only and size == plan.peer_feeds and 0 in plan.peer_delays:
                        runs -= 1  # (h) measured one, at 0 ms: bench.peer_report counts it with these
                    if runs > 0:
                        say(f"(i) newsmon full text, cold, {size} feeds")
                        results["full_text"][str(size)] = full_text_cold(farm, work, size, runs, say)
        finally:
            farm.stop()
    if "j" in only:
        feeds = max(plan.warm_sizes)
        say(f"starting a farm of {feeds} feeds, at most {plan.items} entries each")
        farm = scenarios.Farm(corpus_dir, feeds, plan.items, plan.hosts, work / "farm-warm", ("--no-check-each",))
        try:
            results["warm_scaling"] = warm_scaling(farm, work, list(plan.warm_sizes), plan.warm_runs, say)
        finally:
            farm.stop()
