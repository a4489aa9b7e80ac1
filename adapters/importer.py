"""Batch import of commands: JSON Lines, and the desk adapters' streams of facts.

Every source yields `(where, fact_or_problem)`: `where` says which line (or trace and
event) it came from; a problem is a string saying what is wrong with it. A refused or
unreadable item records nothing of itself and does not stop the rest (SPEC §6).
"""

from __future__ import annotations

import codecs
import gzip
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from domain import events as ev

from .ledger import Ledger

Item = tuple[str, "ev.Fact | str"]


class ImportInputError(ValueError):
    """An import's input that cannot be used at all (a file that is not of its format, a mapping,
    an option): the message names it, says what is wrong and what would be right. Raised before
    anything of it is recorded (a file broken past its first batch: the message says what was)."""


# what reading a file that is not what it should be raises (BadGzipFile is an OSError)
READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError)


@dataclass
class ImportSummary:
    read: int = 0
    recorded: int = 0
    already_recorded: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)
    refused_by_reason: Counter[str] = field(default_factory=Counter)

    def refuse(self, where: str, reason: str, kind: str | None = None) -> None:
        self.refused.append((where, reason))
        self.refused_by_reason[kind or reason_kind(reason)] += 1

    def as_dict(self) -> dict:
        return {
            "read": self.read,
            "recorded": self.recorded,
            "already_recorded": self.already_recorded,
            "refused": len(self.refused),
            "refused_by_reason": dict(sorted(self.refused_by_reason.items())),
        }


def reason_kind(reason: str) -> str:
    """A short class of a refusal, to count refusals by reason in summaries."""
    text = reason.split(": ", 1)[-1] if ") :" not in reason else reason
    head = text.split(";")[0]
    for token in ("unknown ticket", "unknown asset", "arrival before dispatch", "before the report time",
                  "already used for different content", "is closed", "is cancelled", "is resolved",
                  "unknown severity", "no '", "already open", "in the future", "not valid JSON",
                  "invalid", "is decommissioned"):
        if token in head:
            return token.strip("'")
    return head[:60]


def open_text(path: str | Path) -> Iterator[str]:
    """Lines of a text file, gzip read directly."""
    p = str(path)
    opener = gzip.open if p.endswith(".gz") else open
    with opener(p, "rt", encoding="utf-8", newline="") as f:  # type: ignore[operator]
        yield from f


def open_binary(path: str | Path) -> Any:
    """A file's bytes, gzip read directly."""
    return gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")  # noqa: SIM115


def unreadable(path: str | Path, e: BaseException, expected: str) -> ImportInputError:
    """Why a file could not be read as `expected` (e.g. "a JSON Lines file"), in one line."""
    if isinstance(e, IsADirectoryError):
        return ImportInputError(f"{path} is a folder; name {expected} (gzip is read directly)")
    if isinstance(e, FileNotFoundError):
        return ImportInputError(f"no file {e.filename or path}")
    if isinstance(e, gzip.BadGzipFile):
        return ImportInputError(f"{path}: not gzip data although its name ends in .gz; give {expected}, "
                                "named .gz only when it is gzip-compressed")
    if isinstance(e, EOFError | zlib.error):
        return ImportInputError(f"{path}: the gzip data is cut short or damaged ({e}); copy or download "
                                "the file again")
    if isinstance(e, UnicodeDecodeError):
        line = _first_undecodable_line(path)
        where = f"line {line}" if line else f"byte 0x{e.object[e.start]:02x}"
        return ImportInputError(f"{path}: {where} is not UTF-8 text ({looks_like(path) or e.reason}); "
                                f"give {expected} in UTF-8")
    if isinstance(e, OSError):
        return ImportInputError(f"{path}: cannot be read ({e.strerror or e}); give {expected}")
    return ImportInputError(f"{path}: {e}; give {expected}")


