"""How every command prints rows: tables for people, JSON and CSV for programs, progress on stderr.

People read `rich` tables that fit the terminal (its width, or `COLUMNS`; Chinese characters
measured as two cells), with local times, durations, yuan and the views' codes as words of their
language (all written by replay/i18n.py), and a "showing N of M rows" line instead of a silent cut.
Programs read `--json` or `--csv`: the rows as they are (codes, integer fen, UTC ISO instants),
the same in every language.

A column is a row key, or a `Column` that says how people read it (`kind`). Times are shown in
the zone `emit(..., zone=...)` names: one zone, or a function of the row (its contract's zone).
"""

from __future__ import annotations

import csv
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from domain.errors import Explained, Refused
from replay.i18n import DEFAULT_TZ, VOCABULARY, Texts, resolve_lang, texts, word
from replay.printable import printable

# --- language -------------------------------------------------------------------------------------

LANG_ENV = "TICKETLEDGER_LANG"
_requested: dict[str, str | None] = {"lang": None}


def configure(lang: str | None) -> None:
    """The language asked for on the command line (`--lang`), else $TICKETLEDGER_LANG."""
    _requested["lang"] = lang or os.environ.get(LANG_ENV) or None


def language(timezone: str | None = None, *, document: str | None = None) -> str:
    """The language of this command's human output: the one asked for, else the language of the
    document it reads (`document`: a dispute report's), else the contract's (Chinese for a
    contract in China's time zone; pass its zone), else the system locale's."""
    return resolve_lang(_requested["lang"] or document, timezone=timezone)


def speak(timezone: str | None = None, *, document: str | None = None) -> Texts:
    """The texts of `language(timezone)`: `_ = speak(zone)` then `_("…")`, `_.money(fen)`, …"""
    return texts(language(timezone, document=document))


def said(error: BaseException, timezone: str | None = None) -> str:
    """An error's text in the reader's language: an `Explained` error's (or a refusal's)
    template in `speak(timezone)`'s, any other's as it is."""
    if isinstance(error, Explained | Refused):
        return (error.refusal if isinstance(error, Refused) else error).said(speak(timezone))
    return str(error)


# --- columns --------------------------------------------------------------------------------------

# How a column's values are written for people. Any other kind names a vocabulary of
# replay.i18n.VOCABULARY (clock, state, coverage, payer, rate, cause, …): the code as a word.
# "value": a query's value as it is (`sql`: the analyst's own expression, see `faithful`).
KINDS = ("text", "id", "time", "end", "date", "last_day", "duration", "money", "money_change", "number", "percent",
         "bool", "value")


@dataclass(frozen=True)
class Column:
    """A column of a table for people: the row key, its header (English, marked with N_ for the
    catalog) and how its values are written."""

    key: str
    header: str = ""
    kind: str = "text"

    def __post_init__(self) -> None:
        if self.kind not in KINDS and self.kind not in VOCABULARY:
            raise ValueError(f"column {self.key}: unknown kind {self.kind!r}")

    def title(self, t: Texts) -> str:
        return t(self.header) if self.header else self.key


ColumnSpec = str | Column
Zone = str | Callable[[dict[str, Any]], str] | None


def as_column(spec: ColumnSpec) -> Column:
    return spec if isinstance(spec, Column) else Column(spec)


def cell(t: Texts, kind: str, value: Any, tz: str = DEFAULT_TZ) -> str:
    """One value as people read it in `t`'s language."""
    if value is None or value == "":
        return ""
    if kind == "time":
        return t.time(value, tz)
    if kind == "end":
        return t.end(value, tz)
    if kind == "date":
        return t.date(value if isinstance(value, date | str) else str(value))
    if kind == "last_day":  # a period's last day, whole: it ends at 24:00 (art. 203), as the statement writes it
        return f"{t.date(value if isinstance(value, date | str) else str(value))} 24:00"
    if kind == "duration":  # a column compares hours down the table; the days form is for sentences
        return t.duration(value, days=False)
    if kind == "money":
        return t.money(value)
    if kind == "money_change":  # a difference: signed both ways (+¥2,149.00, -¥16,035.00)
        return ("+" if value > 0 else "") + t.money(value)
    if kind == "number":
        return t.number(value)
    if kind == "percent":
        return t.percent(value)
    if kind == "bool" or isinstance(value, bool):
        return t.yes_no(bool(value))
    if kind == "value":
        return printable(faithful(value))
    if kind in VOCABULARY:
        return word(t.lang, kind, str(value))
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    # recorded text: a newline or an escape sequence must not forge or wipe a row (replay.printable)
    if isinstance(value, list | tuple):
        return printable(", ".join(str(v) for v in value))
    if isinstance(value, dict):
        return msgspec.json.encode(value).decode()
    return printable(str(value))


