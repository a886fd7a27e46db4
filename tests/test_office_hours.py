"""Office hours: weekly hours from the setting, Dutch holidays, the next opening."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handoff.office_hours import OfficeHours, parse_office_hours

AMS = ZoneInfo("Europe/Amsterdam")


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in Amsterdam."""
    return datetime(year, month, day, hour, minute, tzinfo=AMS)


@pytest.fixture
def weekdays() -> OfficeHours:
    """The default: Monday to Friday, nine to five."""
    return OfficeHours("mon-fri 09:00-17:00", AMS)


def test_weekday_hours(weekdays: OfficeHours) -> None:
    # Tuesday 3 March 2026.
    assert not weekdays.is_open(at(2026, 3, 3, 8, 59))
    assert weekdays.is_open(at(2026, 3, 3, 9, 0))
    assert weekdays.is_open(at(2026, 3, 3, 16, 59))
    assert not weekdays.is_open(at(2026, 3, 3, 17, 0))


def test_weekend_is_closed(weekdays: OfficeHours) -> None:
    assert not weekdays.is_open(at(2026, 3, 7, 12))  # Saturday
    assert not weekdays.is_open(at(2026, 3, 8, 12))  # Sunday


def test_dutch_public_holidays_are_closed(weekdays: OfficeHours) -> None:
    assert not weekdays.is_open(at(2026, 4, 27, 11))  # Koningsdag, a Monday
    assert weekdays.is_open(at(2026, 4, 28, 11))
    assert weekdays.is_open(at(2025, 12, 24, 11))
    assert not weekdays.is_open(at(2025, 12, 25, 11))  # Christmas, a Thursday
    assert not weekdays.is_open(at(2025, 12, 26, 11))


def test_split_friday() -> None:
    hours = OfficeHours("mon-thu 09:00-17:00; fri 09:00-12:30", AMS)
    assert hours.is_open(at(2026, 3, 5, 16))  # Thursday afternoon
    assert hours.is_open(at(2026, 3, 6, 12, 29))
    assert not hours.is_open(at(2026, 3, 6, 12, 30))


def test_always_is_open_even_on_holidays() -> None:
    hours = OfficeHours("always", AMS)
    assert hours.is_open(at(2025, 12, 25, 3))
    assert hours.next_open(at(2025, 12, 25, 3)) == at(2025, 12, 25, 3)


def test_next_open_across_the_weekend(weekdays: OfficeHours) -> None:
    assert weekdays.next_open(at(2026, 3, 6, 17, 30)) == at(2026, 3, 9, 9)  # Friday -> Monday
    assert weekdays.next_open(at(2026, 3, 7, 10)) == at(2026, 3, 9, 9)  # Saturday -> Monday


def test_next_open_skips_koningsdag_after_the_weekend(weekdays: OfficeHours) -> None:
    assert weekdays.next_open(at(2026, 4, 24, 18)) == at(2026, 4, 28, 9)


def test_next_open_same_day_and_when_open(weekdays: OfficeHours) -> None:
    assert weekdays.next_open(at(2026, 3, 3, 7, 15)) == at(2026, 3, 3, 9)
    assert weekdays.next_open(at(2026, 3, 3, 10, 5)) == at(2026, 3, 3, 10, 5)


def test_next_open_is_in_the_desks_zone_across_dst(weekdays: OfficeHours) -> None:
    # Friday 27 March 2026, 17:30 in Amsterdam (CET); summer time starts that Sunday.
    opening = weekdays.next_open(datetime(2026, 3, 27, 16, 30, tzinfo=UTC))
    assert opening == at(2026, 3, 30, 9)
    assert opening.tzinfo == AMS and opening.utcoffset() == timedelta(hours=2)


def test_second_range_in_a_day() -> None:
    hours = OfficeHours("ma-vr 09:00-12:00, 13:00-17:00", AMS)
    assert not hours.is_open(at(2026, 3, 3, 12, 30))
    assert hours.next_open(at(2026, 3, 3, 12, 30)) == at(2026, 3, 3, 13)


def test_dutch_and_english_day_names_agree() -> None:
    assert parse_office_hours("ma-vr 09:00-17:00") == parse_office_hours("Mon - Fri 9:00-17:00")


def test_range_wrapping_over_the_week_end() -> None:
    week = parse_office_hours("sat-mon 10:00-24:00")
    assert week is not None and sorted(week) == [0, 5, 6]


@pytest.mark.parametrize(("spec", "message"), [
    ("", "empty"),
    ("weekdays 09:00-17:00", "unknown day 'weekdays'"),
    ("mon-fri", "needs days and hours"),
    ("mon-fri 9-17", "not a time like 09:00"),
    ("mon-fri 17:00-09:00", "must end after it starts"),
    ("mon-fri 09:00-25:00", "not a time of day"),
    ("mon-fri 09:00", "not a range"),
])
def test_invalid_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OfficeHours(spec, AMS)


def test_naive_datetime_is_refused(weekdays: OfficeHours) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        weekdays.is_open(datetime(2026, 3, 3, 10))
