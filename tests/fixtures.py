"""Feeds, article pages and watchlists written for the tests (fictional outlets and events)."""

from __future__ import annotations

import email.utils
from datetime import datetime, timedelta, timezone
from pathlib import Path

import tomli_w

# Entries are dated an hour ago, whenever the tests run: alert_max_age (7 days) silences older ones.
RECENT = datetime.now(timezone.utc) - timedelta(hours=1)
RFC822 = email.utils.format_datetime(RECENT)
ISO = RECENT.strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc822_days_ago(days: float) -> str:
    """An RSS pubDate `days` ago."""
    return email.utils.format_datetime(datetime.now(timezone.utc) - timedelta(days=days))

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | {outlet}</title>
<link rel="canonical" href="{{BASE}}{path}"></head>
<body>
<header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a> <a href="/subscribe">Subscribe</a></nav></header>
<main><article>
<h1>{title}</h1>
<p class="byline">By a staff reporter</p>
{paragraphs}
</article></main>
<aside><h3>Most read</h3><ul><li><a href="/x">Markets close higher on export data</a></li>
<li><a href="/y">Cricket board names new selection panel</a></li></ul></aside>
<footer><p>Copyright 2026 {outlet}. All rights reserved. Contact the newsroom for corrections.</p></footer>
</body></html>
"""

FILLER = (
    "Officials said the situation remained tense through the evening and that roads leading to the area "
    "had been closed while investigators collected evidence. Residents described hearing several loud "
    "sounds before dawn. Local hospitals were placed on alert and additional staff were called in."
)


def page(path: str, title: str, outlet: str, *paragraphs: str, filler: bool = False) -> str:
    """An article page with site furniture around `paragraphs` (and, with `filler`, two stock
    paragraphs shared by every page that asks for them, as some outlets append)."""
    extra = (FILLER, FILLER.replace("evening", "night")) if filler else ()
    body = "\n".join(f"<p>{text}</p>" for text in (*paragraphs, *extra))
    return PAGE.format(title=title, outlet=outlet, path=path, paragraphs=body)


def rss(title: str, items: list[dict]) -> str:
    entries = "\n".join(
        f"""<item><title>{i['title']}</title><link>{{BASE}}{i['path']}</link>
<guid isPermaLink="false">{i['guid']}</guid><pubDate>{i.get('date', RFC822)}</pubDate>
<description>{i['summary']}</description></item>"""
        for i in items
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{title}</title><link>https://www.induscourier.example/</link>
<description>Test feed</description>
{entries}
</channel></rss>"""


def atom(title: str, items: list[dict]) -> str:
    entries = "\n".join(
        f"""<entry><id>urn:uuid:{i['guid']}</id><title>{i['title']}</title>
<link rel="alternate" href="{{BASE}}{i['path']}"/><updated>{ISO}</updated>
<summary>{i['summary']}</summary></entry>"""
        for i in items
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>{title}</title>
<link rel="alternate" href="https://dispatch.example/"/><id>urn:uuid:feed-dispatch</id>
<updated>{ISO}</updated>
{entries}
</feed>"""


COURIER_ITEMS = [
    {
        "guid": "courier-1", "path": "/courier/lakki-marwat-post.html",
        "title": "Police post attacked overnight in Lakki Marwat",
        "summary": "Two policemen were wounded when gunmen opened fire on a checkpoint, officials said.",
        "body": ("Gunmen attacked a police post in Lakki Marwat district before dawn on Monday, wounding two officers.",
                 "The Tehreek-e-Taliban Pakistan (TTP) claimed responsibility for the attack in a short message to reporters."),
    },
    {
        "guid": "courier-2", "path": "/courier/sindh-flood-relief.html",
        "title": "Flood relief convoys reach villages in Sindh",
        "summary": "Aid groups delivered food and tents to villages cut off by water.",
        "body": ("Relief convoys reached villages in Sindh on Sunday after water levels fell.",
                 "Aid workers said tents, food and clean water were the most urgent needs."),
    },
    {
        "guid": "courier-3", "path": "/courier/waziristan-commander.html",
        "title": "TTP commander killed in North Waziristan operation",
        "summary": "Security forces said a senior commander died in a raid.",
        "body": ("Security forces said a senior commander of the group died in a raid in North Waziristan.",
                 "The military did not give the commander's name."),
    },
]

DISPATCH_ITEMS = [
    {
        "guid": "dispatch-1", "path": "/dispatch/kabul-claim.html",
        "title": "Blast near Kabul ministry, several hurt",
        "summary": "An explosion hit a street near a ministry building in Kabul.",
        "body": ("An explosion hit a street near a ministry building in Kabul on Monday, hurting several people.",
                 "Islamic State Khorasan Province, also known as ISKP, said its fighters carried out the bombing."),
    },
    {
        "guid": "dispatch-2", "path": "/dispatch/wheat-prices.html",
        "title": "Wheat prices ease in Kabul markets",
        "summary": "Traders reported lower flour prices after new shipments arrived.",
        "body": ("Traders in Kabul reported lower flour prices this week as new shipments arrived.",
                 "Shoppers welcomed the change ahead of winter."),
    },
]

WATCHLIST = {
    "entities": {
        "ttp": {"kind": "actor", "names": ["TTP", "Tehreek-e-Taliban Pakistan", "Tehrik-i-Taliban Pakistan"]},
        "iskp": {"kind": "actor", "names": ["ISKP", "IS-K", "Islamic State Khorasan Province", "Islamic State Khorasan"]},
    },
    "rules": [
        {"name": "ttp-activity", "any": ["@ttp"]},
        {"name": "iskp-activity", "any": ["@iskp"]},
    ],
}


def publish(web, courier_items=COURIER_ITEMS, dispatch_items=DISPATCH_ITEMS) -> tuple[str, str]:
    """Serve both feeds and their pages on the test web server; returns the two feed URLs."""
    for outlet, items in (("Indus Courier", courier_items), ("Hindukush Dispatch", dispatch_items)):
        for item in items:
            web.add(item["path"], page(item["path"], item["title"], outlet, *item["body"]))
    courier = web.add("/courier/rss.xml", rss("Indus Courier", list(courier_items)), "application/rss+xml")
    dispatch = web.add("/dispatch/atom.xml", atom("Hindukush Dispatch", list(dispatch_items)), "application/atom+xml")
    return courier, dispatch


def write_config(directory: Path, feeds: list[dict], channels: dict[str, list[str] | dict], *,
                 allow_loopback: bool = True, watchlist: dict | None = None, **newsmon) -> Path:
    """A configuration in `directory` with state in `directory/state`; returns its path.
    A channel is its list of URLs, or its whole table."""
    settings = {"state_dir": "state", **newsmon}
    if allow_loopback:
        settings["allow_private_networks"] = ["127.0.0.0/8"]
    document = {
        "newsmon": settings,
        "feeds": feeds,
        "channels": {name: table if isinstance(table, dict) else {"urls": table} for name, table in channels.items()},
        **(watchlist or WATCHLIST),
    }
    path = directory / "config.toml"
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path
