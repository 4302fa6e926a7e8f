"""monitor.text: normalize() with its offsets, span(), fold() and sentence_around()."""

from __future__ import annotations

import pytest
from conftest import corpus_dir

from monitor.text import Normalized, fold, normalize, sentence_around

SAMPLES = [
    "",
    "   ",
    "plain ascii text",
    "  Tehrīk \u2013 i\n\n Taliban\u2019s  ",
    "\u0301leading combining mark",
    "\ufb01ghters in \uff30\uff45\uff53\uff48\uff41\uff57\uff41\uff52",
    "مُحَمَّد نے کہا: طالبــان\u200cها",
    "cafe\u0301 cr\u00e8me \u00bd",
    "line one\r\nline two\tthree\u00a0four\u2003five",
    "Khyber\u2011Pakhtunkhwa \u2014 ISIS\u2010K",
    "\u064a\u0643\u0629\u0623 ok",
]


# --- offsets --------------------------------------------------------------------------------

@pytest.mark.parametrize("text", SAMPLES)
def test_lengths_agree(text):
    normal = normalize(text)
    assert isinstance(normal, Normalized)
    assert len(normal.cased) == len(normal.folded) == len(normal.offsets)


@pytest.mark.parametrize("text", SAMPLES)
def test_offsets_index_the_original(text):
    normal = normalize(text)
    assert all(0 <= offset < len(text) for offset in normal.offsets)
    assert list(normal.offsets) == sorted(normal.offsets)
    for char, offset in zip(normal.cased, normal.offsets):
        # a space comes from whitespace, anything else from a character that is not whitespace
        assert (char == " ") == text[offset].isspace(), (char, offset, text[offset])


@pytest.mark.parametrize("text", SAMPLES)
def test_no_leading_trailing_or_double_spaces(text):
    cased = normalize(text).cased
    assert cased == cased.strip(" ")
    assert "  " not in cased


def test_offsets_exact():
    text = "  Tehrīk \u2013 i\n\n Taliban\u2019s  "
    normal = normalize(text)
    assert normal.cased == "Tehrik-i Taliban's"
    assert normal.folded == "tehrik-i taliban's"
    assert normal.offsets == (2, 3, 4, 5, 6, 7, 9, 11, 12, 15, 16, 17, 18, 19, 20, 21, 22, 23)
    assert [normal.origin(i) for i in range(len(normal.cased))] == list(normal.offsets)


def test_ascii_is_unchanged_with_identity_offsets():
    text = "The TTP said: 'no', twice - well-known."
    normal = normalize(text)
    assert normal.cased == "The TTP said: 'no', twice-well-known."
    assert normal.offsets == (*range(25), 26, *range(28, len(text)))
    plain = "The TTP said: 'no', twice; well-known."
    assert normalize(plain).cased == plain
    assert normalize(plain).offsets == tuple(range(len(plain)))


def test_expanding_character_maps_every_piece_to_its_source():
    normal = normalize("\ufb01ne")  # the "fi" ligature
    assert normal.cased == "fine"
    assert normal.offsets == (0, 0, 1, 2)


def test_dropped_characters_leave_no_offsets():
    text = "طالبــان"  # two tatweels (U+0640) inside
    normal = normalize(text)
    assert normal.cased == "طالبان"
    assert normal.offsets == (0, 1, 2, 3, 6, 7)


# --- span -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "needle", "original"), [
    ("The  Tehrīk\u2011i-Taliban said", "tehrik-i-taliban", "Tehrīk\u2011i-Taliban"),
    ("a \ufb01ghters b", "fighters", "\ufb01ghters"),
    ("Khyber\n\n   Pakhtunkhwa!", "khyber pakhtunkhwa", "Khyber\n\n   Pakhtunkhwa"),
    ("قالت طالبــان إن", "طالبان", "طالبــان"),
    ("ترجمان تحریک\u200c طالبان", "تحریک طالبان", "تحریک\u200c طالبان"),
    ("\uff34\uff34\uff30 said", "ttp", "\uff34\uff34\uff30"),
])
def test_span_maps_back_to_original(text, needle, original):
    normal = normalize(text)
    start = normal.folded.index(needle)
    begin, end = normal.span(start, start + len(needle))
    assert text[begin:end] == original