def _first_undecodable_line(path: str | Path, max_bytes: int = 256 << 20) -> int | None:
    """The number of the first line that is not UTF-8 (read again, only after a decode error)."""
    read = 0
    try:
        with open_binary(path) as f:
            for n, raw in enumerate(f, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return n
                read += len(raw)
                if read > max_bytes:
                    return None
    except (*READ_ERRORS, ValueError):
        return None
    return None


def looks_like(path: str | Path) -> str:
    """What a file's start looks like, to tell a user which format would read it ('' when unsure)."""
    try:
        with open_binary(path) as f:
            head = f.read(4096)
    except (*READ_ERRORS, ValueError):
        return ""
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if not text:
        return "the file is empty"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "the file is binary data, not text"
    if b"\0" in head:
        return "the file is binary data, not text"
    if text.startswith(b"<"):
        return "it looks like XML: an XES log is read by --format xes --mapping M.toml"
    if text.startswith(b"{"):
        return "it looks like JSON: JSON Lines are read by `import FILE` without --format"
    lines = [ln.strip() for ln in text.decode("utf-8", "replace").splitlines()]
    first = next((ln for ln in lines if ln and not ln.startswith("#")), "")
    if _TOML_LINE.match(first):
        return "it looks like TOML (a contract or a mapping?)"
    if lines[0].count(",") >= 2:
        return f"it looks like a CSV whose header is {lines[0][:100]!r}"
    return ""


_TOML_LINE = re.compile(r"""\[[\w."' -]+\]$|[\w."-]+\s*=""")


_line_decoder = msgspec.json.Decoder(ev.AnyFact)
NOT_JSONL_AFTER = 20  # lines from the start none of which is JSON: the file is something else


def read_jsonl(path: str | Path) -> Iterator[Item]:
    """One command per line: a fact as JSON with its "type" (schema: docs/schemas/commands.json).

    A file that cannot be read as text, or whose first NOT_JSONL_AFTER lines are none of them
    JSON, is not JSON Lines: ImportInputError (before anything of it is recorded)."""
    try:
        yield from _jsonl_items(path)
    except READ_ERRORS as e:
        raise unreadable(path, e, "a JSON Lines file (one command per line)") from None


def _jsonl_items(path: str | Path) -> Iterator[Item]:
    jsonl, not_objects, first = False, 0, ""  # jsonl: a line was a command or at least a JSON object
    for n, line in enumerate(open_text(path), start=1):
        if not line.strip():
            continue
        where = f"line {n}"
        try:
            fact = _line_decoder.decode(line)
        except msgspec.ValidationError as e:
            problem = f"invalid command: {e}"
        except msgspec.DecodeError as e:
            problem = f"not valid JSON: {e}"
        except ValueError as e:  # raised by a fact's own checks (e.g. a naive time)
            problem = f"invalid command: {e}"
        else:
            jsonl = True
            yield where, fact
            continue
        if jsonl or line.lstrip(" \t\ufeff").startswith("{"):
            jsonl = True
        else:
            not_objects += 1
            first = first or f"{where}: {problem}"
            if not_objects == NOT_JSONL_AFTER:
                hint = looks_like(path)
                raise ImportInputError(
                    f"{path} does not look like JSON Lines: none of its first {NOT_JSONL_AFTER} lines is a JSON "
                    f"object ({first}){'; ' + hint if hint else ''}. Give one command per line as JSON "
                    "(docs/schemas/commands.json), or --format servicenow|xes for a service desk's export")
        yield where, problem


def import_items(ledger: Ledger, items: Iterable[Item], batch_size: int = 1000,
                 progress: Callable[[int], None] | None = None,
                 summary: ImportSummary | None = None) -> ImportSummary:
    """Record every good item in batches; report every bad one with where it came from."""
    summary = summary or ImportSummary()
    facts: list[ev.Fact] = []
    wheres: list[str] = []

    def flush() -> None:
        recorded = already = 0  # counted here, added once: a batch is a thousand outcomes
        for where, outcome in zip(wheres, ledger.execute_many(facts), strict=True):
            if outcome.status == "recorded":
                recorded += 1
            elif outcome.status == "already_recorded":
                already += 1
            else:
                summary.refuse(where, outcome.error)
        summary.recorded += recorded
        summary.already_recorded += already
        if progress:
            progress(len(facts))
        facts.clear()
        wheres.clear()

    try:
        for where, item in items:
            summary.read += 1
            if isinstance(item, str):
                summary.refuse(where, item)
                continue
            facts.append(item)
            wheres.append(where)
            if len(facts) >= batch_size:
                flush()
    except ImportInputError as e:  # the rest of the file cannot be read: say what was recorded
        if summary.recorded:
            raise ImportInputError(f"{e} (the {summary.recorded:,} commands before it were recorded; importing "
                                   "the repaired file records only the rest)") from None
        raise
    if facts:
        flush()
    return summary
