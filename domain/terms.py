"""Contract terms (SPEC §2): data, not code. Decoded and validated by msgspec from TOML or JSON.

Every term of the four seeds is expressible here; the example contracts in `contracts/`
say which reading of each seed's contradictions they take.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from .bounds import MAX_PERIOD, NAME, TEXT, Breach, bound, breaches, clamped
from .errors import N_, Explained
from .events import SUBJECT_ID_PATTERN

CLOCK_NAMES = ("response", "remote_resolution", "arrival", "resolution", "spare")
Rate = Literal["free", "cost", "half", "full", "market"]
Coverage = Literal["pre_acceptance", "warranty", "paid", "out", "unknown"]


class TermsError(Explained, ValueError):
    """A contract file that cannot be used; the message says where and what would be right."""


Name = Annotated[str, NAME]
Text = Annotated[str, TEXT]


def _unit(name: str) -> object:
    return Annotated[int | None, bound(maximum=MAX_PERIOD[name])]


class Period(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Exactly one unit: minutes/hours (counted on a calendar) or days/working_days/weeks/
    months/years (day-counted periods under Civil Code arts. 201-203, §8); at most 100 years,
    or the same in a smaller unit."""

    minutes: _unit("minutes") = None  # type: ignore[valid-type]
    hours: _unit("hours") = None  # type: ignore[valid-type]
    days: _unit("days") = None  # type: ignore[valid-type]
    working_days: _unit("working_days") = None  # type: ignore[valid-type]
    weeks: _unit("weeks") = None  # type: ignore[valid-type]
    months: _unit("months") = None  # type: ignore[valid-type]
    years: _unit("years") = None  # type: ignore[valid-type]

    def __post_init__(self) -> None:
        set_ = [k for k in self.__struct_fields__ if getattr(self, k) is not None]
        if len(set_) != 1:
            raise ValueError(
                f"a period names exactly one unit (e.g. {{hours = 24}}), got {set_ or 'none'}"
            )
        if getattr(self, set_[0]) < 0:
            raise ValueError("a period cannot be negative")

    @property
    def unit(self) -> str:
        return next(k for k in self.__struct_fields__ if getattr(self, k) is not None)

    @property
    def amount(self) -> int:
        return getattr(self, self.unit)

    @property
    def is_day_counted(self) -> bool:
        return self.unit not in ("minutes", "hours")

    @property
    def total_minutes(self) -> int:
        """For hour/minute periods only."""
        if self.is_day_counted:
            raise ValueError(f"{self.unit} are day-counted, not minutes")
        return self.amount * (60 if self.unit == "hours" else 1)

    @property
    def total_months(self) -> int:
        if self.unit == "years":
            return self.amount * 12
        if self.unit == "months":
            return self.amount
        raise ValueError(f"{self.unit} are not months")


# A time of day on a clock face, "00:00" to "23:59", and "24:00" for the end of the day.
ClockTime = Annotated[str, bound(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
                                 description='a time of day from "00:00" to "23:59", or "24:00" for its end')]


