"""The feed farm: a loopback web server, in its own process, serving feeds made from the
corpus and the corpus's real article pages.

    python -m bench.farm --corpus PATH --feeds 500 --items 10 --hosts 8 --out DIR
    python -m bench.farm ... --items 0 --strict-xml --page-copies --delay-ms 50   (the peers' farm)

It binds one port on each of `--hosts` loopback addresses (127.0.0.2, 127.0.0.3, ...), so that
newsmon's per-host connection limit (aiohttp keys it by host and port) does not make every
feed queue behind one host, plus a control port on 127.0.0.1. When ready it writes
DIR/farm.json (URLs, and every feed's entries as newsmon parses them) and DIR/inputs.pickle
(the feed bodies), then prints one line, `READY DIR/farm.json`.

`--items 0` keeps every entry of each corpus feed; `--strict-xml` uses only the corpus's RSS,
Atom and RDF feeds that a strict XML parser accepts; `--page-copies` makes every item link its
own article (bench/copies.py); `--delay-ms N` holds every response (feed, 304, page) N ms
before answering, as a distant server would.

Feed hosts:   GET /f/<id>.xml|.json   a feed; ETag and If-None-Match (304), Last-Modified
              GET <anything else>      an article page (real HTML, chosen by a hash of the path)
Control host: GET  /_control/stats     request counts and this process's CPU seconds
              POST /_control/publish   {"feeds": [ids], "count": n, "rate": per_second}: new
                                       entries, round robin over the feeds, each matching the
                                       demo watchlist's "ttp-activity" rule (rate 0: all now,
                                       before the answer)
              POST /_control/delay     {"ms": n}: the per-response delay from now on
              GET  /_control/events    every published entry: published, first served, alert arrived
              POST /_control/reset     feeds back to their first state; counters and events cleared
              POST /hook               the webhook receiver: an alert naming a published entry's
                                       link is timed on arrival (time.monotonic, this process)
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import hashlib
import html as html_module
import itertools
import json
import os
import pickle
import re
import signal
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from aiohttp import web

from bench import copies, corpus

# Published entries: titles that the demo watchlist's "ttp-activity" rule matches, so every one
# alerts, and different enough from each other (each on a different article page, which opens
# with the entry's own sentence: its place and day) that newsmon's near-duplicate detection and
# event join keep them apart: one new story each, one alert each.
# Districts of the bundled gazetteer (monitor/packs/places.toml): more than a run publishes, so no two
# entries of one run are set in one district (two TTP incidents in one district, days apart, may
# rightly read as one when their pages' other dates agree). Each is read as its district from the
# title alone (tests/test_bench_farm.py): a name the gazetteer takes only with support nearby
# ("Tank") left an entry placed in Pakistan only, which joined another district's entry of its day.
PLACES = ("Bannu", "Lakki Marwat", "Dera Ismail Khan", "Peshawar", "Khyber", "Bajaur", "Dera Bugti", "Kurram", "Swat",
          "Mardan", "Kohat", "Chitral", "Orakzai", "Mohmand", "Karak", "Hangu", "Zhob", "Quetta", "Nowshera",
          "North Waziristan", "Charsadda", "Swabi", "Malakand", "Buner", "Shangla", "Upper Dir", "Lower Dir",
          "Abbottabad", "Mansehra", "Battagram", "Torghar", "Kolai-Palas", "Mastung", "Khuzdar", "Surab", "Lasbela",
          "Awaran", "Gwadar", "Panjgur", "Washuk", "Kharan", "Chagai", "Noshki", "Harnai", "Kohlu", "Barkhan",
          "Musakhel", "Loralai", "Sohbatpur", "Attock", "Bahawalnagar", "Bahawalpur", "Bhakkar", "Chakwal",
          "Chiniot", "Faisalabad", "Gujranwala", "Hafizabad", "Jhang", "Kasur", "Khanewal", "Khushab", "Lahore",
          "Layyah")
EVENTS = ("police checkpoint attacked overnight", "convoy ambushed near bridge", "school guard shot at dawn",
          "bomb defused outside market", "militants storm border post", "grenade thrown at patrol",
          "power pylon blown up", "tribal elder kidnapped", "rocket hits cantonment wall",
          "customs office set alight", "polio team escort fired upon", "road reopened after clashes")
TOKEN = re.compile(r"/n/\d+/([0-9a-z]+-[0-9a-z]+)")


def event_title(number: int, token: str) -> str:
    place = PLACES[number % len(PLACES)]
    event = EVENTS[(number // len(PLACES) + number) % len(EVENTS)]
    return f"{place}: {event}, Tehreek-e-Taliban Pakistan blamed ({token})"


def event_lead(number: int, token: str) -> str:
    """The sentence a published entry's page opens with: the place and incident of its title,
    and a day of its own (entries in one place are 19 apart, so their days are too)."""
    place, event = event_title(number, token).split(",", 1)[0].split(": ", 1)
    return (f"{place.upper()} — The {event} in {place} district on {number % 28 + 1} May 2026 was one incident "
            f"({token}), officials said.")


def event_summary(number: int, token: str) -> str:
    # the title's place: an entry placed in two districts reads as whichever its text names first
    return f"Officials in {PLACES[number % len(PLACES)]} gave details of incident {token} on {number % 28 + 1} May."


LEAD_WITHIN = 12  # words: how soon the extracted text must read a published entry's own sentence
LEAD_CHECK = b"Leadcheck: the incident in this district on 3 May 2026 was one incident, officials said."


Lead = tuple[bytes, int, int]  # a paragraph's first words as the page writes them, which occurrence, tags back


def lead_probe(html: bytes) -> Lead | None:
    """Where `with_lead` puts a published entry's own sentence: before the paragraph the page's
    extracted text opens with, so that newsmon, reading the page, reads that entry's place and
    day first (an article page is about its entry; the corpus page alone would give every entry
    that leads to it the same incident date, and entries on one page one incident). Each place
    tried is checked by extracting the page with a sentence there: the first words of a line
    often come earlier in the page too (a summary in its head, a caption), and a paragraph
    before the text's first may be left out. None if no place puts it within `LEAD_WITHIN`
    words of the start."""
    from monitor import errors, extract

    def text_of(page: bytes) -> str:
        try:
            return extract.extract(page, "http://127.0.0.1/n/probe", False, False).text
        except errors.ExtractError:
            return ""

    for line in text_of(html).splitlines()[:6]:
        words = line.split()
        if len(words) < 4:
            continue
        probe = " ".join(words[:4]).encode()
        at, occurrence = html.find(probe), 0
        while at >= 0 and occurrence < 8:
            for back in range(3):  # before the element that holds the words, or one of the two around it
                lead = (probe, occurrence, back)
                if LEAD_CHECK.split()[0].decode() in text_of(with_lead(html, lead, LEAD_CHECK)).split()[:LEAD_WITHIN]:
                    return lead
            at, occurrence = html.find(probe, at + 1), occurrence + 1
    return None


def with_lead(html: bytes, lead: Lead, sentence: bytes) -> bytes:
    """`html` with a paragraph of `sentence` before the element that holds the `lead`'s words
    (or the `back`th opening tag before that)."""
    probe, occurrence, back = lead
    at = html.find(probe)
    for _ in range(occurrence):
        at = html.find(probe, at + 1)
    for _ in range(back + 1):  # the opening tags before it, not closing tags or comments
        at = html.rfind(b"<", 0, at)
        while at > 0 and not html[at + 1:at + 2].isalpha():
            at = html.rfind(b"<", 0, at)
        at = max(at, 0)
    return html[:at] + b"<p>" + sentence + b"</p>" + html[at:]


class Farm:
    def __init__(self, feeds: list[corpus.FarmFeed], pages: list[corpus.ArticlePage], page_copies: bool = False,
                 delay_ms: float = 0.0):
        self.feeds = feeds
        self.pages = [page.html for page in pages]
        self.copies = copies.PageCopies(self.pages) if page_copies else None
        self.delay = delay_ms / 1000
        self.started = time.time()
        self.events: dict[str, dict] = {}
        self.sequence = itertools.count(1)
        self.page_of: dict[str, int] = {}  # token -> the page of a published entry
        self.lead_of: dict[str, bytes] = {}  # token -> the sentence its page opens its text with
        self.leads = {index: probe for index in dict.fromkeys(corpus.event_page(n, len(self.pages))
                                                              for n in range(len(self.pages)))
                      if (probe := lead_probe(self.pages[index])) is not None}
        self.event_pages = sorted(self.leads)  # the pages published entries lead to
        self.publishers: set[asyncio.Task] = set()
        self.reset()

    def reset(self) -> None:
        for task in self.publishers:
            task.cancel()
        self.publishers.clear()
        self.items: dict[int, list] = {feed.id: [] for feed in self.feeds}
        self.unserved: dict[int, list[str]] = {feed.id: [] for feed in self.feeds}
        self.bodies: dict[int, tuple[bytes, str, str]] = {}
        for feed in self.feeds:
            self._refresh(feed, self.started)
        self.events.clear()
        self.published = 0  # entries published since the reset: each leads to another page while pages last
        self.counts = {"feed_200": 0, "feed_304": 0, "pages": 0, "hooks": 0, "not_found": 0}
        self.first_feed: float | None = None  # time.monotonic() of the first feed request since the reset
        self.per_feed = {feed.id: [0, 0] for feed in self.feeds}

    def _refresh(self, feed: corpus.FarmFeed, when: float) -> None:
        body = corpus.with_items(feed, self.items[feed.id])
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        self.bodies[feed.id] = (body, etag, email.utils.formatdate(when, usegmt=True))

    def publish(self, feed: corpus.FarmFeed) -> str:
        number = next(self.sequence)
        token = f"{feed.id:x}-{number:x}"
        now = time.time()
        link = f"{feed.base}/n/{feed.id}/{token}"
        title = event_title(number, token)
        self.page_of[token] = self.event_pages[self.published % len(self.event_pages)]
        self.published += 1
        summary = event_summary(number, token)
        self.lead_of[token] = html_module.escape(event_lead(number, token)).encode()
        if self.copies:  # a text of its own: titles repeat their 12 events, and a feed-only reader sees no page
            summary += " " + copies.words(self.pages[self.page_of[token]])
        item = corpus.new_item(feed.kind, feed.item_tag, link, f"bench-{token}", title, summary,
                               email.utils.formatdate(now, usegmt=True),
                               datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.items[feed.id].append(item)
        self._refresh(feed, now)
        self.unserved[feed.id].append(token)
        self.events[token] = {"feed": feed.id, "page": self.page_of[token], "title": title, "link": link,
                              "published": time.monotonic(), "served": None, "arrived": None}
        return token

    async def publish_many(self, feed_ids: list[int], count: int, rate: float) -> None:
        candidates = [self.feeds[i] for i in feed_ids if 0 <= i < len(self.feeds) and self.feeds[i].publishable]
        if not candidates:
            return
        start = time.monotonic()
        for number in range(count):
            delay = start + number / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.publish(candidates[number % len(candidates)])

    # ------------------------------------------------------------ feed hosts

    async def serve(self, request: web.Request) -> web.StreamResponse:
        if self.delay:
            await asyncio.sleep(self.delay)
        path = request.path
        if path.startswith("/f/"):
            try:
                feed = self.feeds[int(path[3:].split(".", 1)[0])]
            except (ValueError, IndexError):
                self.counts["not_found"] += 1
                raise web.HTTPNotFound() from None
            body, etag, modified = self.bodies[feed.id]
            if self.first_feed is None:
                self.first_feed = time.monotonic()
            if request.headers.get("If-None-Match") == etag:
                self.counts["feed_304"] += 1
                self.per_feed[feed.id][1] += 1
                return web.Response(status=304, headers={"ETag": etag, "Last-Modified": modified})
            self.counts["feed_200"] += 1
            self.per_feed[feed.id][0] += 1
            if self.unserved[feed.id]:
                now = time.monotonic()
                for token in self.unserved[feed.id]:
                    self.events[token]["served"] = now
                self.unserved[feed.id] = []
            return web.Response(body=body, headers={"ETag": etag, "Last-Modified": modified,
                                                    "Content-Type": feed.content_type})
        self.counts["pages"] += 1
        token = path.rsplit("/", 1)[-1] if path.startswith("/n/") else None
        event_page = self.page_of.get(token) if token else None
        index = event_page if event_page is not None else corpus.page_index(path, len(self.pages))
        html = self.copies.copy(index, f"http://{request.host}{path}") if self.copies else self.pages[index]
        if event_page is not None:
            html = with_lead(html, self.leads[event_page], self.lead_of[token])
        return web.Response(body=html, headers={"Content-Type": "text/html"})

    # ------------------------------------------------------------ control host

    async def stats(self, request: web.Request) -> web.Response:
        data = {"cpu": time.process_time(), "first_feed": self.first_feed, "delay_ms": 1000 * self.delay,
                **self.counts}
        if request.query.get("per_feed"):
            data["per_feed"] = {str(k): v for k, v in self.per_feed.items()}
        return web.json_response(data)

    async def publish_request(self, request: web.Request) -> web.Response:
        order = await request.json()
        if float(order.get("rate", 1.0)) <= 0:
            feeds = [self.feeds[i] for i in order["feeds"] if 0 <= i < len(self.feeds) and self.feeds[i].publishable]
            tokens = [self.publish(feeds[n % len(feeds)]) for n in range(int(order.get("count", 1)))] if feeds else []
            return web.json_response({"ok": True, "tokens": tokens})
        task = asyncio.create_task(self.publish_many(list(order["feeds"]), int(order.get("count", 1)),
                                                     float(order.get("rate", 1.0))))
        self.publishers.add(task)
        task.add_done_callback(self.publishers.discard)
        return web.json_response({"ok": True})

    async def events_request(self, request: web.Request) -> web.Response:
        return web.json_response(self.events)

    async def delay_request(self, request: web.Request) -> web.Response:
        self.delay = float((await request.json())["ms"]) / 1000
        return web.json_response({"ok": True})

    async def reset_request(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def hook(self, request: web.Request) -> web.Response:
        raw = await request.text()
        arrived = time.monotonic()
        self.counts["hooks"] += 1
        for token in set(TOKEN.findall(raw)):
            event = self.events.get(token)
            if event is not None and event["arrived"] is None:
                event["arrived"] = arrived
        return web.json_response({})


def _listen(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def _serve(farm: Farm, control_sock: socket.socket, feed_socks: list[socket.socket]) -> None:
    feed_app = web.Application()
    feed_app.router.add_route("GET", "/{tail:.*}", farm.serve)
    control_app = web.Application()
    control_app.router.add_get("/_control/stats", farm.stats)
    control_app.router.add_post("/_control/publish", farm.publish_request)
    control_app.router.add_get("/_control/events", farm.events_request)
    control_app.router.add_post("/_control/reset", farm.reset_request)
    control_app.router.add_post("/_control/delay", farm.delay_request)
    control_app.router.add_post("/hook", farm.hook)
    runners = []
    for app, socks in ((feed_app, feed_socks), (control_app, [control_sock])):
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        for sock in socks:
            await web.SockSite(runner, sock).start()
        runners.append(runner)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print("READY", flush=True)
    await stop.wait()
    for runner in runners:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.farm", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="the shared corpus (default: $NEWSMON_CORPUS or ../shared/corpus)")
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--items", type=int, default=10, help="entries per feed at most (0: all)")
    parser.add_argument("--strict-xml", action="store_true",
                        help="only the corpus's RSS 2.0, Atom and RDF feeds that a strict XML parser accepts")
    parser.add_argument("--page-copies", action="store_true",
                        help="every item link its own copy of a page, its URLs made unique to that link")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="hold every response this long")
    parser.add_argument("--check-each", action=argparse.BooleanOptionalAction, default=True,
                        help="parse every farm feed before serving it (default), not just one per corpus feed")
    parser.add_argument("--hosts", type=int, default=8, help="loopback addresses to serve feeds from")
    parser.add_argument("--out", required=True, help="directory for farm.json and inputs.pickle")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    corpus_dir = corpus.find_corpus(args.corpus, root)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    control_sock = _listen("127.0.0.1")
    feed_socks = [_listen(f"127.0.0.{2 + number}") for number in range(args.hosts)]
    bases = [f"http://{s.getsockname()[0]}:{s.getsockname()[1]}" for s in feed_socks]
    control = "http://127.0.0.1:%d" % control_sock.getsockname()[1]

    pages = corpus.load_pages(corpus_dir)
    templates = corpus.load_templates(corpus_dir, args.items, strict_xml=args.strict_xml)
    feeds, refused = corpus.build_feeds(templates, args.feeds, bases, workers=os.cpu_count() or 1,
                                        check_each=args.check_each)
    description = {
        "control": control,
        "hook": control + "/hook",
        "bases": bases,
        "corpus": str(corpus_dir),
        "items": args.items,
        "strict_xml": args.strict_xml,
        "page_copies": args.page_copies,
        "used_templates": len({f.template for f in feeds}),
        "pages": len(pages),
        "templates": len(templates),
        "refused": refused,
        "feeds": [{"id": f.id, "url": f.url, "template": templates[f.template].file, "publishable": f.publishable,
                   "bytes": len(f.body), "entries": f.entries} for f in feeds],
    }
    (out / "farm.json").write_text(json.dumps(description), encoding="utf-8")
    with open(out / "inputs.pickle", "wb") as handle:
        pickle.dump({f.id: (f.url, f.body, f.content_type) for f in feeds}, handle, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.write(f"BUILT {out / 'farm.json'}\n")
    asyncio.run(_serve(Farm(feeds, pages, args.page_copies, args.delay_ms), control_sock, feed_socks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
