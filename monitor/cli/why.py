"""`newsmon stories --why A B`: why two articles (a:N) or stories (s:N) were joined or kept
apart: both sides' event features, the copy similarity of two articles, the event verdict (the
score, its parts, the score needed) and the guard that refused it, in words. Read-only: word
weights come from the features stored for the events open in the window."""

from __future__ import annotations

import argparse
import json
import re
import time
from datetime import date

from monitor import events, incidents, stories
from monitor.cli.common import EXIT_OK, EXIT_USAGE, open_existing, read_config

OPERAND = re.compile(r"([as]):(\d+)")


def _guards() -> dict[str, str]:
    """Each guard, in words."""
    return {
        "places": "their places are in different districts (or provinces, or countries), neither inside the other",
        "dates": "the dates they give cannot be one incident's (2 or more days apart, or published too far apart; "
                 "border clashes: not the same day)",
        "type": "their incident types cannot be one incident",
        "words": f"their words are less alike than {events.MIN_TERMS}",
        "no anchor": f"no place, incident date or {events.NAMES} rare names in common, and words less alike than "
                     f"{events.UNANCHORED}",
        "other script": "written in other scripts or languages (no words to compare), and not the same district and "
                        "type on the same day (or, undated, with an actor in common)",
        "same outlet": "the outlet's second story on a subject: joined only when placed and dated as the first",
    }


def cmd_why(args: argparse.Namespace) -> int:
    operands = [OPERAND.fullmatch(item.strip()) for item in args.why]
    if len(operands) != 2 or not all(operands):
        print("newsmon stories --why: give two of a:ARTICLE and s:STORY, e.g. --why a:123 s:45", flush=True)
        return EXIT_USAGE
    loaded = read_config(args)
    with open_existing(args, loaded) as opened:
        index = _window(opened, loaded.settings.story_window)
        sides = [_side(opened, match[1], int(match[2])) for match in operands]
        missing = [f"{match[1]}:{match[2]}" for match, side in zip(operands, sides) if side is None]
        if missing:
            print(f"newsmon stories --why: no such article or story: {', '.join(missing)} (state: {opened.path})")
            return EXIT_USAGE
        report = _explain(opened, index, sides[0], sides[1])
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print("\n".join(_report_lines(report)))
    return EXIT_OK


def _window(opened, window: float) -> events.EventIndex:
    """The open events as a running newsmon has them (for the words' document frequencies),
    from the features stored; nothing is written."""
    index, now = incidents.index(window), time.time()
    for _article_id, story, blob, seen in opened.recent_features(now - window):
        found = events.Features.unpack(blob) if blob else None
        if found is not None:
            index.add(story, found, seen)
    return index


def _side(opened, kind: str, number: int) -> dict | None:
    """One operand: an article (its features) or a story (its articles' features)."""
    if kind == "a":
        read = _article(opened, number)
        return {"kind": "article", "id": number, "story": opened.story_of(number), **read} if read else None
    merged = opened.merged_into(number)
    story = merged or number
    articles = [(article.id, _article(opened, article.id)) for article in opened.story_articles(story)]
    if not articles:
        return None
    return {"kind": "story", "id": number, "story": story, "merged_into": merged, "articles": articles,
            "title": articles[0][1]["title"]}


def _article(opened, article_id: int) -> dict | None:
    stored = opened.article_features(article_id)
    if stored is None:
        return None
    blob, title, text, published, outlet = stored
    found = events.Features.unpack(blob) if blob else None
    if found is None:  # recorded before events, or by another version of them: read now
        found = incidents.read(title, text, published=incidents.day(published), outlet=outlet)
    return {"features": found, "title": title, "text": text, "outlet": outlet}


def _event(index: events.EventIndex, side: dict, leave_out: int | None = None) -> events.Event:
    """The event a side stands for, made of its reports' features (without `leave_out`, so that
    an article is not compared with itself)."""
    event = events.Event(side["story"] or 0)
    reports = side["articles"] if side["kind"] == "story" else [(side["id"], side)]
    for article_id, read in reports:
        if article_id != leave_out:
            event.add(read["features"], 0.0, index.keys(read["features"]))
    return event


