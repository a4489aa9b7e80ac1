"""Bounds on what may be recorded: declared once, on the fields of the facts and of the
contract terms; checked when a command comes in; published in the JSON Schema; never
enforced when something already recorded is read.

Why not msgspec's own constraints (`Meta(le=...)`): msgspec checks those whenever it decodes,
stored events included, so a constraint added today would make a fact recorded yesterday
beyond it unreadable, and with it the views, the relay and `verify`. A bound is a `Meta`
carrying JSON Schema keywords only (`extra_json_schema`), which the decoder ignores; `breaches`
reads them back from the type (msgspec.inspect) and checks a value against them:

  maximum, minimum          integers
  maxLength, pattern        strings (pattern: the whole string; JSON Schema and Python `re` syntax)
  maxItems                  lists
  formatMinimum,            times (JSON Schema's `format` vocabulary, as ajv-formats reads it,
  formatExclusiveMaximum    beside "format": "date-time", which it needs): the instants the views'
                            calendar can count; a time needs its zone
  x-maxProduct              objects: [{"of": [a, b], "maximum": n}], a x b at most n

A fact recorded before a bound existed stays readable: `verify` lists it, and the views flag
it in `beyond_bounds` (projections.bounds) and leave it out of their arithmetic.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import msgspec
import msgspec.inspect as mi

# --- the limits ------------------------------------------------------------------------------

# The days the views' calendar tables hold (projections.calendars): a time outside them cannot be
# counted on a working-day or business-hours calendar (a ticket in 1900 was "breached by 66
# million minutes"), so no fact may occur outside them.
COUNTED_DAYS = (date(2000, 1, 1), date(2060, 12, 31))
EARLIEST = datetime.combine(COUNTED_DAYS[0], time(0), UTC)
NOT_FROM = datetime.combine(date(COUNTED_DAYS[1].year + 1, 1, 1), time(0), UTC)

# Money and counts. The views multiply a part line's quantity by its unit price and add lines,
# repairs and tickets up in 64-bit integers (at most 9.2e18): with a line worth at most 1e12 fen
# (10 billion yuan) and at most 1,000 lines per repair, one fact adds at most 1e15 fen, so a
# ticket would need some 9,000 maximal repairs before a sum could overflow.
MAX_QUANTITY = 1_000_000
MAX_FEN = 10**12
MAX_PART_LINES = 1_000

# Texts. A name (actor, channel, technician, serial, site, ...) is one line of at most 200
# characters with no control characters and no bidi overrides or isolates (they reorder or hide
# what a person reads: a forged table row, "\u202e" turning a serial around). Free text
# (description, notes, summary, reason) may hold lines and tabs and is at most 10,000 characters.
MAX_NAME = 200
MAX_TEXT = 10_000
NAME_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]*$"
TEXT_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"

# Periods (contract terms): at most 100 years, or the same in a smaller unit.
MAX_PERIOD = {"minutes": 52_596_000, "hours": 876_600, "days": 36_525, "working_days": 36_525,
              "weeks": 5_218, "months": 1_200, "years": 100}

KEYWORDS = ("maximum", "minimum", "maxLength", "pattern", "maxItems", "formatMinimum",
            "formatExclusiveMaximum", "x-maxProduct")


def bound(*, description: str | None = None, format: str | None = None, **keywords: Any) -> msgspec.Meta:
    """A bound as JSON Schema keywords (`x_maxProduct` for `x-maxProduct`): published by the
    schema, checked by `breaches`, ignored by msgspec's decoder. `format` is published only (the
    formatMinimum/formatExclusiveMaximum of a time compare by it; a time's zone is checked apart)."""
    schema = {k.replace("_", "-") if k.startswith("x_") else k: v for k, v in keywords.items()}
    unknown = set(schema) - set(KEYWORDS)
    if unknown:
        raise TypeError(f"unknown bound keyword(s) {sorted(unknown)}; known: {KEYWORDS}")
    if format is not None:
        schema = {"format": format, **schema}
    return msgspec.Meta(extra_json_schema=schema, description=description)


# msgspec writes "format": "date-time" only for a datetime declared tz=True, a constraint its decoder
# would enforce on stored events too; the zone is checked as a bound instead, so the format is said here.
INSTANT = bound(format="date-time", formatMinimum=EARLIEST.isoformat().replace("+00:00", "Z"),
                formatExclusiveMaximum=NOT_FROM.isoformat().replace("+00:00", "Z"))
NAME = bound(maxLength=MAX_NAME, pattern=NAME_PATTERN,
             description="one line with no control characters (C0, DEL, C1) and no bidi override or isolate "
                         "(U+202A-U+202E, U+2066-U+2069)")
