"""Batch import of commands: JSON Lines, and the desk adapters' streams of facts.

Every source yields `(where, fact_or_problem)`: `where` says which line (or trace and
event) it came from; a problem is a string saying what is wrong with it. A refused or
unreadable item records nothing of itself and does not stop the rest (SPEC §6).
"""

from __future__ import annotations

import codecs
import gzip
import re
import shlex
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from domain import events as ev
from domain.errors import N_, Explained, Phrase, Refusal

from .ledger import Ledger

Item = tuple[str, "ev.Fact | str"]


class Problem(Phrase):
    """What is wrong with an item, as a template and its fields (said in the reader's language),
    with its kind (how refusals are counted) when its maker knows it."""

    kind: str | None = None

    def __new__(cls, message: str, /, kind: str | None = None, **params: object) -> Problem:
        problem = super().__new__(cls, message, **params)
        problem.kind = kind
        return problem


class ImportInputError(Explained, ValueError):
    """An import's input that cannot be used at all (a file that is not of its format, a mapping,
    an option): the message names it, says what is wrong and what would be right. Raised before
    anything of it is recorded (a file broken past its first batch: the message says what was)."""


# what reading a file that is not what it should be raises (BadGzipFile is an OSError)
READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError)


_LINE = re.compile(r"line (\d+)$")


@dataclass
class ImportSummary:
    read: int = 0  # items: facts and problems
    rows: int = 0  # rows of the file read (JSON Lines lines, CSV rows, XES events): what progress counts
    recorded: int = 0
    already_recorded: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)
    refused_by_reason: Counter[str] = field(default_factory=Counter)
    # the ledger's refusals among `refused` (by index), to be written in the reader's language
    refusals: dict[int, Refusal] = field(default_factory=dict)

    def refuse(self, where: str, reason: str, kind: str | None = None) -> None:
        self.refused.append((where, reason))  # a Problem keeps its template, to be said later
        self.refused_by_reason[kind or reason_kind(reason)] += 1

    def refuse_command(self, where: str, error: str, refusal: Refusal | None) -> None:
        """A command the ledger refused (`error` in English, `refusal` its templates)."""
        if refusal is not None:
            self.refusals[len(self.refused)] = refusal
        self.refuse(where, error)

    def in_file_order(self) -> list[int]:
        """The refusals' indexes by line: a line that does not decode is refused as it is read, a
        command the ledger refuses only when its batch is decided, so `refused` interleaves them."""
        def line(i: int) -> tuple[int, int]:
            m = _LINE.match(self.refused[i][0])
            return (int(m.group(1)), i) if m else (1 << 62, i)
        return sorted(range(len(self.refused)), key=line)

    def reasons(self, _: Callable[..., str]) -> Iterator[tuple[str, str]]:
        """(where, why) of every refusal in the language of `_` (a Texts), in the file's order."""
        for i in self.in_file_order():
            where, reason = self.refused[i]
            refusal = self.refusals.get(i)
            said = refusal.said(_) if refusal else reason.said(_) if isinstance(reason, Phrase) else reason
            yield where_said(where, _), said

    def kinds(self, _: Callable[..., str]) -> Iterator[tuple[str, int]]:
        """(kind, refusals) in the language of `_`, as `as_dict`'s refused_by_reason counts them."""
        for kind, n in sorted(self.refused_by_reason.items()):
            yield kind_said(kind, _), n

    def as_dict(self) -> dict:
        return {
            "read": self.read,
            "rows": self.rows,
            "recorded": self.recorded,
            "already_recorded": self.already_recorded,
            "refused": len(self.refused),
            "refused_by_reason": dict(sorted(self.refused_by_reason.items())),
        }


