"""Rendering alerts for a body format: plain text, Markdown (Slack, Discord, Matrix …) or HTML
(email, Telegram). Pure functions of their inputs.

Third-party text (headlines, snippets, outlet names) is escaped for the format, so a headline
cannot inject markup, links or mentions (`@channel`, `<!here>`, `@everyone`, `<@U123>`,
`<!subteam^S123>`, `<#C123>`), nor extra lines: control and bidi-override characters become
spaces. Only an `http(s)` article link is rendered as a link; any other (`javascript:`, `data:`)
is shown as inert text. A title is plain text in every format (a subject line, a heading): its
links, images and tags are broken with a zero-width space rather than backslashes, so that it
stays readable where the service shows it as typed. A user template (`title` / `body`) gets the
same escaped values.
"""

from __future__ import annotations

import html
import re
import string

from monitor import times, urls
from monitor.config.schema import suggest
from monitor.model import AlertMessage

FORMATS = ("text", "markdown", "html")

# What a channel's `title` / `body` template may use: the one list, beside `values`, which fills
# them in. Third-party values are escaped for the channel's format before they are put in;
# `snippet` carries the highlighted matched words in that format's markup.
PLACEHOLDERS = {
    "rule": "the rule's name",
    "severity": "the rule's severity (low, medium, high, critical)",
    "title": "the article's headline",
    "outlet": "the outlet that reported it first",
    "feed": "the feed's name",
    "url": "the article's link",
    "published": "when it was published (UTC), or 'time unknown'",
    "snippet": "the sentence around the first match, matched words highlighted",
    "entities": "the matched names, comma-separated",
    "also_reported_by": "the other outlets that have reported the story by delivery time",
    "independent_outlets": "how many outlets have reported the story in their own words by delivery time "
                           "(copies of one text count once)",
    "update": "'Update: ' for a follow-up on a story already alerted, else empty",
    "acknowledged": "who acknowledged the story, when, and their note ('by ana at 10:02 UTC: on it'), else empty",
    "escalation": "why an escalation was sent ('not acknowledged within 15 min on ops'), else empty",
    "near": "how close the event is to a watched site ('≈3 km from a watched site (town precision: Hayatabad)'), "
            "else empty",
    "distance": "the distance to the nearest watched site in range ('≈3 km'), else empty",
    "site": "that site's name on a channel with show_sites, else 'a watched site' (empty when none is in range)",
    "precision": "how precisely the event is placed: site, town, district, province or country, else empty",
    "facts": "the event's facts in one line ('Suicide bombing · 32 killed, 150 injured · Peshawar, Khyber "
             "Pakhtunkhwa · claimed by TTP'), else empty",
    "event_type": "what happened ('suicide bombing', 'armed assault'), else empty",
    "killed": "how many were killed, the highest figure the event's reports state, else empty",
    "injured": "how many were injured, likewise, else empty",
    "claimed_by": "who claimed it (a watched actor a report names as claiming it), else empty",
    "place": "where it happened, as precisely as its reports say ('Bannu, Khyber Pakhtunkhwa'), else empty",
    "changed": "for a follow-up, what changed ('Toll revised: 32 → 59 killed'), else empty",
}
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+|~!])")
MENTIONS = re.compile(r"(?i)(@)(channel|here|everyone|all)\b|<!(channel|here|everyone)>")
# Slack's (and Discord's) `<@U123>`, `<@&role>`, `<!subteam^S123|@team>`, `<#C123>`, `<!date^…>`
# (also entity-escaped, which Slack's legacy mode turns back): a zero-width space after the sigil
# leaves an id no service resolves.
TAG_MENTIONS = re.compile(r"(<|&lt;)([@!#])(?=[^\s\u200b])", re.IGNORECASE)
# Line breaks, tabs, other C0 / C1 controls, line / paragraph separators and bidi overrides.
CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# What makes a link, an image or a tag of a title: `](`, `]:` and `<` before a tag or address.
TITLE_MARKUP = re.compile(r"(\])(?=[(:])|(<)(?=[A-Za-z/!?])")
MARKS = {"html": ("<b>", "</b>"), "markdown": ("**", "**"), "text": ("«", "»")}


def _neutralise_mentions(text: str) -> str:
    text = MENTIONS.sub(lambda m: (m.group(1) or "") + "\u200b" + (m.group(2) or m.group(3) or ""), text)
    return TAG_MENTIONS.sub(lambda m: m.group(1) + m.group(2) + "\u200b", text)


def one_line(text: str) -> str:
    """`text` with every control, separator and bidi-override character replaced by a space (one
    for one: highlight offsets into it stay right)."""
    return CONTROLS.sub(" ", text)


