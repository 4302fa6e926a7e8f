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
signatures (default 72 h) is searched; it is rebuilt from the store at start.
"""

from __future__ import annotations

import hashlib
import heapq
import re
import struct
import unicodedata
from array import array
from collections import deque
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
    return WORD.findall(unicodedata.normalize("NFKC", text).casefold())


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


def unpack(blob: bytes, title: str) -> Signature:
    if len(blob) % 8 == 5:
        version, blob = blob[0], blob[1:]
    else:
        version = LEGACY
    count = (len(blob) - 4) // 8
    values = struct.unpack(f"<{count}QI", blob)
    title_words = frozenset(word for word in _words(title) if word not in STOPWORDS and len(word) > 1)
    return Signature(tuple(values[:count]), title_words, values[count], version)


def text_similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of two articles' shingle sets (0 for sketches made with
    different shingle hashes: their values have nothing in common)."""
    if not a.sketch or not b.sketch or a.version != b.version:
        return 0.0
    union = heapq.nsmallest(K, set(a.sketch) | set(b.sketch))
    both = set(a.sketch) & set(b.sketch)
    return sum(1 for value in union if value in both) / len(union)


def title_similarity(a: Signature, b: Signature) -> float:
    if not a.title_words or not b.title_words:
        return 0.0
    return len(a.title_words & b.title_words) / len(a.title_words | b.title_words)


def same_story(a: Signature, b: Signature) -> tuple[bool, float]:
    """Whether two articles report the same story, and a score for ranking candidates."""
    text = text_similarity(a, b)
    title = title_similarity(a, b)
    short = min(a.shingles, b.shingles) < SHORT
    joined = text >= TEXT_JOIN or (text >= TEXT_WITH_TITLE and title >= TITLE_JOIN) or (short and title >= SHORT_TITLE_JOIN)
    return joined, max(text, title if short else text)


INDEXED = 12  # the smallest sketch values that make a signature findable (see StoryIndex)
COMMON = 32  # a sketch value held by more signatures than this is a stock phrase, not a lead
# Holders kept per value: every copy of a value follows the same probe chain, so without a cap
# n items sharing a phrase cost n^2/2 probes to add (4,000 near-identical items took a minute).
# Well above COMMON, so a stock phrase stays one after its oldest holders leave the window.
HOLDERS_KEPT = 4 * COMMON


class ValueTable:
    """A multimap from 64-bit sketch values to entry numbers (1 to 2**32 - 2) in two flat arrays,
    with open addressing and double hashing: 12 bytes a slot instead of ~100 for a dict entry
    and its int objects. Removed holders leave a tombstone until the next rebuild."""

    EMPTY, GONE = 0, 0xFFFFFFFF

    def __init__(self, capacity: int = 1 << 12):
        self.keys = array("Q", bytes(8 * capacity))
        self.nums = array("I", bytes(4 * capacity))
        self.mask = capacity - 1
        self.filled = 0  # slots holding a number or a tombstone
        self.live = 0

    def add(self, value: int, number: int) -> None:
        if (self.filled + 1) * 10 > len(self.nums) * 7:  # keep the load under 0.7
            self._rebuild()
        keys, nums, mask = self.keys, self.nums, self.mask
        slot, step = value & mask, ((value >> 32) & mask) | 1  # odd step: visits every slot
        holders = 0
        while True:
            held = nums[slot]
            if held == 0 or held == 0xFFFFFFFF:  # EMPTY or GONE
                self.filled += held == 0
                keys[slot], nums[slot] = value, number
                self.live += 1
                return
            if keys[slot] == value:
                holders += 1
                if holders >= HOLDERS_KEPT:  # a stock phrase: more holders would only lengthen its chain
                    return
            slot = (slot + step) & mask

    def get(self, value: int, limit: int) -> list[int]:
        """The numbers holding `value`, at most `limit` of them (more means "too many")."""
        keys, nums, mask = self.keys, self.nums, self.mask
        slot, step = value & mask, ((value >> 32) & mask) | 1
        out: list[int] = []
        while True:
            held = nums[slot]
            if held == 0:
                return out
            if held != 0xFFFFFFFF and keys[slot] == value:
                out.append(held)
                if len(out) >= limit:
                    return out
            slot = (slot + step) & mask

    def remove(self, value: int, number: int) -> None:
        keys, nums, mask = self.keys, self.nums, self.mask
        slot, step = value & mask, ((value >> 32) & mask) | 1
        while True:
            held = nums[slot]
            if held == 0:
                return
            if held == number and keys[slot] == value:
                nums[slot] = 0xFFFFFFFF
                self.live -= 1
                return
            slot = (slot + step) & mask

    def _rebuild(self) -> None:
        """A load of at most 0.6 after it (growing or shrinking), tombstones dropped."""
        capacity = 1 << 12
        while capacity * 6 < (self.live + 1) * 10:
            capacity *= 2
        keys, nums = self.keys, self.nums
        self.__init__(capacity)
        for key, held in zip(keys, nums):
            if held != self.EMPTY and held != self.GONE:
                self.add(key, held)


class StoryIndex:
    """Signatures seen within `window` seconds, findable by their smallest sketch values.

    Memory is what limits a long window: each signature is kept packed (about 520 bytes plus
    its title), and only its INDEXED smallest sketch values are keys of the lookup table. Two
    articles whose shingles overlap by half share at least one of those with probability
    about 1 - 0.5 ** INDEXED; values that many signatures share (stock phrases) are not used
    as leads. Candidates found that way are then compared in full."""

    def __init__(self, window: float):
        self.window = window
        self.by_value = ValueTable()  # sketch value -> entry numbers
        self.entries: dict[int, tuple[int, bytes, str, float]] = {}  # number -> (story, packed, title, seen)
        self.order: deque[int] = deque()
        self.counter = 0

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, story: int, sig: Signature, seen: float, title: str = "") -> None:
        self.counter += 1
        number = self.counter
        self.entries[number] = (story, sig.pack(), title or " ".join(sorted(sig.title_words)), seen)
        self.order.append(number)
        for value in sig.sketch[:INDEXED]:
            self.by_value.add(value, number)

    def prune(self, now: float) -> None:
        """Forget signatures older than the window (they stay in the store)."""
        while self.order:
            number = self.order[0]
            _story, packed, _title, seen = self.entries[number]
            if seen >= now - self.window:
                break
            self.order.popleft()
            del self.entries[number]
            offset = len(packed) % 8 - 4  # the version byte, if any
            for value in struct.unpack_from(f"<{min(INDEXED, (len(packed) - 4) // 8)}Q", packed, offset):
                self.by_value.remove(value, number)

    def find(self, sig: Signature, now: float) -> int | None:
        """The story `sig` belongs to, if one within the window matches; else None."""
        self.prune(now)
        candidates: set[int] = set()
        for value in sig.sketch[:INDEXED]:
            holders = self.by_value.get(value, COMMON + 1)
            if len(holders) <= COMMON:
                candidates.update(holders)
        best: tuple[float, int] | None = None
        for number in sorted(candidates, reverse=True)[:200]:  # the most recent first
            story, packed, title, _seen = self.entries[number]
            joined, score = same_story(sig, unpack(packed, title))
            if joined and (best is None or score > best[0]):
                best = (score, story)
        return best[1] if best else None
