"""Normal forms (`monitor.text.normalize`) of a part of a text, and of two texts joined by a line
break, made from normal forms already at hand rather than by normalising again: an article's
title and text are normalised by the rule matcher first, and `facts` (its lines) and the
gazetteer (title and text joined) would normalise the same characters again.

Normalising is a character's own business but for spaces, dashes and marks, which fold with
their neighbours (`monitor.text`). A part that begins and ends with a character normalised to
something of its own, neither a space nor a dash (a letter, a digit, most punctuation: `_kept`),
has no fold crossing its ends: its normal form is the stretch of the whole text's from its
first character to its last, the same characters from the same origins (less its start). Two
such texts joined by a line break (white space around it aside) are the two normal forms with a
space between. Anything else is normalised as before (`cut`, `joined`).
"""

from __future__ import annotations

import bisect

from monitor import text as textmod


class _Kept(dict):
    """Whether a character is normalised to one or more characters that are neither a space
    nor a dash, whatever stands around it: what it becomes alone (a mark alone is dropped)."""

    def __missing__(self, char: str) -> bool:
        normal = textmod.normalize.__wrapped__(char).cased  # not through the cache: it keeps the article's texts
        kept = bool(normal) and " " not in normal and "-" not in normal
        if len(self) < 10_000:
            self[char] = kept
        return kept


_kept = _Kept()


def cut(normal: textmod.Normalized, start: int, end: int) -> textmod.Normalized:
    """`normalize(normal.original[start:end])`: `normal` itself for the whole text, cut from it
    when that part begins and ends with a `_kept` character, normalised when it does not."""
    original = normal.original
    if start == 0 and end == len(original):  # the whole text (a text of one line)
        return normal
    if start >= end or not (_kept[original[start]] and _kept[original[end - 1]]):
        return textmod.normalize(original[start:end])
    starts, origins = normal.starts, normal.origins
    if len(starts) == 1:  # nothing moves but by one shift (most text): its characters where they stand
        first, stop = start - origins[0] + starts[0], end - origins[0] + starts[0]
        cased = normal.cased[first:stop]
        if cased.isascii():  # lower-cased character by character: the same as folded by itself
            return textmod.Normalized(cased, normal.folded[first:stop], (0,), (0,), original[start:end])
        return _made(cased, (0,), (0,), original[start:end])
    first, stop = normal.index(start), normal.index(end)
    at = bisect.bisect_right(starts, first) - 1  # the segment of its first character
    after = bisect.bisect_left(starts, stop, at + 1)  # the first segment past it
    return _made(normal.cased[first:stop], (0, *(begin - first for begin in starts[at + 1:after])),
                 (origins[at] + first - starts[at] - start, *(origin - start for origin in origins[at + 1:after])),
                 original[start:end])


def joined(title: str, text: str) -> textmod.Normalized:
    """`normalize(f"{title}\\n{text}")`, from the normal forms of `title` and `text` (kept by
    `normalize` when the rule matcher made them) when the one ends and the other begins with a
    `_kept` character, white space aside: the line break and that space are one space between
    them, from where the space begins."""
    full = f"{title}\n{text}"
    ending, beginning = title.rstrip(), text.lstrip()
    if not ending or not beginning or not (_kept[ending[-1]] and _kept[beginning[0]]):
        return textmod.normalize(full)
    head, tail = textmod.normalize(title), textmod.normalize(text)
    starts, origins = list(head.starts), list(head.origins)
    # the title's normal length, the text's offset in `full`, where the space comes from
    size, length, space = len(head.cased), len(title) + 1, len(ending)
    shift = origins[-1] - starts[-1]  # origin less position, in the last segment
    if space - size != shift:  # the space
        shift = space - size
        starts.append(size)
        origins.append(space)
    # the text's segments, moved: each but the first begins where its shift changes (as `normalize` makes them)
    first = 1 if tail.origins[0] - tail.starts[0] + length - size - 1 == shift else 0
    starts += [begin + size + 1 for begin in tail.starts[first:]]
    origins += [origin + length for origin in tail.origins[first:]]
    return _made(f"{head.cased} {tail.cased}", tuple(starts), tuple(origins), full)


def _made(cased: str, starts: tuple[int, ...], origins: tuple[int, ...], original: str) -> textmod.Normalized:
    """A normal form, folded as `normalize` folds: lower-cased, character by character where
    that would change its length (then a character that would is left as it is)."""
    folded = cased.lower()
    if len(folded) != len(cased):
        folded = "".join(char.lower() if len(char.lower()) == 1 else char for char in cased)
    return textmod.Normalized(cased, folded, starts, origins, original)
