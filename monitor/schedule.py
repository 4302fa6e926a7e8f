"""When things happen next: when a feed may be polled (backoff after failures, the server's
Retry-After, its own TTL / Cache-Control as a floor) and when a digest goes out (a period or a
cron expression in the channel's time zone). Pure functions of their inputs (the caller passes
the random jitter source), so the policy is tested without clocks or sleeps."""

from __future__ import annotations

import email.utils
import math
import random
import re
from datetime import datetime, timedelta, timezone

_SECOND = timedelta(seconds=1)
JITTER = 0.1  # +-10 %: retries after failures never fire in lockstep
RUN_JITTER = 0.01  # +-1 % on each regular poll: feeds keep the places `phase` gave them in their interval
GOLDEN = (math.sqrt(5) - 1) / 2  # each next phase falls into one of the largest gaps the others leave


def jittered(seconds: float, rng: random.Random | None = None) -> float:
    return seconds * (rng or random).uniform(1 - JITTER, 1 + JITTER)


def phase(number: int) -> float:
    """Where in its interval the `number`th feed placed polls (a fraction, 0 <= phase < 1).
    Feeds polled at one moment every interval make bursts (a cycle's worth of new entries
    queued for two workers at once, and alerts waiting behind them), and idle time between;
    spread over the interval, the same polls come one at a time. Consecutive numbers are a
    golden-ratio step apart, so however many feeds there are (and feeds a reload adds later)
    no gap between two phases is more than about 2.6 times another."""
    return (0.5 + number * GOLDEN) % 1.0


def phase_slot(anchor: float, place: float, every: float, after: float) -> float:
    """The first time at or after `after` that is `place` (a `phase`) into an interval of
    `every` seconds counted from `anchor`: anchor + (place + k) * every for a whole k."""
    return anchor + (place + math.ceil((after - anchor) / every - place)) * every


def failure_hold(interval: float, failures: int, cap: float, retry_after: float | None = None,
                 rng: random.Random | None = None) -> float:
    """Seconds to wait before polling again after `failures` consecutive failures (>= 1).

    The first failure waits for the next regular poll (no hold); then the wait doubles from
    twice the interval, capped at `cap`: polling slows down but never stops. A server's
    Retry-After is honoured up to the cap."""
    hold = 0.0
    if failures >= 2:
        hold = jittered(min(cap, interval * 2 ** (failures - 1)), rng)
    if retry_after is not None:
        hold = max(hold, min(cap, retry_after))
    return min(hold, cap * (1 + JITTER))


def success_hold(interval: float, explicit_interval: bool, cap: float, ttl: float | None = None,
                 max_age: float | None = None) -> float:
    """Seconds to wait after a successful poll: the feed's TTL or Cache-Control max-age when it
    is longer than the interval (a floor the publisher asked for), unless the user set the
    feed's interval explicitly; 0 means the regular schedule decides."""
    if explicit_interval:
        return 0.0
    floor = max(ttl or 0.0, max_age or 0.0)
    return min(floor, cap) if floor > interval else 0.0


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)


MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*\"?(\d+)", re.IGNORECASE)


def parse_max_age(cache_control: str | None) -> float | None:
    """max-age (or s-maxage) seconds from a Cache-Control header, or None; `no-cache` and
    `no-store` give None."""
    if not cache_control or re.search(r"no-(?:cache|store)", cache_control, re.IGNORECASE):
        return None
    found = MAX_AGE.search(cache_control)
    return float(found.group(1)) if found else None


# ---------------------------------------------------------------- digests


def cron_problem(expression: str, zone: str = "UTC") -> str | None:
    """Why a five-field cron expression cannot be used, or None."""
    try:
        _cron(expression, zone)
    except ValueError as error:
        return str(error)
    return None


def _cron(expression: str, zone: str):
    from zoneinfo import ZoneInfo

    from apscheduler.triggers.cron import CronTrigger  # only digest channels pay for this import

    return CronTrigger.from_crontab(expression, timezone=ZoneInfo(zone))


