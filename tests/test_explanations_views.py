"""Each explanation compared with the rows it explains, for the §9 cases of test_rules_views.py
(issue 17): the views are rebuilt for the same facts, the sentences rendered from their rows.

The per-input sentences (why a wait did not pause, a consent after the deadline, …) come from
`clock_inputs`, the rows the SLA statements write beside each clock."""

from __future__ import annotations

from domain import events as ev
from replay.explanations import clock_sentences, verdict_short
from replay.i18n import texts
from tests.viewkit import Kit, rows, utc_naive

TZ = "Asia/Shanghai"
SEED = "contracts/seed-{}.toml"


def _kit(tmp_path, seed: str, **asset_kw) -> Kit:
    k = Kit(tmp_path)
    cid = k.contract_file(SEED.format(seed))
    k.asset("A1", cid, customer=f"buyer-{seed}", **asset_kw)
    return k


def explained(con, ticket: str, clock: str, lang: str = "en") -> tuple[dict, list[str]]:
    (row,) = rows(con, "SELECT * FROM sla_clocks WHERE ticket = ? AND clock = ?", ticket, clock)
    inputs = rows(con, "SELECT * FROM clock_inputs WHERE ticket = ?", ticket)
    late = rows(con, "SELECT * FROM late_entries WHERE id = ?", ticket)
    return row, clock_sentences(row, inputs, lang, TZ, late=late)


def assert_states_its_row(row: dict, sentences: list[str], lang: str = "en") -> None:
    """The promise quotes the row's clause and target; the verdict states the row's deadline, stop
    and breach as the reader reads them."""
    t = texts(lang)
    promise, verdict = sentences[0], sentences[1]
    if row["clause"]:
        assert f"«{row['clause']}»" in promise
    if row["target_unit"]:
        assert t.period(row["target_amount"], row["target_unit"]) in promise
    if row["state"] != "not_applicable":
        assert t.end(row["deadline"], TZ) in verdict
    if row["stopped_at"] is not None and row["state"] in ("met", "breached"):
        assert t.time(row["stopped_at"], TZ) in verdict
    if row["state"] == "breached":
        assert t.duration(row["breach_minutes"]) in verdict
    assert verdict_short(row, lang).split(",")[0].lower() in verdict.lower()


def test_9_1_start_stop_and_not_applicable_stated_from_the_rows(tmp_path) -> None:
    k = _kit(tmp_path, "000", accepted="2025-01-20T10:00")
    k.ticket("R", "A1", "2025-03-03T09:00")
    k.do(k.f(ev.RemoteFixAttempted, "R", "2025-03-03T09:20", fixed=True), k.f(ev.TicketResolved, "R", "2025-03-03T09:25"))
    k.ticket("C", "A1", "2025-03-03T09:00")
    k.do(k.f(ev.TicketCancelled, "C", "2025-03-03T09:20"))
    con = k.views("2025-03-10T00:00")
    for ticket in ("R", "C"):
        for (clock,) in con.execute("SELECT clock FROM sla_clocks WHERE ticket = ?", [ticket]).fetchall():
            row, sentences = explained(con, ticket, clock)
            assert_states_its_row(row, sentences)
            _, zh = explained(con, ticket, clock, "zh_CN")
            assert len(zh) == len(sentences)
    row, sentences = explained(con, "C", "response")
    assert sentences[1] == ("Breached by 5 min: the deadline was 2025-03-03 09:15 and the clock stopped at "
                            "2025-03-03 09:20.")


def test_9_3_and_9_5_pauses_and_consents_stated_from_the_rows(tmp_path) -> None:
    k = _kit(tmp_path, "004", accepted="2025-01-10T10:00")
    k.ticket("X", "A1", "2025-07-01T09:00", severity="major")
    k.do(k.f(ev.WaitStarted, "X", "2025-07-01T12:00", reason="customer"),
         k.f(ev.WaitEnded, "X", "2025-07-01T15:00", reason="customer"),
         k.f(ev.WaitStarted, "X", "2025-07-01T16:00", reason="vendor"),
         k.f(ev.WaitEnded, "X", "2025-07-01T18:00", reason="vendor"),
         k.f(ev.DeadlineExtended, "X", "2025-07-02T12:00", clock="resolution", add_minutes=60 * 60, consented_by="buyer"),
         k.f(ev.TicketResolved, "X", "2025-07-04T20:00"))
    row, sentences = explained(k.views("2025-07-10T00:00"), "X", "resolution")
    assert_states_its_row(row, sentences)
    assert row["deadline"] == utc_naive("2025-07-05T00:00")
    assert "2025-07-04 24:00" in sentences[1]  # the row's deadline, as the last day's 24:00


def test_each_input_of_the_9_cases_is_explained_with_its_reason(tmp_path) -> None:
    k = _kit(tmp_path, "004", accepted="2025-01-10T10:00")
    k.ticket("X", "A1", "2025-07-01T09:00", severity="major")
    k.do(k.f(ev.WaitStarted, "X", "2025-07-01T12:00", reason="customer"),
         k.f(ev.WaitEnded, "X", "2025-07-01T15:00", reason="customer"),
         k.f(ev.WaitStarted, "X", "2025-07-01T16:00", reason="vendor"),
         k.f(ev.WaitEnded, "X", "2025-07-01T18:00", reason="vendor"),
         k.f(ev.DeadlineExtended, "X", "2025-07-02T12:00", clock="resolution", add_minutes=60 * 60, consented_by="buyer"),
         k.f(ev.TicketResolved, "X", "2025-07-04T20:00"))
    # L: major, whose clause allows extensions, so the consent is weighed against the deadline;
    # N: normal, whose clause allows none, so any consent moves nothing (as its row's note says)
    for ticket, severity in (("L", "major"), ("N", "normal")):
        k.ticket(ticket, "A1", "2025-07-01T09:00", severity=severity)
        k.do(k.f(ev.DeadlineExtended, ticket, "2025-07-02T22:00", clock="resolution", add_minutes=600,
                 consented_by="buyer"),
             k.f(ev.WaitStarted, ticket, "2025-07-02T22:00", reason="customer"),
             k.f(ev.WaitEnded, ticket, "2025-07-03T10:00", reason="customer"))
    con = k.views("2025-07-10T00:00")
    _, x = explained(con, "X", "resolution")
    assert any("paused this clock for 3 h" in s for s in x)
    assert any("(waiting for a vendor)" in s and "did not pause" in s for s in x)
    assert any("asked for 60 h (2 d 12 h) in all" in s and "at most 48 h (2 d)" in s for s in x)
    _, lx = explained(con, "L", "resolution")
    assert any("started after the deadline and is ignored" in s for s in lx)
    assert any("was given after the deadline it would move" in s for s in lx)
    n_row, nx = explained(con, "N", "resolution")
    assert n_row["extension_note"] == "consent recorded, but this clause allows no extension"
    assert any("moves nothing: this clause allows no extension" in s for s in nx)
    _, arrival = explained(con, "X", "arrival")
    assert any("did not pause this clock" in s for s in arrival)  # seed 004 pauses only resolution
