"""Where a copy is found: the window of recent signatures (`monitor.stories`), findable by
their smallest sketch values in a flat open-addressing table (`ValueTable`), and by a digest of
their words for a copy word for word. Read from the store when a process first needs it (a
cycle whose feeds bring nothing new never reads it), straight from the stored bytes into a
table sized for all of them, so reading it is linear in the window; kept between runs by
`monitor.window`.

The copies of one text word for word (its wire item in forty feeds) are one holder of its sketch
values: the first of them still in the window (its *head*), the later ones its followers, found
through it. Each copy a holder of its own made every copy's probe chains longer (n copies cost
n^2/2 probes to add: a third of a second of every 500-feed first poll) and crowded the
candidates of a search with the same text again.
"""

from __future__ import annotations

import struct
from array import array
from collections import Counter, OrderedDict, deque
from collections.abc import Iterator, Sequence

from monitor.stories import SHORT, Signature, is_current, judged, parts, ranked_overlap, title_overlap, title_words_of

INDEXED = 12  # the smallest sketch values that make a signature findable (see StoryIndex)
COMMON = 32  # a sketch value held by more texts than this is a stock phrase, not a lead (copies count once)
# Holders kept per value: more would only be copied into every search's candidates. Well above
# COMMON, so a stock phrase stays one after its oldest holders leave the window.
HOLDERS_KEPT = 4 * COMMON
EXACT = 4096  # texts whose latest entry is found by a digest of their words (StoryIndex.exact)


class ValueTable:
    """A multimap from 64-bit sketch values to entry numbers (1 to 2**32 - 3) in two flat arrays,
    with open addressing and double hashing: 12 bytes a slot instead of ~100 for a dict entry
    and its int objects. A value has one slot: its holder's number, or MANY when it has several,
    whose numbers (in the order they came, at most HOLDERS_KEPT) are then in `many`. So finding
    a value, or adding a holder to it, walks a short chain however many texts hold it (a text
    under seventy headlines made each of its values a chain of seventy slots, walked by every
    search and every add). A removed value leaves a tombstone until the next rebuild."""

    EMPTY, GONE, MANY = 0, 0xFFFFFFFF, 0xFFFFFFFE

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
        self.filled = 0  # slots holding a value or a tombstone
        self.live = 0  # slots holding a value
        self.many: dict[int, list[int]] = {}  # the holders of each value that has several

    def holders(self) -> int:
        """How many (value, holder) pairs the table holds."""
        return self.live - len(self.many) + sum(map(len, self.many.values()))

    def _slot(self, value: int) -> int:
        """The slot holding `value`, or -1 - the slot it would go to (the chain's first
        tombstone, else the empty slot that ends it)."""
        keys, nums, mask = self.keys, self.nums, self.mask
        slot, step, free = value & mask, ((value >> 32) & mask) | 1, -1  # odd step: visits every slot
        while True:
            held = nums[slot]
            if held == 0:  # EMPTY: the chain ends
                return -1 - (slot if free < 0 else free)
            if held == 0xFFFFFFFF:  # GONE
                if free < 0:
                    free = slot
            elif keys[slot] == value:
                return slot
            slot = (slot + step) & mask

    def add(self, values: tuple[int, ...], number: int) -> None:
        """Add `number` as a holder of each of `values` (a value held by HOLDERS_KEPT already is a
        stock phrase: more holders would tell nothing more)."""
        if (self.filled + len(values)) * 10 > len(self.nums) * 7:  # keep the load under 0.7
            self._rebuild(len(values))
        nums, many, where = self.nums, self.many, self._slot
        for value in values:
            slot = where(value)
            if slot >= 0:
                held = nums[slot]
                if held == 0xFFFFFFFE:  # MANY
                    holders = many[value]
                    if len(holders) < HOLDERS_KEPT:
                        holders.append(number)
                else:
                    many[value] = [held, number]
                    nums[slot] = 0xFFFFFFFE
            else:
                slot = -1 - slot
                self.filled += nums[slot] == 0
                self.keys[slot], nums[slot] = value, number
                self.live += 1

    def get(self, value: int, limit: int) -> list[int]:
        """The numbers holding `value`, at most `limit` of them (more means "too many")."""
        slot = self._slot(value)
        if slot < 0:
            return []
        held = self.nums[slot]
        return self.many[value][:limit] if held == 0xFFFFFFFE else [held]

    def remove(self, value: int, number: int) -> None:
        slot = self._slot(value)
        if slot < 0:
            return
        held = self.nums[slot]
        if held == 0xFFFFFFFE:  # MANY
            holders = self.many[value]
            try:
                holders.remove(number)
            except ValueError:  # not a holder (one past HOLDERS_KEPT)
                return
            if len(holders) == 1:
                self.nums[slot] = holders[0]
                del self.many[value]
        elif held == number:
            self.nums[slot] = 0xFFFFFFFF
            self.live -= 1

    def _rebuild(self, coming: int = 1) -> None:
        """A load of at most 0.6 after it and `coming` more values (growing or shrinking),
        tombstones dropped."""
        capacity = 1 << 12
        while capacity * 6 < (self.live + coming) * 10:
            capacity *= 2
        old_keys, old_nums, many = self.keys, self.nums, self.many
        self.__init__(capacity)
        self.many = many
        keys, nums, mask, live = self.keys, self.nums, self.mask, 0
        for key, held in zip(old_keys, old_nums):  # one slot a value: no value to look for first
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


