"""Batch import of commands: JSON Lines, and the desk adapters' streams of facts.

Every source yields `(where, fact_or_problem)`: `where` says which line (or trace and
event) it came from; a problem is a string saying what is wrong with it. A refused or
unreadable item records nothing of itself and does not stop the rest (SPEC §6).
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from domain import events as ev

from .ledger import Ledger

Item = tuple[str, "ev.Fact | str"]


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


_line_decoder = msgspec.json.Decoder(ev.AnyFact)


def read_jsonl(path: str | Path) -> Iterator[Item]:
    """One command per line: a fact as JSON with its "type" (schema: docs/schemas/commands.json)."""
    for n, line in enumerate(open_text(path), start=1):
        if not line.strip():
            continue
        where = f"line {n}"
        try:
            yield where, _line_decoder.decode(line)
        except msgspec.ValidationError as e:
            yield where, f"invalid command: {e}"
        except msgspec.DecodeError as e:
            yield where, f"not valid JSON: {e}"
        except ValueError as e:  # raised by a fact's own checks (e.g. a naive time)
            yield where, f"invalid command: {e}"


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

    for where, item in items:
        summary.read += 1
        if isinstance(item, str):
            summary.refuse(where, item)
            continue
        facts.append(item)
        wheres.append(where)
        if len(facts) >= batch_size:
            flush()
    if facts:
        flush()
    return summary
