"""The benchmark farm's published entries are one incident each: every place it sets them in is
read, from the entry's title and summary alone, as a district of its own. (A place the gazetteer
takes only with support nearby, such as "Tank", left an entry placed in Pakistan only, and it
joined another district's entry of the same day: one mail short in (h).)"""

from __future__ import annotations

import sys
from datetime import date

from conftest import ROOT

from monitor import incidents


def test_every_farm_place_reads_as_a_district_of_its_own():
    sys.path.insert(0, str(ROOT))  # the benchmarks are the checkout's, not the installed package's
    from bench import farm

    districts = []
    for number, place in enumerate(farm.PLACES):
        token = f"0-{number:x}"
        found = incidents.read(farm.event_title(number, token), farm.event_summary(number, token),
                               published=date(2026, 5, 28))
        # Chitral is a division of two districts (Upper and Lower): kept apart by its own name
        districts.append(found.district or (found.where[0] if found.where and found.where[0] != "pakistan" else None))
        assert districts[-1], f"{place}: read as {found.where}"
    assert len(set(districts)) == len(farm.PLACES)
