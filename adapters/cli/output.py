"""Tables for people, JSON for programs: one way to print rows, used by every command."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import msgspec

from replay.printable import printable


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
    return printable(str(v))  # a recorded newline or escape sequence must not forge or wipe a row


class Progress:
    """A one-line progress counter on stderr for long work (quiet when not a terminal)."""

    def __init__(self, label: str, total: int | None = None, every: int = 10_000) -> None:
        self.label, self.total, self.every, self.n = label, total, every, 0
        self.tty = sys.stderr.isatty()

    def add(self, k: int = 1) -> None:
        before, self.n = self.n, self.n + k
        if self.tty and before // self.every != self.n // self.every:
            of = f"/{self.total:,}" if self.total else ""
            sys.stderr.write(f"\r{self.label}: {self.n:,}{of}")
            sys.stderr.flush()

    def done(self) -> None:
        if self.tty:
            sys.stderr.write(f"\r{self.label}: {self.n:,} done\n")
