"""The measures. Each function runs one repetition and returns plain numbers.

newsmon always runs as a subprocess (`python -m monitor ...`), with a configuration written
here: the farm's feeds, the demo watchlist (monitor/demo/data/watchlist.toml),
`allow_private_networks = ["127.0.0.0/8"]`, and either the `console://` channel or a json://
webhook to the farm's receiver.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import tomli_w

from bench import procs

REPO = Path(__file__).resolve().parent.parent
WATCHLIST = REPO / "monitor" / "demo" / "data" / "watchlist.toml"
PYTHON = sys.executable
NEWSMON = [PYTHON, "-m", "monitor"]


def compile_newsmon() -> None:
    """Compile newsmon's modules to bytecode (`__pycache__`), as `pip install` does for a user:
    a checkout run with PYTHONDONTWRITEBYTECODE set (or a read-only tree) would otherwise compile
    every module from source at every start, a cost no installed newsmon pays (nor the peers,
    whose Debian packages are compiled at installation)."""
    import compileall

    compileall.compile_dir(REPO / "monitor", quiet=1, force=False)


def clean_env() -> dict[str, str]:
    """The environment for newsmon and the farm: no proxy variables (all traffic stays on
    loopback, and newsmon does not pay for checking a bypass list a user would not have)."""
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    env.pop("NEWSMON_CONFIG", None)
    # newsmon from this checkout, whatever else is installed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), env.get("PYTHONPATH"))))
    return env


def first_error(log: Path) -> str | None:
    """The first ERROR or CRITICAL line of a newsmon log, if any."""
    try:
        for line in log.read_text(errors="replace").splitlines():
            if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback"):
                return line.strip()
    except OSError:
        pass
    return None


# ---------------------------------------------------------------- the farm


class Farm:
    """The farm process (`python -m bench.farm`) and its control API."""

    def __init__(self, corpus: Path, feeds: int, items: int, hosts: int, out: Path, extra: tuple[str, ...] = ()):
        out.mkdir(parents=True, exist_ok=True)
        self.log = open(out / "farm.log", "wb")
        command = [PYTHON, "-m", "bench.farm", "--corpus", str(corpus), "--feeds", str(feeds),
                   "--items", str(items), "--hosts", str(hosts), "--out", str(out), *extra]
        self.process = subprocess.Popen(command, cwd=REPO, env=clean_env(), stdout=subprocess.PIPE,
                                        stderr=self.log, stdin=subprocess.DEVNULL,
                                        preexec_fn=procs.die_with_parent)
        procs.protect(self.process.pid)
        for line in self.process.stdout:
            if line.startswith(b"READY"):
                break
        else:
            raise SystemExit(f"bench: the farm did not start (see {out / 'farm.log'})")
        self.info = json.loads((out / "farm.json").read_text(encoding="utf-8"))
        self.inputs_path = out / "inputs.pickle"
        self.control = self.info["control"]
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.pid = self.process.pid

    def call(self, path: str, data: dict | None = None) -> dict:
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(self.control + path, data=body, method="GET" if data is None else "POST",
                                         headers={"Content-Type": "application/json"})
        with self.opener.open(request, timeout=30) as response:
            return json.loads(response.read())

    def stats(self, per_feed: bool = False) -> dict:
        return self.call("/_control/stats" + ("?per_feed=1" if per_feed else ""))

    def reset(self) -> None:
        self.call("/_control/reset", {})

    def inputs(self, count: int) -> list[tuple[str, bytes, str]]:
        with open(self.inputs_path, "rb") as handle:
            bodies = pickle.load(handle)
        return [bodies[feed_id] for feed_id in range(count)]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# ---------------------------------------------------------------- configurations


def write_config(directory: Path, feed_urls: list[str], *, hook: str | None = None, interval: str | None = None,
                 poll_interval: str | None = None) -> Path:
    """A newsmon configuration in `directory`, state in `directory/state`; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    watchlist = tomllib.loads(WATCHLIST.read_text(encoding="utf-8"))
    settings: dict = {"state_dir": "state", "include": [], "allow_private_networks": ["127.0.0.0/8"]}
    if poll_interval:
        settings["poll_interval"] = poll_interval
    feeds = []
    for url in feed_urls:
        feed: dict = {"url": url, "alert_on_first_poll": False}
        if interval:
            feed["interval"] = interval
        feeds.append(feed)
    if hook:
        channels = {"hook": {"urls": ["json://" + hook.split("://", 1)[1]]}}
    else:
        channels = {"console": {"urls": ["console://"]}}
    document = {"newsmon": settings, "feeds": feeds, "channels": channels, **watchlist}
    path = directory / "config.toml"
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