def test_span_of_whole_text():
    text = "  Peshāwar\u2014Kabul  "
    normal = normalize(text)
    begin, end = normal.span(0, len(normal.cased))
    assert text[begin:end] == "Peshāwar\u2014Kabul"


# --- diacritics -------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("Pākistān", "Pakistan"),
    ("Tehrīk-i-Tālibān", "Tehrik-i-Taliban"),
    ("Ḥaqqānī", "Haqqani"),
    ("Peshāwar", "Peshawar"),
    ("São Tomé", "Sao Tome"),
    ("Ürümqi", "Urumqi"),
    ("Łódź", "Łodz"),  # Ł has no decomposition: kept, only the real diacritics go
    ("ÅNGSTRÖM", "ANGSTROM"),
])
def test_latin_diacritics_removed(text, expected):
    assert normalize(text).cased == expected
    assert len(normalize(text).offsets) == len(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("Pa\u0304kista\u0304n", "Pakistan"),
    ("cafe\u0301", "cafe"),
    ("Tehri\u0304k-i-Taliban", "Tehrik-i-Taliban"),
], ids=["pakistan-macrons", "cafe-acute", "tehrik-macron"])
def test_decomposed_latin_diacritics_removed(text, expected):
    """Text in NFD (base letter + combining mark) must end up like its NFC form."""
    assert normalize(text).cased == expected


@pytest.mark.parametrize("text", ["Йемен", "Ελλάδα", "Йод"])
def test_non_latin_letters_keep_their_marks(text):
    # only Latin diacritics are removed: Cyrillic short i and Greek tonos stay
    assert normalize(text).cased == text


def test_nfkc_compatibility_forms():
    assert normalize("\uff34\uff34\uff30").cased == "TTP"  # fullwidth
    assert normalize("\ufb01").cased == "fi"
    assert normalize("\u2460").cased == "1"  # circled digit one


# --- dashes, apostrophes, whitespace --------------------------------------------------------

@pytest.mark.parametrize("dash", [
    "-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\ufe58", "\ufe63", "\uff0d",
])
def test_every_dash_becomes_hyphen_minus(dash):
    normal = normalize(f"Khyber{dash}Pakhtunkhwa")
    assert normal.cased == "Khyber-Pakhtunkhwa"
    assert normal.offsets == tuple(range(18))


@pytest.mark.parametrize("apostrophe", ["'", "\u2018", "\u2019", "\u02bc", "\u02bb", "`", "\u00b4", "\u2032"])
def test_every_apostrophe_becomes_ascii(apostrophe):
    assert normalize(f"TTP{apostrophe}s").cased == "TTP's"


@pytest.mark.parametrize(("text", "expected"), [
    ("a  b", "a b"),
    ("a\tb", "a b"),
    ("a\n\n\nb", "a b"),
    ("a\r\nb", "a b"),
    ("a\u00a0b", "a b"),
    ("a\u2003\u2009b", "a b"),
    ("a \u3000 b", "a b"),
    ("\n\t a b \n", "a b"),
    (" \u00a0\n", ""),
])
def test_whitespace_collapsed(text, expected):
    assert normalize(text).cased == expected


