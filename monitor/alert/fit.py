"""Alerts that every service accepts: each field capped, the whole message cut to fit the
target's own limit.

A publisher decides how long a headline is; a channel decides how long a message may be
(Telegram 4,096 characters, Discord 2,000, an email subject line under SMTP's 998). An alert
longer than its channel takes is refused, and refused again at every retry, so no field is
trusted to be short: each is capped, on a character boundary with "…", before rendering; then
a body still over the target's limit gives up snippet text first (the headline and the link
stay), and only a user's own long template is cut as it stands.
"""

from __future__ import annotations

import dataclasses

from monitor.alert import formats
from monitor.model import AlertMessage

TITLE_MAX = 250  # a subject line, a notification's heading: SMTP refuses lines over 998 bytes
SNIPPET_MAX = 600
NAME_MAX = 120  # outlet, feed, rule names as shown
URL_MAX = 2048
MATCHED_MAX = 20  # matched words listed
OUTLETS_MAX = 20  # "also reported by" outlets listed
ELLIPSIS = "…"


def cut(text: str, limit: int) -> str:
    """`text` at most `limit` characters, cut at a word boundary when one is near, with "…"."""
    if len(text) <= limit:
        return text
    head = text[:max(0, limit - 1)]
    space = head.rfind(" ")
    if space >= limit * 0.8:
        head = head[:space]
    return head.rstrip() + ELLIPSIS


def bounded(message: AlertMessage) -> AlertMessage:
    """The message with every field capped."""
    snippet = cut(message.snippet, SNIPPET_MAX)
    kept = len(snippet) - (1 if snippet != message.snippet else 0)
    also = message.also_reported_by
    if len(also) > OUTLETS_MAX:
        also = also[:OUTLETS_MAX] + ((f"{len(also) - OUTLETS_MAX} more outlets", ""),)
    return dataclasses.replace(
        message,
        title=cut(message.title, TITLE_MAX),
        snippet=snippet,
        highlights=tuple((start, end) for start, end in message.highlights if end <= kept),
        outlet=cut(message.outlet, NAME_MAX),
        feed=cut(message.feed, NAME_MAX),
        url=message.url if message.url is None or len(message.url) <= URL_MAX else None,
        matched=tuple(cut(word, NAME_MAX) for word in message.matched[:MATCHED_MAX]),
        also_reported_by=tuple((cut(outlet, NAME_MAX), at) for outlet, at in also),
    )


def render(message: AlertMessage, kind: str, max_length: int, *, title_template: str | None = None,
           body_template: str | None = None, title_in_body: bool = False) -> tuple[str, str]:
    """Title and body for a target whose messages may be `max_length` characters long (the
    title counts there when the service shows it inside the body)."""
    message = bounded(message)
    for _ in range(4):
        title, body = formats.render(message, kind, title_template, body_template)
        title = cut(title, TITLE_MAX)
        budget = max_length - (len(title) + 16 if title_in_body else 0)
        over = len(body) - budget
        if over <= 0:
            return title, body
        if len(message.snippet) > 40:  # the snippet gives way first: headline and link stay
            keep = max(40, len(message.snippet) - over - 8)
            message = dataclasses.replace(message, snippet=cut(message.snippet, keep),
                                          highlights=tuple(h for h in message.highlights if h[1] < keep))
        elif message.also_reported_by:
            message = dataclasses.replace(message, also_reported_by=())
        else:
            break
    return title, cut(body, max(40, budget))
