"""Swedish dates and times for calendar items (Europe/Stockholm, summer and winter time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from service.core.dates import (
    format_date,
    format_date_range,
    format_datetime,
    format_deadline,
    format_when,
)


@dataclass
class Item:
    all_day: bool
    start_date: date
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    end_date: date | None = None


def test_dates() -> None:
    assert format_date(date(2019, 9, 20)) == "20 september 2019"
    assert format_date(date(2019, 10, 4), weekday=True, year=False) == "fredag 4 oktober"
    assert format_deadline(date(2019, 10, 1), reference=date(2019, 8, 28)) == (
        "Sista anmälningsdag 1 oktober"
    )
    assert format_deadline(date(2020, 1, 10), reference=date(2019, 12, 1)) == (
        "Sista anmälningsdag 10 januari 2020"
    )


def test_timed_items_in_stockholm_time_summer_and_winter() -> None:
    summer = Item(
        all_day=False,
        start_date=date(2019, 10, 4),
        starts_at=datetime(2019, 10, 4, 8, 0, tzinfo=UTC),
        ends_at=datetime(2019, 10, 4, 10, 0, tzinfo=UTC),
    )
    assert format_when(summer, reference=date(2019, 8, 28)) == "fredag 4 oktober kl. 10.00–12.00"
    assert format_when(summer) == "fredag 4 oktober 2019 kl. 10.00–12.00"
    winter = Item(
        all_day=False,
        start_date=date(2020, 1, 15),
        starts_at=datetime(2020, 1, 15, 12, 30, tzinfo=UTC),
    )
    assert format_when(winter, reference=date(2020, 1, 1)) == "onsdag 15 januari kl. 13.30"
    overnight = Item(
        all_day=False,
        start_date=date(2020, 3, 23),
        starts_at=datetime(2020, 3, 23, 14, 0, tzinfo=UTC),
        ends_at=datetime(2020, 3, 24, 15, 0, tzinfo=UTC),
    )
    assert format_when(overnight, reference=date(2020, 3, 1)) == (
        "måndag 23 mars kl. 15.00 – tisdag 24 mars kl. 16.00"
    )
    assert format_datetime(datetime(2019, 8, 28, 7, 30, tzinfo=UTC)) == "28 augusti 2019 kl. 09.30"


def test_all_day_items_and_ranges() -> None:
    day = Item(all_day=True, start_date=date(2019, 9, 20))
    assert format_when(day, reference=date(2019, 8, 28)) == "fredag 20 september"
    conference = Item(all_day=True, start_date=date(2020, 3, 24), end_date=date(2020, 3, 25))
    assert format_when(conference, reference=date(2020, 1, 1)) == "24–25 mars"
    assert format_when(conference) == "24–25 mars 2020"
    assert format_date_range(date(2019, 9, 30), date(2019, 10, 2)) == "30 september–2 oktober 2019"
    assert format_date_range(date(2019, 12, 30), date(2020, 1, 2)) == (
        "30 december 2019–2 januari 2020"
    )