# --- Arabic script --------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("مُحَمَّد", "محمد"),  # damma, fatha, shadda, fatha
    ("كِتَابٌ", "کتاب"),  # kasra, fatha, dammatan; Arabic kaf folds to keheh
    ("تحریکِ", "تحریک"),  # Urdu izafat zer
    ("طالبــان", "طالبان"),  # tatweel
    ("می\u200cخواهم", "میخواهم"),  # ZWNJ
    ("لا\u200dلا", "لالا"),  # ZWJ
    ("\u200fپاکستان\u200e", "پاکستان"),  # RLM, LRM
    ("رحمٰن", "رحمن"),  # superscript alef
])
def test_arabic_marks_removed(text, expected):
    assert normalize(text).cased == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("\u064a", "\u06cc"),  # Arabic yeh -> Farsi yeh
    ("\u0649", "\u06cc"),  # alef maksura -> Farsi yeh
    ("\u0643", "\u06a9"),  # Arabic kaf -> keheh
    ("\u0629", "\u0647"),  # teh marbuta -> heh
    ("\u06c1", "\u0647"),  # heh goal -> heh
    ("\u0623\u0625\u0622", "\u0627\u0627\u0627"),  # alef with hamza/madda -> alef
    ("تحريك طالبان پاكستان", "تحریک طالبان پاکستان"),
])
def test_arabic_letter_variants_folded(text, expected):
    assert normalize(text).cased == expected


# --- case -----------------------------------------------------------------------------------

def test_folded_is_lower_cased_and_cased_keeps_case():
    normal = normalize("ISIS-K and Tehreek")
    assert normal.cased == "ISIS-K and Tehreek"
    assert normal.folded == "isis-k and tehreek"


def test_fold_helper():
    assert fold("  Tehrīk\u2011E  TALIBAN\u2019s ") == "tehrik-e taliban's"
    assert fold("Tehrīk\u2011E") == normalize("Tehrīk\u2011E").folded


# --- sentence_around ------------------------------------------------------------------------

def around(text: str, needle: str, **kwargs) -> tuple[str, int]:
    start = text.index(needle)
    sentence, offset = sentence_around(text, start, start + len(needle), **kwargs)
    assert text[offset:offset + len(sentence)] == sentence  # the offset locates it in the text
    return sentence, offset


def test_sentence_in_the_middle():
    text = "First one. The TTP attacked a post! Was anyone hurt? Nobody knows."
    assert around(text, "TTP") == ("The TTP attacked a post!", 11)
    assert around(text, "hurt")[0] == "Was anyone hurt?"


def test_first_and_last_sentence():
    text = "The TTP struck. Police responded."
    assert around(text, "TTP") == ("The TTP struck.", 0)
    assert around(text, "Police") == ("Police responded.", 16)


def test_single_sentence_and_surrounding_space():
    assert sentence_around("TTP", 0, 3) == ("TTP", 0)
    text = "  Lead.   TTP struck.  "
    assert around(text, "TTP") == ("TTP struck.", 10)


def test_newline_ends_a_sentence():
    text = "Headline without a stop\nThe body mentions KP here\n\nFooter line"
    assert around(text, "KP") == ("The body mentions KP here", 24)


def test_urdu_full_stop_and_question_mark():
    text = "پہلا جملہ۔ دوسرا جملہ تحریک کے بارے میں ہے۔ کیا یہ سچ ہے؟ آخری"
    assert around(text, "تحریک")[0] == "دوسرا جملہ تحریک کے بارے میں ہے۔"
    assert around(text, "سچ")[0] == "کیا یہ سچ ہے؟"


def test_span_across_sentences_keeps_both():
    text = "One. Two TTP. Three KP here. Four."
    start, end = text.index("TTP"), text.index("KP") + 2
    sentence, offset = sentence_around(text, start, end)
    assert sentence == "Two TTP. Three KP here."
    assert offset == 5


def test_long_sentence_is_cut_around_the_span():
    text = "word " * 200 + "TTP" + " word" * 200 + "."
    sentence, offset = around(text, "TTP", limit=100)
    assert "TTP" in sentence
    assert len(sentence) <= 110
    assert sentence.startswith("word") and sentence.endswith("word")  # cut at word boundaries
    assert text.index("TTP") - offset < 60  # roughly centred on the span


