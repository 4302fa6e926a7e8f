"""Digests and flood-control summaries: several alerts in one message (`Batch`), rendered for a
body format and split into parts (`Part`) that fit a service's limit, between stories where it
can. Each story is rendered with `formats.values`, escaped as a single alert is."""

from __future__ import annotations

import html
from dataclasses import dataclass

from monitor.alert.formats import escape, label, link_markup, values
from monitor.model import AlertMessage


@dataclass(frozen=True)
class Batch:
    """A message listing several alerts: a digest, or a flood-control summary."""

    heading: str  # plain text, e.g. "newsmon digest: 12 stories, 08:00-09:00 UTC"
    intro: str  # plain text: one sentence under the heading
    messages: tuple[AlertMessage, ...]


def _item(message: AlertMessage, kind: str) -> str:
    v = values(message, kind)
    outlets = v["outlet"] + (f"; also {v['also_reported_by']}" if v["also_reported_by"] else "")
    if v["facts"]:
        outlets = f"{v['facts']}\n  {outlets}" if kind != "html" else f"{v['facts']}<br/>{outlets}"
    if message.independent_outlets > 1:
        outlets += f" ({message.independent_outlets} independently)"
    prefix = "Update: " if message.update else ""
    if kind == "html":
        return (f"<li>{prefix}<b>{v['title']}</b> · {html.escape(v['published'])}<br/>{link_markup(message.url, kind)}<br/>"
                f"{outlets}" + (f" · matched {v['entities']}" if v["entities"] else "") + "</li>")
    if kind == "markdown":
        return (f"- {prefix}**{v['title']}** · {v['published']}\n  {link_markup(message.url, kind)}\n  {outlets}"
                + (f" · matched {v['entities']}" if v["entities"] else ""))
    return (f"- {prefix}{v['title']} · {v['published']}\n  {link_markup(message.url, kind)}\n  {outlets}"
            + (f" · matched {v['entities']}" if v["entities"] else ""))


@dataclass(frozen=True)
class Part:
    """One message of a batch: its title and body, and which of the batch's alerts it
    completes (their last piece is in it)."""

    title: str
    body: str
    members: tuple[int, ...]


def render_batch(batch: Batch, kind: str, max_length: int) -> list[Part]:
    """A digest or summary as parts, each body at most `max_length` characters, split between
    stories (inside one only if it alone is longer than a message), so that nothing is cut off
    by the service's size limit. Stories are grouped by rule, in the order they came."""
    budget = max(200, max_length - 20)
    counts: dict[str, int] = {}
    order: dict[str, list[int]] = {}
    for index, message in enumerate(batch.messages):
        counts[label(message)] = counts.get(label(message), 0) + 1
        order.setdefault(label(message), []).append(index)
    intro = f"<p>{escape(batch.intro, kind)}</p>" if kind == "html" else escape(batch.intro, kind)
    parts: list[list[tuple[str, str, int | None]]] = [[]]  # (rule, item text, index completed or None)
    size = len(intro)
    for rule, indices in order.items():
        group = len(_group(rule, counts[rule], kind)) + 5
        for index in indices:
            pieces = _chunks(_item(batch.messages[index], kind), budget - group - 20, kind)
            for number, item in enumerate(pieces):
                opens = not parts[-1] or parts[-1][-1][0] != rule
                extra = len(item) + 5 + (group if opens else 0)
                if parts[-1] and size + extra > budget:
                    parts.append([])
                    size = group + len(item) + 5
                else:
                    size += extra
                parts[-1].append((rule, item, index if number == len(pieces) - 1 else None))
    total = len(parts)
    return [Part(batch.heading + (f" (part {number} of {total})" if total > 1 else ""),
                 _body([(rule, item) for rule, item, _ in part], counts, kind, intro if number == 1 else ""),
                 tuple(index for _, _, index in part if index is not None))
            for number, part in enumerate(parts, 1)]


def _group(rule: str, count: int, kind: str) -> str:
    text = f"{rule} ({count})"
    if kind == "html":
        return f"<h3>{escape(text, kind)}</h3>"
    if kind == "markdown":
        return f"**{escape(text, kind)}**"
    return f"{text}\n{'=' * min(len(text), 60)}"


def _body(part: list[tuple[str, str]], counts: dict[str, int], kind: str, intro: str) -> str:
    out = [intro] if intro else []
    previous = None
    for rule, item in part:
        if rule != previous:
            if kind == "html":
                out.append(("</ul>" if previous is not None else "") + _group(rule, counts[rule], kind) + "<ul>")
            else:
                out.append(("\n" if out else "") + _group(rule, counts[rule], kind))
            previous = rule
        out.append(item)
    if kind == "html":
        return "".join(out) + ("</ul>" if part else "")
    return "\n".join(out)


def _chunks(item: str, size: int, kind: str) -> list[str]:
    """An item longer than a whole message, cut at spaces outside markup, losing nothing."""
    size = max(size, 100)
    if len(item) <= size:
        return [item]
    out, start, cut, inside = [], 0, None, False
    for position, char in enumerate(item):
        if char == "<":
            inside = True
        elif char == ">":
            inside = False
        elif char == " " and not inside:
            cut = position
        if position - start >= size:
            end = cut if cut is not None and cut > start else position
            out.append(item[start:end])
            start, cut = end, None
    out.append(item[start:])
    if kind == "html":
        out = [piece if piece.startswith("<li>") else "<li>" + piece for piece in out]
        out = [piece if piece.endswith("</li>") else piece + "</li>" for piece in out]
    return out
