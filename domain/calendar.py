"""Working-day calendars and Civil Code period counting (SPEC §8), pure.

`CalendarData` is what the ledger recorded (`CalendarYearRecorded` facts), never the
installed package: a replay answers the same whatever `chinese-calendar` version is
installed. A day in a year the data do not cover is counted with weekends only and
reported as not known, so the caller can mark its result provisional.
"""

from __future__ import annotations

import calendar as _stdcal
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .terms import CalendarTerm, Period


@dataclass(frozen=True)
class CalendarData:
    """Official days off and adjusted working days, by year, plus a contract's own."""

    days_off: frozenset[date] = frozenset()
    days_on: frozenset[date] = frozenset()
    years: frozenset[int] = frozenset()
    versions: tuple[str, ...] = ()  # e.g. ("CN-2025 v1 chinese-calendar 1.11.0",)
    extra_off: frozenset[date] = field(default=frozenset())
    extra_on: frozenset[date] = field(default=frozenset())

    def with_contract(self, term: CalendarTerm | None) -> CalendarData:
        if term is None:
            return self
        return CalendarData(
            self.days_off, self.days_on, self.years, self.versions,
            frozenset(term.extra_days_off), frozenset(term.extra_days_on),
        )

    def known(self, d: date) -> bool:
        return d.year in self.years

    def is_working(self, d: date) -> bool:
        if d in self.extra_on:
            return True
        if d in self.extra_off:
            return False
        if d.year in self.years:
            if d in self.days_on:
                return True
            if d in self.days_off:
                return False
        return d.weekday() < 5

    def next_working(self, d: date) -> date:
        while not self.is_working(d):
            d += timedelta(days=1)
        return d


def official_years(years: Iterable[int]) -> dict[int, tuple[list[date], list[date]]]:
    """Read the official schedule for `years` from the installed `chinese-calendar`.

    Used only by the command that records calendar data into the ledger.
    Returns {year: (days_off, days_on)}; years the package does not know are left out.
    """
    import chinese_calendar as cc  # an adapter concern, imported lazily

    out: dict[int, tuple[list[date], list[date]]] = {}
    for y in years:
        try:
            d, off, on = date(y, 1, 1), [], []
            while d.year == y:
                working = cc.is_workday(d)
                if d.weekday() < 5 and not working:
                    off.append(d)
                elif d.weekday() >= 5 and working:
                    on.append(d)
                d += timedelta(days=1)
            out[y] = (off, on)
        except NotImplementedError:
            continue
    return out


def add_months(d: date, months: int) -> date:
    """The corresponding day `months` later, or that month's last day (art. 202)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, _stdcal.monthrange(year, month)[1]))


def period_last_day(start: date, period: Period, cal: CalendarData, rest_day_rule: bool = True) -> date:
    """The last day of a day-counted period that starts the day after `start` (art. 201-203).

    working_days: the Nth working day after the start day (always a working day).
    days/weeks/months/years: the corresponding day; moved to the next working day when
    it is a rest day (art. 203) unless the contract turned the rule off (art. 204).
    """
    unit, n = period.unit, period.amount
    if unit == "working_days":
        d, left = start, n
        while left > 0:
            d += timedelta(days=1)
            if cal.is_working(d):
                left -= 1
        return d
    if unit in ("days", "weeks"):
        last = start + timedelta(days=n * (7 if unit == "weeks" else 1))
    elif unit in ("months", "years"):
        last = add_months(start, period.total_months)
    else:
        raise ValueError(f"{unit} periods are counted in hours, not days")
    return cal.next_working(last) if rest_day_rule else last


def day_end(d: date, tz: ZoneInfo, hours: list[tuple[str, str]] | None = None) -> datetime:
    """24:00 of `d`, or its close of business on a business-hours clock (art. 203)."""
    if hours:
        close = max(_t(b) for _, b in hours)
        return datetime.combine(d, close, tz)
    return datetime.combine(d + timedelta(days=1), time(0), tz)


def _t(hhmm: str) -> time:
    h, m = hhmm.split(":")
    return time(int(h), int(m))


def open_intervals(
    first: date, last: date, cal: CalendarData, hours: list[tuple[str, str]], tz: ZoneInfo
) -> Iterator[tuple[datetime, datetime, date]]:
    """Opening hours of each working day from `first` to `last`, as aware datetimes."""
    d = first
    while d <= last:
        if cal.is_working(d):
            for a, b in hours:
                end = datetime.combine(d + timedelta(days=1), time(0), tz) if b == "24:00" else datetime.combine(d, _t(b), tz)
                yield datetime.combine(d, _t(a), tz), end, d
        d += timedelta(days=1)
