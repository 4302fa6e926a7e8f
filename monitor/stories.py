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
signatures (default 72 h) is searched; it is read from the store when a process first needs
it (a cycle whose feeds bring nothing new never reads it), straight from the stored bytes into
a table sized for all of them, so reading it is linear in the window.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import re
import struct
import unicodedata
from array import array
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
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


def _parts(blob: bytes) -> tuple[int, tuple[int, ...], int]:
    """A packed signature's hash version, sketch and shingle count."""
    if len(blob) % 8 == 5:
        version, offset = blob[0], 1
    else:
        version, offset = LEGACY, 0
    count = (len(blob) - offset - 4) // 8
    values = struct.unpack_from(f"<{count}QI", blob, offset)
    return version, values[:count], values[count]


@functools.lru_cache(maxsize=1 << 15)
def _title_words(title: str) -> frozenset[str]:
    """A title's content words (a candidate's, each time it is compared: kept for the next)."""
    return frozenset(word for word in _words(title) if word not in STOPWORDS and len(word) > 1)


def unpack(blob: bytes, title: str) -> Signature:
    version, sketch, shingles = _parts(blob)
    return Signature(sketch, _title_words(title), shingles, version)


def _overlap(a: set[int], b: set[int]) -> float:
    """Estimated Jaccard similarity of two bottom-k sketches: the share of the k smallest
    values of their union that both hold."""
    both = a & b
    if not both:
        return 0.0
    union = sorted(a | b)[:K]
    return len(both.intersection(union)) / len(union)


def text_similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of two articles' shingle sets (0 for sketches made with
    different shingle hashes: their values have nothing in common)."""
    if not a.sketch or not b.sketch or a.version != b.version:
        return 0.0
    return _overlap(set(a.sketch), set(b.sketch))


def _title_overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def title_similarity(a: Signature, b: Signature) -> float:
    return _title_overlap(a.title_words, b.title_words)


def _judged(text: float, short: bool, title: Callable[[], float]) -> tuple[bool, float]:
    """Whether two articles are one story, and a score for ranking candidates, from their
    text similarity, whether either is short, and (asked only when it matters) their titles'."""
    if not short and not TEXT_WITH_TITLE <= text < TEXT_JOIN:
        return text >= TEXT_JOIN, text
    similar = title()
    joined = text >= TEXT_JOIN or (text >= TEXT_WITH_TITLE and similar >= TITLE_JOIN) or (short and similar >= SHORT_TITLE_JOIN)
    return joined, max(text, similar if short else text)


def same_story(a: Signature, b: Signature) -> tuple[bool, float]:
    """Whether two articles report the same story, and a score for ranking candidates."""
    return _judged(text_similarity(a, b), min(a.shingles, b.shingles) < SHORT, lambda: title_similarity(a, b))


INDEXED = 12  # the smallest sketch values that make a signature findable (see StoryIndex)
COMMON = 32  # a sketch value held by more signatures than this is a stock phrase, not a lead
# Holders kept per value: every copy of a value follows the same probe chain, so without a cap
# n items sharing a phrase cost n^2/2 probes to add (4,000 near-identical items took a minute).
# Well above COMMON, so a stock phrase stays one after its oldest holders leave the window.
HOLDERS_KEPT = 4 * COMMON
EXACT = 4096  # texts whose latest entry is found by a digest of their words (StoryIndex.exact)


class ValueTable:
    """A multimap from 64-bit sketch values to entry numbers (1 to 2**32 - 2) in two flat arrays,
    with open addressing and double hashing: 12 bytes a slot instead of ~100 for a dict entry
    and its int objects. Removed holders leave a tombstone until the next rebuild."""

    EMPTY, GONE = 0, 0xFFFFFFFF

    @classmethod
    def sized(cls, values: int) -> ValueTable:
        """A table that holds `values` values at a load of at most 0.5, so filling it never
        rebuilds and probe chains stay short."""
        capacity = 1 << 12
        while capacity < 2 * values:
            capacity *= 2
        return cls(capacity)

    def __init__(self, capacity: int = 1 << 12):
        self.keys = array("Q", bytes(8 * capacity))
        self.nums = array("I", bytes(4 * capacity))
        self.mask = capacity - 1
        self.filled = 0  # slots holding a number or a tombstone
        self.live = 0

    def add(self, values: tuple[int, ...], number: int) -> None:
        """Add `number` as a holder of each of `values` (one loop for all: this is most of
        reading a story window)."""
        if (self.filled + len(values)) * 10 > len(self.nums) * 7:  # keep the load under 0.7
            self._rebuild(len(values))
        keys, nums, mask = self.keys, self.nums, self.mask
        for value in values:
            slot, step = value & mask, ((value >> 32) & mask) | 1  # odd step: visits every slot
            holders = 0
            while True:
                held = nums[slot]
                if held == 0 or held == 0xFFFFFFFF:  # EMPTY or GONE
                    self.filled += held == 0
                    keys[slot], nums[slot] = value, number
                    self.live += 1
                    break
                if keys[slot] == value:
                    holders += 1
                    if holders >= HOLDERS_KEPT:  # a stock phrase: more holders would only lengthen its chain
                        break
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

    def _rebuild(self, coming: int = 1) -> None:
        """A load of at most 0.6 after it and `coming` more values (growing or shrinking),
        tombstones dropped."""
        capacity = 1 << 12
        while capacity * 6 < (self.live + coming) * 10:
            capacity *= 2
        old_keys, old_nums = self.keys, self.nums
        self.__init__(capacity)
        keys, nums, mask, live = self.keys, self.nums, self.mask, 0
        for key, held in zip(old_keys, old_nums):  # as `add` one by one, without its checks: a fresh table
            if held != 0 and held != 0xFFFFFFFF:  # neither EMPTY nor GONE
                slot, step = key & mask, ((key >> 32) & mask) | 1
                while nums[slot]:
                    slot = (slot + step) & mask
                keys[slot], nums[slot] = key, held
                live += 1
        self.filled = self.live = live


