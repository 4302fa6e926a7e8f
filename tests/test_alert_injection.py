"""What a hostile headline or article link cannot do to an alert, in every body format: no live
link or image, no tag, no mention (Slack's `<@U123>`, `<!subteam^…>`, `<#C123>`, `@here` …), no
extra line, no `javascript:` / `data:` link; and Mattermost and Zulip, which render Markdown
whatever apprise declares, get Markdown, escaped. The table goes through the pure renderers
(`render`, `render_batch`, `merged`); the last test through `newsmon run --once` to a
Mattermost-style receiver behind a real apprise `mmost://` URL."""

from __future__ import annotations

import html
import json
import re

import pytest
from conftest import run_newsmon
from fixtures import page, write_config

from monitor import alert
from monitor.alert import batches, formats
from monitor.model import AlertMessage, ChannelSpec

HOSTILE_TITLES = {
    "link": "[Reset your password](http://evil.example/reset) TTP",
    "image": "![x](http://evil.example/pixel.png) TTP",
    "autolink": "<http://evil.example/a> TTP",
    "tags": '<a href="http://evil.example">click</a> <img src=x onerror=alert(1)> TTP',
    "slack user": "<@U123ABC> and <@W456DEF> TTP",
    "slack group": "<!subteam^S123ABC> and <!subteam^S123ABC|@team> TTP",
    "slack channel": "<#C123ABC> <!channel> <!here> <!everyone> TTP",
    "mass mentions": "@channel @here @everyone @all TTP",
    "lines": "TTP attack\r\n[newsmon] Forged second alert\nline\tthree\x00\x1b[31m\x85",
    "bidi": "TTP \u202egnp.exe\u202c \u2066x\u2069 \u2028next",
}
HOSTILE_LINKS = ["javascript:alert(document.cookie)", "data:text/html;base64,PHNjcmlwdD4=", "vbscript:msgbox(1)",
                 "file:///etc/passwd", "JavaScript:alert(1)", " javascript:alert(1)"]
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
MENTION = re.compile(r"<[@#!][A-Za-z]|@(channel|here|everyone|all)\b")


def message(title: str = "Police post attacked", url: str | None = "https://news.example/a",
            outlet: str = "Indus Courier") -> AlertMessage:
    snippet = f"Reports say {title} near the camp."
    start = snippet.index("near")
    return AlertMessage(rule="ttp-activity", title=title, url=url, outlet=outlet, feed="Courier " + title,
                        published="2026-11-24T05:00:00+00:00", snippet=snippet, highlights=((start, start + 4),),
                        matched=("TTP",), also_reported_by=((outlet, "2026-11-24T05:10:00+00:00"),))


def live_markdown(text: str) -> list[str]:
    """Markdown constructs that would be live: an inline link or image `[..](` / `![..](`, a
    reference definition `[..]:`, an autolink or raw HTML tag `<x`, unless backslash-escaped or
    broken by a zero-width space. The article's own link (`<https://news.example/…>`) is allowed."""
    found = re.findall(r"(?<!\\)\](?=[(:])", text)
    found += re.findall(r"(?<!\\)<(?=[A-Za-z/!?])(?!https://news\.example/)", text)
    return found


def live_html(text: str) -> list[str]:
    """Tags other than newsmon's own layout and the article's own link."""
    return re.findall(r"<(?!/?(?:b|p|br/|blockquote|ul|li|h3)>)(?!a href=\"https://news\.example/)(?!/a>)[^<]*", text)


def assert_one_line(text: str) -> None:
    assert "\n" not in text and "\r" not in text and not CONTROLS.search(text), repr(text)


def assert_no_mention(text: str) -> None:
    unescaped = text.replace("\\", "")
    assert not MENTION.search(unescaped), repr(text)
    assert not re.search(r"&lt;[@#!][A-Za-z]", text), repr(text)


def assert_inert(title: str, body: str, kind: str) -> None:
    assert_one_line(title)
    assert_no_mention(title)
    assert_no_mention(body)
    if kind in ("markdown", "html"):
        assert not live_markdown(title) and "<a " not in title and "<img" not in title.lower(), repr(title)
    if kind == "markdown":
        assert not live_markdown(body), repr(body)
    if kind == "html":
        assert not live_html(body), repr(body)


@pytest.mark.parametrize("kind", formats.FORMATS)
@pytest.mark.parametrize("case", sorted(HOSTILE_TITLES))
def test_a_hostile_headline_outlet_and_feed_are_inert(kind, case):
    hostile = HOSTILE_TITLES[case]
    item = message(title=hostile, outlet=hostile)
    for title_template, body_template in ((None, None), ("{update}{title} via {outlet} ({feed})", "{title}\n{snippet}")):
        title, body = formats.render(item, kind, title_template, body_template)
        assert_inert(title, body, kind)
        assert_inert("", formats.merged(title, body, kind), kind)  # the title in the body (Mattermost, Telegram)
        if body_template:
            assert_one_line(body.split("\n")[0])  # a value cannot add lines to the user's layout
    for part in batches.render_batch(alert.Batch("digest", "intro", (item,) * 2), kind, 4000):
        assert_inert(part.title, part.body, kind)
        if kind == "text":  # every item is "- title · time", its link, its outlets: no forged lines
            assert sum(line.startswith("- ") for line in part.body.splitlines()) == 2