TEXT = bound(maxLength=MAX_TEXT, pattern=TEXT_PATTERN,
             description="text with no control characters other than tab, line feed and carriage return")


# --- checking ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Breach:
    """One value beyond its bound: where, what is wrong, and what would be right."""

    path: str  # e.g. "parts[0].quantity"
    value: str  # the value as recorded, shortened for a message
    wrong: str  # e.g. "is 4,611,686,018,427,387,904"
    right: str  # e.g. "at most 1,000,000"
    keyword: str  # the JSON Schema keyword it breaks

    def __str__(self) -> str:
        return f"{self.path} {self.wrong}; {self.path or 'it'} must be {self.right}"


def breaches(value: Any) -> list[Breach]:
    """Every bound a Struct value (a fact, the contract terms) breaks, in field order."""
    out: list[Breach] = []
    check = _struct_check(type(value))
    if check is not None:
        check(value, "", out)
    return out


def shown(value: Any, limit: int = 60) -> str:
    """A value for a message: control characters visible, long text cut."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


Check = Callable[[Any, str, list[Breach]], None]


@functools.cache
def type_info(cls: type) -> mi.Type:
    """msgspec's inspection of a Struct type, once per type and process: the bounds here and the
    views' columns (projections.facts) each read every fact type, ~13 ms for the 36 each time."""
    return mi.type_info(cls)


@functools.cache
def _struct_check(cls: type) -> Check | None:
    return _compile(type_info(cls))


