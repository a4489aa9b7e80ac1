"""A dispute report's evidence as the other side of a dispute checks it (review of issue 16): the
signed checkpoint printed as its lines, printed copies that say where their proof is, no verdict
that "holds" without the log's key, evidence that must be the report's (every event it shows,
none else, of its ticket), cosignatures said unchecked, failures that say what differs, and a
how-to-check a person follows without ticketledger."""

from __future__ import annotations

import base64
import html
import json
import re
import subprocess
from pathlib import Path

import pytest

from .disputekit import EVALUATED, TICKET, dispute_ledger, run

OTHER = "T-2000"  # a second ticket on the same asset and contract



@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The dispute ledger and a second ticket on its asset, a log key and a checkpoint; reports of
    the disputed ticket in every format (English) and the other ticket's HTML."""
    tmp = tmp_path_factory.mktemp("evidence")
    data = dispute_ledger(tmp / "data")
    from adapters.ledger import Ledger
    from adapters.store import StoreConfig
    from domain import events as ev

    from .domainkit import Desk

    desk = Desk(actor="desk:hotline")
    desk._n = iter(range(1000, 2000))  # command ids the scenario did not use
    app = Ledger.open(StoreConfig(data))
    for f in (desk.open(OTHER, "A-7", "2025-07-03T08:00"), desk.fact(ev.TicketAcknowledged, OTHER, "2025-07-03T08:10")):
        (outcome,) = app.execute_many([f])
        assert outcome.status == "recorded", outcome
    app.close()
    code, out = run(data, "init")
    assert code == 0
    vkey = out.split("verifier key for the contract annex: ")[1].split()[0]
    assert run(data, "checkpoint", "--out", str(tmp / "saved.note"))[0] == 0
    docs = {"data": data, "tmp": tmp, "vkey": vkey, "saved": tmp / "saved.note"}
    for fmt in ("html", "json", "md", "pdf"):
        path = tmp / f"{TICKET}.{fmt}"
        code, _ = run(data, "--lang", "en", "explain", TICKET, "--at", EVALUATED, "--format", fmt, "--out", str(path))
        assert code == 0
        docs[fmt] = path
    docs["other.html"] = tmp / f"{OTHER}.html"
    assert run(data, "--lang", "en", "explain", OTHER, "--at", EVALUATED, "--format", "html",
               "--out", str(docs["other.html"]))[0] == 0
    return docs


def verify(report: Path, *argv: str) -> tuple[int, str]:
    return run(None, "--lang", "en", "proof", "verify", str(report), *argv)


EVIDENCE = re.compile(r'(<script type="application/json" id="ticketledger-evidence">)(.*?)(</script>)', re.S)


def evidence_of(page: str) -> dict:
    return json.loads(EVIDENCE.search(page).group(2))


def with_evidence(page: str, ev: dict) -> str:
    m = EVIDENCE.search(page)
    return page[:m.start(2)] + json.dumps(ev).replace("<", "\\u003c") + page[m.end(2):]


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


# --- 1. the signed checkpoint, printed as its lines --------------------------------------------------


def test_the_signed_checkpoint_is_printed_as_its_lines_in_the_html_and_the_pdf(ledger: dict) -> None:
    page = ledger["html"].read_text()
    note = evidence_of(page)["checkpoint"]
    pre = re.search(r'<pre class="note">(.*?)</pre>', page, re.S)
    assert pre, "the checkpoint is in a <pre> of its own"
    assert html.unescape(pre.group(1)) + "\n" == note  # line by line as signed: copy it and it verifies
    assert "\\n" not in pre.group(1)
    text = pdf_text(ledger["pdf"])
    assert "\\n" not in text
    flat = re.sub(r"\s+", "", text)
    for line in note.splitlines():
        assert re.sub(r"\s+", "", line) in flat, line  # every line whole: the signature is not cut


# --- 2. printed copies say where their proof is ----------------------------------------------------------


