"""Which story an article belongs to: near-duplicate signatures and a window of recent ones.

A signature is a bottom-k MinHash sketch (the k smallest 64-bit hashes of the article's word
3-shingles, title included) plus the title's words. A shingle's hash is simple tabulation over
its words: each distinct word gets three random 64-bit values (from one blake2s digest), and a
shingle's hash is the XOR of its first word's first value, its second word's second and its
third word's third (3-independent, and min-wise enough for bottom-k sketches); the XOR runs over
whole arrays at once, so no Python code runs per shingle (hashing every shingle with blake2b was
a third of a cold cycle's main-process CPU). Two articles are the same story when the
estimated Jaccard similarity of their shingles is high, or moderately high with similar titles
(outlets retitle wire copy and wrap it in their own boilerplate). Only a window of recent
signatures (default 72 h) is searched: `monitor.story_index`.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import re
import struct
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

K = 64  # sketch size: Jaccard estimates within about +-0.06
SHINGLE = 3
TEXT_JOIN = 0.5  # estimated Jaccard of shingles at or above which two articles are one story
TEXT_WITH_TITLE = 0.2  # ...or this much text overlap together with...
TITLE_JOIN = 0.4  # ...this much title overlap
SHORT = 40  # shingles: below this an article is only a feed summary, and titles carry more weight
SHORT_TITLE_JOIN = 0.7  # title overlap that alone joins two short (feed-only) texts
WORD = re.compile(r"\w+")
STOPWORDS = frozenset(
    "a an the of in on at to for and or but by with from as is are was were be been has have had "
    "it its this that these those after before over into says said say new news".split()
)


VERSION = 2  # of the shingle hash: sketches of different versions are never compared
LEGACY = 1  # one blake2b digest of each shingle's text (stored without a version byte)
_PACKED = struct.Struct("<B")
LANES = 4  # 64-bit values in a word's digest


@dataclass(frozen=True)
class Signature:
    """What stories compares: a sketch of the text's shingles and the title's content words."""

    sketch: tuple[int, ...]  # sorted ascending
    title_words: frozenset[str]
    shingles: int  # how many distinct shingles the sketch was drawn from
    version: int = VERSION  # of the shingle hash the sketch was made with

    def pack(self) -> bytes:
        """Bytes for the store: the hash version (one byte), the sketch as unsigned 64-bit
        integers, then the shingle count. Legacy signatures had no version byte, so their
        length is 4 more than a multiple of 8, and a versioned one's 5 more."""
        body = struct.pack(f"<{len(self.sketch)}QI", *self.sketch, self.shingles)
        return body if self.version == LEGACY else _PACKED.pack(self.version) + body


def _words(text: str) -> list[str]:
    if not unicodedata.is_normalized("NFKC", text):  # most text is: checking is 20 times cheaper
        text = unicodedata.normalize("NFKC", text)
    return WORD.findall(text.casefold())


def _lanes(words: list[str]) -> bytes:
    """Each word's tabulation values, one blake2s digest (four 64-bit values, the first three
    used) a word, in the order of `words`. Digests are kept for the next article: most of an
    article's words are common ones, and a digest call costs more than a lookup."""
    cache = _LANES
    missing = [word for word in set(words) if word not in cache]
    if len(cache) + len(missing) > LANES_CACHED:
        cache.clear()
        missing = list(set(words))
    for word in missing:
        cache[word] = hashlib.blake2s(word.encode("utf-8", "surrogatepass")).digest()
    return b"".join(map(cache.__getitem__, words))


_LANES: dict[str, bytes] = {}
LANES_CACHED = 50_000  # words (~7 MB); past that the cache starts again


def _shingle_hashes(words: list[str]) -> set[int]:
    """The distinct 64-bit hashes of the word 3-shingles of `words` (of all of them together
    when there are fewer than three)."""
    if len(words) < SHINGLE:
        if not words:
            return set()
        words = [" ".join(words)] * SHINGLE  # one shingle, hashed like any other
    count = len(words) - SHINGLE + 1
    values = memoryview(_lanes(words)).cast("Q")  # word i's values at 4i, 4i + 1, 4i + 2
    mixed = 0
    for lane in range(SHINGLE):  # word i + lane contributes its value number `lane`
        start = LANES * lane + lane
        mixed ^= int.from_bytes(values[start:start + LANES * count:LANES].tobytes(), "little")
    return set(memoryview(mixed.to_bytes(8 * count, "little")).cast("Q").tolist())