# What is wrong, as a ledger refusal says it, to the kind it is counted under: the ids and values
# in the message are left out so that one kind counts every ticket it happened to.
REASON_KINDS = (
    (re.compile(r"^ticket \S+ is (already open|cancelled|closed|resolved|open)\b"),
     lambda m: f"ticket {m.group(1)}" if m.group(1) == "already open" else f"ticket is {m.group(1)}"),
    (re.compile(r"^ticket \S+ was never opened"), "ticket never opened"),
    (re.compile(r"^no '[^']*' wait is open"), "no such wait is open"),
    (re.compile(r"^a '[^']*' wait is already open"), "that wait is already open"),
    (re.compile(r"unknown (?:replacement )?asset"), "unknown asset"),
    (re.compile(r"^unknown (ticket|contract|severity)"), lambda m: f"unknown {m.group(1)}"),
    (re.compile(r"^asset \S+ is (decommissioned|already registered)"), lambda m: f"asset {m.group(1)}"),
    (re.compile(r"^contract \S+ is already registered"), "contract already registered"),
    (re.compile(r"belongs to customer|binds customer"), "another customer's"),
    (re.compile(r"already used for different content"), "command id already used for different content"),
    (re.compile(r"^schema version"), "not the current schema version"),
    (re.compile(r"^invalid ([\w.\[\]]+)"), lambda m: f"invalid {m.group(1)}"),
    (re.compile(r"in the future"), "time in the future"),
    (re.compile(r"is before the report time"), "time before the report time"),
)
# The kinds reason_kind and the decoder count refusals under, marked for the catalog (the desk
# adapters mark theirs in desks.common.KINDS); a kind the catalog lacks is shown as it is.
KNOWN_KINDS = (
    N_("ticket already open"), N_("ticket is cancelled"), N_("ticket is closed"), N_("ticket is resolved"),
    N_("ticket is open"), N_("ticket never opened"), N_("no such wait is open"),
    N_("that wait is already open"), N_("unknown asset"), N_("unknown ticket"), N_("unknown contract"),
    N_("unknown severity"), N_("asset decommissioned"), N_("asset already registered"),
    N_("contract already registered"), N_("another customer's"),
    N_("command id already used for different content"), N_("not the current schema version"),
    N_("time in the future"), N_("time before the report time"), N_("not valid JSON"), N_("missing field"), N_("unknown field"),
    N_("invalid command"), N_("unknown type"),
)
_INVALID = re.compile(r"^invalid (\S+)$")
# Where an item came from, as the sources write it (English) -> its template and fields
_WHERE = (
    (re.compile(r"^line (?P<line>\d+)$"), N_("line {line}")),
    (re.compile(r"^trace (?P<trace>.+) event (?P<event>\d+)$"), N_("trace {trace} event {event}")),
)


def kind_said(kind: str, _: Callable[..., str]) -> str:
    """A refusal's kind in the language of `_`: `invalid <field>` keeps its field's name."""
    m = _INVALID.match(kind)
    if m and kind != "invalid command":
        return _(N_("invalid {field}"), field=m.group(1))
    return _(kind)  # gettext gives back a kind it has no entry for; no fields are filled


