"""Our resolution verdict beside ServiceNow's own `made_sla`, per priority (issue 8).

The SQL lives once, in `compare_sla.sql` beside this file (runnable in the DuckDB shell too);
this module feeds it the incident log and a priority filter and returns its two results.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

from domain.errors import N_, Explained

SQL_FILE = Path(__file__).with_name("compare_sla.sql")
NEEDED = ("number", "priority", "made_sla")


class CompareError(Explained, ValueError):
    """The incident log or the views cannot be compared; the message says why."""


def statements(sql: str) -> list[str]:
    """The file's statements: each ends with ';' at the end of a line (comments dropped)."""
    out, current = [], []
    for line in sql.splitlines():
        code = line.split("--", 1)[0].rstrip()
        if not code.strip():
            continue
        current.append(code)
        if code.endswith(";"):
            out.append("\n".join(current))
            current = []
    if current:
        out.append("\n".join(current))
    return out


def check_log(path: str | Path) -> None:
    """Refuse early, with the reason, a file that is not a ServiceNow incident log."""
    p = Path(path)
    if not p.is_file():
        raise CompareError(N_("no file {file}"), file=p)
    opener: Any = gzip.open if p.name.endswith(".gz") else open
    try:
        with opener(p, "rt", encoding="utf-8", newline="") as f:
            header = f.readline().strip().split(",")
    except (OSError, UnicodeDecodeError) as e:
        raise CompareError(N_("{file}: cannot read it as a CSV ({error})"), file=p, error=e) from None
    missing = [c for c in NEEDED if c not in header]
    if missing:
        raise CompareError(N_("{file}: line 1: not a ServiceNow incident log (no column {missing}; it "
                          "needs number, priority and made_sla)"), file=p, missing=', '.join(missing))


def compare_sla(con: Any, incident_csv: str | Path, priority: str | None = None
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(confusion matrix rows, agreement rows) on an open views connection (read-only is fine).

    Matrix: priority, made_sla, our_state, incidents. Agreement: per priority and a total row
    (priority None): incidents, decided, both_met, both_breached, we_met_platform_not,
    we_breached_platform_met, undecided, agreement_pct.
    """
    check_log(incident_csv)
    con.execute("SET VARIABLE incident_csv = ?", [str(incident_csv)])
    con.execute("SET VARIABLE priority = ?", [priority])
    *setup, matrix_sql, agreement_sql = statements(SQL_FILE.read_text())
    for sql in setup:
        con.execute(sql)
    return _dicts(con.execute(matrix_sql)), _dicts(con.execute(agreement_sql))


def _dicts(cur: Any) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