# --- dashes with spaces, invisible characters ------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("Khyber - Pakhtunkhwa", "Khyber-Pakhtunkhwa"),
    ("Khyber -- Pakhtunkhwa", "Khyber-Pakhtunkhwa"),
    ("Khyber \u2014 Pakhtunkhwa", "Khyber-Pakhtunkhwa"),
    ("Khyber\u2013\u2013Pakhtunkhwa", "Khyber-Pakhtunkhwa"),
    ("Tehreek-\ne-\nTaliban", "Tehreek-e-Taliban"),
    ("- lead", "-lead"),
    ("tail -", "tail-"),
    ("well-known", "well-known"),
])
def test_no_space_next_to_a_dash_and_no_run_of_dashes(text, expected):
    assert normalize(text).cased == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Pakh\u00adtunkhwa", "Pakhtunkhwa"),  # soft hyphen (HTML &shy;)
    ("\ufeffKabul", "Kabul"),  # byte order mark
    ("Ka\u2060bul", "Kabul"),  # word joiner
    ("\u202bکابل\u202c", "کابل"),  # bidi embedding
    ("\u2067کابل\u2069", "کابل"),  # bidi isolate
    ("Kabul\u200bKandahar", "Kabul Kandahar"),  # zero-width space is a word break
])
def test_invisible_characters(text, expected):
    assert normalize(text).cased == expected


# --- the fast paths against a plain reference implementation ---------------------------------

def reference(text: str) -> tuple[str, list[int]]:
    """Character by character, the rules of the module docstring, no shortcuts."""
    import unicodedata

    from monitor import text as textmod

    out: list[tuple[str, int]] = []
    for index, char in enumerate(text):
        if unicodedata.combining(char) and char not in textmod.chars.DROPPED:
            if not out or out[-1][0] == " " or textmod.chars.is_latin(out[-1][0]):
                continue
            piece = unicodedata.normalize("NFKC", char)
        else:
            piece = textmod.chars.fold_char(char)
        for ch in piece:
            if ch == " ":
                if not out or out[-1][0] in " -":
                    continue
            elif ch == "-":
                if out and out[-1][0] == " ":
                    out.pop()
                if out and out[-1][0] == "-":
                    continue
            out.append((ch, index))
    if out and out[-1][0] == " ":
        out.pop()
    return "".join(ch for ch, _ in out), [index for _, index in out]


POOL = [" ", "  ", "\n", "\t", "-", "\u2014", "\u2011", "a", "B", "z", "\u00e9", "e\u0301", "\u0301", "\ufb01",
        "\u2019", "`", "\u06cc", "\u064a", "\u06c1", "\u064e", "\u0640", "\u200c", "\u00ad", "1", "\u0130", "\u00a0",
        "\u0915", "\u093f", "\u094d", "\U0001F6A8", "'", ".", "\uff34", "\u0627\u0644", "\u0643"]


@pytest.mark.parametrize("seed", range(300))
def test_normalize_agrees_with_the_reference(seed):
    import random

    rng = random.Random(seed)
    text = "".join(rng.choice(POOL) for _ in range(rng.randint(0, 40)))
    normal = normalize(text)
    cased, offsets = reference(text)
    assert normal.cased == cased, repr(text)
    assert list(normal.offsets) == offsets, repr(text)
    assert len(normal.folded) == len(normal.cased)


def test_normalize_does_not_depend_on_what_it_read_before():
    """Runs are kept by their characters and what precedes them: a mark after characters that
    are dropped (a soft hyphen) follows the character before them, so the same run after a
    Latin letter and after another script's normalises differently, whichever came first."""
    import random

    assert normalize("\u0915\u00ad\u094d").cased == "\u0915\u094d"  # after a Devanagari letter: kept
    assert normalize("1\u00ad\u094d").cased == "1"  # the same run after "1": dropped
    rng = random.Random(7)
    for _ in range(30_000):
        text = "".join(rng.choice(POOL) for _ in range(rng.randint(0, 10)))
        assert normalize(text).cased == reference(text)[0], repr(text)


