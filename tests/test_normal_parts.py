"""`monitor.facts.normal` makes the normal form of a part of a text (`cut`), and of a title and
a text joined by a line break (`joined`), from normal forms already made: each must be exactly
what `monitor.text.normalize` makes of those characters, whatever they hold (spaces, dashes and
marks fold with their neighbours; other scripts; case that changes length)."""

from __future__ import annotations

import random

from monitor import text
from monitor.facts import normal

ALPHABET = list("aZ09.,'\"()  --\n\n\t\r`") + [
    " ", "\n", "\u2003", "\u0301", "\u064b", "\u0640", "\u200c", "\u200b", "\u00ad", "\u2014", "\u2013", "…", "ﬁ",
    "é", "e\u0301", "İ", "Σ", "ΟΔΟΣ", "ß", "ǅ", "\u0915", "\u094d", "\u093c", "ی", "ك", "ة", "\u00a0", "\u3000", "½",
    "①", "Ａ", "\u0670", "\ufeff", "ς"]
WIRE = ("Gunmen attacked a police post in Lakki Marwat — two officers were wounded.\n"
        "  Police said the attackers fled.  \nکالعدم تحریک طالبان نے ذمہ داری قبول کی۔\n\nTTP‐linked fighters…")


def same(made: text.Normalized, expected: text.Normalized) -> bool:
    return ((made.cased, made.folded, made.starts, made.origins, made.original)
            == (expected.cased, expected.folded, expected.starts, expected.origins, expected.original))


def fresh() -> None:
    """Forget what `normalize` kept: its per-run cache can answer differently after another text."""
    text.chars.get_tables().runs.clear()
    text.normalize.cache_clear()


def test_a_part_and_a_join_are_what_normalize_makes_of_them():
    whole = text.normalize.__wrapped__(WIRE)
    for start in range(len(WIRE) + 1):
        for end in range(start, len(WIRE) + 1, 7):
            fresh()
            assert same(normal.cut(whole, start, end), text.normalize.__wrapped__(WIRE[start:end])), (start, end)
    for cut_at in range(len(WIRE) + 1):
        title, body = WIRE[:cut_at], WIRE[cut_at:]
        fresh()
        assert same(normal.joined(title, body), text.normalize.__wrapped__(f"{title}\n{body}")), cut_at


def test_random_parts_and_joins_are_what_normalize_makes_of_them():
    rng = random.Random(19)
    for _ in range(20_000):
        body = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 25)))
        title = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 8)))
        fresh()
        joined = normal.joined(title, body)
        fresh()
        assert same(joined, text.normalize.__wrapped__(f"{title}\n{body}")), (title, body)
        fresh()
        whole = text.normalize.__wrapped__(body)
        start = rng.randint(0, len(body))
        end = rng.randint(start, len(body))
        made = normal.cut(whole, start, end)
        fresh()
        assert same(made, text.normalize.__wrapped__(body[start:end])), (body, start, end)