def _explain(opened, index: events.EventIndex, left: dict, right: dict) -> dict:
    report = {"left": _describe(left), "right": _describe(right)}
    if left["kind"] == "story" and right["kind"] == "story":
        guard = events.apart(_event(index, left), _event(index, right), index.compatible)
        judged = [(read["features"], event := _event(index, right, article_id), index.judge(read["features"], event))
                  for article_id, read in left["articles"]]
        best = max(judged, key=lambda item: (item[2].guard is None, item[2].score))
        report["event"] = {"guard between the stories": guard, "why": _guards().get(guard or "", ""),
                           "best report": _verdict(*best)}
        report["same story"] = left["story"] == right["story"]
        return report
    article, other = (left, right) if left["kind"] == "article" else (right, left)
    event = _event(index, other, leave_out=article["id"])
    report["event"] = _verdict(article["features"], event, index.judge(article["features"], event))
    if other["kind"] == "article":
        a, b = (stories.signature(side["title"], side["text"]) for side in (article, other))
        joined, score = stories.same_story(a, b)
        report["copies"] = {"copy": joined, "score": round(score, 3), "text": round(stories.text_similarity(a, b), 3),
                            "title": round(stories.title_similarity(a, b), 3)}
    report["same story"] = article["story"] == other["story"]
    return report


def _verdict(found: events.Features, event: events.Event, verdict: events.Verdict) -> dict:
    needed = events.needed(found, event, verdict)
    return {"score": verdict.score, "parts": verdict.parts, "needed": round(needed, 2), "guard": verdict.guard,
            "why": _guards().get(verdict.guard or "", ""),
            "joins": verdict.guard is None and verdict.score >= needed}


def _describe(side: dict) -> dict:
    if side["kind"] == "article":
        return {"article": side["id"], "story": side["story"], "title": side["title"], "outlet": side["outlet"],
                "features": _features(side["features"])}
    return {"story": side["id"], "merged_into": side["merged_into"], "title": side["title"],
            "reports": [{"article": article_id, "outlet": read["outlet"], "title": read["title"],
                         "features": _features(read["features"])} for article_id, read in side["articles"]]}


def _features(found: events.Features) -> dict:
    def day(ordinal: int | None) -> str | None:
        return date.fromordinal(ordinal).isoformat() if ordinal else None

    return {"type": found.event_type, "killed": found.killed, "injured": found.injured, "where": list(found.where),
            "district": found.district, "province": found.province, "country": found.country,
            "dates": [day(ordinal) for ordinal in found.dates], "published": day(found.published),
            "entities": sorted(found.entities), "names": list(found.names), "script": found.script,
            "words": [f"{word} {weight:.1f}" for word, weight in found.terms[:12]]}


def _report_lines(report: dict) -> list[str]:
    lines = []
    for side in (report["left"], report["right"]):
        if "article" in side:
            lines.append(f"a:{side['article']} (story #{side['story']}, {side['outlet']}): {side['title']}")
            lines.extend(_feature_lines(side["features"], "  "))
        else:
            merged = f", merged into #{side['merged_into']}" if side["merged_into"] else ""
            lines.append(f"s:{side['story']} ({len(side['reports'])} report(s){merged}): {side['title']}")
            for read in side["reports"]:
                lines.append(f"  a:{read['article']} {read['outlet']}: {read['title']}")
                lines.extend(_feature_lines(read["features"], "    "))
    if "copies" in report:
        copies = report["copies"]
        lines.append(f"copies: text {copies['text']}, title {copies['title']}: "
                     + ("the same text (one joins the other's story)" if copies["copy"] else "not the same text"))
    event = report["event"]
    if "best report" in event:
        if event["guard between the stories"]:
            lines.append(f"events: kept apart by the guard '{event['guard between the stories']}': {event['why']}")
        else:
            lines.append("events: no guard keeps the two stories apart")
        lines.append(f"best report of the first against the second: {_verdict_line(event['best report'])}")
    else:
        lines.append(f"event: {_verdict_line(event)}")
    lines.append("they are one story now" if report["same story"] else "they are different stories now")
    return lines


def _verdict_line(verdict: dict) -> str:
    parts = events.described(verdict["parts"])
    line = f"score {verdict['score']:.2f} ({parts or 'nothing to compare'}; {verdict['needed']} needed)"
    if verdict["guard"]:
        return f"{line}; refused by the guard '{verdict['guard']}': {verdict['why']}"
    return f"{line}: {'joins' if verdict['joins'] else 'too low to join'}"


def _feature_lines(found: dict, indent: str) -> list[str]:
    where = " > ".join(found["where"]) or "no place"
    dates = ", ".join(found["dates"]) or "none"
    figures = " · ".join(f"{name} {found[name]}" for name in ("killed", "injured") if found[name] is not None)
    return [f"{indent}{found['type']} · {where} · incident dates {dates} · published {found['published'] or 'unknown'}"
            + (f" · {figures}" if figures else ""),
            f"{indent}entities: {', '.join(found['entities']) or 'none'} · names: {', '.join(found['names']) or 'none'}"
            f" · words: {', '.join(found['words'])}"]
