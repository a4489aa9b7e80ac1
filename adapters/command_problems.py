"""Why a JSON command could not be decoded, said the way a person can fix it.

msgspec says what it expected at a path (`Invalid enum value 'consumable' - at $.cause`); a
person needs the allowed values, or the offset a time lacks. The fact types' own declarations
(read with `msgspec.inspect`) say what would be right, so nothing here repeats them.
"""

from __future__ import annotations

import difflib
import re
from datetime import datetime
from typing import Any

import msgspec
import msgspec.inspect as mi

from domain import events as ev
from domain.errors import N_, Phrase

from .importer import Problem

_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
TIME_EXAMPLE = "2026-01-01T09:00:00+08:00"


def explain(line: str | bytes, error: Exception) -> Problem:
    """The problem of a command line that failed to decode: what is wrong and what would be
    right, with its kind, how it is counted among the refusals (e.g. "invalid cause")."""
    try:
        raw = msgspec.json.decode(line)
    except msgspec.DecodeError:
        raw = None
    cls = ev.FACT_TYPES.get(raw.get("type")) if isinstance(raw, dict) and isinstance(raw.get("type"), str) else None
    message = str(error)
    what, sep, path = message.rpartition(" - at `")
    if not sep:  # a fact's own check (__post_init__), e.g. a time without a zone
        naive = _naive_time(cls, raw)
        return naive or Problem(N_("invalid command: {message}"), _kind(message), message=expectation(message))
    path = path.rstrip("`")
    field = path.removeprefix("$.")
    kind = "invalid " + re.sub(r"\[\d+\]", "[]", field)
    value = _value_at(raw, path)
    if path == "$.type":
        names = {name.lower(): name for name in ev.FACT_TYPES}
        close = [names[c] for c in difflib.get_close_matches(str(value).lower(), names, n=3, cutoff=0.85)]
        if close:
            return Problem(N_("invalid command: unknown type {value!r}; did you mean {close}? the types are "
                              "listed in docs/schemas/commands.json (`ticketledger schema`)"),
                           "unknown type", value=value, close=" / ".join(close))
        return Problem(N_("invalid command: unknown type {value!r}; the types are listed in "
                          "docs/schemas/commands.json (`ticketledger schema`)"), "unknown type", value=value)
    expected = _type_at(mi.type_info(cls), path) if cls else None
    if isinstance(expected, mi.LiteralType):
        allowed = ", ".join(str(v) for v in expected.values)
        return Problem(N_("invalid command: {field} {value!r} is not allowed; use one of: {allowed}"), kind,
                       field=field, value=value, allowed=allowed)
    if isinstance(expected, mi.DateTimeType) or "RFC3339" in what:
        return Problem(N_("invalid command: {problem}"), kind, problem=_time_problem(field, value))
    return Problem(N_("invalid command: {what} - at `{path}`"), kind, what=expectation(what), path=path)


# msgspec's validation messages, said in the reader's language (they are few and fixed)
_TYPE_WORDS = {"str": N_("text"), "int": N_("a whole number"), "float": N_("a number"), "bool": N_("true or false"),
               "object": N_("a JSON object"), "array": N_("a list"), "null": N_("null")}
_BOUNDS = {">=": N_("at least {n}"), "<=": N_("at most {n}"), ">": N_("above {n}"), "<": N_("below {n}")}
_EXPECTATIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Object missing required field `(?P<field>[^`]+)`"), N_("the required field {field} is missing")),
    (re.compile(r"Object contains unknown field `(?P<field>[^`]+)`"),
     N_("{field} is not a field of this command")),
    (re.compile(r"Expected `(?P<expected>\w+)`, got `(?P<got>\w+)`"), N_("expected {expected}, got {got}")),
    (re.compile(r"Expected `(?P<expected>int|float)` (?P<bound>>=|<=|>|<) (?P<n>\S+)"), N_("expected {expected} of {bound}")),
    (re.compile(r"Expected `str` of length (?P<bound><=|>=) (?P<n>\d+)"), N_("expected text of length {bound}")),
    (re.compile(r"Expected `array` of length (?P<bound><=|>=) (?P<n>\d+)"), N_("expected a list of length {bound}")),
    (re.compile(r"Expected `str` matching regex '(?P<regex>.*)'"), N_("expected text matching {regex}")),
]