def test_the_pdf_and_markdown_say_their_proof_is_in_the_html_report(ledger: dict, capsys) -> None:
    pdf = re.sub(r"\s+", " ", pdf_text(ledger["pdf"]))
    md = re.sub(r"\s+", " ", ledger["md"].read_text())
    for text in (pdf, md):
        assert "This file carries its own proof" not in text and "embedded in this file" not in text
        assert "This printed copy carries no proof itself" in text
        assert "the proof is in the HTML report, which `ticketledger proof verify` checks offline" in text.replace(
            "\\`", "`")  # its first page says so too
        assert f"explain {TICKET} --at " in text and "--format html" in text.replace("\\-", "-")
    for fmt in ("pdf", "md"):  # and proof verify says the same of them
        capsys.readouterr()
        code, _ = verify(ledger[fmt], "--log-key", ledger["vkey"])
        assert code == 2 and "this file carries no proof" in capsys.readouterr().err
    # the HTML does carry it, and says so
    assert "This file carries its own proof" in ledger["html"].read_text()


# --- 3. no verdict that holds without the log's key ---------------------------------------------------


def test_without_a_log_key_the_proof_does_not_hold(ledger: dict, tmp_path: Path) -> None:
    """A report signed again with anyone's key holds together with the key it names itself: without
    the log's key (or a saved checkpoint) the verdict is not "holds"."""
    from domain import signed_note as sn

    forger = sn.Signer("ticketledger.local/forger", bytes(range(32)))
    page = ledger["html"].read_text()
    ev = evidence_of(page)
    ev["checkpoint"] = forger.sign(sn.parse(ev["checkpoint"]).text)
    ev["log_keys"] = [forger.verifier.vkey]
    forged = tmp_path / "forged.html"
    forged.write_text(with_evidence(page, ev))
    for f in (ledger["html"], forged):
        code, out = verify(f)
        assert code == 1, out
        assert "proof holds" not in out
        assert "FAIL TL-E170: no --log-key given" in out and "anyone could have made and signed it" in out
        assert out.splitlines()[-1] == (f"{f}: NOT VERIFIED: the proof is consistent in itself, but it was not checked "
                                        "against the log's key, and anyone could have made it; run again with "
                                        "--log-key KEY, the log's verifier key from your contract annex")
        code, out = run(None, "--json", "proof", "verify", str(f))
        said = json.loads(out)
        assert code == 1 and said["ok"] is False and said["reason"].startswith("TL-E170: no --log-key given: ")
        assert [x["code"] for x in said["findings"] if x["status"] != "ok"] == ["TL-E170"]
        assert "TL-E166" not in out
    assert verify(forged, "--log-key", ledger["vkey"])[0] == 1  # with the key, the forgery fails as before
    # a saved checkpoint anchors it: the genuine report holds, said to be checked with its own keys
    code, out = verify(ledger["html"], "--checkpoint", str(ledger["saved"]))
    assert code == 0 and "note no --log-key given" in out, out
    assert verify(forged, "--checkpoint", str(ledger["saved"]))[0] == 1


# --- 4. empty or trimmed evidence --------------------------------------------------------------------------