def faithful(value: Any) -> str:
    """A query's value as people read it, near DuckDB's own text: a float with every digit a
    DOUBLE holds (15 significant; never a small one shown as 0), an INTERVAL as [-]HH:MM:SS
    (hours beyond a day kept as hours: 24:00:00 is a day's end), lists in brackets at every level,
    a naive timestamp ISO as it is (`sql` cannot know its zone). A bool is yes/no (`cell`)."""
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return format(value, ".15g")
    if isinstance(value, timedelta):
        return _clock_text(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(faithful(v) for v in value) + "]"
    if isinstance(value, dict):
        return msgspec.json.encode(value, enc_hook=str).decode()
    if isinstance(value, datetime | date):
        return str(plain(value, naive_utc=False))
    return str(value)


def _clock_text(span: timedelta) -> str:
    micro = abs(span) // timedelta(microseconds=1)
    seconds, fraction = divmod(micro, 1_000_000)
    text = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return ("-" if span < timedelta(0) else "") + text + (f".{fraction:06d}" if fraction else "")


# --- printing rows --------------------------------------------------------------------------------


UNBOUNDED = 100_000  # the width of a file or a pipe: a table keeps its natural width there


def console(file: Any = None, width: int | None = None) -> Console:
    """A console on stdout: $COLUMNS when set, else the terminal's width; in a file or a pipe
    without $COLUMNS a table keeps its natural width (one line per row, for grep and less -S).
    Colour only on a terminal; text printed as it is (no markup, no emoji codes)."""
    file = file or sys.stdout
    if width is None and not os.environ.get("COLUMNS") and not _is_terminal(file):
        width = UNBOUNDED
    return _Console(file=file, width=width, highlight=False, markup=False, emoji=False, soft_wrap=False)


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """rich exits 1 itself; the CLI's main() ends a closed pipe the same way for every command."""
        raise BrokenPipeError


def _is_terminal(file: Any) -> bool:
    try:
        return file.isatty()
    except (AttributeError, ValueError):
        return False


def emit(rows: Iterable[dict[str, Any]], as_json: bool, columns: Sequence[ColumnSpec] | None = None,
         title: str | None = None, *, as_csv: bool = False, total: int | None = None,
         zone: Zone = None, lang: str | None = None, hint: str | None = None, limit_given: bool = False) -> None:
    """Print rows: JSON (`as_json`) or CSV (`as_csv`) with every key and raw value (`columns`, when
    given, the CSV header: written even when no row follows); else a table of `columns` (default:
    every key) for people, in `lang` (default: the command line's language), followed by
    "showing N of M rows" when `total` says more rows exist than were given (and how to see more:
    `limit_given`, the reader's own --limit cut them)."""
    if as_json:
        write_json(rows)
        return
    if as_csv:
        write_csv(rows, [as_column(c).key for c in columns] if columns else None)
        return
    rows = list(rows)
    _ = texts(lang) if lang else speak()
    out = console()
    if title:
        out.print(Text(title))
    cols = [as_column(c) for c in (columns or (list(rows[0].keys()) if rows else []))]
    cells = written(rows, cols, _, zone)  # once: both the fit and the table read them
    shown = cols[:fitted(cells, cols, _, out.width)] if out.width != UNBOUNDED else cols
    out.print(render(rows, shown, _, zone, cells=[values[:len(shown)] for values in cells]))
    if len(shown) < len(cols):
        left = [c.title(_) for c in cols[len(shown):]]
        out.print(Text(_.plural("{n} column left out to fit {width} characters: {names}; widen the terminal, or ask "
                                "for fewer columns (--json and --csv print them all)",
                                "{n} columns left out to fit {width} characters: {names}; widen the terminal, or ask "
                                "for fewer columns (--json and --csv print them all)", len(left),
                                width=out.width, names=_.listing(left))))
    if total is not None and total > len(rows):
        if limit_given:
            out.print(Text(_("showing {shown} of {total} rows (raise --limit to see more)",
                             shown=_.number(len(rows)), total=_.number(total))))
        else:
            out.print(Text(_("showing {shown} of {total} rows (use --limit / --json / --csv)",
                             shown=_.number(len(rows)), total=_.number(total))))


WRAPPING = 16  # a longer word folds when its column wraps to fit
GAP = 2  # between two columns (padding 1 each side, edges unpadded)


def written(rows: Sequence[dict[str, Any]], cols: Sequence[Column], _: Texts, zone: Zone) -> list[list[str]]:
    """Each row's values as people read them, column by column (`cell`)."""
    def tz(r: dict[str, Any]) -> str:
        return zone(r) if callable(zone) else (zone or DEFAULT_TZ)

    return [[cell(_, c.kind, r.get(c.key), tz(r)) for c in cols] for r in rows]


def fitted(cells: Sequence[Sequence[str]], cols: Sequence[Column], _: Texts, width: int) -> int:
    """How many leading columns fit `width` with ids, times and figures whole and words wrapped
    between words at most: squeezing every column into a narrow terminal folded ids over three
    lines and cut words in two, so the columns on the right are left out instead (and said so)."""
    from rich.cells import cell_len

    def narrowest(text: str) -> int:
        """The width `text` wraps to: its longest word, up to WRAPPING (longer ones fold); two
        characters where a word is Chinese (it breaks between any two)."""
        return max((min(cell_len(w), WRAPPING) if cell_len(w) == len(w) else min(cell_len(w), 4)
                    for w in text.split()), default=0)

    def need(i: int, c: Column) -> int:
        words = c.kind in ("text", "value") or c.kind in VOCABULARY  # a query's text wraps like any text
        widest = max(((narrowest if words else cell_len)(values[i]) for values in cells), default=0)
        return max(narrowest(c.title(_)), widest)

    used, shown = -GAP, 0
    for i, c in enumerate(cols):
        used += need(i, c) + GAP
        if used > width and shown:
            break
        shown += 1
    return shown


def render(rows: Sequence[dict[str, Any]], columns: Sequence[ColumnSpec] | None, _: Texts,
           zone: Zone = None, cells: Sequence[Sequence[str]] | None = None) -> Table | Text:
    """The rows as a rich table (ids never wrapped; long text wraps inside its column); `cells`:
    the rows as `written` already wrote them for these columns."""
    if not rows:
        return Text(_("(no rows)"))
    cols = [as_column(c) for c in (columns or list(rows[0].keys()))]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, header_style="bold",
                  padding=(0, 1), collapse_padding=True)
    for c in cols:
        numeric = c.kind in ("money", "money_change", "number", "percent", "duration")
        table.add_column(c.title(_), justify="right" if numeric else "left", overflow="fold",
                         no_wrap=numeric or c.kind in ("id", "time", "end", "date"))
    for values in cells if cells is not None else written(rows, cols, _, zone):
        table.add_row(*values)
    return table