def next_digest(after: float, *, every: float | None = None, cron: str | None = None, zone: str = "UTC") -> float:
    """The first digest time strictly after `after` (a Unix time). A period (`every`) is
    aligned to local midnight in `zone` when it divides a day ("1h": on the hour, "1d": at
    midnight), else to the Unix epoch; a cron expression is read in `zone`."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    if cron is not None:
        moment = datetime.fromtimestamp(after, tz)
        fire = _cron(cron, zone).get_next_fire_time(None, moment)
        if fire is not None and fire.timestamp() <= after:
            fire = _cron(cron, zone).get_next_fire_time(fire, moment.replace(microsecond=0) + _SECOND)
        if fire is None:
            raise ValueError(f"the cron expression {cron!r} never fires again")
        return fire.timestamp()
    if not every:
        raise ValueError("a digest needs a period or a cron expression")
    if 86400 % every == 0:
        local = datetime.fromtimestamp(after, tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        return midnight + (int((after - midnight) // every) + 1) * every
    return (int(after // every) + 1) * every



# ---------------------------------------------------------------- quiet hours

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^(?:(?P<days>[a-z]{3}(?:-[a-z]{3})?(?:,[a-z]{3}(?:-[a-z]{3})?)*)\s+)?"
                     r"(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$")


def quiet_window(text: str) -> tuple[frozenset[int], int, int]:
    """A quiet-hours window, "22:00-07:00", "sat-sun 00:00-24:00", "fri 22:00-07:00" or
    "mon,wed 12:00-13:00": (the weekdays it starts on, 0 = Monday; start and end in minutes
    after midnight). One that crosses midnight belongs to the day it starts. Raises ValueError
    with what is wrong."""
    found = _WINDOW.match(text.strip().lower())
    if not found:
        raise ValueError(f"expected a window such as \"22:00-07:00\" or \"sat-sun 00:00-24:00\", got {text!r}")
    days: set[int] = set()
    for part in (found["days"] or "mon-sun").split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"unknown day in {text!r} (days: {', '.join(DAYS)})")
        start, end = DAYS.index(first), DAYS.index(last or first)
        days.update(range(start, end + 1) if start <= end else (*range(start, 7), *range(0, end + 1)))
    minutes = []
    for clock in (found["start"], found["end"]):
        hours, mins = map(int, clock.split(":"))
        if hours > 24 or mins > 59 or (hours == 24 and mins):
            raise ValueError(f"{clock!r} in {text!r} is not a time of day (00:00 to 24:00)")
        minutes.append(hours * 60 + mins)
    if minutes[0] == minutes[1]:
        raise ValueError(f"{text!r} is empty: it starts when it ends")
    return frozenset(days), minutes[0], minutes[1]


def quiet_until(windows: tuple[str, ...], zone: str, now: float) -> float | None:
    """When the quiet hours `now` falls in end (windows that touch or overlap count as one), or
    None when `now` is not in quiet hours. Wall-clock times in `zone`, so a DST change moves
    the window with the clock."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    parsed = [quiet_window(text) for text in windows]

    def covering(moment: float) -> float | None:
        local = datetime.fromtimestamp(moment, tz)
        for back in (1, 0):  # a window that started yesterday may still run
            day = (local - timedelta(days=back)).date()
            for days, start, end in parsed:
                if day.weekday() not in days:
                    continue
                opened = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(minutes=start)
                closed = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(
                    minutes=end if end > start else end + 24 * 60)
                opened = opened.replace(tzinfo=None).replace(tzinfo=tz)  # wall time, resolved in the zone
                closed = closed.replace(tzinfo=None).replace(tzinfo=tz)
                if opened.timestamp() <= moment < closed.timestamp():
                    return closed.timestamp()
        return None

    until = covering(now)
    if until is None:
        return None
    for _ in range(16):  # a window that ends where another begins: quiet goes on
        later = covering(until)
        if later is None or later <= until:
            break
        until = later
    return until