def heading(text: str, kind: str) -> str:
    """Third-party text made inert for a title: one line, mentions defused; for Markdown and HTML
    targets (whose services may render a title), a zero-width space after `]` before `(` or `:`
    and after `<` before a tag, so that no link, image, autolink or tag forms. Plain text is
    otherwise left as typed: no backslashes, no entities."""
    text = _neutralise_mentions(one_line(text))
    if kind in ("markdown", "html"):
        text = TITLE_MARKUP.sub(lambda m: (m.group(1) or m.group(2)) + "\u200b", text)
    return text


def escape(text: str, kind: str) -> str:
    """Third-party text made inert for a body format: controls become spaces, mentions are
    defused, markup is escaped."""
    text = _neutralise_mentions(one_line(text))
    if kind == "html":
        return html.escape(text, quote=True)
    if kind == "markdown":
        return MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return text


def _highlighted(message: AlertMessage, kind: str) -> str:
    marks = MARKS[kind]
    out = []
    position = 0
    for start, end in sorted(message.highlights):
        if start < position:
            continue
        out.append(escape(message.snippet[position:start], kind))
        out.append(marks[0] + escape(message.snippet[start:end], kind) + marks[1])
        position = end
    out.append(escape(message.snippet[position:], kind))
    return "".join(out)


def linkable(url: str | None) -> bool:
    """Whether `url` may be rendered as a link: only `http(s)` addresses (not `javascript:`,
    `data:`, `file:` …)."""
    return urls.web_url(url) is not None and not CONTROLS.search(url or "")


def link_markup(url: str | None, kind: str, label: str | None = None) -> str:
    """The article's link for a body: a link for `http(s)`, inert escaped text otherwise."""
    if not url:
        return "(no link)"
    if not linkable(url):
        return escape(url, kind)
    if kind == "html":
        return f'<a href="{html.escape(url, quote=True)}">{html.escape(label or url)}</a>'
    if kind == "markdown":
        return "<" + url.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20") + ">"
    return url


def _url_value(url: str | None, kind: str) -> str:
    """`{url}` in a template: a link in HTML; in Markdown and text the bare address, with what
    could close a Markdown link or start another percent-encoded; inert text if not `http(s)`
    (in Markdown with a space after its scheme, so that it cannot be a link's destination)."""
    if not url:
        return ""
    if kind == "markdown" and not linkable(url):  # a space ends a link destination: `[x]({url})` is no link
        return escape(url.replace(":", ": ", 1), kind)
    if kind == "html" or not linkable(url):
        return link_markup(url, kind)
    if kind == "markdown":
        for char in " <>()[]":
            url = url.replace(char, f"%{ord(char):02X}")
    return url