def test_an_ordinary_title_is_unchanged_in_every_format():
    for kind in formats.FORMATS:
        title, _ = formats.render(message(title="Police post attacked [updated] in D.I. Khan: 2 hurt"), kind)
        assert title == "[ttp-activity] Police post attacked [updated] in D.I. Khan: 2 hurt"


@pytest.mark.parametrize("kind", formats.FORMATS)
@pytest.mark.parametrize("url", HOSTILE_LINKS)
def test_only_http_links_are_rendered_as_links(kind, url):
    item = message(url=url)
    for body_template in (None, "[Read]({url}) <{url}> {url}"):
        _, body = formats.render(item, kind, None, body_template)
        bodies = [body] + [part.body for part in batches.render_batch(alert.Batch("d", "i", (item,)), kind, 4000)]
        for text in bodies:
            if kind == "html":
                assert "href" not in text and html.escape(url.strip()) in text.replace("\u200b", ""), text
            elif kind == "markdown":
                # a link destination or autolink holds no space: "javascript: alert" is neither
                assert not re.search(r"(?<!\\)\]\(\s*(?i:javascript|data|vbscript|file):\S", text), text
                assert not re.search(r"(?<!\\)<\s*(?i:javascript|data|vbscript|file):\S", text), text
            else:
                assert url.strip() in text or url.strip().replace(":", ": ", 1) in text


@pytest.mark.parametrize("kind", formats.FORMATS)
def test_an_http_link_is_still_a_link_and_cannot_break_out(kind):
    url = "https://news.example/a_(b)?x=1&y=2"
    _, body = formats.render(message(url=url), kind)
    if kind == "html":
        assert '<a href="https://news.example/a_(b)?x=1&amp;y=2">' in body
    elif kind == "markdown":
        assert "<https://news.example/a_(b)?x=1&y=2>" in body
    else:
        assert url in body
    hostile = "https://news.example/a)![x](http://evil.example/p.png"
    _, body = formats.render(message(url=hostile), kind, None, "[Read]({url})")
    if kind == "markdown":
        assert body == "[Read](https://news.example/a%29!%5Bx%5D%28http://evil.example/p.png)"


@pytest.mark.parametrize(("url", "kind"), [
    ("mmost://127.0.0.1:9/AbCdEfGhIjKlMnOpQrStUvWx", "markdown"),
    ("mmosts://chat.example/AbCdEfGhIjKlMnOpQrStUvWx", "markdown"),
    ("zulip://bot-name@example.zulipchat.com/AbCdEfGhIjKlMnOpQrStUvWxYz012345", "markdown"),
    ("discord://1234567890/AbCdEfGhIjKlMnOp", "markdown"),
    ("json://127.0.0.1:9/x", "text"),
])
def test_services_that_render_markdown_get_markdown(url, kind):
    """apprise declares Mattermost and Zulip TEXT, but both render a message's Markdown."""
    assert alert.Channel(ChannelSpec(name="c", urls=(url,))).targets[0].kind == kind


def test_a_hostile_headline_reaches_mattermost_escaped(tmp_path, web):
    """End to end: a feed item whose title is a Markdown link, an image, a Slack mention and a
    forged line, and whose link is `javascript:`, delivered by apprise's Mattermost plugin."""
    title = "[Reset your password](http://evil.example/r) ![x](http://evil.example/p.png) <@U123ABC> TTP\nFake"
    summary = "The Tehreek-e-Taliban Pakistan (TTP) claimed an attack; [click](http://evil.example/c) @here."
    web.add("/courier/a.html", page("/courier/a.html", "Attack", "Indus Courier", summary))
    feed = web.add("/courier/rss.xml", f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Indus Courier</title><link>https://www.induscourier.example/</link>
<description>Test feed</description>
<item><title>{html.escape(title)}</title><link>javascript:alert(document.cookie)</link>
<guid isPermaLink="false">hostile-1</guid><description>{html.escape(summary)}</description></item>
<item><title>{html.escape(title)}</title><link>{{BASE}}/courier/a.html</link>
<guid isPermaLink="false">hostile-2</guid><description>{html.escape(summary)}</description></item>
</channel></rss>""", "application/rss+xml")
    port = web.base.rsplit(":", 1)[1]
    path = write_config(tmp_path, [{"url": feed, "alert_on_first_poll": True}],
                        {"chat": [f"mmost://127.0.0.1:{port}/MmToken0123456789abcdefgh"]})
    result = run_newsmon("--config", str(path), "run", "--once")
    assert result.returncode == 0, result.stderr
    posts = [json.loads(body)["text"] for where, body in web.posts if where == "/hooks/MmToken0123456789abcdefgh"]
    assert posts, (web.posts, result.stderr)
    for text in posts:
        assert not live_markdown(text), text
        assert "\\[Reset your password\\]" in text or "[Reset your password]\u200b(" in text
        assert_no_mention(text)
        assert "](javascript" not in text and "<javascript" not in text
        assert not any(line.startswith("Fake") for line in text.splitlines()), text
