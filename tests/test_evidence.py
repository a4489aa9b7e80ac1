"""Evidence (SPEC §3, issue 9): `attach` stores the file content-addressed in the data folder and
records its hash, media type, size and actor; `explain` lists and links it; `verify` checks
the stored files against their hashes."""

from __future__ import annotations

import hashlib
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

from adapters.cli import main
from adapters.evidence import evidence_path

from .domainkit import ledger_with_one_ticket


def run(data: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["--data-dir", str(data), *argv])
    return code, out.getvalue()


def test_attached_evidence_is_stored_listed_linked_and_verified(tmp_path: Path) -> None:

    data = ledger_with_one_ticket(tmp_path / "data")
    doc = tmp_path / "signed-report.pdf"
    content = b"%PDF-1.4 service report T1, signed by the buyer\n"
    doc.write_bytes(content)
    sha = hashlib.sha256(content).hexdigest()
    code, out = run(data, "attach", "T1", str(doc), "--actor", "engineer:li", "--at", "2025-10-01T15:00+08:00")
    assert code == 0 and sha in out
    stored = evidence_path(data, sha)
    assert stored.read_bytes() == content and stored.parent.parent.name == "evidence"

    views = tmp_path / "views.duckdb"  # a views file holding T1's clocks (explain refuses one without them)
    assert run(data, "replay", "--out", str(views))[0] == 0
    report_dir = tmp_path / "reports"
    report_dir.mkdir()
    out_file = report_dir / "T1.html"
    assert run(data, "explain", "T1", "--views", str(views), "--format", "html", "--out", str(out_file))[0] == 0
    html = out_file.read_text()
    assert "signed-report.pdf" in html and sha in html and "engineer:li" in html
    href = next(h.split('"', 1)[0] for h in html.split('href="')[1:] if sha in h.split('"', 1)[0])
    assert (report_dir / href).resolve() == stored.resolve()  # the link opens the stored file
    code, out = run(data, "explain", "T1", "--views", str(views), "--format", "json")
    (e,) = json.loads(out)["evidence"]
    assert (e["sha256"], e["media_type"], e["size"], e["actor"], e["status"]) == (
        sha, "application/pdf", len(content), "engineer:li", "ok")

    code, out = run(data, "--json", "verify", "--no-stream")
    assert code == 0 and json.loads(out)["evidence_checked"] == 1
    stored.write_bytes(content.replace(b"signed", b"forged"))
    code, out = run(data, "--json", "verify", "--no-stream")
    first = json.loads(out)["first_difference"]
    assert code == 1 and first["kind"] == "evidence" and "altered" in first["detail"]
    code, out = run(data, "explain", "T1", "--views", str(views), "--format", "json")
    assert json.loads(out)["evidence"][0]["status"] == "altered"


def test_a_refused_attachment_keeps_no_file_and_says_why(tmp_path: Path, capsys) -> None:
    data = ledger_with_one_ticket(tmp_path / "data")
    doc = tmp_path / "photo.jpg"
    doc.write_bytes(b"\xff\xd8 a photo of the broken unit")
    stored = evidence_path(data, hashlib.sha256(doc.read_bytes()).hexdigest())

    assert run(data, "attach", "T9", str(doc), "--actor", "engineer:li")[0] == 2  # no such ticket
    err = capsys.readouterr().err
    assert err.count("EvidenceAttached T9") == 1 and "unknown ticket T9" in err
    assert not stored.exists() and not [p for p in (data / "evidence").rglob("*") if p.is_file()]

    assert run(data, "attach", "T1", str(doc), "--actor", "engineer:li", "--at", "2025-10-01T15:00+08:00")[0] == 0
    assert stored.exists()
    assert run(data, "--lang", "en", "attach", "T1", str(doc), "--actor", "engineer:li")[0] == 2  # the same file again
    assert "already attached to ticket T1" in capsys.readouterr().err
    assert [p for p in (data / "evidence").rglob("*") if p.is_file()] == [stored]


def test_attach_says_what_it_recorded_in_json(tmp_path: Path) -> None:
    # --json was ignored: a sentence where a program reads the hash it must keep
    data = ledger_with_one_ticket(tmp_path / "data")
    doc = tmp_path / "photo.jpg"
    doc.write_bytes(b"\xff\xd8\xff a photo of the broken pump")
    code, out = run(data, "--json", "attach", "T1", str(doc), "--actor", "engineer:li", "--description", "pump")
    assert code == 0
    assert json.loads(out) == [{"status": "recorded", "ticket": "T1", "file": "photo.jpg",
                                "sha256": hashlib.sha256(doc.read_bytes()).hexdigest(),
                                "size": doc.stat().st_size, "media_type": "image/jpeg"}]
