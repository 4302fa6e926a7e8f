"""monitor.times: reading a stored moment back (`instant`), as the store compares alerts' reports."""

from __future__ import annotations

import pytest

from monitor import times


@pytest.mark.parametrize("text, expected", [
    ("2026-11-17T05:05:00+00:00", 1794891900.0),
    ("2026-11-17T10:05:00+05:00", 1794891900.0),  # another zone: the same moment
    ("2026-11-17T05:05:00", 1794891900.0),  # no zone: UTC (a page's date)
    (times.iso(1794891900.0), 1794891900.0),  # what `iso` writes reads back
    ("", None), (None, None), ("last Tuesday", None),
])
def test_instant(text, expected):
    assert times.instant(text) == expected