class CalendarTerm(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How a clock counts time.

    continuous: 7x24. business_hours: the opening hours on working days (an adjusted working
    day 调休 opens like a weekday), each range from an earlier to a later time of day, in order
    and not overlapping. working_days: whole PRC working days (day-counted targets).
    """

    kind: Literal["continuous", "business_hours", "working_days"] = "continuous"
    hours: list[tuple[ClockTime, ClockTime]] = []  # [["09:00", "17:00"]] local time, for business_hours
    extra_days_off: list[date] = []  # the contract's own days off
    extra_days_on: list[date] = []  # the contract's own working days


class ClockTerm(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    target: Period
    calendar: str = "7x24"  # a key of Terms.calendars, or the built-in "7x24"
    paused_by: list[str] = []  # wait reasons that pause this clock (§9.3)
    clause: Text = ""  # where the promise is written, e.g. "seed 000 §3 服务响应时间"
    max_extension: Period | None = None  # consented extension cap (§9.5); None: no extension
    stopped_by_plan: bool = False  # a recorded solution plan stops it (seed 001)
    trigger: Period | None = None  # spare only: needed when not resolved within this


class WarrantyTerm(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    default: Period
    by_asset_type: dict[str, Period] = {}
    extended_by_downtime: bool = False  # seed 001: 停用的时间要在保修期中追加
    restart_on_replacement: bool = False  # §9.6: a replacement keeps the remaining warranty
    clause: Text = ""


class PayerRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Who pays, for a coverage and a set of causes: rates for parts, consumables, labour."""

    coverage: Literal["pre_acceptance", "warranty", "paid", "out", "unknown", "any"]
    causes: list[str] = msgspec.field(default_factory=lambda: ["*"])  # fault causes this rule covers; "*" is any cause
    parts: Rate = "full"
    consumables: Rate | None = None  # a second promise for consumable lines (§9.10)
    labour: Rate = "full"
    clause: Text = ""


class ScheduleTerm(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A follow-up or inspection schedule (§9.8): periods of `every` from the anchor,
    from `start` to `until` after it, each needing one visit of `kind`. `every` is at least one
    of its unit (a schedule every 0 months would never end)."""

    obligation: Literal["follow_up", "inspection"]
    every: Period  # months or years; "N a year" is 12/N months
    kind: Literal["phone", "onsite"] = "phone"  # an on-site visit satisfies a phone obligation
    anchor: Literal["delivery", "acceptance"] = "acceptance"
    start: Period = Period(months=0)
    until: Period | None = None  # None: for the warranty's length
    clause: Text = ""


class OneOffTerm(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A single window, e.g. a call within 7 days of delivery (seed 000)."""

    obligation: Literal["follow_up", "inspection"]
    within: Period
    kind: Literal["phone", "onsite"] = "phone"
    anchor: Literal["delivery", "acceptance"] = "delivery"
    clause: Text = ""


class RepeatTerm(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Repeated failure (§8, §9.9): threshold of unfixed repairs per serial and category."""

    window: Period = Period(days=90)
    threshold: Annotated[int, bound(minimum=1, maximum=100)] = 2
    asset_types: list[str] = []  # scope; empty: every type
    in_warranty_only: bool = False
    excluded_causes: list[str] = msgspec.field(
        default_factory=lambda: ["human", "force_majeure", "natural_disaster", "third_party_deliberate"]
    )
    clause: Text = ""


class Terms(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Everything one contract version promises."""

    name: Name
    supplier_name: Name = ""  # the parties as the contract names them (reports name them, §5)
    customer_name: Name = ""
    timezone: str = "Asia/Shanghai"
    severities: list[Name] = msgspec.field(default_factory=lambda: ["normal"])
    calendars: dict[str, CalendarTerm] = {}
    clocks: dict[str, dict[str, ClockTerm]] = {}  # severity -> clock name -> term
    warranty: WarrantyTerm = WarrantyTerm(default=Period(months=12))
    paid_period: Period | None = None
    payer: list[PayerRule] = []
    supplier_pays_before_acceptance: bool = False
    schedules: list[ScheduleTerm] = []
    one_offs: list[OneOffTerm] = []
    repeat: RepeatTerm | None = None
    losses_liable: bool = False  # late supplier bears the customer's losses
    losses_clause: Text = ""
    # the clocks whose breach the losses clause answers for (seed 001: §23's response, arrival and
    # resolution, not §46's spare); empty: every clock
    losses_clocks: list[str] = []
    late_entry_tolerance: Period = Period(hours=24)
    at_risk_share: float = 0.8
    rest_day_rule: bool = True  # art. 203; a contract may agree otherwise (art. 204)
    future_tolerance: Period = Period(minutes=10)  # occurred_at may lead the ledger by this

    def __post_init__(self) -> None:
        known = set(self.calendars) | {"7x24"}
        for sev, clocks in self.clocks.items():
            if sev not in self.severities:
                raise ValueError(f"clocks.{sev}: unknown severity; severities are {self.severities}")
            for name, clock in clocks.items():
                where = f"clocks.{sev}.{name}"
                if name not in CLOCK_NAMES:
                    raise ValueError(f"{where}: unknown clock; clocks are {list(CLOCK_NAMES)}")
                if clock.calendar not in known:
                    raise ValueError(f"{where}: calendar {clock.calendar!r} is not defined; defined: {sorted(known)}")
                if clock.paused_by and clock.target.is_day_counted:
                    raise ValueError(
                        f"{where}: a day-counted clock ({clock.target.unit}) cannot pause (§9.3); "
                        "count it in hours to let waits pause it"
                    )
                if clock.max_extension is not None and clock.max_extension.is_day_counted:
                    raise ValueError(f"{where}: max_extension must be in hours or minutes")
                if name == "spare" and clock.trigger is None:
                    raise ValueError(f"{where}: a spare clock needs a trigger (e.g. {{hours = 24}})")
        for name in self.losses_clocks:
            if name not in CLOCK_NAMES:
                raise ValueError(f"losses_clocks: unknown clock {name!r}; clocks are {list(CLOCK_NAMES)}")
        for name, cal in self.calendars.items():
            if cal.kind == "business_hours" and not cal.hours:
                raise ValueError(f"calendars.{name}: business_hours needs hours = [[\"09:00\", \"17:00\"]]")
        if not 0 < self.at_risk_share <= 1:
            raise ValueError("at_risk_share must be in (0, 1]")
        if not is_time_zone(self.timezone):
            raise ValueError(f"timezone {self.timezone!r} is not an IANA time zone; "
                             'name one such as timezone = "Asia/Shanghai"')

    def clock(self, severity: str, name: str) -> ClockTerm | None:
        return self.clocks.get(severity, {}).get(name)

    def warranty_for(self, asset_type: str) -> Period:
        return self.warranty.by_asset_type.get(asset_type, self.warranty.default)


def is_time_zone(name: str) -> bool:
    """An IANA zone name (tz database lookup, no clock): what the views' DuckDB also knows.
    "localtime" is refused: it means the machine's zone, not one the contract can name."""
    if name == "localtime":
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def terms_from_mapping(data: dict, where: str = "terms") -> Terms:
    """Terms as recorded, bounds not checked: what reading the log uses (a contract recorded
    before a bound existed stays readable). A new contract comes in through terms_from_command."""
    try:
        return msgspec.convert(data, Terms, strict=False)
    except (msgspec.ValidationError, ValueError) as e:
        raise TermsError(N_("{where}: {error}"), where=where, error=e) from None


def terms_from_command(data: dict, where: str = "terms") -> Terms:
    """Terms a command brings in (contract add or amend, a what-if file): read, then refused
    with the first term beyond its bounds or rules, naming it and what would be right."""
    terms = terms_from_mapping(data, where)
    found = terms_breaches(terms)
    if found:
        first = found[0]
        more = f" ({len(found) - 1} more term(s) beyond their bounds)" if len(found) > 1 else ""
        raise TermsError(N_("{where}: {path} {wrong}; {path} must be {right}{more}"),
                         where=where, path=first.path, wrong=first.wrong, right=first.right, more=more)
    return terms


def terms_breaches(terms: Terms) -> list[Breach]:
    """Every term beyond its bounds (domain.bounds, declared on the fields above) or its rules:
    opening hours in order and not empty or overlapping, and a schedule's `every` above 0."""
    found = breaches(terms)
    for name, cal in terms.calendars.items():
        found += [Breach(f"calendars.{name}.hours[{i}]", str(list(r)), wrong, right, "rule")
                  for i, r, wrong, right in _bad_ranges(cal.hours)]
    for i, s in enumerate(terms.schedules):
        if s.every.amount < 1:
            found.append(Breach(f"schedules[{i}].every", f"{{{s.every.unit} = 0}}", f"is {{{s.every.unit} = 0}}",
                                f"at least 1 {s.every.unit} (e.g. {{months = 3}})", "rule"))
    return found


def terms_within_bounds(terms: Terms) -> tuple[Terms, list[tuple[Breach, str]]]:
    """Terms recorded before their bounds existed, made countable, and what was beyond with what
    was done about it: every bounded number brought within its bounds, a schedule of `every` 0
    counted every 1, opening hours that break the rules left out, and a business-hours calendar
    left with none left out with its clocks; texts stay as recorded. For the views
    (projections.terms_flat), which flag what this returns."""
    found = terms_breaches(terms)
    if not found:
        return terms, []
    t = clamped(terms)
    schedules = [msgspec.structs.replace(s, every=Period(**{s.every.unit: 1})) if s.every.amount < 1 else s
                 for s in t.schedules]
    calendars, gone = {}, set()
    for name, cal in t.calendars.items():
        bad = {i for i, *_ in _bad_ranges(cal.hours, unreadable=True)}
        hours = [r for i, r in enumerate(cal.hours) if i not in bad]
        if cal.kind == "business_hours" and not hours:
            gone.add(name)
        else:
            calendars[name] = msgspec.structs.replace(cal, hours=hours)
    clocks = {sev: {c: term for c, term in cs.items() if term.calendar not in gone} for sev, cs in t.clocks.items()}

    def effect(b: Breach) -> str:
        if b.keyword in ("maximum", "minimum"):
            return "counted at the bound"
        if b.path.startswith("schedules"):
            return "counted as every 1"
        if b.path.startswith("calendars"):
            name = b.path.split(".")[1]
            return "calendar and its clocks left out" if name in gone else "range left out"
        return "as recorded"

    within = msgspec.structs.replace(t, schedules=schedules, calendars=calendars, clocks=clocks)
    return within, [(b, effect(b)) for b in found]


def _bad_ranges(hours: list[tuple[str, str]], unreadable: bool = False) -> list[tuple[int, tuple[str, str], str, str]]:
    """Opening-hour ranges that cannot be counted: empty, reversed or overlapping; with
    `unreadable`, also those with a time that is not a time of day (the ClockTime bound
    reports those to a command)."""
    out, last_end = [], -1
    for i, (a, b) in enumerate(hours):
        start, end = _minute_of_day(a), _minute_of_day(b)
        if start is None or end is None or start >= 24 * 60:
            if unreadable:
                out.append((i, (a, b), f"[{a!r}, {b!r}] is not a range of times of day", "left out"))
            continue
        if end <= start:
            out.append((i, (a, b), f"[{a!r}, {b!r}] is {'empty' if end == start else 'reversed'}",
                        'a range from an earlier to a later time of day, e.g. ["09:00", "17:00"]'))
        elif start < last_end:
            out.append((i, (a, b), f"[{a!r}, {b!r}] overlaps or precedes the range before it",
                        "ranges in order of the day and not overlapping"))
        else:
            last_end = end
    return out


def _minute_of_day(hhmm: str) -> int | None:
    m = re.fullmatch(r"([0-9]{2}):([0-5][0-9])", hhmm)
    return int(m[1]) * 60 + int(m[2]) if m and int(m[1]) <= 24 and (int(m[1]) < 24 or m[2] == "00") else None


def read_contract_data(path: str) -> object:
    """What a contract or terms file holds, TOML or JSON by its name; TermsError when it is not
    valid, OSError as open() raises it when it cannot be read (the CLI words that one)."""
    import tomllib

    with open(path, "rb") as f:
        raw = f.read()
    try:
        return tomllib.loads(raw.decode()) if path.endswith(".toml") else msgspec.json.decode(raw)
    except (tomllib.TOMLDecodeError, msgspec.DecodeError, UnicodeDecodeError) as e:
        raise TermsError(N_("{path}: not valid {format}: {error}"),
                         path=path, format='TOML' if path.endswith('.toml') else 'JSON', error=e) from None


def load_contract_file(path: str) -> dict:
    """A contract file: TOML or JSON with `id`, `supplier`, `customer` and `[terms]`."""
    data = read_contract_data(path)
    for key in ("id", "supplier", "customer", "terms"):
        if key not in data:
            raise TermsError(N_("{path}: missing `{key}` (a contract file has id, supplier, "
                              "customer and [terms])"), path=path, key=key)
    for key in ("id", "customer"):  # both name NATS subjects (SPEC §6)
        value = data[key]
        if not isinstance(value, str) or not re.fullmatch(SUBJECT_ID_PATTERN, value):
            raise TermsError(N_("{path}: {key} {value} is not a valid id; an id is 1-64 ASCII "
                              "letters, digits, \"_\" or \"-\" (e.g. \"K-004\")"),
                              path=path, key=key, value=repr(value))
    terms_from_command(data["terms"], where=f"{path} [terms]")
    return data


def terms_to_mapping(terms: Terms) -> dict:
    return msgspec.to_builtins(terms)


def terms_changes(before: Terms, after: Terms) -> list[tuple[str, Any, Any]]:
    """What an amendment changed: (dotted path, value before, value after) of every leaf that
    differs, e.g. ("clocks.urgent.arrival.target.hours", 24, 12); None where one side lacks it."""
    def leaves(value: Any, path: str, out: dict[str, Any]) -> dict[str, Any]:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                leaves(v, f"{path}.{k}" if path else str(k), out)
        else:
            out[path] = value
        return out

    old, new = leaves(terms_to_mapping(before), "", {}), leaves(terms_to_mapping(after), "", {})
    return [(p, old.get(p), new.get(p)) for p in sorted(old.keys() | new.keys()) if old.get(p) != new.get(p)]
