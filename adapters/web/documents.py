"""The documents the console shows but does not write itself: the seam to issue 17's reports.

- `dispute_report_html` — the dispute report of one ticket. Today: `replay.explain`'s HTML,
  built from the ticket's log rows up to the position the views hold and from those views (the
  same function `ticketledger explain` calls). The A4 exhibit renderer replaces it here.
- `dispute_report_pdf` — the exhibit as PDF: None until `explain --format pdf` is on main.
- `ticket_proof` — the ticket's inclusion proof: None until the transparency log is on main.
- `statement` — the monthly statement: None until `ticketledger statement` is on main.
Each page calls only these functions, so switching to the new renderers changes this file only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

SHA256 = re.compile(r"[0-9a-f]{64}")


def report_rows(ledger: Any, ticket: str, *, position: int | None = None, recorded: Any = None
                ) -> tuple[str, list[Any]]:
    """(ticket originator id, the log rows of the ticket, its asset and its contract) inside the
    cut the views were built from. LookupError when the ticket has no rows there."""
    from replay import asof

    from ..dispute import UnknownTicket, ticket_rows

    try:
        toid, rows = ticket_rows(ledger, ticket)
    except UnknownTicket:
        raise LookupError(ticket) from None
    rows = list(asof.cut(rows, asof.Cut(position=position, recorded=recorded)))
    if not rows:
        raise LookupError(ticket)
    return toid, rows


def report_data(ledger: Any, data_dir: Path, ticket: str, con: Any, *, position: int | None,
                recorded: Any = None, evidence_href: Any = None) -> dict[str, Any]:
    """The report as plain data (`replay.explain.build_report`), evidence checked on disk."""
    from replay import asof
    from replay.explain import build_report

    from ..evidence import check_evidence
    from ..tlog_evidence import report_proofs

    toid, rows = report_rows(ledger, ticket, position=position, recorded=recorded)
    stamp = asof.stamp(recorded) if recorded else None
    report = build_report(ticket, rows, con, as_of_recorded=stamp, ticket_oid=toid, evidence_href=evidence_href,
                          evidence_status=lambda sha: check_evidence(data_dir, sha))
    report["proofs"] = report_proofs(ledger, rows, stamp, None)  # as `explain` has them (read only)
    return report


def dispute_report_html(report: dict[str, Any], lang: str) -> bytes:
    """The report as one printable HTML document: the A4 exhibit in the reader's language."""
    from replay.exhibit import render_html

    return render_html(report, lang)


def dispute_report_pdf(report: dict[str, Any], lang: str) -> bytes | None:
    return None  # `explain --format pdf` (issue 17) is not on main yet


def ticket_proof(ledger: Any, ticket: str) -> dict[str, Any] | None:
    return None  # inclusion proofs (issue 16) are not on main yet


def statement(data_dir: Path, con: Any, customer: str, contract: str | None, month: str, fmt: str,
              lang: str) -> tuple[bytes, str] | None:
    """(document, media type) of one monthly statement, or None while the module is missing."""
    return None  # `ticketledger statement` (issue 17) is not on main yet


def statements_available() -> bool:
    return False


def evidence_file(data_dir: Path, report: dict[str, Any], sha: str) -> Path | None:
    """An evidence file the report cites, by its hash, or None (no other path is ever opened)."""
    from ..evidence import evidence_path

    if not SHA256.fullmatch(sha) or sha not in {e["sha256"] for e in report.get("evidence", [])}:
        return None
    path = evidence_path(data_dir, sha)
    return path if path.is_file() else None