def indexed_title(sig: Signature, title: str) -> str:
    """The title a signature is kept with: the article's, else its title words (a title to
    compare against, `title_overlap`)."""
    return title or " ".join(sorted(sig.title_words))


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
        # the head of each text's copies (see the module), by its packed signature (a copy's is its
        # head's object), and each head's later copies, oldest first
        self.heads: dict[bytes, int] = {}
        self.followers: dict[int, deque[int]] = {}
        # the entry of each of the last EXACT texts added (by a digest of their title and text):
        # a copy word for word is found without a search
        self.exact: OrderedDict[bytes, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, story: int, sig: Signature, seen: float, title: str = "", original: int = 0,
            words: bytes | None = None) -> None:
        """Add a signature; `words`: a digest of the title and text it was made from, by which a
        copy of them word for word is found (`find_copy`, `copied`)."""
        self.add_packed(story, sig.pack(), indexed_title(sig, title), seen, original, words)

    def add_packed(self, story: int, packed: bytes, title: str, seen: float, original: int = 0,
                   words: bytes | None = None) -> None:
        """Add a signature as the store keeps it (`Signature.pack`), without unpacking it.
        `original`: the article whose text it is (itself, or the first of the copies it is one of);
        `words`: as for `add`."""
        self.counter += 1
        number = self.counter
        self.entries[number] = (story, packed, title, seen, original)
        self.order.append(number)
        head = self.heads.get(packed) if original else None
        held = self.entries[head] if head is not None else None
        if held is not None and held[0] == story and held[2] == title and held[4] == original:
            followers = self.followers.get(head)
            if followers is None:
                followers = self.followers[head] = deque()
            followers.append(number)  # a copy of `head`'s text: found through it
        else:
            self.heads[packed] = number
            self.by_value.add(_leads(packed), number)
        if words is not None:
            exact = self.exact
            exact[words] = number
            exact.move_to_end(words)
            if len(exact) > EXACT:
                exact.popitem(last=False)

    def prune(self, now: float) -> None:
        """Forget signatures older than the window (they stay in the store)."""
        while self.order:
            number = self.order[0]
            _story, packed, _title, seen, _original = self.entries[number]
            if seen >= now - self.window:
                break
            self.order.popleft()
            del self.entries[number]
            # the oldest entry is a head (its copies came after it): its next copy, if any, holds
            # the text's values from now on
            leads = _leads(packed)
            for value in leads:
                self.by_value.remove(value, number)
            followers = self.followers.pop(number, None)
            head = followers.popleft() if followers else None
            if head is not None:
                self.by_value.add(leads, head)
                if followers:
                    self.followers[head] = followers
            if self.heads.get(packed) == number:
                if head is None:
                    del self.heads[packed]
                else:
                    self.heads[packed] = head

    def find(self, sig: Signature, now: float) -> int | None:
        """The story `sig` belongs to, if one within the window matches; else None."""
        found = self.find_copy(sig, now)
        return found[0] if found else None

    def _followed(self, leads: Sequence[int]) -> Iterator[list[int]]:
        """The entries holding each of a signature's leads (its INDEXED smallest sketch values)
        that is no stock phrase: what the search follows (a text none of whose leads it follows
        is not found by it). A stock phrase is held by more than COMMON different texts; copies
        of one text count once (by their original), so that a wire item carried word for word
        by forty outlets' feeds stays one text, found as the others' copy."""
        get, entries = self.by_value.get, self.entries
        for value in leads:
            holders = get(value, HOLDERS_KEPT)  # (a value keeps no more: `ValueTable.add`)
            if len(holders) <= COMMON or len({entries[number][4] for number in holders}) <= COMMON:
                yield holders

    def rename(self, old: int, new: int) -> None:
        """Signatures of story `old` now belong to `new` (two events found to be one). Rare: a
        pass over the window."""
        for number, (story, packed, title, seen, original) in self.entries.items():
            if story == old:
                self.entries[number] = (new, packed, title, seen, original)

    def copied(self, words: bytes, now: float) -> tuple[int, int, bytes, str] | None:
        """(story, original article, packed signature, title) of the latest entry of the same
        words (a digest of a title and text, as `add` is given) within the window, when
        `find_copy` would find the text by it: all that a copy word for word needs, without its
        signature made again (the same words make the same one). None otherwise (or when that
        entry's signature is another hash version's): then `find_copy` searches."""
        self.prune(now)
        number = self.exact.get(words)
        entry = self.entries.get(number) if number is not None else None
        if entry is None or not is_current(entry[1]):
            return None
        story, packed, title, _seen, original = entry
        if parts(packed)[2] < SHORT and next(self._followed(_leads(packed)), None) is None:
            return None
        return story, original, packed, title

    def find_copy(self, sig: Signature, now: float, words: bytes | None = None) -> tuple[int, int] | None:
        """(story, original article) of the text `sig` copies, if one within the window matches;
        else None. Candidates (texts: a head stands for its copies)
        are compared in order of how many of its leads they share, the most recent first among
        equals; the best score wins, and a perfect one (a copy) ends the search. `words`: the
        digest of its title and text (see `add`): the latest entry of the same words, if still
        within the window, is that perfect score, found without the search; but a short text (a
        headline and a line) is only if the search would find it: one whose every lead more than
        COMMON different texts hold (a stock phrase, as "Photo" with no text can be) is a story
        of its own."""
        copy = self.copied(words, now) if words is not None else None  # (prunes the window)
        if copy is not None:
            return copy[0], copy[1]
        self.prune(now)
        shared: Counter[int] = Counter()
        count = shared.update
        for holders in self._followed(sig.sketch[:INDEXED]):
            count(holders)  # in C
        mine, short, followers, entries = set(sig.sketch), sig.shingles < SHORT, self.followers, self.entries
        ranks = {value: at for at, value in enumerate(sig.sketch)}

        def latest(number: int) -> int:  # a text's most recent entry: its head's last copy
            copies = followers.get(number)
            return copies[-1] if copies else number

        def weighed(number: int) -> tuple[bool, float]:  # (joined, score) of a candidate
            title = entries[number][2]
            version, sketch, shingles = parts(entries[number][1])  # compared as stored: no Signature made
            text = ranked_overlap(ranks, mine, sketch) if version == sig.version and mine and sketch else 0.0
            return judged(text, short or shingles < SHORT,
                          lambda: title_overlap(sig.title_words, title_words_of(title)))

        # The best's own (story, original) again (its copies under other headlines, say) cannot
        # change the answer unless a candidate of another one beats the best: such candidates are
        # weighed only then, and the answer is the one weighing them all in order would give.
        best: tuple[float, int, int] | None = None
        unweighed: list[int] = []
        # most shared leads first, then the most recent (a text's latest entry is its own: no ties,
        # so the order does not depend on the order `shared` was counted in)
        for _held, _latest, number in sorted(((held, latest(number), number) for number, held in shared.items()),
                                             reverse=True)[:200]:
            story, _packed, _title, _seen, original = entries[number]
            if best is not None and story == best[1] and original == best[2]:
                unweighed.append(number)
                continue
            joined, score = weighed(number)
            if not joined or (best is not None and score <= best[0]):
                continue
            if best is not None and unweighed:
                for other in unweighed:
                    other_joined, other_score = weighed(other)
                    if other_joined and other_score > best[0]:
                        best = (other_score, best[1], best[2])
                unweighed.clear()
                if score <= best[0]:
                    continue
            best = (score, story, original)
            if score >= 1.0:
                break
        return (best[1], best[2]) if best else None