def test_evidence_without_events_or_without_one_the_report_shows_fails(ledger: dict, tmp_path: Path) -> None:
    page = ledger["html"].read_text()
    ev = evidence_of(page)
    shown = [e["leaf"]["position"] for e in ev["events"]]
    empty = tmp_path / "empty.html"
    empty.write_text(with_evidence(page, {**ev, "events": []}))
    code, out = verify(empty, "--log-key", ledger["vkey"])
    assert code == 1 and "FAIL TL-E171: the proof cites no event" in out and "proof holds" not in out, out
    dropped = ev["events"][3]["leaf"]["position"]
    trimmed = tmp_path / "trimmed.html"
    trimmed.write_text(with_evidence(page, {**ev, "events": [e for e in ev["events"] if e["leaf"]["position"] != dropped]}))
    code, out = verify(trimmed, "--log-key", ledger["vkey"])
    assert code == 1 and (f"FAIL TL-E171: position {dropped}: the report shows this event but its proof does not "
                          "carry it") in out, out
    # the JSON report likewise, against the positions it lists
    doc = json.loads(ledger["json"].read_text())
    doc["proofs"]["evidence"]["events"] = [e for e in doc["proofs"]["evidence"]["events"]
                                           if e["leaf"]["position"] != dropped]
    (tmp_path / "trimmed.json").write_text(json.dumps(doc))
    code, out = verify(tmp_path / "trimmed.json", "--log-key", ledger["vkey"])
    assert code == 1 and f"FAIL TL-E171: position {dropped}: " in out, out
    # an event the report does not show, added from the other ticket's proof
    extra = evidence_of(ledger["other.html"].read_text())["events"][-1]
    padded = tmp_path / "padded.html"
    padded.write_text(with_evidence(page, {**ev, "events": [*ev["events"], extra]}))
    code, out = verify(padded, "--log-key", ledger["vkey"])
    assert code == 1 and (f"FAIL TL-E171: position {extra['leaf']['position']}: the proof carries an event the "
                          "report does not show") in out, out
    assert verify(ledger["html"], "--log-key", ledger["vkey"])[0] == 0 and len(shown) > 4


# --- 5. transplanted evidence --------------------------------------------------------------------------------


def test_another_ticket_s_evidence_in_the_report_fails(ledger: dict, tmp_path: Path) -> None:
    page = ledger["html"].read_text()
    other = evidence_of(ledger["other.html"].read_text())
    assert evidence_of(page)["ticket"] == TICKET and other["ticket"] == OTHER  # the evidence names its ticket
    moved = tmp_path / "moved.html"
    moved.write_text(with_evidence(page, other))
    code, out = verify(moved, "--log-key", ledger["vkey"])
    assert code == 1 and f"FAIL TL-E172: the proof is about ticket {OTHER}, the report about ticket {TICKET}" in out
    # evidence that does not name its ticket (as before) is held against the ticket the page names
    del other["ticket"]
    moved.write_text(with_evidence(page, other))
    code, out = verify(moved, "--log-key", ledger["vkey"])
    assert code == 1 and f"FAIL TL-E172: the proof does not carry the opening of ticket {TICKET}" in out, out
    assert re.search(rf"FAIL TL-E172: event at position \d+ \(ticket\.TicketOpened\.v\d\) is not of ticket {TICKET}",
                     out), out
    # and the page's annex as well, made to list the other ticket's positions: still another ticket's events
    rows = "".join(f'<tr><td class="num">{e["leaf"]["position"]}</td><td class="hash"></td></tr>' for e in other["events"])
    annexed = re.sub(r'(<section id="annex">.*?<tbody>).*?(</tbody>)', lambda m: m.group(1) + rows + m.group(2),
                     with_evidence(page, other), count=1, flags=re.S)
    moved.write_text(annexed)
    code, out = verify(moved, "--log-key", ledger["vkey"])
    assert code == 1 and "TL-E171" not in out and f"FAIL TL-E172: the proof does not carry the opening of ticket {TICKET}" in out


# --- 7. cosignatures not checked are said ------------------------------------------------------------------


def test_cosignatures_not_checked_are_said(ledger: dict, tmp_path: Path) -> None:
    from domain import cosignature as cs

    witness = cs.Witness("witness.example", bytes(range(32, 64)))
    page = ledger["html"].read_text()
    ev = evidence_of(page)
    ev["checkpoint"] = witness.cosign(ev["checkpoint"], 1_752_000_000)
    cosigned = tmp_path / "cosigned.html"
    cosigned.write_text(with_evidence(page, ev))
    code, out = verify(cosigned, "--log-key", ledger["vkey"])
    assert code == 0, out
    who = f"witness.example+{witness.verifier.key_hash.hex()}"
    assert f"note 1 other signature(s) on the checkpoint, not checked ({who})" in out
    assert "Not checked: the 1 other signature(s) on its checkpoint" in out.splitlines()[-1]
    code, out = verify(cosigned, "--log-key", ledger["vkey"], "--witness-key", witness.verifier.vkey)
    assert code == 0 and "not checked" not in out and f"ok   checkpoint cosigned by witness {who}" in out, out


