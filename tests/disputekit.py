"""One disputed ticket with everything a dispute report must explain (issue 17), on seed 000.

Ticket T-1042 on recorder A-7 (seed 000: response 15 min, remote resolution 30 min, arrival
24 h, resolution 36 h, spare unit 48 h when not resolved in 36 h; the supplier bears the
customer's losses when late). Local times, Beijing:

- 07-01 09:00 reported (normal); 09:12 acknowledged (response met by 3 min); 09:35 remote fix
  fails; 09:50 a technician is dispatched (remote resolution breached by 20 min); 10:00
  severity raised to severe (targets of severe are the same but response: it had stopped);
- 14:00-15:47 a 107-minute wait for the customer (seed 000 pauses nothing: not listed);
- 07-02 10:30 arrival, recorded by the source desk only on 07-03 12:00 (a late entry), later
  corrected to 09:40 from the GPS log (arrival breached by 40 min instead of 90);
- 07-02 12:00 the buyer consents to 10 h more (seed 000 allows no extension);
- 07-02 22:05 resolved, corrected to 21:38 (resolution breached by 38 min instead of 65);
- parts and labour, cause human damage (parts at cost, labour free); a signed service report;
  losses of ¥5,000.00 claimed.
Evaluated at 2025-07-10 00:00 Beijing time.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from adapters.ledger import Ledger
from adapters.store import StoreConfig
from domain import events as ev

from .domainkit import Desk, local

TICKET = "T-1042"
EVALUATED = "2025-07-10T00:00:00+08:00"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
SERVICE_REPORT = b"T-1042 signed service report (scan)"


def dispute_ledger(data: Path, *, calendar_years: tuple[int, ...] = (2024, 2025, 2026)) -> Path:
    """Record the scenario into the data folder `data` (created) and return it."""
    import hashlib

    from adapters.cli.core import record_calendar

    desk = Desk(actor="desk:hotline")
    app = Ledger.open(StoreConfig(data))
    try:
        if calendar_years:
            record_calendar(app, list(calendar_years))

        def rec(*facts: ev.Fact) -> None:
            # imported from the hospital's desk: recorded there two minutes after the fact,
            # unless the fact says otherwise (the late arrival)
            facts = tuple(f if f.source_recorded_at or f.aggregate not in ("ticket", "any") else
                          msgspec.structs.replace(f, source_recorded_at=f.occurred_at + timedelta(minutes=2))
                          for f in facts)
            outcomes = app.execute_many(list(facts), now=NOW)
            assert {o.status for o in outcomes} == {"recorded"}, outcomes

        rec(desk.contract("000"),
            desk.asset("A-7", asset_type="recorder", site="急诊楼 3F", at="2024-12-20T10:00", model="DVR-16"),
            desk.fact(ev.AssetAccepted, "A-7", "2025-01-20T10:00"))
        t = TICKET
        rec(desk.open(t, "A-7", "2025-07-01T09:00", fault="no_power", asset_down=True,
                      description="录像机无法开机"),
            desk.fact(ev.TicketAcknowledged, t, "2025-07-01T09:12"),
            desk.fact(ev.RemoteFixAttempted, t, "2025-07-01T09:35", fixed=False, notes="远程重启无效"),
            desk.fact(ev.TechnicianDispatched, t, "2025-07-01T09:50", technician="li.wei"),
            desk.fact(ev.SeverityChanged, t, "2025-07-01T10:00", severity="severe", reason="急诊科录像中断"),
            desk.fact(ev.WaitStarted, t, "2025-07-01T14:00", reason="customer", notes="机房钥匙未到"),
            desk.fact(ev.WaitEnded, t, "2025-07-01T15:47", reason="customer"))
        arrival = ev.TechnicianArrived(command_id="arrive-1", id=t, occurred_at=local("2025-07-02T10:30"),
                                       actor="desk:field", technician="li.wei",
                                       source_recorded_at=local("2025-07-03T12:00"))
        rec(arrival,
            desk.fact(ev.DeadlineExtended, t, "2025-07-02T12:00", clock="resolution", add_minutes=600,
                      consented_by="buyer:设备科"),
            desk.fact(ev.RepairAttempted, t, "2025-07-02T21:30", fixed=True, technician="li.wei", labour_fen=30000,
                      parts=[ev.PartLine(part="电源板 PSU-16", quantity=1, quoted_price_fen=113000,
                                         cost_price_fen=68000),
                             ev.PartLine(part="保险丝", quantity=3, quoted_price_fen=500, cost_price_fen=200,
                                         consumable=True)]),
            desk.fact(ev.TicketResolved, t, "2025-07-02T22:05", summary="更换电源板"),
            desk.fact(ev.FaultCauseDetermined, t, "2025-07-03T09:00", cause="human"),
            desk.fact(ev.EvidenceAttached, t, "2025-07-03T09:30", sha256=hashlib.sha256(SERVICE_REPORT).hexdigest(),
                      media_type="application/pdf", size=len(SERVICE_REPORT), filename="服务报告-T-1042.pdf",
                      description="客户签字的服务报告"),
            desk.fact(ev.LossClaimed, t, "2025-07-04T10:00", amount_fen=500000, description="停机期间外送录像检查费用"))
        versions = {r.originator_version: r for r in _ticket_rows(app, t)}
        arrival_v = next(v for v, r in versions.items() if ".TechnicianArrived." in r.topic)
        resolved_v = next(v for v, r in versions.items() if ".TicketResolved." in r.topic)
        rec(desk.fact(ev.FactCorrected, t, "2025-07-05T10:00", corrects_version=arrival_v,
                      changes={"occurred_at": "2025-07-02T09:40:00+08:00"}, reason="GPS 轨迹显示 09:40 已到达"),
            desk.fact(ev.FactCorrected, t, "2025-07-05T10:05", corrects_version=resolved_v,
                      changes={"occurred_at": "2025-07-02T21:38:00+08:00"}, reason="以客户签字时间为准"))
    finally:
        app.close()
    from adapters.evidence import evidence_path

    stored = evidence_path(data, hashlib.sha256(SERVICE_REPORT).hexdigest())  # as `attach` files it
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_bytes(SERVICE_REPORT)
    return data


def _ticket_rows(app: Ledger, ticket: str) -> list:
    from adapters.dispute import rows_for
    from domain.base import aggregate_uuid

    return rows_for(app, [aggregate_uuid("ticket", ticket).hex])


def run(data: Path | None, *argv: str) -> tuple[int, str]:
    """The CLI run in this process: (exit code, what it printed)."""
    from adapters.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        code = main([*(["--data-dir", str(data)] if data else []), *argv])
    return code, out.getvalue()


def recorded_by_the_desk(data: Path, facts: list[ev.Fact]) -> Path:
    """`facts` recorded by the ledger now (2026 or later), each in its own command, with the desk's
    own recording time a minute after each happened, unless a fact says when the desk recorded it
    (a late entry: what a statement restates)."""
    return recorded(data, [f if f.source_recorded_at else msgspec.structs.replace(
        f, source_recorded_at=f.occurred_at + timedelta(minutes=1)) for f in facts], each_alone=True)


def recorded(data: Path, facts: list[ev.Fact], *, years: tuple[int, ...] = (2025,), each_alone: bool = False,
             now: datetime | None = datetime(2026, 1, 1, tzinfo=UTC)) -> Path:
    """A ledger in `data` holding the official calendar of `years` and `facts`, every one recorded;
    `each_alone`: one command each, recorded by the ledger at its own (real) time, in order."""
    from adapters.cli.core import record_calendar

    app = Ledger.open(StoreConfig(data))
    try:
        record_calendar(app, list(years))
        outcomes = ([o for f in facts for o in app.execute_many([f])] if each_alone
                    else app.execute_many(facts, now=now))
        assert {o.status for o in outcomes} == {"recorded"}, outcomes
    finally:
        app.close()
    return data
