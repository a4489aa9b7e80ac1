"""The views' tables and columns described where an analyst's tool shows them (DuckDB's
`COMMENT ON`: DBeaver, `duckdb_columns()`, `DESCRIBE`), read from the one place they are
documented: projections/README.md (shipped beside this module). A section `### name — title`
describes table `name`; its columns are the rows of a `| column | meaning |` table, or a prose
list `col (meaning), col, …`, or a bullet `- **name**: col (meaning), …` for a section of several
tables. A column without a meaning there gets none here; a name that is no column is skipped.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

README = Path(__file__).with_name("README.md")

_HEADING = re.compile(r"^### (?P<names>.+?)(?: — (?P<title>.+))?$")
_ONE = re.compile(r"(?P<name>[a-z_]+)(?: \(view\))?")
_BULLET = re.compile(r"^- \*\*(?P<name>[a-z_]+)\*\*: ?(?P<text>.*)$")
_ITEM = re.compile(r"^(?P<names>[a-z_][a-z0-9_]*(?:/[a-z_][a-z0-9_]*)*)(?:\s*\((?P<meaning>.*)\))?$", re.S)


@cache
def documented(text: str | None = None) -> dict[str, tuple[str, dict[str, str]]]:
    """Each documented table: its title and its columns' meanings (markdown marks removed)."""
    lines = (README.read_text(encoding="utf-8") if text is None else text).splitlines()
    out: dict[str, tuple[str, dict[str, str]]] = {}
    i = 0
    while i < len(lines):
        head = _HEADING.match(lines[i])
        i += 1
        if head is None:
            continue
        body: list[str] = []
        while i < len(lines) and not lines[i].startswith("#"):
            body.append(lines[i])
            i += 1
        title = _plain(head.group("title") or "")
        one = _ONE.fullmatch(head.group("names"))
        if one:
            out[one.group("name")] = (title, _columns(body))
        for name, listed in _bullets(body):
            out[name] = (title, _listed(listed))
    return out


def _bullets(body: list[str]) -> list[tuple[str, str]]:
    found: list[tuple[str, list[str]]] = []
    for line in body:
        bullet = _BULLET.match(line)
        if bullet:
            found.append((bullet.group("name"), [bullet.group("text")]))
        elif found and line.startswith("  ") and line.strip():
            found[-1][1].append(line.strip())
        elif found and not line.strip():
            break
    return [(name, " ".join(parts)) for name, parts in found]


def _columns(body: list[str]) -> dict[str, str]:
    rows = [line for line in body if line.startswith("| ") and not line.startswith("| column |")]
    if rows:  # a `| column | meaning |` table
        meanings: dict[str, str] = {}
        for row in rows:
            names, _sep, meaning = row.strip("| ").partition(" | ")
            for name in names.split(","):
                name = name.strip().strip("`")
                if re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                    meanings[name] = _plain(meaning.rstrip(" |"))
        return meanings
    prose = [line for line in body if not line.startswith(("- ", "  ", "|"))]
    return _listed(" ".join(line.strip() for line in prose if line.strip()))


def _listed(text: str) -> dict[str, str]:
    """`col (meaning), col, a/b (meaning)` → {col: meaning, …}; sentences apart (". " at depth 0)."""
    meanings: dict[str, str] = {}
    for item in _split(text):
        match = _ITEM.match(item.strip().rstrip("."))
        if match is None:
            continue
        for name in match.group("names").split("/"):
            meanings[name] = _plain(match.group("meaning") or "")
    return meanings


def _split(text: str) -> list[str]:
    """Items at parenthesis depth 0, cut at commas and at the end of each sentence."""
    items, depth, start = [], 0, 0
    for k, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        end_of_sentence = ch == "." and depth == 0 and text[k + 1:k + 2] in (" ", "")
        if depth == 0 and (ch in ",;:" or end_of_sentence):
            items.append(text[start:k])
            start = k + 1
    items.append(text[start:])
    return items


def _plain(text: str) -> str:
    return re.sub(r"\*\*|`", "", text).strip()


def comment(con: Any) -> None:
    """Write the documented descriptions as the database's comments, where they differ (a file
    opened again with the same documentation is not written to)."""
    docs = documented()
    have_tables = {(r[0]): (r[1], r[2] or "") for r in con.execute(
        "SELECT table_name, 'TABLE', comment FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary "
        "UNION ALL SELECT view_name, 'VIEW', comment FROM duckdb_views() "
        "WHERE schema_name = 'main' AND NOT internal AND NOT temporary").fetchall()}
    have_columns = {(r[0], r[1]): r[2] or "" for r in con.execute(
        "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE schema_name = 'main' "
        "AND NOT internal").fetchall()}
    statements = []
    for table, (title, columns) in docs.items():
        if table not in have_tables:
            continue
        kind, said = have_tables[table]
        if title and title != said:
            statements.append(f"COMMENT ON {kind} {_quoted(table)} IS {_text(title)}")
        statements += [f"COMMENT ON COLUMN {_quoted(table)}.{_quoted(column)} IS {_text(meaning)}"
                       for column, meaning in columns.items()
                       if meaning and (table, column) in have_columns and have_columns[(table, column)] != meaning]
    if statements:  # in one call: a call per statement took twice as long
        con.execute(";\n".join(statements))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