def test_normalize_agrees_with_the_reference_on_real_sentences():
    for text in [*SAMPLES, "The TTP\u2019s spokesman \u2014 in Peshawar \u2014 said: \u201cno\u201d.\n\nNext  line",
                 "کالعدم تحریکِ طالبان پاکستان نے ذمہ داری قبول کر لی۔ \u200cمی\u200cخواهم", "भारतीय सेना ने कहा"]:
        cased, offsets = reference(text)
        assert normalize(text).cased == cased
        assert list(normalize(text).offsets) == offsets


# ---------------------------------------------------------------- the fast paths agree with the slow one

PIECES = (" ", "  ", "-", "--", " - ", "\n", "\n\n", "\r\n", "\t", "’", "`", "—", " —", "— ", "é", "\u00a0", "x",
          "Ab", "ي", "“", "\u200c", "\u0301", "…", "ﬁ", "½", "ـ", "İ", "ẞ", "\u2028", "Peshawar", "پشاور")


def _same(text: str) -> bool:
    from monitor import text as module

    fast, slow = module.normalize.__wrapped__(text), module._slow(text)
    return (fast.cased, fast.folded, fast.starts, fast.origins) == (slow.cased, slow.folded, slow.starts, slow.origins)


def test_the_fast_paths_give_what_the_slow_path_gives_on_awkward_texts():
    """Curly quotes, dashes, line breaks and accents take a path that replaces them where they
    stand and then folds runs of spaces and dashes; it must give exactly the normal form and
    offsets the character-run path gives, whatever the mix (20,000 seeded random texts)."""
    import random

    rng = random.Random(20)
    texts = ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 14))) for _ in range(20_000)]
    assert [text for text in texts if not _same(text)] == []


def test_viramas_and_nuktas_after_their_letters_take_the_fast_path_to_the_same_result():
    """A Bengali or Devanagari virama or nukta after a letter of its script is kept where it
    stands (no slow path for Bangla and Hindi news); after a Latin letter, a space, a dash or at
    the start it is left to the slow path, and either way the result is the slow path's."""
    import random

    from monitor import text as module

    tables = module.chars.get_tables()
    assert module._one_to_one("\u09ac\u09be\u0982\u09b2\u09be\u09a6\u09c7\u09b6\u09c7\u09b0 \u09aa\u09cd\u09b0\u09a7\u09be\u09a8", tables) is not None
    assert module._one_to_one("\u0939\u093f\u0928\u094d\u0926\u0940", tables) is not None
    assert module._one_to_one("a\u09cd", tables) is None and module._one_to_one("\u09cd\u0995", tables) is None
    pieces = ("\u0995", "\u09cd", "\u09bc", "\u09dc", "\u0915", "\u094d", "\u093c", "a", "\u00e9", "\u0301", " ", "-", "\n",
              "\u200c", "\u064a", "\u0650", "\u2014")
    rng = random.Random(9)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(20_000)]
    assert [text for text in texts if not _same(text)] == []


@pytest.mark.skipif(corpus_dir() is None, reason="needs the shared corpus (NEWSMON_CORPUS)")
def test_the_fast_paths_give_what_the_slow_path_gives_on_real_news():
    import json

    corpus = corpus_dir()
    texts = []
    for path in sorted((corpus / "events").glob("e*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        texts += [data["text"], data.get("title") or ""]
    for line in (corpus / "ecbplus" / "docs.jsonl").read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        texts += [data.get("text") or "", data.get("title") or ""]
    assert len(texts) > 2000
    assert [text[:80] for text in texts if not _same(text)] == []


def test_index_finds_back_what_offsets_bisection_finds():
    """`Normalized.index` answers `bisect_left(offsets, position)` from the segments alone
    (building `offsets` for a long article cost more than matching it)."""
    import bisect
    import random

    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 12)))
        normal = normalize(text)
        for position in range(len(text) + 2):
            assert normal.index(position) == bisect.bisect_left(normal.offsets, position), (text, position)
