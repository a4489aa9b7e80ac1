"""How a desk export writes its times, decided from the whole file before anything is recorded.

A CSV export writes dates as the desk's user setting had them: `29/2/2016 01:16` (day first),
`2/29/2016 01:16` (month first) or ISO 8601 `2016-02-29 01:16:00`. Day first and month first
look the same whenever the day is at most 12, so a reader that guesses misreads 1 March as
3 January without a word. `DateOrder` looks at every time of the file and settles on one format,
or says why it cannot; `--date-format` (`dmy`, `mdy`, `iso` or a strftime pattern) settles it
when the file alone cannot (docs/desks.md, "Dates").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from domain.errors import N_, Explained, Phrase

from ..importer import ImportInputError

# day and month (either order), a four-digit year, a time to the minute or second, and an
# optional AM/PM; `/`, `-` or `.` between the date's parts (`29-02-2016` is how Excel re-saves it)
_NUMERIC = re.compile(
    r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp][Mm]))?")
_ISO = re.compile(r"\d{4}([/.-])\d{1,2}\1\d{1,2}")  # year first: never ambiguous
# year first with one-digit month, day or hour, or `/` or `.` between the date's parts
# (`2016/1/2 3:04`, as a spreadsheet writes it): made ISO 8601 before it is read
_YEAR_FIRST = re.compile(r"(\d{4})([/.-])(\d{1,2})\2(\d{1,2})(?:([ T])(\d{1,2})(:.*))?")
CHOICES = "auto, dmy, mdy, iso, or a strftime pattern such as '%d.%m.%Y %H:%M'"


@dataclass(frozen=True)
class DateFormat:
    """One way of writing a time; `parse` gives UTC (a time without an offset is in `tz`)."""

    name: str  # dmy, mdy, iso, or the strftime pattern
    shown: str  # what a refusal says is expected
    parse_local: Callable[[str], datetime | None]  # naive unless the text carries an offset

    def parse(self, text: str, tz: tzinfo) -> datetime | None:
        t = self.parse_local(text.strip())
        if t is None:
            return None
        return (t if t.tzinfo is not None else t.replace(tzinfo=tz)).astimezone(UTC)


def _numeric(day_first: bool) -> Callable[[str], datetime | None]:
    def parse(text: str) -> datetime | None:
        m = _NUMERIC.fullmatch(text)
        if m is None:
            return None
        a, _, b, y, hh, mm, ss, ampm = m.groups()
        day, month = (a, b) if day_first else (b, a)
        hour = int(hh)
        if ampm:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
        try:
            return datetime(int(y), int(month), int(day), hour, int(mm), int(ss or 0))
        except ValueError:
            return None
    return parse


def _iso(text: str) -> datetime | None:
    if not _ISO.match(text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    m = _YEAR_FIRST.fullmatch(text)
    if m is None:
        return None
    y, _, mo, d, sep, hh, rest = m.groups()
    try:
        return datetime.fromisoformat(f"{y}-{mo:0>2}-{d:0>2}" + (f"T{hh:0>2}{rest}" if sep else ""))
    except ValueError:
        return None


def _pattern(pattern: str) -> Callable[[str], datetime | None]:
    def parse(text: str) -> datetime | None:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            return None
    return parse


DMY = DateFormat("dmy", Phrase(N_("D/M/YYYY HH:MM, day first (e.g. {example})"), example="29/2/2016 01:16"),
                 _numeric(day_first=True))
MDY = DateFormat("mdy", Phrase(N_("M/D/YYYY HH:MM, month first (e.g. {example})"), example="2/29/2016 01:16"),
                 _numeric(day_first=False))
ISO = DateFormat("iso", Phrase(N_("ISO 8601 or another year-first date (e.g. {examples})"),
                               examples="2016-02-29 01:16:00, 2016-02-29T01:16:00+08:00, 2016/2/29 1:16"), _iso)
NAMED = {f.name: f for f in (DMY, MDY, ISO)}


def date_format(option: str | None, source: str = "--date-format") -> DateFormat | None:
    """The format `option` names (None: detect it from the file)."""
    if option is None or option == "auto":
        return None
    if option in NAMED:
        return NAMED[option]
    if "%" not in option:
        raise ImportInputError(N_("{source} {option}: not a date format; use {choices}"),
                               source=source, option=repr(option), choices=CHOICES)
    # a pattern must read back what it writes, with a year, a month and a day in it
    sample = datetime(2016, 2, 29, 13, 5, 7)
    try:
        written = sample.strftime(option)
        back = datetime.strptime(written, option)
    except ValueError as e:
        raise ImportInputError(N_("{source} {option}: not a strftime pattern ({error}); use {choices}"),
                               source=source, option=repr(option), error=e, choices=CHOICES) from None
    if back.date() != sample.date():
        raise ImportInputError(N_("{source} {option}: the pattern does not hold a year, a month and a "
                          "day (it reads {written} as {back}); use e.g. '%d.%m.%Y %H:%M'"),
                          source=source, option=repr(option), written=repr(written), back=f"{back:%Y-%m-%d}")
    return DateFormat(option, Phrase(N_("{pattern} (e.g. {example})"), pattern=option, example=written),
                      _pattern(option))


def _kind(text: str) -> str:
    """What a single time says about the file's format: iso, dmy or mdy (only that order reads it),
    either (day and month both at most 12: both orders read it), or bad (no format reads it)."""
    if _ISO.match(text):
        return "iso" if _iso(text) is not None else "bad"
    m = _NUMERIC.fullmatch(text)
    if m is None:
        return "bad"
    day_first, month_first = DMY.parse_local(text) is not None, MDY.parse_local(text) is not None
    if day_first and month_first:
        return "either"
    return "dmy" if day_first else "mdy" if month_first else "bad"


class DateOrder:
    """Every time of a file, seen once each (`see`), then `decide`: the file's one format.

    It keeps the first line where each kind of time was seen, to say why in a refusal."""

    def __init__(self) -> None:
        self.first: dict[str, tuple[int, str, str]] = {}  # kind -> (line, column, text)
        self.seen: set[str] = set()

    def see(self, text: str, line: int, column: str) -> None:
        if text in self.seen:
            return
        self.seen.add(text)
        kind = _kind(text.strip())
        if kind not in self.first:
            self.first[kind] = (line, column, text)

    def _at(self, kind: str) -> Phrase:
        line, column, text = self.first[kind]
        return Phrase(N_("line {line}: {column} {text!r}"), line=line, column=column, text=text)

    def decide(self, path: str) -> DateFormat:
        """The file's format; ImportInputError when no single format reads it without guessing."""
        kinds = self.first
        hint = Explained(N_("give --date-format dmy (day first), mdy (month first), iso, or a strftime pattern"))
        if "dmy" in kinds and "mdy" in kinds:
            raise ImportInputError(
                N_("{path}: its dates are written both day first ({dmy_at}) and month "
                              "first ({mdy_at}); nothing recorded. Export them one way, or "
                              "{hint} to read that one and refuse the rest"),
                              path=path, dmy_at=self._at('dmy'), mdy_at=self._at('mdy'), hint=hint)
        numeric = next((k for k in ("dmy", "mdy", "either") if k in kinds), None)
        if "iso" in kinds and numeric:
            raise ImportInputError(
                N_("{path}: its times are written two ways, ISO 8601 ({iso_at}) and "
                              "day/month/year ({numeric_at}); nothing recorded. Export them one "
                              "way, or {hint} to read one way and refuse the rest"),
                              path=path, iso_at=self._at('iso'), numeric_at=self._at(numeric), hint=hint)
        if "iso" in kinds:
            return ISO
        if "dmy" in kinds or "mdy" in kinds:
            return DMY if "dmy" in kinds else MDY
        if "either" in kinds:
            line, column, text = self.first["either"]
            raise ImportInputError(
                N_("{path}: every date has its day and month at most 12 (e.g. line "
                              "{line}: {column} {text}), so it cannot tell day first from month "
                              "first; nothing recorded. Give --date-format dmy if {date} is "
                              "D/M/YYYY, mdy if it is M/D/YYYY"),
                              path=path, line=line, column=column, text=repr(text), date=text.split()[0])
        if "bad" in kinds:
            raise ImportInputError(
                N_("{path}: no time in it is written in a format we read ({bad_at}); "
                              "nothing recorded. Expected {iso}, {dmy} or {mdy}; for another "
                              "layout give --date-format with a strftime pattern, e.g. '%d.%m.%Y "
                              "%H:%M'"),
                              path=path, bad_at=self._at('bad'), iso=ISO.shown, dmy=DMY.shown, mdy=MDY.shown)
        return ISO  # no time at all: every row is refused for its missing time