def expectation(message: str) -> Phrase | str:
    """msgspec's message as a phrase said in the reader's language; as it is when unknown."""
    for pattern, template in _EXPECTATIONS:
        m = pattern.fullmatch(message)
        if m:
            found = m.groupdict()
            params: dict[str, object] = {k: v for k, v in found.items() if k not in ("bound", "n")}
            for k in ("expected", "got"):
                if k in found:
                    params[k] = Phrase(_TYPE_WORDS.get(found[k], found[k]))
            if "bound" in found:
                params["bound"] = Phrase(_BOUNDS[found["bound"]], n=found["n"])
            return Phrase(template, **params)
    return message


def _kind(message: str) -> str:
    if message.startswith("Object missing required field"):
        return "missing field"
    if message.startswith("Object contains unknown field"):
        return "unknown field"
    return "invalid command"


def _time_problem(field: str, value: Any) -> Problem:
    try:
        t = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        t = None
    if t is None:
        return Problem(N_("{field} {value!r} is not a time; write it as RFC 3339, e.g. {example}"),
                       field=field, value=value, example=TIME_EXAMPLE)
    if t.tzinfo is None:
        return Problem(N_("{field} {value!r} has no offset, so it names no instant; add one, e.g. +08:00 "
                          "({time}+08:00)"), field=field, value=value, time=t.isoformat(timespec='seconds'))
    return Problem(N_("{field} {value!r} is not RFC 3339; write the date, T, the time with seconds and the "
                      "offset: {time}"), field=field, value=value, time=t.isoformat(timespec='seconds'))


def _naive_time(cls: type | None, raw: Any) -> Problem | None:
    """The problem of the first time field of `raw` that has no offset (None: there is none)."""
    if cls is None or not isinstance(raw, dict):
        return None
    for f in mi.type_info(cls).fields:
        value = raw.get(f.encode_name)
        if isinstance(value, str) and _is_time(f.type):
            try:
                naive = datetime.fromisoformat(value).tzinfo is None
            except ValueError:
                continue
            if naive:
                return Problem(N_("invalid command: {problem}"), f"invalid {f.encode_name}",
                               problem=_time_problem(f.encode_name, value))
    return None


def _is_time(t: mi.Type) -> bool:
    while isinstance(t, mi.Metadata):  # a bound (domain.bounds) wraps the declared type
        t = t.type
    if isinstance(t, mi.UnionType):
        return any(_is_time(x) for x in t.types)
    return isinstance(t, mi.DateTimeType)


def _value_at(raw: Any, path: str) -> Any:
    for name, index in _STEP.findall(path.removeprefix("$")):
        try:
            raw = raw[int(index)] if index else raw[name]
        except (KeyError, IndexError, TypeError):
            return None
    return raw


def _type_at(t: mi.Type | None, path: str) -> mi.Type | None:
    """The declared type at a msgspec error path ($.parts[0].quantity) of a fact type."""
    for name, index in _STEP.findall(path.removeprefix("$")):
        t = _plain(t)
        if index and isinstance(t, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
            t = t.item_type
        elif name and isinstance(t, mi.StructType):
            t = next((f.type for f in t.fields if f.encode_name == name), None)
        else:
            return None
    return _plain(t)


def _plain(t: mi.Type | None) -> mi.Type | None:
    """Without its constraints, and without None in an optional."""
    while isinstance(t, mi.Metadata):
        t = t.type
    if isinstance(t, mi.UnionType):
        rest = [x for x in t.types if not isinstance(x, mi.NoneType)]
        if len(rest) == 1:
            return _plain(rest[0])
    return t