def template_problem(template: str) -> str | None:
    """Why a channel's `title` / `body` template cannot be used, or None."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as error:
        return f"{error} (write {{{{ and }}}} for literal braces)"
    for _literal, field, spec, conversion in fields:
        if field is None:
            continue
        if field not in PLACEHOLDERS:
            known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
            return f"unknown placeholder {{{field}}}{suggest(field, PLACEHOLDERS)}; known: {known}"
        if spec or conversion:
            return f"placeholder {{{field}}} takes no format or conversion (write {{{field}}})"
    return None


def values(message: AlertMessage, kind: str, title: bool = False) -> dict[str, str]:
    """What a template's placeholders (`PLACEHOLDERS`) stand for, escaped for `kind`; with
    `title`, made inert for a title line (`heading`) for a target whose body is in `kind`."""
    also = ", ".join(f"{name} ({times.shown(at, 'time unknown')})" for name, at in message.also_reported_by)
    if title:
        def quote(text: str) -> str:
            return heading(text, kind)
        snippet = quote(_highlighted(message, "text"))
        url = quote(message.url or "")
    else:
        def quote(text: str) -> str:
            return escape(text, kind)
        snippet = _highlighted(message, kind)
        url = _url_value(message.url, kind)
    return {
        "rule": quote(label(message)),
        "severity": message.severity,
        "title": quote(message.title),
        "outlet": quote(message.outlet),
        "feed": quote(message.feed),
        "url": url,
        "published": times.shown(message.published, "time unknown"),
        "snippet": snippet,
        "entities": quote(", ".join(dict.fromkeys(message.matched))),
        "also_reported_by": quote(also),
        "independent_outlets": str(max(message.independent_outlets, 1)),
        "update": "Update: " if message.update else "",
        "acknowledged": quote(message.acknowledged),
        "escalation": quote(message.escalation),
        "near": quote(near(message)),
        "distance": _distance(message),
        "site": quote((message.near_site or "a watched site") if message.near_km is not None else ""),
        "precision": message.near_precision or message.place_precision,
        "facts": quote(facts_line(message)),
        "event_type": quote(message.event_type),
        "killed": "" if message.killed is None else str(message.killed),
        "injured": "" if message.injured is None else str(message.injured),
        "claimed_by": quote(message.claimed_by),
        "place": quote(message.place),
        "changed": quote("; ".join(message.changed)),
    }


def facts_line(message: AlertMessage) -> str:
    """"Suicide bombing · 32 killed, 150 injured · Peshawar, Khyber Pakhtunkhwa · claimed by
    TTP": the facts known, in that order; "" when none is. Where reports differ, a toll says
    by how much: "59 killed (reports: 32–59)"."""
    parts = [message.event_type[:1].upper() + message.event_type[1:]] if message.event_type else []
    toll = [f"{figure} {name}" + (f" (reports: {low}–{figure})" if low is not None and low < figure else "")
            for figure, low, name in ((message.killed, message.killed_low, "killed"),
                                      (message.injured, message.injured_low, "injured")) if figure is not None]
    if toll:
        parts.append(", ".join(toll))
    if message.place:
        parts.append(message.place)
    if message.claimed_by:
        parts.append(f"claimed by {message.claimed_by}")
    return " · ".join(parts)


def _distance(message: AlertMessage) -> str:
    if message.near_km is None:
        return ""
    return f"≈{message.near_km:.0f} km" if message.near_km >= 1 else "<1 km"


def near(message: AlertMessage) -> str:
    """"≈3 km from a watched site (town precision: Hayatabad)", or "" when no site is in range."""
    if message.near_km is None:
        return ""
    where = f"from {message.near_site}" if message.near_site else "from a watched site"
    return f"{_distance(message)} {where} ({message.near_precision} precision: {message.near_place})"


def label(message: AlertMessage) -> str:
    return "newsmon" if message.rule.startswith("newsmon:") else message.rule


def render(message: AlertMessage, kind: str, title_template: str | None = None,
           body_template: str | None = None) -> tuple[str, str]:
    """Title and body of an alert for a body format ("text", "markdown" or "html"). The title
    is plain text (a subject line, a notification's heading), its third-party parts made inert
    by `heading`; the body is in `kind`."""
    if title_template:
        title = string.Formatter().vformat(title_template, (), values(message, kind, title=True))
    else:
        prefix = "Escalation: " if message.escalation else "Update: " if message.update else ""
        title = f"[{heading(label(message), kind)}] {prefix}{heading(message.title, kind)}"
    if body_template:
        return title, string.Formatter().vformat(body_template, (), values(message, kind))
    return title, _default_body(message, kind)


def _default_body(message: AlertMessage, kind: str) -> str:
    v = values(message, kind)
    matched, also, outlet, published = v["entities"], v["also_reported_by"], v["outlet"], v["published"]
    if also and message.independent_outlets > 1:
        also += f"; {message.independent_outlets} outlets reported it independently"
    escalated = f"ESCALATION: {escape(message.escalation, kind)}." if message.escalation else ""
    if kind == "html":
        body = (f"<p><b>{outlet}</b> · {html.escape(published)}<br/>{link_markup(message.url, kind)}</p>"
                f"<blockquote>{v['snippet']}</blockquote>")
        if matched:
            body += f"<p>Matched: {matched} · rule {v['rule']}</p>"
        if also:
            body += f"<p>Also reported by: {also}</p>"
    elif kind == "markdown":
        body = f"**{outlet}** · {published}\n{link_markup(message.url, kind)}\n\n> {v['snippet']}"
        if matched:
            body += f"\n\nMatched: {matched}"
        if also:
            body += f"\nAlso reported by: {also}"
    else:
        body = f"{outlet} · {published}\n{link_markup(message.url, kind)}\n\n  {v['snippet']}"
        if matched:
            body += f"\n\nMatched: {matched}"
        if also:
            body += f"\nAlso reported by: {also}"
    # what the operations add, framed for the format: a line at the end, or one in bold first
    tail = "<p>{}</p>" if kind == "html" else "\n{}"
    head = {"html": "<p><b>{}</b></p>", "markdown": "**{}**\n"}.get(kind, "{}\n")
    if message.acknowledged:
        body += tail.format(f"Acknowledged {v['acknowledged']}")
    if v["near"]:
        body = head.format(f"Near: {v['near']}") + body
    if v["facts"]:
        body = head.format(v["facts"]) + body
    if message.changed:
        body = head.format(v["changed"]) + body
    if escalated:
        body = head.format(escalated) + ("" if kind == "html" else "\n") + body
    return body


def merged(title: str, body: str, kind: str) -> str:
    """Title and body as one body, for services that show no separate title (Telegram): the
    title escaped here rather than left to the service."""
    if kind == "html":
        return f"<b>{escape(title, kind)}</b>\n{body}"
    if kind == "markdown":
        return f"**{escape(title, kind)}**\n{body}"
    return f"{one_line(title)}\n{body}"
