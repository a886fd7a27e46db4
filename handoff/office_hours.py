"""When the experts' desk is staffed: weekly hours from a setting, closed on Dutch holidays."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

ALWAYS = "always"
HOLIDAY_COUNTRY = "NL"

# English and Dutch abbreviations, so the setting can be written either way.
DAY_NAMES: dict[str, int] = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "ma": 0, "di": 1, "wo": 2, "do": 3, "vr": 4, "za": 5, "zo": 6,
}

_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
# Opening hours never need more than a week and a holiday stretch to come round again.
_SEARCH_DAYS = 21

Range = tuple[int, int]  # minutes since midnight: [start, end)


def _minutes(text: str, spec: str) -> int:
    match = _TIME.match(text)
    if match is None:
        raise ValueError(f"office hours {spec!r}: {text!r} is not a time like 09:00")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"office hours {spec!r}: {text!r} is not a time of day")
    return hours * 60 + minutes


def _days(text: str, spec: str) -> list[int]:
    days: list[int] = []
    for item in text.split(","):
        first, _, last = item.partition("-")
        for name in (first, last or first):
            if name not in DAY_NAMES:
                raise ValueError(
                    f"office hours {spec!r}: unknown day {name!r} (use mon..sun or ma..zo)")
        start, end = DAY_NAMES[first], DAY_NAMES[last or first]
        # A range like "sat-mon" wraps over the end of the week.
        days.extend((start + step) % 7 for step in range((end - start) % 7 + 1))
    return days


def _ranges(text: str, spec: str) -> list[Range]:
    ranges: list[Range] = []
    for item in text.split(","):
        start_text, dash, end_text = item.partition("-")
        if not dash:
            raise ValueError(f"office hours {spec!r}: {item!r} is not a range like 09:00-17:00")
        start, end = _minutes(start_text, spec), _minutes(end_text, spec)
        if start >= end:
            raise ValueError(f"office hours {spec!r}: {item!r} must end after it starts")
        ranges.append((start, end))
    return ranges


def parse_office_hours(spec: str) -> dict[int, list[Range]] | None:
    """Weekday (0 = Monday) to opening ranges, or None for "always"; ValueError if malformed."""
    text = spec.strip().lower()
    if text == ALWAYS:
        return None
    # Let people write "mon - fri 09:00 - 17:00" or "mon, wed 9:00-12:00, 13:00-17:00".
    text = re.sub(r"\s*([-,])\s*", r"\1", text)
    week: dict[int, list[Range]] = {}
    for segment in filter(None, (part.strip() for part in text.split(";"))):
        days_text, _, ranges_text = segment.partition(" ")
        if not ranges_text.strip():
            raise ValueError(f"office hours {spec!r}: {segment!r} needs days and hours, "
                             "e.g. mon-fri 09:00-17:00")
        ranges = _ranges(ranges_text.replace(" ", ""), spec)
        for day in _days(days_text, spec):
            week.setdefault(day, []).extend(ranges)
    if not week:
        raise ValueError(
            f"office hours {spec!r}: empty; use e.g. 'mon-fri 09:00-17:00' or 'always'")
    return {day: sorted(ranges) for day, ranges in week.items()}


class OfficeHours:
    """Opening hours in the desk's time zone; Dutch public holidays are closed."""

    def __init__(self, spec: str, tz: ZoneInfo) -> None:
        self.spec = spec
        self.tz = tz
        self._week = parse_office_hours(spec)
        self._holidays = holidays.country_holidays(HOLIDAY_COUNTRY)

    def _local(self, at: datetime) -> datetime:
        if at.tzinfo is None:
            raise ValueError("office hours need a timezone-aware datetime")
        return at.astimezone(self.tz)

    def _ranges_on(self, day: date) -> list[Range]:
        assert self._week is not None
        if day in self._holidays:
            return []
        return self._week.get(day.weekday(), [])

    def is_open(self, at: datetime) -> bool:
        """Whether experts are on duty at that moment."""
        local = self._local(at)
        if self._week is None:
            return True
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self._ranges_on(local.date()))

    def next_open(self, at: datetime) -> datetime:
        """The moment the desk is next open, in the desk's zone; `at` itself if open now."""
        local = self._local(at)
        if self.is_open(local):
            return local
        for offset in range(_SEARCH_DAYS):
            day = local.date() + timedelta(days=offset)
            for start, _ in self._ranges_on(day):
                opening = datetime.combine(day, time(start // 60, start % 60), tzinfo=self.tz)
                if opening > local:
                    return opening
        raise ValueError(f"office hours {self.spec!r}: no opening within {_SEARCH_DAYS} days")