# --- 8. how to check, without ticketledger -------------------------------------------------------------------


def test_how_to_check_tells_where_the_proof_is_and_what_a_leaf_is(ledger: dict) -> None:
    page = ledger["html"].read_text()
    section = page[page.index('<section id="proof">'):page.index("<pre")]
    section = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"</?span[^>]*>", "", section)))  # inline: no space
    section = re.sub(r"\s+", " ", section)
    assert '<script type="application/json" id="ticketledger-evidence">' in section
    for words in ("the byte 0x01", "the leaf index (8 bytes", "the log position (8)", "microseconds since 1970-01-01",
                  "the originator id (16)", "the topic's length (2)", "SHA-256 of the stored bytes (32)",
                  "SHA-256(0x00 || leaf)", "RFC 9162", "C2SP signed note", "tlog-cosignature/v1"):
        assert words in section, words
    doc = json.loads(ledger["json"].read_text())
    assert f"`ticketledger explain {TICKET} --at {doc['evaluated_at']}` on the ledger" in section
    assert f"explain {TICKET}` on the ledger" not in section


# --- 9. failures say what differs ------------------------------------------------------------------------------


def test_an_altered_event_names_the_digests_and_a_wrong_path_the_roots(ledger: dict, tmp_path: Path) -> None:
    import hashlib

    page = ledger["html"].read_text()
    ev = evidence_of(page)
    c = ev["events"][2]
    stored = bytearray(base64.b64decode(c["stored_b64"]))
    stored[-2] ^= 1
    c["stored_b64"] = base64.b64encode(bytes(stored)).decode()
    bad = tmp_path / "bad.html"
    bad.write_text(with_evidence(page, ev))
    code, out = verify(bad, "--log-key", ledger["vkey"])
    found, expected = hashlib.sha256(bytes(stored)).hexdigest()[:12], c["leaf"]["state_sha256"][:12]
    assert code == 1 and (f"FAIL TL-E164: event at position {c['leaf']['position']} (leaf {c['leaf']['index']}): the "
                          f"stored bytes in the report were altered: their SHA-256 is {found}…, the leaf's is "
                          f"{expected}…") in out, out
    ev = evidence_of(page)
    c = ev["events"][2]
    c["inclusion"][0] = base64.b64encode(bytes(32)).decode()
    bad.write_text(with_evidence(page, ev))
    code, out = verify(bad, "--log-key", ledger["vkey"])
    root = base64.b64decode(ev["checkpoint"].splitlines()[2]).hex()[:12]
    assert code == 1 and re.search(rf"FAIL TL-E163: event at position {c['leaf']['position']} \(leaf \d+\): not in the "
                                   rf"signed log as the report states it: its leaf hash [0-9a-f]{{12}}… and inclusion "
                                   rf"proof lead to root [0-9a-f]{{12}}…, the checkpoint's root is {root}…", out), out


# --- 11. a head already signed is not signed again; 10. checkpoint and attach speak as --list does ---------------