def _db_counts(state: Path) -> dict:
    with sqlite3.connect(state / "newsmon.db") as db:
        by_source = dict(db.execute("SELECT a.source, COUNT(*) FROM entries e JOIN articles a "
                                    "ON a.id = e.article_id GROUP BY a.source").fetchall())
        return {
            "entries": db.execute("SELECT COUNT(*) FROM entries").fetchone()[0],
            "articles": db.execute("SELECT COUNT(*) FROM articles").fetchone()[0],
            "from_page": by_source.get("page", 0),  # entries whose article text is the page's
            "from_feed": by_source.get("feed", 0),  # ... the feed's own text
            "failed_feeds": db.execute("SELECT COUNT(*) FROM feeds WHERE last_error IS NOT NULL").fetchone()[0],
            "hits": db.execute("SELECT COUNT(*) FROM hits").fetchone()[0],
        }


# ---------------------------------------------------------------- (a) cold and (c) warm


def cold_and_warm(farm: Farm, work: Path, feeds: int, run: int) -> dict:
    """One cold cycle (fresh state: every feed and entry new, full text on) and the warm cycle
    right after it on the same state (every feed answers 304)."""
    farm.reset()
    directory = work / f"cycle-{run}"
    shutil.rmtree(directory, ignore_errors=True)
    config = write_config(directory, [f["url"] for f in farm.info["feeds"][:feeds]])
    command = NEWSMON + ["--config", str(config), "run", "--once"]
    out = {}
    for phase in ("cold", "warm"):
        quiet = procs.wait_quiet()
        before = farm.stats()
        with open(directory / f"{phase}.log", "wb") as log:
            usage = procs.run_measured(command, keep={farm.pid}, env=clean_env(), cwd=directory, stderr=log)
        after = farm.stats()
        if usage.returncode != 0:
            raise SystemExit(f"bench: newsmon exited {usage.returncode} (see {directory / (phase + '.log')})")
        out[phase] = {"wall": usage.wall, "cpu": usage.cpu, "user": usage.user, "system": usage.system,
                      "main_cpu": usage.main_cpu, "busy_before": quiet,
                      "others_cpu": max(0.0, usage.machine_cpu - usage.cpu - (after["cpu"] - before["cpu"])),
                      "farm_cpu": after["cpu"] - before["cpu"],
                      "feed_200": after["feed_200"] - before["feed_200"],
                      "feed_304": after["feed_304"] - before["feed_304"],
                      "pages": after["pages"] - before["pages"]}
        out[phase]["error"] = first_error(directory / f"{phase}.log")
        if phase == "cold":
            out[phase].update(_db_counts(directory / "state"))
            out[phase]["expected"] = sum(len(f["entries"]) for f in farm.info["feeds"][:feeds])
    return out


def fixed_cost(work: Path, run: int) -> dict:
    """`run --once` with no feeds at all: start-up, imports, store, shut-down."""
    directory = work / f"empty-{run}"
    shutil.rmtree(directory, ignore_errors=True)
    config = write_config(directory, [])
    usage = procs.run_measured(NEWSMON + ["--config", str(config), "run", "--once"], keep=set(), env=clean_env(),
                               cwd=directory)
    return {"wall": usage.wall, "cpu": usage.cpu}


