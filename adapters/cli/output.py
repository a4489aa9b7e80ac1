"""Tables for people, JSON for programs: one way to print rows, used by every command."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import msgspec


def emit(rows: Sequence[dict[str, Any]], as_json: bool, columns: Sequence[str] | None = None,
         title: str | None = None) -> None:
    if as_json:
        sys.stdout.write(msgspec.json.encode(list(rows)).decode() + "\n")
        return
    if title:
        print(title)
    print(table(rows, columns))


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "(no rows)"
    cols = list(columns or rows[0].keys())
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line, sep, *body])


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".")
    return str(v)


class Progress:
    """A one-line progress counter on stderr for long work (quiet when not a terminal).

    `unit` names what is counted ("rows"); "bytes" are shown in MB."""

    def __init__(self, label: str, total: int | None = None, every: int = 10_000, unit: str = "") -> None:
        self.label, self.total, self.every, self.unit, self.n = label, total, every, unit, 0
        self.tty = sys.stderr.isatty()

    def add(self, k: int = 1) -> None:
        before, self.n = self.n, self.n + k
        if self.tty and before // self.every != self.n // self.every:
            sys.stderr.write(f"\r{self.label}: {self._count()}")
            sys.stderr.flush()

    def _count(self) -> str:
        if self.unit == "bytes":
            of = f"/{self.total / 1e6:,.1f}" if self.total else ""
            return f"{self.n / 1e6:,.1f}{of} MB"
        of = f"/{self.total:,}" if self.total else ""
        return f"{self.n:,}{of}" + (f" {self.unit}" if self.unit else "")

    def done(self) -> None:
        if self.tty:
            sys.stderr.write(f"\r{self.label}: {self._count()} done\n")
