"""Who claimed an attack, as the event features read it: a watched actor named in a sentence
that says it claimed the attack (in English, Urdu, Pashto, Dari, Arabic or Hindi), never a
denial, an official's blame, a sentence saying nobody has claimed it, or a claim of another
incident the report recalls. Texts written for these tests (the events are made up)."""

from __future__ import annotations

import pytest

from monitor import incidents


@pytest.mark.parametrize(("title", "text", "claimed"), [
    ("Blast hits police station in Bannu", "A suicide bomber struck a police station in Bannu on Monday, killing six "
     "officers. The Tehreek-e-Taliban Pakistan claimed responsibility in a statement.", "pack.ttp"),
    ("Train attacked in Bolan", "Gunmen attacked a passenger train in Bolan, Balochistan. Responsibility for the attack "
     "was claimed by the Baloch Liberation Army.", "pack.bla"),
    ("Mosque bombing in Kunduz", "Islamic State claimed the attack on a Shia mosque in Kunduz, Afghanistan.", "pack.iskp"),
    ("Checkpost attacked", "No group has claimed responsibility for the attack in Lakki Marwat, but officials blamed "
     "the TTP.", None),
    ("Checkpost attacked", "Police blamed the Tehreek-e-Taliban Pakistan for the attack in Lakki Marwat.", None),
    ("Checkpost attacked", "The TTP denied any role in the attack in Lakki Marwat.", None),
    ("Blast in Kandahar mosque", "A blast hit a mosque in Kandahar on Friday, a week after an attack in Kunduz "
     "claimed by Islamic State, Afghanistan's officials said.", None),
    ("بنوں میں حملہ", "تحریک طالبان پاکستان نے بنوں میں پولیس اسٹیشن پر حملے کی ذمہ داری قبول کر لی ہے۔", "pack.ttp"),
    ("तुर्बत में हमला", "इस हमले की जिम्मेदारी बलूच लिबरेशन आर्मी ने ली है।", "pack.bla"),
])
def test_who_claimed_the_attack(title, text, claimed):
    assert incidents.read(title, text).claimed_by == claimed


@pytest.mark.parametrize("sentence", [
    "The TTP claimed responsibility.", "THE GROUP CLAIMS CREDIT FOR IT.", "Responsibility for it was claimed by the BLA.",
    "Islamic State claimed the attack.", "The group took full responsibility.", "It owned responsibility.",
    "Militants claimed that their fighters carried it out.", "It claimed the blast was revenge.",
    "گروپ نے حملے کی ذمہ داری قبول کی", "ذمے داری قبول کر لی", "د برید مسؤولیت یې ومانه", "مسئولیت این حمله را پذیرفت",
    "مسوولیت حمله", "أعلن مسؤوليته عن الهجوم", "أعلنت مسؤولية التنظيم", "تبنى تنظيم الدولة الهجوم", "تبنّي الهجوم",
    "इस हमले की जिम्मेदारी बलूच लिबरेशन आर्मी ने ली है।", "हमले की ज़िम्मेदारी लेने वाले", "El grupo reivindicó el ataque.",
])
def test_the_quick_search_for_claim_words_never_misses_a_claim(sentence):
    """A text none of whose words CLAIM_WORDS finds is not searched for claims sentence by
    sentence: so every sentence CLAIMED finds, CLAIM_WORDS finds too."""
    assert incidents.CLAIMED.search(sentence), sentence
    assert incidents.CLAIM_WORDS.search(sentence), sentence