def _compile(info: mi.Type) -> Check | None:
    """A function checking a value of this type, or None when nothing in it is bounded."""
    if isinstance(info, mi.Metadata):
        keywords = {k: v for k, v in (info.extra_json_schema or {}).items() if k in (*KEYWORDS, "description")}
        own = _own_checks(keywords)
        inner = _compile(info.type)
        checks = [c for c in (inner, *own) if c is not None]
        if not checks:
            return None
        if len(checks) == 1:
            return checks[0]

        def all_of(v: Any, path: str, out: list[Breach]) -> None:
            for c in checks:
                c(v, path, out)
        return all_of
    if isinstance(info, mi.StructType):
        if info.cls in _compiling:
            return None  # a recursive type: its bounds are checked where it first appears
        _compiling.add(info.cls)
        try:
            quick, nested = [], []
            for f in info.fields:
                q = _quick(f.type)
                if q is not None:
                    quick.append((f.name, *q))
                elif (c := _compile(f.type)) is not None:
                    nested.append((f.name, c))
        finally:
            _compiling.discard(info.cls)
        if not quick and not nested:
            return None

        def struct(v: Any, path: str, out: list[Breach]) -> None:
            # the common case, every scalar within its bounds, costs a comparison or two a field
            for name, kind, a, b, c, slow in quick:
                x = getattr(v, name)
                if x is None:
                    continue
                if kind == "str":
                    if len(x) <= a and (c is None or (b and x.isprintable()) or c.fullmatch(x)):
                        continue
                elif kind == "int":
                    if isinstance(x, bool) or a <= x <= b:
                        continue
                elif x.tzinfo is not None and (a is None or a <= x < b):
                    continue
                slow(x, f"{path}.{name}" if path else name, out)
            for name, check in nested:
                check(getattr(v, name), f"{path}.{name}" if path else name, out)
        return struct
    if isinstance(info, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        item = _compile(info.item_type)
        if item is None:
            return None

        def items(v: Any, path: str, out: list[Breach]) -> None:
            for i, x in enumerate(v):
                item(x, f"{path}[{i}]", out)
        return items
    if isinstance(info, mi.TupleType):
        parts = [(i, c) for i, t in enumerate(info.item_types) if (c := _compile(t)) is not None]
        if not parts:
            return None

        def tuple_(v: Any, path: str, out: list[Breach]) -> None:
            for i, c in parts:
                if i < len(v):
                    c(v[i], f"{path}[{i}]", out)
        return tuple_
    if isinstance(info, mi.DictType):
        val = _compile(info.value_type)
        if val is None:
            return None

        def values(v: Any, path: str, out: list[Breach]) -> None:
            for k, x in v.items():
                val(x, f"{path}.{k}" if path else str(k), out)
        return values
    if isinstance(info, mi.UnionType):
        options = [c for t in info.types if not isinstance(t, mi.NoneType) and (c := _compile(t)) is not None]
        if not options:
            return None
        if len(options) == 1:  # X | None: the usual case
            (only,) = options

            def optional(v: Any, path: str, out: list[Breach]) -> None:
                if v is not None:
                    only(v, path, out)
            return optional
        raise TypeError(f"bounds inside a union of several bounded types are not supported: {info}")
    if isinstance(info, mi.DateTimeType):
        return _zone_check
    return None


_compiling: set[type] = set()
_SCALARS = {mi.StrType: "str", mi.IntType: "int", mi.DateTimeType: "time"}


def _quick(info: mi.Type) -> tuple[str, Any, Any, Any, Check] | None:
    """A scalar field (maybe optional) as (kind, a, b, c, full check), for the struct's inline
    test: str (max length, control-only pattern, pattern), int (lowest, highest), time (earliest,
    first instant after). None for anything else (checked by its compiled function)."""
    if isinstance(info, mi.UnionType):
        others = [t for t in info.types if not isinstance(t, mi.NoneType)]
        if len(others) != 1:
            return None
        info = others[0]
    k = (info.extra_json_schema or {}) if isinstance(info, mi.Metadata) else {}
    scalar = info.type if isinstance(info, mi.Metadata) else info
    kind = _SCALARS.get(type(scalar))
    if kind is None or set(k) - {"maximum", "minimum", "maxLength", "pattern", "description", "format",
                                 "formatMinimum", "formatExclusiveMaximum"}:
        return None
    slow = _compile(info)
    if slow is None:
        return None
    if kind == "str":
        pattern = k.get("pattern")
        return kind, k.get("maxLength", float("inf")), pattern in (NAME_PATTERN, TEXT_PATTERN), \
            re.compile(pattern) if pattern else None, slow
    if kind == "int":
        return kind, k.get("minimum", float("-inf")), k.get("maximum", float("inf")), None, slow
    return kind, _instant(k.get("formatMinimum")) or datetime.min.replace(tzinfo=UTC), \
        _instant(k.get("formatExclusiveMaximum")) or datetime.max.replace(tzinfo=UTC), None, slow


def _own_checks(k: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    if "maximum" in k or "minimum" in k:
        hi, lo = k.get("maximum"), k.get("minimum")

        def number(v: Any, path: str, out: list[Breach]) -> None:
            if v is None or isinstance(v, bool):
                return
            if hi is not None and v > hi:
                out.append(Breach(path, str(v), f"is {shown(v)}", f"at most {hi:,}", "maximum"))
            elif lo is not None and v < lo:
                out.append(Breach(path, str(v), f"is {shown(v)}", f"at least {lo:,}", "minimum"))
        checks.append(number)
    if "maxLength" in k:
        most = k["maxLength"]

        def length(v: Any, path: str, out: list[Breach]) -> None:
            if v is not None and len(v) > most:
                out.append(Breach(path, shown(v), f"is {len(v):,} characters long", f"at most {most:,} characters",
                                  "maxLength"))
        checks.append(length)
    if "pattern" in k:
        pattern = re.compile(k["pattern"])
        controls = k["pattern"] in (NAME_PATTERN, TEXT_PATTERN)  # patterns that refuse only unprintable characters
        what = k.get("description") or f"text matching {k['pattern']}"

        def matches(v: Any, path: str, out: list[Breach]) -> None:
            # isprintable() is C-fast, and false for every character the control patterns refuse
            if v is None or (controls and v.isprintable()) or pattern.fullmatch(v):
                return
            if controls:
                bad = next((ch for ch in v if not pattern.fullmatch(ch)), "")
                out.append(Breach(path, shown(v), f"holds the control character {bad!r}", what, "pattern"))
            else:
                out.append(Breach(path, shown(v), f"is {shown(v)}", what, "pattern"))
        checks.append(matches)
    if "maxItems" in k:
        most_items = k["maxItems"]

        def count(v: Any, path: str, out: list[Breach]) -> None:
            if v is not None and len(v) > most_items:
                out.append(Breach(path, f"{len(v):,} items", f"holds {len(v):,} items", f"at most {most_items:,}",
                                  "maxItems"))
        checks.append(count)
    if "formatMinimum" in k or "formatExclusiveMaximum" in k:
        lo_t = _instant(k.get("formatMinimum"))
        hi_t = _instant(k.get("formatExclusiveMaximum"))
        span = f"from {COUNTED_DAYS[0]} to {COUNTED_DAYS[1]} (the days the views' calendar counts)"

        def instant(v: Any, path: str, out: list[Breach]) -> None:
            if v is None or v.tzinfo is None:
                return  # a missing zone is reported by _zone_check
            if (lo_t is not None and v < lo_t) or (hi_t is not None and v >= hi_t):
                out.append(Breach(path, v.isoformat(), f"{v.isoformat()} is outside the range the views count",
                                  f"a time {span}", "formatMinimum"))
        checks.append(instant)
    if "x-maxProduct" in k:
        products = [(p["of"][0], p["of"][1], p["maximum"]) for p in k["x-maxProduct"]]

        def product(v: Any, path: str, out: list[Breach]) -> None:
            for a, b, most_p in products:
                x, y = getattr(v, a), getattr(v, b)
                if isinstance(x, int) and isinstance(y, int) and x * y > most_p:
                    at = f"{path}.{a} x {b}" if path else f"{a} x {b}"
                    out.append(Breach(at, str(x * y), f"is {shown(x * y)}", f"at most {most_p:,}", "x-maxProduct"))
        checks.append(product)
    return checks


def _zone_check(v: Any, path: str, out: list[Breach]) -> None:
    if v is not None and v.tzinfo is None:
        out.append(Breach(path, v.isoformat(), f"{v.isoformat()} has no time zone",
                          "a time with its offset, e.g. 2025-10-01T09:00:00+08:00", "format"))


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None




# --- bringing a value within its bounds ---------------------------------------------------------


def clamped(value: Any) -> Any:
    """A Struct value with every bounded integer brought within its bounds (the rest unchanged):
    how the views count contract terms recorded before their bounds existed."""
    fix = _struct_clamp(type(value))
    return fix(value) if fix is not None else value


Clamp = Callable[[Any], Any]


@functools.cache
def _struct_clamp(cls: type) -> Clamp | None:
    return _compile_clamp(type_info(cls))


def _compile_clamp(info: mi.Type) -> Clamp | None:
    if isinstance(info, mi.Metadata):
        k = info.extra_json_schema or {}
        inner = _compile_clamp(info.type)
        hi, lo = k.get("maximum"), k.get("minimum")
        if hi is None and lo is None:
            return inner

        def number(v: Any) -> Any:
            v = inner(v) if inner is not None else v
            if isinstance(v, int) and not isinstance(v, bool):
                v = min(v, hi) if hi is not None else v
                v = max(v, lo) if lo is not None else v
            return v
        return number
    if isinstance(info, mi.StructType):
        fields = [(f.name, c) for f in info.fields if (c := _compile_clamp(f.type)) is not None]
        if not fields:
            return None

        def struct(v: Any) -> Any:
            changed = {n: new for n, c in fields if (new := c(old := getattr(v, n))) is not old}
            return msgspec.structs.replace(v, **changed) if changed else v
        return struct
    if isinstance(info, mi.ListType):
        item = _compile_clamp(info.item_type)
        return None if item is None else (lambda v: [item(x) for x in v])
    if isinstance(info, mi.DictType):
        val = _compile_clamp(info.value_type)
        return None if val is None else (lambda v: {k: val(x) for k, x in v.items()})
    if isinstance(info, mi.UnionType):
        options = [c for t in info.types if not isinstance(t, mi.NoneType) and (c := _compile_clamp(t)) is not None]
        if len(options) == 1:
            (only,) = options
            return lambda v: None if v is None else only(v)
    return None


# --- the declarations, for other renderings (the views' SQL) ----------------------------------


@dataclass(frozen=True)
class Declared:
    """One field's bounds as declared: its path ("*" for a list's items), its JSON Schema
    keywords, and what it holds (int, str, list, datetime, object)."""

    path: tuple[str, ...]
    keywords: dict[str, Any]
    kind: str


@functools.cache
def declared(cls: type) -> tuple[Declared, ...]:
    """Every bound declared in a Struct type, with its path, in field order. Inspected once per
    type and process: the views' SQL reads them three times over every fact type (projections.
    bounds), and msgspec's inspection of the 36 fact types costs ~20 ms of a command's start each time."""
    out: list[Declared] = []
    _declared(type_info(cls), (), out)
    return tuple(out)


def _declared(info: mi.Type, path: tuple[str, ...], out: list[Declared]) -> None:
    if isinstance(info, mi.Metadata):
        k = {key: v for key, v in (info.extra_json_schema or {}).items() if key in KEYWORDS}
        if k:
            out.append(Declared(path, k, _kind(info.type)))
        _declared(info.type, path, out)
    elif isinstance(info, mi.StructType):
        for f in info.fields:
            _declared(f.type, (*path, f.name), out)
    elif isinstance(info, mi.ListType):
        _declared(info.item_type, (*path, "*"), out)
    elif isinstance(info, mi.UnionType):
        for t in info.types:
            _declared(t, path, out)


def _kind(info: mi.Type) -> str:
    if isinstance(info, mi.UnionType):
        return next((_kind(t) for t in info.types if not isinstance(t, mi.NoneType)), "none")
    return {mi.IntType: "int", mi.StrType: "str", mi.ListType: "list", mi.DateTimeType: "datetime",
            mi.StructType: "object"}.get(type(info), "other")