# ---------------------------------------------------------------- (b) floor


def floor_run(farm: Farm, feeds: int, matcher_config: Path) -> dict:
    from bench import corpus, floor
    from monitor import config, match

    loaded = config.load(matcher_config)
    matcher = match.Matcher(loaded.entities, loaded.rules)
    pages = [page.html for page in corpus.load_pages(Path(farm.info["corpus"]))]
    inputs = farm.inputs(feeds)
    quiet = procs.wait_quiet()
    return {**floor.run(inputs, pages, matcher, workers=2), "busy_before": quiet}


# ---------------------------------------------------------------- (d) latency


def _wait(predicate, timeout: float, step: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def _stop_daemon(process: subprocess.Popen, keep: set[int]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        code = process.wait()
    procs.reap_orphans(keep | {process.pid})
    return code


def latency(farm: Farm, work: Path, feed_ids: list[int], events: int, rate: float, run: int) -> dict:
    """With `newsmon run` polling `feed_ids` every 5 s: publish `events` new matching entries at
    `rate` per second, round robin over those feeds, and time each one from the moment the farm
    served the feed body holding it to the moment its alert reached the webhook."""
    farm.reset()
    directory = work / f"latency-{run}"
    shutil.rmtree(directory, ignore_errors=True)
    urls = [farm.info["feeds"][i]["url"] for i in feed_ids]
    config = write_config(directory, urls, hook=farm.info["hook"], interval="5s")
    quiet = procs.wait_quiet()
    log = open(directory / "daemon.log", "wb")
    daemon = subprocess.Popen(NEWSMON + ["--config", str(config), "run"], cwd=directory, env=clean_env(),
                              stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
                              preexec_fn=procs.die_with_parent)
    try:
        # Ready when every feed has been polled once (silently: first poll) and answered 304 since.
        def warmed() -> bool:
            per_feed = farm.stats(per_feed=True)["per_feed"]
            return all(per_feed[str(i)][1] >= 1 for i in feed_ids)

        started = time.monotonic()
        if not _wait(lambda: warmed() or daemon.poll() is not None, 180) or daemon.poll() is not None:
            raise SystemExit(f"bench: the latency daemon's feeds never settled ({first_error(directory / 'daemon.log')}; "
                             f"see {directory / 'daemon.log'})")
        warm_up = time.monotonic() - started
        farm.call("/_control/publish", {"feeds": feed_ids, "count": events, "rate": rate})

        def arrived() -> bool:
            records = farm.call("/_control/events")
            return len(records) == events and all(r["arrived"] for r in records.values())

        _wait(arrived, events / rate + 30, step=0.5)
        records = [{"token": token, **record} for token, record in farm.call("/_control/events").items()]
    finally:
        _stop_daemon(daemon, {farm.pid})
        log.close()
    floors = latency_floor(farm, records, config)
    timed = [1000 * (r["arrived"] - r["served"]) for r in records if r["arrived"] and r["served"]]
    # An entry whose page an earlier one of the run led to is a copy of that article (its own
    # opening sentence aside): it joins that story, which has alerted already.
    pages_seen: set[int] = set()
    due, missed = 0, []
    for record in sorted(records, key=lambda r: r["published"]):
        if record["page"] not in pages_seen:
            due += 1
            if not (record["served"] and record["arrived"]):
                missed.append(record["link"])
        pages_seen.add(record["page"])
    waiting = [1000 * (r["served"] - r["published"]) for r in records if r["served"]]
    return {"events": len(records), "due": due, "missed": missed, "timed": len(timed), "not_served": sum(1 for r in records if not r["served"]),
            "not_arrived": sum(1 for r in records if r["served"] and not r["arrived"]),
            "untimed": [r["link"] for r in records if not (r["served"] and r["arrived"])], "p50": _percentile(timed, 50), "p95": _percentile(timed, 95),
            "max": max(timed) if timed else None, "poll_wait_p50": _percentile(waiting, 50), "warm_up": warm_up,
            "floor_p50": _percentile(floors, 50), "floor_p95": _percentile(floors, 95), "samples": timed,
            "floor_samples": floors, "busy_before": quiet, "records": records}


def latency_floor(farm: Farm, records: list[dict], config: Path) -> list[float]:
    """For each published entry, the library work alone (`floor.one_event`): its feed parsed
    (as first built, i.e. without the new entries), its page extracted, the text matched."""
    from bench import corpus, floor
    from monitor import config as config_module, match

    loaded = config_module.load(config)
    matcher = match.Matcher(loaded.entities, loaded.rules)
    pages = [page.html for page in corpus.load_pages(Path(farm.info["corpus"]))]
    with open(farm.inputs_path, "rb") as handle:
        bodies = pickle.load(handle)
    out = []
    for number, record in enumerate([records[0], *records] if records else []):
        spent = floor.one_event(bodies[record["feed"]], pages[record["page"]], record["link"], record["title"], matcher)
        if number:  # the first is a warm-up
            out.append(spent)
    return out


def _percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile, linear between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# ---------------------------------------------------------------- (e) memory


HISTORY_DAYS = 60  # the prefilled entries are spread evenly over this many days


def prefill(farm: Farm, directory: Path, feeds: int, entries: int) -> tuple[Path, dict]:
    """A state directory whose store already knows `feeds` feeds (polled an hour ago, no
    validators, so the first poll downloads and parses every feed again) and `entries` entries,
    each with its article and story, written straight into newsmon's schema (created by
    `monitor.store.open_store`). Each feed's entries are its current ones plus older ones,
    spread evenly over the last `HISTORY_DAYS` days (inside the default retention, so nothing
    is pruned); articles fetched within the story window get a near-duplicate signature of
    random values (distinct stories), as newsmon would have stored. Returns the state
    directory and a description."""
    import random

    from monitor import config, store

    state = directory / "state"
    shutil.rmtree(directory, ignore_errors=True)
    opened = store.open_store(state)
    opened.close()
    db = sqlite3.connect(state / "newsmon.db", isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    article_columns = {row[1] for row in db.execute("PRAGMA table_info(articles)")}
    window = getattr(config.Settings, "story_window", None)
    window = window if isinstance(window, (int, float)) else 72 * 3600.0
    pack = _signature_packer() if "signature" in article_columns else None
    rng = random.Random(1)
    now = time.time()
    span = HISTORY_DAYS * 86400.0
    filler_text = ("Officials said the situation remained tense through the evening and that roads leading to "
                   "the area had been closed while investigators collected evidence.")
    chosen = farm.info["feeds"][:feeds]
    per_feed = max(1, entries // len(chosen))
    db.execute("BEGIN")
    db.executemany("INSERT INTO feeds (id, url, fetch_url, title, last_attempt, last_success, created) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [(f["id"] + 1, f["url"], f["url"], f"farm feed {f['id']}", now - 3600, now - 3600, now - span)
                    for f in chosen])
    extra = ", signature" if pack else ""
    article_sql = (f"INSERT INTO articles (id, url, title, text, source, outlet, language, published, fetched, "
                   f"story_id{extra}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?{', ?' if pack else ''})")
    row = signed = 0
    for feed in chosen:
        rows = list(feed["entries"])[:per_feed]
        rows += [(f"guid:bench-old-{feed['id']}-{n}", f"{n:032x}", f"Older story {n} of feed {feed['id']}",
                  f"{feed['url']}/old/{n}") for n in range(per_feed - len(rows))]
        stories, articles, entry_rows = [], [], []
        for position, (key, content_hash, title, link) in enumerate(rows):
            row += 1
            seen = now - 3600 - span * position / per_feed - (feed["id"] % 60)
            stories.append((row, seen, title, row, '["farm"]'))
            article = [row, link, title, filler_text, "page", "farm", "en", seen, seen, row]
            if pack:
                recent = seen >= now - window
                article.append(pack(rng) if recent else None)
                signed += recent
            articles.append(article)
            entry_rows.append((feed["id"] + 1, key, content_hash, title, link, seen, seen, row))
        db.executemany("INSERT INTO stories (id, first_seen, title, representative_article, outlets) "
                       "VALUES (?, ?, ?, ?, ?)", stories)
        db.executemany(article_sql, articles)
        db.executemany("INSERT INTO entries (feed_id, entry_key, content_hash, title, link, first_seen, last_seen, "
                       "article_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", entry_rows)
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    size = sum(path.stat().st_size for path in state.iterdir()) / 2**20
    return state, {"feeds": len(chosen), "entries": row, "signatures": signed, "history_days": HISTORY_DAYS,
                   "story_window_hours": window / 3600, "database_mib": size}


def _signature_packer():
    """A function making one random stored signature, in monitor.stories' format, or None when
    this newsmon has no near-duplicate signatures."""
    try:
        from monitor import stories
    except ImportError:
        return None
    size = getattr(stories, "K", 64)

    def pack(rng) -> bytes:
        sketch = tuple(sorted(rng.getrandbits(64) for _ in range(size)))
        return stories.Signature(sketch, frozenset(), 400).pack()

    return pack


def memory(farm: Farm, work: Path, template: Path, feeds: int, window: float, rate: float, run: int) -> dict:
    """`newsmon run` over `feeds` feeds on the prefilled store, for `window` seconds, while the
    farm publishes new matching entries at `rate` per second; peak memory of the process tree."""
    farm.reset()
    directory = work / f"memory-{run}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    shutil.copytree(template, directory / "state")
    urls = [f["url"] for f in farm.info["feeds"][:feeds]]
    # at least two rounds of polls within the window, the first one over every feed at once
    config = write_config(directory, urls, hook=farm.info["hook"], poll_interval=f"{max(10, round(window / 2.5))}s")
    publishable = [f["id"] for f in farm.info["feeds"][:feeds] if f["publishable"]]
    quiet = procs.wait_quiet()
    log = open(directory / "daemon.log", "wb")
    before = farm.stats()
    spawned = time.monotonic()
    daemon = subprocess.Popen(NEWSMON + ["--config", str(config), "run"], cwd=directory, env=clean_env(),
                              stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
                              preexec_fn=procs.die_with_parent)
    sampler = procs.TreeSampler(daemon.pid)
    sampler.start()
    try:
        farm.call("/_control/publish", {"feeds": publishable, "count": int(window * rate), "rate": rate})
        time.sleep(window)
        sampler.sample()
    finally:
        result = sampler.stop()
        code = _stop_daemon(daemon, {farm.pid})
        log.close()
    after = farm.stats()
    events = list(farm.call("/_control/events").values())
    text = (directory / "daemon.log").read_text(errors="replace")
    return {"peak_rss": result.peak_rss, "peak_pss": result.peak_pss, "hwm_sum": result.hwm_sum,
            "main_hwm": result.hwm.get(daemon.pid, 0.0), "processes": result.peak_processes,
            "samples": result.samples, "exit": code,
            "feed_200": after["feed_200"] - before["feed_200"], "feed_304": after["feed_304"] - before["feed_304"],
            "published": len(events), "alerted": sum(1 for e in events if e["arrived"]),
            "errors": len(re.findall(r" (?:ERROR|CRITICAL) ", text)), "busy_before": quiet,
            "first_poll_after": (after["first_feed"] - spawned) if after.get("first_feed") else None,
            "error": first_error(directory / "daemon.log")}


# ---------------------------------------------------------------- (f) start-up


def startup(config: Path, repeat: int) -> dict:
    """Median wall time of `newsmon --help` and `newsmon check`, after one unmeasured run of each."""
    out = {}
    for name, args in (("python -c pass", [PYTHON, "-c", "pass"]), ("newsmon --help", NEWSMON + ["--help"]),
                       ("newsmon check", NEWSMON + ["--config", str(config), "check"])):
        times = []
        for attempt in range(repeat + 1):
            usage = procs.run_measured(args, keep=set(), env=clean_env(), cwd=config.parent)
            if usage.returncode != 0:
                raise SystemExit(f"bench: {' '.join(args)} exited {usage.returncode}")
            if attempt:
                times.append(usage.wall)
        out[name] = {"median": statistics.median(times), "min": min(times), "max": max(times)}
    out["imports"] = {name: _import_times(NEWSMON + extra) for name, extra in
                      (("newsmon --help", ["--help"]), ("newsmon check", ["--config", str(config), "check"]))}
    return out


def _import_times(command: list[str], top: int = 8) -> list[tuple[str, float]]:
    """The costliest packages a command imports (`python -X importtime`): every top-level
    package (a name without a dot) other than newsmon's own and the interpreter's start-up, by
    cumulative milliseconds, wherever it was first imported."""
    result = subprocess.run([command[0], "-X", "importtime", *command[1:]], capture_output=True, env=clean_env(),
                            cwd=REPO, check=False)
    found = []
    for line in result.stderr.decode(errors="replace").splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|(\s*)(\S+)$", line)
        if match and "." not in match.group(3) and not match.group(3).startswith("_") \
                and match.group(3) not in ("monitor", "site", "encodings"):
            found.append((match.group(3), int(match.group(1)) / 1000))
    return sorted(found, key=lambda item: -item[1])[:top]



def floor_breakdown(farm: Farm, feeds: int, matcher_config: Path) -> dict:
    from bench import corpus, floor
    from monitor import config, match

    loaded = config.load(matcher_config)
    matcher = match.Matcher(loaded.entities, loaded.rules)
    pages = [page.html for page in corpus.load_pages(Path(farm.info["corpus"]))]
    return floor.breakdown(farm.inputs(feeds), pages, matcher)


def profile_cycles(farm: Farm, work: Path, cold_feeds: int, warm_feeds: int, top: int = 12) -> dict:
    """cProfile (CPU-time clock) of newsmon's main process (the event loop; not the sandbox
    workers) during the polling cycle of a cold `run --once` over `cold_feeds` feeds and a warm
    one over `warm_feeds`: the functions with the most own CPU time, as shares of the profiled
    total. Not timed: profiling slows Python code down."""
    import pstats

    out = {}
    for phase, count in (("cold", cold_feeds), ("warm", warm_feeds)):
        farm.reset()
        directory = work / f"profile-{phase}"
        shutil.rmtree(directory, ignore_errors=True)
        config = write_config(directory, [f["url"] for f in farm.info["feeds"][:count]])
        command = [PYTHON, "-m", "bench.profiled", str(directory / "main.prof"), "--", "--config", str(config),
                   "run", "--once"]
        if phase == "warm":  # a first, unprofiled cycle fills the state
            procs.run_measured(NEWSMON + ["--config", str(config), "run", "--once"], keep={farm.pid}, env=clean_env(),
                               cwd=directory)
        procs.run_measured(command, keep={farm.pid}, env=clean_env(), cwd=directory)
        stats = pstats.Stats(str(directory / "main.prof"))
        total = stats.total_tt or 1.0
        rows = sorted(stats.stats.items(), key=lambda item: -item[1][2])[:top]
        out[phase] = {"feeds": count, "total": total, "top": [
            {"function": _function_name(key), "own": value[2] / total, "cumulative": value[3] / total, "calls": value[1]}
            for key, value in rows]}
    return out


def _function_name(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":
        return name  # a built-in, e.g. "<method 'poll' of 'select.epoll' objects>"
    path = filename.replace(str(REPO) + os.sep, "")
    if "site-packages" in path:
        path = path.split("site-packages" + os.sep, 1)[1]
    elif "/lib/python" in path:
        path = "stdlib/" + path.split("/lib/python", 1)[1].split("/", 1)[-1]
    return f"{path}:{line}({name})"