def table(rows: Sequence[dict[str, Any]], columns: Sequence[ColumnSpec] | None = None,
          width: int | None = None, lang: str | None = None) -> str:
    """The rows as table text (for summaries written into other text, e.g. the demo's, bench's)."""
    import io

    buf = io.StringIO()
    con = console(buf, width or _width())
    con.print(render(rows, columns, texts(lang) if lang else speak()))
    return buf.getvalue().rstrip("\n")


def _width() -> int | None:
    width = console().width
    return None if width == UNBOUNDED else width


def plain(value: Any, *, naive_utc: bool = True) -> Any:
    """A value as programs read it: UTC instants as ISO text with Z, dates ISO, intervals in seconds
    (a whole number as an integer).
    `naive_utc=False` (`sql`, whose expressions may turn a UTC time into any other): a naive
    timestamp as it is, ISO without a zone, for no one can say which zone it is in."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.isoformat()
        return value.strftime("%Y-%m-%dT%H:%M:%S") + "Z" if naive_utc else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        return int(seconds) if seconds.is_integer() else seconds
    return value


def write_json(rows: Iterable[dict[str, Any]]) -> None:
    """A JSON array, written as it is read (a large result is never held twice)."""
    out = sys.stdout
    out.write("[")
    for i, r in enumerate(rows):
        out.write(("," if i else "") + msgspec.json.encode(r).decode())
    out.write("]\n")
    out.flush()


def write_csv(rows: Iterable[dict[str, Any]], header: Sequence[str] | None = None) -> None:
    """CSV with a header row (`header`, else the first row's keys): raw values — codes, integer
    fen, UTC ISO instants, true/false — lists and objects as JSON text, NULL as an empty field.
    With `header`, no rows is the header alone: a program reads an empty result, not no file."""
    writer = None

    def start(fields: Sequence[str]) -> csv.DictWriter:
        w = csv.DictWriter(sys.stdout, fieldnames=list(dict.fromkeys(fields)), lineterminator="\n",
                           extrasaction="ignore")
        w.writeheader()
        return w

    for r in rows:
        if writer is None:
            writer = start(header or list(r.keys()))
        writer.writerow({k: _csv_value(v) for k, v in r.items()})
    if writer is None and header:
        start(header)
    sys.stdout.flush()


def _csv_value(v: Any) -> Any:
    v = plain(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list | dict):
        return msgspec.json.encode(v).decode()
    return v


# --- progress -------------------------------------------------------------------------------------


class Progress:
    """Progress of long work on stderr — done and total, rate, time left — only when stderr is a
    terminal (nothing in pipes, files and logs). `add(n)` is cheap: the bar is touched at most
    every `every` units. `update(total=…)` when the total becomes known; `done()` ends the bar."""

    def __init__(self, label: str, total: int | None = None, every: int = 10_000, unit: str = "") -> None:
        self.label, self.total, self.every, self.unit = label, total, max(1, every), unit
        self.n, self._shown = 0, 0
        self.tty = sys.stderr.isatty()
        self.started = time.perf_counter()
        self._bar: Any = None
        self._task: Any = None
        if self.tty:
            self._start()

    def _start(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        _ = speak()
        self._bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TaskProgressColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                        TextColumn(_("left")), TimeRemainingColumn(),
                        console=Console(file=sys.stderr, highlight=False, markup=False), transient=True,
                        refresh_per_second=4)
        self._task = self._bar.add_task(self.label, total=self.total, rate="")
        self._bar.start()
        _ACTIVE.append(self)

    def add(self, k: int = 1) -> None:
        self.n += k
        if self._bar is not None and self.n - self._shown >= self.every:
            self._show()

    def update(self, total: int | None = None) -> None:
        """Say the total once it is known (e.g. after counting the input)."""
        self.total = total
        if self._bar is not None:
            self._bar.update(self._task, total=total)

    def _show(self) -> None:
        self._shown = self.n
        seconds = time.perf_counter() - self.started
        rate = f"{texts('en').number(self.n / seconds) if seconds else '…'}/s"
        self._bar.update(self._task, completed=self.n, rate=rate)

    def done(self) -> None:
        """End the bar and leave one line saying what was done, how fast."""
        if self._bar is None:
            return
        self._stop()
        _ = speak()
        seconds = time.perf_counter() - self.started
        rate = _.number(self.n / seconds) if seconds > 0 else "…"
        sys.stderr.write(_("{label}: {n} {unit} in {seconds} s ({rate}/s)", label=self.label,
                           n=_.number(self.n), unit=self.unit or _("done"),
                           seconds=f"{seconds:.1f}", rate=rate) + "\n")
        sys.stderr.flush()

    def _stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
            if self in _ACTIVE:
                _ACTIVE.remove(self)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.done()
        else:
            self._stop()


_ACTIVE: list[Progress] = []


class RebuildBars:
    """A views rebuild's progress in two phases on a terminal: the stored events loaded (against
    their total), then the views computed (against their steps). A projections.apply.RebuildProgress."""

    def __init__(self, total_events: int | None) -> None:
        from projections.recompute import WHOLE_STEPS

        _ = speak()
        self.steps = WHOLE_STEPS
        self._views_label, self._steps_unit = _("computing views"), _("steps")
        self.load = Progress(_("loading events"), total=total_events or None, every=20_000, unit=_("events"))
        self.views: Progress | None = None
        self._reads_counted = False

    def reading(self, rows: Iterable[Any]) -> Iterable[Any]:
        """Log rows a filtered replay reads: counted as they are read (the total is the log's),
        not as they are kept."""
        self._reads_counted = True
        for r in rows:
            self.load.add(1)
            yield r

    def loaded(self, rows: int) -> None:
        if not self._reads_counted:
            self.load.add(rows)

    def computed(self, steps: int) -> None:
        if self.views is None:
            self.load.done()
            self.views = Progress(self._views_label, total=self.steps, every=1, unit=self._steps_unit)
        self.views.add(steps)

    def done(self) -> None:
        (self.views or self.load).done()


def rebuild_bars(total_events: int | None) -> RebuildBars | None:
    """Bars for a rebuild when stderr is a terminal; None elsewhere (nothing drawn, nothing counted)."""
    return RebuildBars(total_events) if _is_terminal(sys.stderr) else None


def stop_progress() -> None:
    """Stop every bar still drawn (a command failed half-way): its error line is then readable."""
    for p in list(_ACTIVE):
        p._stop()
