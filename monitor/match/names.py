"""How an alias is matched: which aliases are acronyms or abbreviations (matched in their own
case only), which ones context applies to, what counts as a word character, and the Arabic-script
proclitics a name may carry attached."""

from __future__ import annotations

import re
import unicodedata

from monitor.model import Entity

# Attached Arabic-script proclitics an Arabic-script name may carry: wa- (and), bi- (with),
# li- (for), al- (the), lil- (for the), and their combinations (wal-, bil-, wa-bi-, ...).
PROCLITICS = re.compile("\u0648?(?:\u0627\u0644|\u0628\u0627\u0644|\u0644\u0644|\u0628|\u0644)?")


def is_acronym(alias: str) -> bool:
    """An alias with no lower-case letter and 2 to 6 letters (hyphens and digits not counted)."""
    letters = [c for c in alias if c.isalpha()]
    return 2 <= len(letters) <= 6 and not any(c.islower() for c in letters) and any(c.isupper() for c in letters)


def is_mixed_abbreviation(alias: str) -> bool:
    """A single word of 2 to 4 letters with a capital after a lower-case letter (LeT, JeM, HuJI)."""
    letters = [c for c in alias if c.isalpha()]
    if not 2 <= len(letters) <= 4 or " " in alias.strip():
        return False
    return any(a.islower() and b.isupper() for a, b in zip(letters, letters[1:]))


def is_case_sensitive(alias: str, case: str = "auto") -> bool:
    """Whether an alias matches only in its own letter case, given its entity's `case`."""
    if case == "sensitive":
        return True
    if case == "insensitive":
        return False
    return is_acronym(alias) or is_mixed_abbreviation(alias)


def ambiguous_names(entity: Entity) -> frozenset[str]:
    """The aliases of an entity that context and exclusions apply to."""
    if entity.ambiguous is not None:
        return frozenset(entity.ambiguous)
    if not entity.context and not entity.exclude:
        return frozenset()
    return frozenset(alias for alias in entity.names if is_acronym(alias) or is_mixed_abbreviation(alias))


def is_word(char: str) -> bool:
    return char.isalnum() or char == "_" or (char > "\x7f" and unicodedata.category(char)[0] == "M")


def is_arabic_script(char: str) -> bool:
    code = ord(char)
    return 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0x08A0 <= code <= 0x08FF or 0xFB50 <= code <= 0xFEFF


def search_key(normal_text: str) -> str:
    """What the automaton searches: folded text with every dash as a space."""
    return normal_text.replace("-", " ")




def proclitic_before(key: str, start: int) -> bool:
    """Whether the letters attached before `start` are Arabic-script proclitics (و، ب، ل، ال، لل)."""
    begin = start
    while begin > 0 and is_word(key[begin - 1]):
        begin -= 1
    attached = key[begin:start]
    return bool(attached) and PROCLITICS.fullmatch(attached) is not None
