"""A dispute report carries its own proof (issue 16): `proof verify` checks it offline, after the
data folder is gone; one byte changed in any cited event fails naming that event; a withheld
payload is told from an altered one; an operator's rewrite, a rollback and a split view are
caught against a checkpoint the customer saved."""

from __future__ import annotations

import base64
import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from .disputekit import EVALUATED, TICKET, dispute_ledger, run
from .tlogkit import edit_event, recompute_chain


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A dispute ledger with its log key and a checkpoint; (data folder, verifier key)."""
    data = tmp_path_factory.mktemp("tlog") / "data"
    dispute_ledger(data)
    code, out = run(data, "init")
    assert code == 0
    vkey = out.split("verifier key for the contract annex: ")[1].split()[0]
    assert "PRIVATE" not in out and (data / "log.key").stat().st_mode & 0o777 == 0o600
    code, _ = run(data, "checkpoint", "--out", str(data.parent / "saved-1.note"))
    assert code == 0
    return data, vkey


def report(data: Path, out: Path, fmt: str = "json", *extra: str) -> Path:
    code, _ = run(data, "explain", TICKET, "--format", fmt, "--at", EVALUATED, "--out", str(out), *extra)
    assert code == 0
    return out


def verify(report_file: Path, *argv: str, lang: str = "en") -> tuple[int, str]:
    """`proof verify` as a reader asking for `lang` (without --lang it writes in the report's)."""
    return run(None, "--lang", lang, "proof", "verify", str(report_file), *argv)


def test_a_report_verifies_offline_after_the_data_folder_is_deleted(signed, tmp_path: Path) -> None:
    data, vkey = signed
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    j = report(copy, tmp_path / "r.json")
    h = report(copy, tmp_path / "r.html", "html")
    again = report(copy, tmp_path / "r2.html", "html")
    assert h.read_bytes() == again.read_bytes()  # deterministic: the same checkpoint, named
    doc = json.loads(j.read_text())
    ev = doc["proofs"]["evidence"]
    first = ev["events"][0]
    assert base64.b64decode(first["stored_b64"]) and first["view"]["type"]  # bytes beside the upcast view
    assert "如何核验本报告" in h.read_text() and "ticketledger proof verify" in h.read_text()  # the contract is in China
    shutil.rmtree(copy)
    for f in (j, h):
        code, out = verify(f, "--log-key", vkey)
        assert code == 0, out
        assert f"proof holds for the {len(ev['events'])} events the report cites" in out
    code, out = verify(j, "--log-key", vkey, "--checkpoint", str(data.parent / "saved-1.note"))
    assert code == 0, out


def test_one_byte_changed_in_any_cited_event_fails_naming_it(signed, tmp_path: Path) -> None:
    data, vkey = signed
    doc = json.loads(report(data, tmp_path / "r.json").read_text())
    events = doc["proofs"]["evidence"]["events"]
    for i, c in enumerate(events):
        stored = bytearray(base64.b64decode(c["stored_b64"]))
        stored[len(stored) // 2] ^= 0x01
        bad = json.loads(json.dumps(doc))
        bad["proofs"]["evidence"]["events"][i]["stored_b64"] = base64.b64encode(bytes(stored)).decode()
        f = tmp_path / f"bad{i}.json"
        f.write_text(json.dumps(bad))
        code, out = verify(f, "--log-key", vkey)
        assert code == 1
        assert f"FAIL TL-E164: event at position {c['leaf']['position']} " in out and "altered" in out
    # the leaf's own inputs changed (a different recording time) fail their inclusion proof
    bad = json.loads(json.dumps(doc))
    bad["proofs"]["evidence"]["events"][0]["leaf"]["recorded_at"] = "2020-01-01T00:00:00.000000Z"
    (tmp_path / "leaf.json").write_text(json.dumps(bad))
    code, out = verify(tmp_path / "leaf.json", "--log-key", vkey)
    assert code == 1 and "TL-E163" in out and f"position {events[0]['leaf']['position']}" in out


def test_a_withheld_payload_is_refused_since_explain_never_writes_one(signed, tmp_path: Path) -> None:
    """`explain` carries every cited event's bytes (personal data is kept outside the log), so a
    report whose event is "withheld" is not one it wrote: its content is not proved, and the
    report does not hold (it was told as a note before, and "proof holds" followed)."""
    data, vkey = signed
    doc = json.loads(report(data, tmp_path / "r.json").read_text())
    c = doc["proofs"]["evidence"]["events"][1]
    c["stored_b64"], c["view"], c["withheld"] = None, None, "personal data erased"
    (tmp_path / "w.json").write_text(json.dumps(doc))
    code, out = verify(tmp_path / "w.json", "--log-key", vkey)
    assert code == 1, out
    assert (f"FAIL TL-E173: event at position {c['leaf']['position']} (leaf {c['leaf']['index']}): its stored bytes "
            "are withheld (personal data erased)") in out
    assert "proof holds" not in out


def test_a_checkpoint_signed_by_another_key_is_refused(signed, tmp_path: Path) -> None:
    data, _ = signed
    from domain import signed_note as sn

    other = sn.Signer("ticketledger.local/other", bytes(32)).verifier.vkey
    code, out = verify(report(data, tmp_path / "r.json"), "--log-key", other)
    assert code == 1 and "TL-E161" in out


def _rewrite_sql(data: Path, *statements: tuple[str, tuple]) -> None:
    db = sqlite3.connect(data / "events.sqlite")
    with db:
        for sql, params in statements:
            db.execute(sql, params)
    db.close()


def test_rewrite_rollback_and_split_view_are_caught_against_a_saved_checkpoint(signed, tmp_path: Path) -> None:
    """The operator's three ways to change history, each done in a copy of the ledger, then a new
    checkpoint and report: the customer's saved checkpoint (size S) catches each."""
    data, vkey = signed
    saved = data.parent / "saved-1.note"
    size = int(saved.read_text().splitlines()[1])
    doc = json.loads(report(data, tmp_path / "r.json").read_text())
    cited = [c["leaf"]["position"] for c in doc["proofs"]["evidence"]["events"] if b"desk:hotline" in
             base64.b64decode(c["stored_b64"])]

    def fresh(name: str) -> Path:
        d = tmp_path / name
        shutil.copytree(data, d)
        return d

    def rebuild_tree_and_sign(d: Path) -> None:
        # the operator rebuilds the tree from the edited log and signs with the real key
        _rewrite_sql(d, ("UPDATE ledger_chain SET leaf_index = NULL, tree = NULL", ()))
        assert run(d, "checkpoint")[0] == 0

    # 1. a full rewrite: one early event's bytes edited, the chain and tree recomputed
    rw = fresh("rewrite")
    edit_event(rw, cited[0], b"desk:hotline", b"desk:hotlinX")
    recompute_chain(rw)
    rebuild_tree_and_sign(rw)
    r = report(rw, tmp_path / "rw.json")
    assert verify(r, "--log-key", vkey)[0] == 0  # alone, the rewritten report holds together
    code, out = verify(r, "--log-key", vkey, "--checkpoint", str(saved))
    assert code == 1 and "TL-E165" in out, out

    # 2. a rollback of the last events, then new recordings past the old size
    rb = fresh("rollback")
    _rewrite_sql(rb, ("DELETE FROM stored_events WHERE rowid > ?", (size - 3,)),
                 ("DELETE FROM ledger_chain WHERE position > ?", (size - 3,)))
    assert run(rb, "checkpoint")[0] == 0
    r = report(rb, tmp_path / "rb.json", "json", "--checkpoint", str(size - 3))
    code, out = verify(r, "--log-key", vkey, "--checkpoint", str(saved))
    assert code == 1 and "rolled back" in out, out

    # 3. a split view: another head at the saved size, signed with the real key
    sv = fresh("split")
    edit_event(sv, cited[-1], b"desk:hotline", b"desk:hotlinY")
    recompute_chain(sv)
    rebuild_tree_and_sign(sv)
    r = report(sv, tmp_path / "sv.json")
    code, out = verify(r, "--log-key", vkey, "--checkpoint", str(saved))
    assert code == 1 and "TL-E165" in out, out


def test_verify_checks_the_tree_and_the_signed_checkpoints_against_the_log(signed, tmp_path: Path) -> None:
    data, _ = signed
    code, out = run(data, "--lang", "en", "verify", "--no-stream")
    assert code == 0, out
    assert "Merkle tree: 42 leaves recomputed from the log; 1 signed checkpoint(s)" in out
    # an operator edits an event, recomputes the chain and rebuilds the tree: the chain holds,
    # the checkpoint signed before does not
    rw = tmp_path / "rw"
    shutil.copytree(data, rw)
    edit_event(rw, 20, b'"', b'"')  # a no-op edit keeps the bytes: still OK
    assert run(rw, "--lang", "en", "verify", "--no-stream")[0] == 0
    db = sqlite3.connect(rw / "events.sqlite")
    (state,) = db.execute("SELECT state FROM stored_events WHERE rowid = 20").fetchone()
    db.close()
    edit_event(rw, 20, state[:12], state[:11] + b" ")
    recompute_chain(rw)
    code, out = run(rw, "--lang", "en", "verify", "--no-stream")
    assert code == 1 and "tree" in out and "checkpoint 1" in out, out
    _rewrite_sql(rw, ("UPDATE ledger_chain SET leaf_index = NULL, tree = NULL", ()))
    code, out = run(rw, "--lang", "en", "verify", "--no-stream")  # tree rebuilt from the edited log: the checkpoint still differs
    assert code == 1 and "the log changed after it was signed" in out, out
    # a rollback of the last events, checked against the customer's saved checkpoint
    rb = tmp_path / "rb"
    shutil.copytree(data, rb)
    _rewrite_sql(rb, ("DELETE FROM stored_events WHERE rowid > 40", ()), ("DELETE FROM ledger_chain WHERE position > 40", ()),
                 ("DELETE FROM ledger_checkpoints", ()))
    assert run(rb, "--lang", "en", "verify", "--no-stream")[0] == 0  # alone, the shortened log holds together
    code, out = run(rb, "--lang", "en", "verify", "--no-stream", "--checkpoint", str(data.parent / "saved-1.note"))
    assert code == 1 and "events were removed" in out, out


def test_explain_names_its_checkpoint_by_size_or_saved_file(signed, tmp_path: Path) -> None:
    data, vkey = signed
    saved = data.parent / "saved-1.note"
    by_file = json.loads(report(data, tmp_path / "f.json", "json", "--checkpoint", str(saved)).read_text())
    size = int(saved.read_text().splitlines()[1])
    by_size = json.loads(report(data, tmp_path / "s.json", "json", "--checkpoint", str(size)).read_text())
    assert by_file["proofs"] == by_size["proofs"] and by_file["proofs"]["evidence"]["checkpoint"] == saved.read_text()
    code, out = run(data, "explain", TICKET, "--format", "json", "--checkpoint", "9999")
    assert code == 2 and "TL-E169" not in out  # the error goes to stderr
    forged = tmp_path / "forged.note"
    forged.write_text(saved.read_text().replace("\n42\n", "\n41\n"))
    code, _ = run(data, "explain", TICKET, "--format", "json", "--checkpoint", str(forged))
    assert code == 2


def test_proof_verify_writes_in_the_report_s_language_unless_asked(signed, tmp_path: Path) -> None:
    """The contract is in China: its report is in Chinese, and so is the check a customer runs on
    it, line by line; `--lang en` for a reader who asks for English."""
    data, vkey = signed
    h = report(data, tmp_path / "r.html", "html")
    code, out = run(None, "proof", "verify", str(h), "--log-key", vkey)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("通过 检查点 ") and "签名方" in lines[0]
    assert all(line.startswith("通过 位置 ") and "已由其存储字节重新计算叶" in line for line in lines[1:-1])
    assert f"：报告引用的 {len(lines) - 2} 个事件证明成立" in lines[-1] and "未证明：报告中的结论和金额" in lines[-1]
    code, out = verify(h, "--log-key", vkey)
    assert code == 0 and f": proof holds for the {len(lines) - 2} events the report cites" in out.splitlines()[-1]


def test_proof_holds_says_it_covers_the_cited_events_not_the_verdicts_and_amounts(signed, tmp_path: Path) -> None:
    """A dispute handler reads "proof holds" as "the report is authentic": a report whose yuan
    figures and clock verdicts were edited still holds (the proof is about the cited events), so
    the line says what held and that the verdicts and amounts are checked by replaying, not by it."""
    data, vkey = signed
    h = report(data, tmp_path / "r.html", "html")
    edited = tmp_path / "edited.html"
    page = h.read_text()
    # the report's own "how to check" says the same to whoever reads it without the tool
    assert "该证明覆盖所引用的事件，而不覆盖本报告中的结论与金额" in page  # (in the contract's language)
    amount = re.search(r"¥(\d[\d,]*\.\d\d)", page).group(0)
    edited.write_text(page.replace(amount, "¥9" + amount[2:]))
    doc = json.loads(report(data, tmp_path / "r.json").read_text())
    for c in doc["clocks"]:
        c["state"] = "met"
    doc["liability"]["supplier_pays_fen"] = 913000
    (tmp_path / "edited.json").write_text(json.dumps(doc))
    for f in (edited, tmp_path / "edited.json"):
        code, out = verify(f, "--log-key", vkey)
        last = out.splitlines()[-1]
        assert code == 0, out  # the events are still the log's: the proof cannot see the figures
        assert "each is in the signed log at its position, its stored bytes unchanged" in last
        assert "Not proved: the report's verdicts and amounts, which the ledger computes from these events" in last
        assert "`ticketledger explain TICKET --at TIME` on the ledger" in last
    # a program reads the same: the events are covered, the verdicts and amounts are not
    code, out = run(None, "--json", "proof", "verify", str(edited), "--log-key", vkey)
    said = json.loads(out)
    assert code == 0 and said["ok"] and said["covers"]["verdicts_and_amounts"] is False
    assert said["covers"]["cited_events"] and all(isinstance(p, int) for p in said["covers"]["cited_events"])


def test_a_file_that_is_no_checkpoint_is_refused_as_bad_input(signed, tmp_path: Path, capsys) -> None:
    """An empty file or a Markdown page given as the saved checkpoint is the wrong file, not a log
    that fails: exit 2 with TL-E160 saying what a checkpoint note looks like, in the reader's
    language, for `verify` and `proof verify` alike."""
    data, vkey = signed
    empty, notes = tmp_path / "empty.note", tmp_path / "notes.md"
    empty.write_text("")
    notes.write_text("# Checkpoint of March\n\nSaved from the supplier's mail.\n")
    r = report(data, tmp_path / "r.json")
    for wrong in (empty, notes):
        for argv in ((data, "verify", "--no-stream"), (None, "proof", "verify", str(r), "--log-key", vkey)):
            capsys.readouterr()
            code, out = run(*argv, "--checkpoint", str(wrong))
            err = capsys.readouterr().err
            assert code == 2 and "FAIL" not in out, out
            assert f": TL-E160: --checkpoint {wrong}: not a signed checkpoint note; " in err, err
            assert "a blank line, then signature lines that start with '— '" in err
    code, _ = run(data, "--lang", "zh_CN", "verify", "--no-stream", "--checkpoint", str(empty))
    err = capsys.readouterr().err
    assert code == 2 and f"TL-E160: --checkpoint {empty}：不是已签名的检查点" in err, err


def test_checkpoint_out_that_cannot_be_written_signs_nothing(signed, tmp_path: Path, capsys) -> None:
    """`checkpoint --out` under a file (or on a folder) is bad input: refused before anything is
    signed, so the ledger keeps no checkpoint the user never received."""
    data, _ = signed
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    before = json.loads(run(copy, "checkpoint", "--list", "--json")[1])
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for out in (blocker / "cp.note", tmp_path):
        capsys.readouterr()
        code, printed = run(copy, "checkpoint", "--out", str(out))
        err = capsys.readouterr().err
        assert code == 2 and printed == "" and "TL-E033" in err and "signed and kept" not in err, err
    assert json.loads(run(copy, "checkpoint", "--list", "--json")[1]) == before


@pytest.mark.parametrize("fmt", ["md", "pdf"])
def test_a_markdown_or_pdf_report_is_told_to_carry_no_proof(signed, tmp_path: Path, capsys, fmt: str) -> None:
    """explain's Markdown and PDF carry no proof block: `proof verify` says so and names the
    formats that do, rather than calling the report changed or cut."""
    data, vkey = signed
    r = report(data, tmp_path / f"r.{fmt}", fmt)
    capsys.readouterr()
    code, _ = verify(r, "--log-key", vkey)
    err = capsys.readouterr().err
    assert code == 2 and f"TL-E160: {r}: this file carries no proof" in err, err
    assert "changed or cut" not in err and "verify the HTML or JSON report" in err


def test_checkpoints_and_a_position_outside_the_log_read_in_the_reader_s_language(signed, capsys) -> None:
    data, _key = signed
    code, out = run(data, "--lang", "zh_CN", "checkpoint", "--list")
    assert code == 0 and "检查点；时间为" in out and "签名时间" in out and "tree_size" not in out
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", out)  # local times, not the stored UTC stamps
    capsys.readouterr()
    code, _out = run(data, "--lang", "zh_CN", "prove", "inclusion", "99999999")
    assert code == 2 and "日志位置 99999999 没有事件" in capsys.readouterr().err