def signature(title: str, text: str) -> Signature:
    """The signature of an article's title and text."""
    title_words = _words(title)
    hashes = _shingle_hashes(title_words + _words(text))
    sketch = tuple(sorted(heapq.nsmallest(K, hashes)))
    content = frozenset(word for word in title_words if word not in STOPWORDS and len(word) > 1)
    return Signature(sketch, content, len(hashes))


def legacy_signature(title: str, text: str) -> Signature:
    """A signature as versions before 2 made it (one blake2b digest per shingle's text):
    kept so that tests can write stored signatures of the old format."""
    words = _words(title) + _words(text)
    if len(words) < SHINGLE:
        shingles = {" ".join(words)} if words else set()
    else:
        shingles = {" ".join(words[i:i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}
    hashes = {int.from_bytes(hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
              for s in shingles}
    title_words = frozenset(word for word in _words(title) if word not in STOPWORDS and len(word) > 1)
    return Signature(tuple(sorted(heapq.nsmallest(K, hashes))), title_words, len(shingles), LEGACY)


def is_current(blob: bytes) -> bool:
    """Whether a stored signature was made with this version's shingle hash (a legacy one
    must be made again from its article's text before it can be compared)."""
    return len(blob) % 8 == 5 and blob[0] == VERSION


def parts(blob: bytes) -> tuple[int, tuple[int, ...], int]:
    """A packed signature's hash version, sketch and shingle count."""
    if len(blob) % 8 == 5:
        version, offset = blob[0], 1
    else:
        version, offset = LEGACY, 0
    count = (len(blob) - offset - 4) // 8
    values = struct.unpack_from(f"<{count}QI", blob, offset)
    return version, values[:count], values[count]


@functools.lru_cache(maxsize=1 << 15)
def title_words_of(title: str) -> frozenset[str]:
    """A title's content words (a candidate's, each time it is compared: kept for the next)."""
    return frozenset(word for word in _words(title) if word not in STOPWORDS and len(word) > 1)


def unpack(blob: bytes, title: str) -> Signature:
    version, sketch, shingles = parts(blob)
    return Signature(sketch, title_words_of(title), shingles, version)


def overlap(a: set[int], b: set[int]) -> float:
    """Estimated Jaccard similarity of two bottom-k sketches: the share of the k smallest
    values of their union that both hold."""
    both = a & b
    if not both:
        return 0.0
    union = sorted(a | b)[:K]
    return len(both.intersection(union)) / len(union)


FEW = 16  # shared values up to which `ranked_overlap` ranks them: cheaper than merging up to about 20 of 64


def ranked_overlap(ranks: dict[int, int], mine: set[int], theirs: tuple[int, ...]) -> float:
    """`overlap(mine, set(theirs))`, `mine` a sorted sketch's values and `ranks` each one's
    place in it, `theirs` sorted: when they share few values (most candidates of a search
    share one), each shared value is ranked in their union instead of merging the two: it is
    among the union's K smallest when fewer than K of the union's values are smaller (those
    of either below it, less those both hold)."""
    both = mine.intersection(theirs)
    if len(both) > FEW:
        return overlap(mine, set(theirs))
    if not both:
        return 0.0
    kept = sum(1 for at, value in enumerate(sorted(both)) if ranks[value] + theirs.index(value) - at < K)
    return kept / min(K, len(mine) + len(theirs) - len(both))


def text_similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of two articles' shingle sets (0 for sketches made with
    different shingle hashes: their values have nothing in common)."""
    if not a.sketch or not b.sketch or a.version != b.version:
        return 0.0
    return overlap(set(a.sketch), set(b.sketch))


def title_overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def title_similarity(a: Signature, b: Signature) -> float:
    return title_overlap(a.title_words, b.title_words)


def judged(text: float, short: bool, title: Callable[[], float]) -> tuple[bool, float]:
    """Whether two articles are one story, and a score for ranking candidates, from their
    text similarity, whether either is short, and (asked only when it matters) their titles'."""
    if not short and not TEXT_WITH_TITLE <= text < TEXT_JOIN:
        return text >= TEXT_JOIN, text
    similar = title()
    joined = text >= TEXT_JOIN or (text >= TEXT_WITH_TITLE and similar >= TITLE_JOIN) or (short and similar >= SHORT_TITLE_JOIN)
    return joined, max(text, similar if short else text)


def same_story(a: Signature, b: Signature) -> tuple[bool, float]:
    """Whether two articles report the same story, and a score for ranking candidates."""
    return judged(text_similarity(a, b), min(a.shingles, b.shingles) < SHORT, lambda: title_similarity(a, b))