def test_checkpoint_signs_nothing_when_the_log_has_not_grown(ledger: dict, tmp_path: Path, capsys) -> None:
    import shutil

    data = tmp_path / "copy"
    shutil.copytree(ledger["data"], data)
    before = json.loads(run(data, "checkpoint", "--list", "--json")[1])
    last = before[-1]
    capsys.readouterr()
    code, out = run(data, "--lang", "en", "checkpoint")
    err = capsys.readouterr().err
    assert code == 0 and (f"the log has not grown since checkpoint {last['id']} (tree size {last['tree_size']}); "
                          f"nothing signed; verifier key {ledger['vkey']}") in err, err
    assert out == ledger["saved"].read_text()  # stdout is still the log's signed head
    assert json.loads(run(data, "checkpoint", "--list", "--json")[1]) == before
    code, out = run(data, "--json", "checkpoint")
    assert code == 0 and json.loads(out)["signed_now"] is False and json.loads(out)["id"] == last["id"]
    # in the ledger's language without --lang (its contract is in China), as `checkpoint --list` speaks
    assert run(data, "views", "rebuild", "--at", EVALUATED)[0] == 0
    assert "检查点；时间为" in run(data, "checkpoint", "--list")[1]
    capsys.readouterr()
    assert run(data, "checkpoint")[0] == 0
    assert f"自检查点 {last['id']}（树规模 {last['tree_size']}）以来日志没有增长" in capsys.readouterr().err
    evidence = tmp_path / "note.txt"
    evidence.write_text("a note")
    code, out = run(data, "attach", TICKET, str(evidence), "--actor", "desk:hotline")
    assert code == 0 and out.startswith("已记录：note.txt sha256 "), out
    # the log grew: a checkpoint is signed again
    capsys.readouterr()
    code, out = run(data, "checkpoint")
    err = capsys.readouterr().err
    assert code == 0 and f"检查点 {last['id'] + 1}：树规模 {last['tree_size'] + 1}，验证密钥 " in err, err


# --- 10. the reasons inside a Chinese line are Chinese -----------------------------------------------------------------


def test_the_reasons_of_failed_checks_are_said_in_the_reader_s_language(ledger: dict, tmp_path: Path, capsys) -> None:
    from adapters import log_key
    from domain import cosignature as cs
    from domain import signed_note as sn

    def zh(report: Path, *argv: str) -> tuple[int, str]:
        return run(None, "--lang", "zh_CN", "proof", "verify", str(report), *argv)

    page = ledger["html"].read_text()
    capsys.readouterr()
    code, _ = zh(ledger["html"], "--log-key", "abc")  # TL-E166: a key that cannot be read
    err = capsys.readouterr().err
    assert code == 2 and "TL-E166: --log-key abc：验证公钥的格式为 NAME+KEYHASH+BASE64KEY" in err, err
    other = sn.Signer("ticketledger.local/other", bytes(32)).verifier.vkey
    code, out = zh(ledger["html"], "--log-key", other)  # TL-E161
    assert code == 1 and "TL-E161: 检查点：没有已知密钥的签名（该笔记的签名方为 " in out, out
    ev = evidence_of(page)
    ev["events"][0]["inclusion"] = ev["events"][0]["inclusion"][:-1]
    cut = tmp_path / "cut.html"
    cut.write_text(with_evidence(page, ev))
    code, out = zh(cut, "--log-key", ledger["vkey"])  # TL-E163
    assert code == 1 and re.search(r"TL-E163: .*（证明有 \d+ 个哈希，少于规模为 \d+ 的树所需）", out), out
    # TL-E182: a witness's cosignature that does not hold
    witness = cs.Witness("witness.example", bytes(range(32, 64)))
    ev = evidence_of(page)
    line = witness.cosign(ev["checkpoint"], 1_752_000_000).splitlines()[-1]
    name, sig = line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(sig))
    raw[-1] ^= 1
    ev["checkpoint"] += f"{name} {base64.b64encode(bytes(raw)).decode()}\n"
    bad = tmp_path / "cosig.html"
    bad.write_text(with_evidence(page, ev))
    code, out = zh(bad, "--log-key", ledger["vkey"], "--witness-key", witness.verifier.vkey)
    assert code == 1 and "TL-E182: " in out and "的联署与检查点及其时间不符" in out, out
    # TL-E165: a second head at the size the customer saved, signed with the log's own key
    saved = sn.parse_checkpoint(sn.parse(ledger["saved"].read_text()).text)
    split = tmp_path / "split.note"
    split.write_text(log_key.load(ledger["data"]).sign(sn.checkpoint_text(saved.origin, saved.size, bytes(32))))
    code, out = zh(ledger["html"], "--log-key", ledger["vkey"], "--checkpoint", str(split))
    assert code == 1 and f"树规模 {saved.size} 有两个不同的根：日志呈现了两种视图" in out, out
    assert not re.search(r"[\u4e00-\u9fff][^\n]*\b(the|proof has|no signature|reads)\b", out)