def where_said(where: str, _: Callable[..., str]) -> str:
    """Where an item came from (`line 4`, `trace T1 event 2`) in the language of `_`."""
    for pattern, template in _WHERE:
        m = pattern.match(where)
        if m:
            return _(template, **m.groupdict())
    return where


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`|\([^)]*\)")
_NAMED = re.compile(r"\b(ticket|asset|contract|spare|customer|command id) \S+")
KIND_WORDS = 10


def reason_kind(reason: str) -> str:
    """A short class of a refusal, to count refusals by reason in summaries: what is wrong, without
    the command it was said of, the ids and values in it, or what would be right."""
    text = reason.split("): ", 1)[-1] if re.match(r"\w+ \S+ \(command ", reason) else reason
    head = text.split("; ")[0].strip()
    for pattern, kind in REASON_KINDS:
        m = pattern.search(head)
        if m:
            return kind if isinstance(kind, str) else kind(m)
    words = _NAMED.sub(r"\1 …", _QUOTED.sub("…", head)).split()
    return " ".join(words[:KIND_WORDS]) + (" …" if len(words) > KIND_WORDS else "")


def open_text(path: str | Path) -> Iterator[str]:
    """Lines of a text file, gzip read directly."""
    p = str(path)
    opener = gzip.open if p.endswith(".gz") else open
    with opener(p, "rt", encoding="utf-8-sig", newline="") as f:  # type: ignore[operator]  # a BOM (Excel) is dropped
        yield from f


def open_binary(path: str | Path) -> Any:
    """A file's bytes, gzip read directly."""
    return gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")  # noqa: SIM115


@contextmanager
def open_measured(path: str | Path) -> Iterator[tuple[Any, Callable[[], int]]]:
    """A file's bytes (gzip read directly) and how many bytes of the file itself have been read
    so far: progress of a pass over a file whose rows are not known yet, as a share of its size."""
    with open(path, "rb") as raw:
        if str(path).endswith(".gz"):
            with gzip.GzipFile(fileobj=raw) as stream:
                yield stream, raw.tell
        else:
            yield raw, raw.tell


@dataclass
class Source:
    """An import's input, checked as a whole and ready to stream: its items, the summary they are
    counted in, and the rows it will read when that is known before reading (for progress)."""

    items: Iterator[Item]
    summary: ImportSummary
    rows: int | None = None
    zone: Phrase | None = None  # a desk's: the zone its times without an offset are read in, and whose it is


def unreadable(path: str | Path, e: BaseException, expected: str, *, gzip_read: bool = True) -> ImportInputError:
    """Why a file could not be read as `expected` (e.g. "a JSON Lines file"), in one line: the
    words of every command for an input file that is missing or cannot be read (`gzip_read`: the
    reader also takes it gzip-compressed, as imports do; a contract file is read only as it is)."""
    if isinstance(e, IsADirectoryError):
        if not gzip_read:
            return ImportInputError(N_("{path} is a folder; name {expected}"), path=path, expected=expected)
        return ImportInputError(N_("{path} is a folder; name {expected} (gzip is read directly)"),
                                path=path, expected=expected)
    if isinstance(e, FileNotFoundError):
        return ImportInputError(N_("no file {path}"), path=e.filename or path)
    if isinstance(e, gzip.BadGzipFile):
        return ImportInputError(N_("{path}: not gzip data although its name ends in .gz; give {expected}, "
                                   "named .gz only when it is gzip-compressed"), path=path, expected=expected)
    if isinstance(e, EOFError | zlib.error):
        return ImportInputError(N_("{path}: the gzip data is cut short or damaged ({error}); copy or download "
                                   "the file again"), path=path, error=e)
    if isinstance(e, UnicodeDecodeError):
        convert = _gb18030_command(path)
        if convert:  # a Chinese Windows export (Excel's "CSV", iconv -t GBK): say how to convert it
            return ImportInputError(N_("{path} is not UTF-8 text: it looks like GBK/GB18030 (a Chinese Windows "
                                       "export); convert it with `{command}` and import that; give {expected} "
                                       "in UTF-8"), path=path, command=convert, expected=expected)
        line = _first_undecodable_line(path)
        where = Phrase(N_("line {line}"), line=line) if line else Phrase(N_("byte 0x{byte:02x}"),
                                                                          byte=e.object[e.start])
        return ImportInputError(N_("{path}: {where} is not UTF-8 text ({why}); give {expected} in UTF-8"),
                                path=path, where=where, why=looks_like(path) or e.reason, expected=expected)
    if isinstance(e, OSError):
        return ImportInputError(N_("{path}: cannot be read ({error}); give {expected}"), path=path,
                                error=e.strerror or e, expected=expected)
    return ImportInputError(N_("{path}: {error}; give {expected}"), path=path, error=e, expected=expected)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _gb18030_command(path: str | Path, max_bytes: int = 1 << 20) -> str:
    """The iconv command that makes a GBK/GB18030 text file UTF-8 ('' when its start does not read
    as GB18030 text: binary data, or another encoding)."""
    try:
        with open_binary(path) as f:
            head = f.read(max_bytes)
    except (*READ_ERRORS, ValueError):
        return ""
    try:
        text = codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
    except UnicodeDecodeError:
        return ""
    if not text.strip() or _CONTROL.search(text) or not re.search(r"[\u3400-\u9fff]", text):
        return ""
    p = str(path)
    if p.endswith(".gz"):
        plain = p[:-3]
        _, dot, ext = plain.rpartition(".")
        out = f"{plain}.utf8.{ext}" if dot and "/" not in ext else f"{plain}.utf8"
        return f"gzip -dc {shlex.quote(p)} | iconv -f GB18030 -t UTF-8 > {shlex.quote(out)}"
    _, dot, ext = p.rpartition(".")
    out = f"{p}.utf8.{ext}" if dot and "/" not in ext else f"{p}.utf8"
    return f"iconv -f GB18030 -t UTF-8 {shlex.quote(p)} > {shlex.quote(out)}"


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
        return FILE_EMPTY
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return FILE_BINARY
    if b"\0" in head:
        return FILE_BINARY
    if text.startswith(b"<"):
        return Phrase(N_("it looks like XML: an XES log is read by --format xes --mapping M.toml"))
    if text.startswith(b"{"):
        return Phrase(N_("it looks like JSON: JSON Lines are read by `import FILE` without --format"))
    lines = [ln.strip() for ln in text.decode("utf-8", "replace").splitlines()]
    first = next((ln for ln in lines if ln and not ln.startswith("#")), "")
    if _TOML_LINE.match(first):
        return Phrase(N_("it looks like TOML (a contract or a mapping?)"))
    if lines[0].count(",") >= 2:
        return Phrase(N_("it looks like a CSV whose header is {header!r}"), header=lines[0][:100])
    return ""


FILE_EMPTY = Phrase(N_("the file is empty"))
FILE_BINARY = Phrase(N_("the file is binary data, not text"))


_TOML_LINE = re.compile(r"""\[[\w."' -]+\]$|[\w."-]+\s*=""")


_line_decoder = msgspec.json.Decoder(ev.AnyFact)
NOT_JSONL_AFTER = 20  # lines from the start none of which is JSON: the file is something else
JSONL = Phrase(N_("a JSON Lines file (one command per line)"))


def jsonl_source(path: str | Path, on_bytes: Callable[[int], None] | None = None) -> Source:
    """A JSON Lines file, its lines counted first (a file that cannot be read, or holds no command,
    is refused before anything is recorded)."""
    lines, content = 0, False
    try:
        with open_measured(path) as (stream, position):
            last = b"\n"
            while chunk := stream.read(1 << 20):
                lines += chunk.count(b"\n")
                content = content or bool(chunk.strip())
                last = chunk[-1:]
                if on_bytes:
                    on_bytes(position())
            lines += last != b"\n"
    except READ_ERRORS as e:
        raise unreadable(path, e, JSONL) from None
    if not content:
        raise ImportInputError(N_("{path} is empty (no command in it); nothing recorded; give {jsonl}"),
                               path=path, jsonl=JSONL)
    summary = ImportSummary()
    return Source(read_jsonl(path, summary), summary, lines)


def read_jsonl(path: str | Path, summary: ImportSummary | None = None) -> Iterator[Item]:
    """One command per line: a fact as JSON with its "type" (schema: docs/schemas/commands.json).

    A file that cannot be read as text, or whose first NOT_JSONL_AFTER lines are none of them
    JSON, is not JSON Lines: ImportInputError (before anything of it is recorded)."""
    try:
        yield from _jsonl_items(path, summary or ImportSummary())
    except READ_ERRORS as e:
        raise unreadable(path, e, JSONL) from None


def _jsonl_items(path: str | Path, summary: ImportSummary) -> Iterator[Item]:
    from .command_problems import explain

    jsonl, not_objects, first = False, 0, ""  # jsonl: a line was a command or at least a JSON object
    for n, line in enumerate(open_text(path), start=1):
        summary.rows = n
        if not line.strip():
            continue
        where = f"line {n}"  # said in the reader's language where it is printed (where_said)
        try:
            fact = _line_decoder.decode(line)
        except msgspec.ValidationError as e:
            problem = explain(line, e)
        except msgspec.DecodeError as e:
            problem = Problem(N_("not valid JSON: {error}"), "not valid JSON", error=str(e))
        except ValueError as e:  # raised by a fact's own checks (e.g. a naive time)
            problem = explain(line, e)
        else:
            jsonl = True
            yield where, fact
            continue
        if jsonl or line.lstrip(" \t\ufeff").startswith("{"):
            jsonl = True
        else:
            not_objects += 1
            first = first or Phrase(N_("{where}: {problem}"), where=Phrase(N_("line {line}"), line=n),
                                    problem=problem)
            if not_objects == NOT_JSONL_AFTER:
                hint = looks_like(path)
                raise ImportInputError(
                    N_("{path} does not look like JSON Lines: none of its first "
                                  "{lines} lines is a JSON object ({first}){hint}. "
                                  "Give one command per line as JSON "
                                  "(docs/schemas/commands.json), or --format servicenow|xes for "
                                  "a service desk's export"),
                                  path=path, lines=NOT_JSONL_AFTER, first=first,
                                  hint=Phrase(N_("; {hint}"), hint=hint) if hint else '')
        yield where, problem


def import_items(ledger: Ledger, items: Iterable[Item], batch_size: int = 1000,
                 progress: Callable[[int], None] | None = None,
                 summary: ImportSummary | None = None,
                 before_first_batch: Callable[[list[ev.Fact]], None] | None = None) -> ImportSummary:
    """Record every good item in batches; report every bad one with where it came from.

    `progress` is told how many more rows of the file (summary.rows) each batch took;
    `before_first_batch(facts)` runs once, just before the first batch is recorded (not at all
    when the file gives no fact: a file refused as a whole records nothing)."""
    summary = summary or ImportSummary()
    facts: list[ev.Fact] = []
    wheres: list[str] = []
    shown = 0  # rows told to progress
    first = True

    def flush() -> None:
        nonlocal shown, first
        if first and before_first_batch:
            before_first_batch(facts)
        first = False
        recorded = already = 0  # counted here, added once: a batch is a thousand outcomes
        for where, outcome in zip(wheres, ledger.execute_many(facts), strict=True):
            if outcome.status == "recorded":
                recorded += 1
            elif outcome.status == "already_recorded":
                already += 1
            else:
                summary.refuse_command(where, outcome.error, outcome.refusal)
        summary.recorded += recorded
        summary.already_recorded += already
        facts.clear()
        wheres.clear()
        tell()

    def tell() -> None:
        nonlocal shown
        if progress and summary.rows > shown:
            progress(summary.rows - shown)
            shown = summary.rows

    try:
        for where, item in items:
            summary.read += 1
            if isinstance(item, str):
                summary.refuse(where, item, getattr(item, "kind", None))
                continue
            facts.append(item)
            wheres.append(where)
            if len(facts) >= batch_size:
                flush()
    except ImportInputError as e:  # the rest of the file cannot be read: say what was recorded
        if summary.recorded:
            raise ImportInputError(N_("{error} (the {recorded} commands before it were recorded; importing "
                              "the repaired file records only the rest)"),
                              error=e, recorded=f"{summary.recorded:,}") from None
        raise
    if facts:
        flush()
    tell()
    return summary