def _leads(packed: bytes) -> tuple[int, ...]:
    """The INDEXED smallest sketch values of a packed signature (the sketch is sorted)."""
    offset = len(packed) % 8 - 4  # the version byte, if any
    return struct.unpack_from(f"<{min(INDEXED, (len(packed) - 4) // 8)}Q", packed, offset)


class StoryIndex:
    """Signatures seen within `window` seconds, findable by their smallest sketch values.

    Memory is what limits a long window: each signature is kept packed (about 520 bytes plus
    its title), and only its INDEXED smallest sketch values are keys of the lookup table. Two
    articles whose shingles overlap by half share at least one of those with probability
    about 1 - 0.5 ** INDEXED; values that many signatures share (stock phrases) are not used
    as leads. Candidates found that way are then compared in full."""

    def __init__(self, window: float, expected: int = 0):
        self.window = window
        self.by_value = ValueTable.sized(expected * INDEXED)  # sketch value -> entry numbers
        # number -> (story, packed, title, seen, original): `original` is the article whose text
        # it is (the first of its copies), 0 when unknown
        self.entries: dict[int, tuple[int, bytes, str, float, int]] = {}
        self.order: deque[int] = deque()
        self.counter = 0
        # the entry of each of the last EXACT texts added (by a digest of their title and text):
        # a copy word for word is found without a search
        self.exact: OrderedDict[bytes, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, story: int, sig: Signature, seen: float, title: str = "", original: int = 0,
            words: bytes | None = None) -> None:
        """Add a signature; `words`: a digest of the title and text it was made from, by which a
        copy of them word for word is found (`find_copy`)."""
        self.add_packed(story, sig.pack(), title or " ".join(sorted(sig.title_words)), seen, original)
        if words is not None:
            exact = self.exact
            exact[words] = self.counter
            exact.move_to_end(words)
            if len(exact) > EXACT:
                exact.popitem(last=False)

    def add_packed(self, story: int, packed: bytes, title: str, seen: float, original: int = 0) -> None:
        """Add a signature as the store keeps it (`Signature.pack`), without unpacking it.
        `original`: the article whose text it is (itself, or the first of the copies it is one of)."""
        self.counter += 1
        number = self.counter
        self.entries[number] = (story, packed, title, seen, original)
        self.order.append(number)
        self.by_value.add(_leads(packed), number)

    def prune(self, now: float) -> None:
        """Forget signatures older than the window (they stay in the store)."""
        while self.order:
            number = self.order[0]
            _story, packed, _title, seen, _original = self.entries[number]
            if seen >= now - self.window:
                break
            self.order.popleft()
            del self.entries[number]
            for value in _leads(packed):
                self.by_value.remove(value, number)

    def find(self, sig: Signature, now: float) -> int | None:
        """The story `sig` belongs to, if one within the window matches; else None."""
        found = self.find_copy(sig, now)
        return found[0] if found else None

    def _followed(self, sig: Signature) -> Iterator[list[int]]:
        """The entries holding each of `sig`'s leads that is no stock phrase: what the search
        follows (a text none of whose leads it follows is not found by it)."""
        get = self.by_value.get
        for value in sig.sketch[:INDEXED]:
            holders = get(value, COMMON + 1)
            if len(holders) <= COMMON:
                yield holders

    def rename(self, old: int, new: int) -> None:
        """Signatures of story `old` now belong to `new` (two events found to be one). Rare: a
        pass over the window."""
        for number, (story, packed, title, seen, original) in self.entries.items():
            if story == old:
                self.entries[number] = (new, packed, title, seen, original)

    def find_copy(self, sig: Signature, now: float, words: bytes | None = None) -> tuple[int, int] | None:
        """(story, original article) of the text `sig` copies, if one within the window matches;
        else None. Candidates
        are compared in order of how many of its leads they share, the most recent first among
        equals; the best score wins, and a perfect one (a copy) ends the search. `words`: the
        digest of its title and text (see `add`): the latest entry of the same words, if still
        within the window, is that perfect score, found without the search; but a short text (a
        headline and a line) is only if the search would find it: a stock item's, "Photo" with
        no text, has no lead that is not a stock phrase, and is a story of its own."""
        self.prune(now)
        number = self.exact.get(words) if words is not None else None
        if number is not None and number in self.entries and (
                sig.shingles >= SHORT or next(self._followed(sig), None) is not None):
            story, _packed, _title, _seen, original = self.entries[number]
            return story, original
        shared: dict[int, int] = {}
        for holders in self._followed(sig):
            for number in holders:
                shared[number] = shared.get(number, 0) + 1
        best: tuple[float, int, int] | None = None
        mine, short = set(sig.sketch), sig.shingles < SHORT
        for number in sorted(shared, key=lambda number: (shared[number], number), reverse=True)[:200]:
            story, packed, title, _seen, original = self.entries[number]
            version, sketch, shingles = _parts(packed)  # compared as stored: no Signature made
            text = _overlap(mine, set(sketch)) if version == sig.version and mine and sketch else 0.0
            joined, score = _judged(text, short or shingles < SHORT,
                                    lambda: _title_overlap(sig.title_words, _title_words(title)))
            if joined and (best is None or score > best[0]):
                best = (score, story, original)
                if score >= 1.0:
                    break
        return (best[1], best[2]) if best else None
