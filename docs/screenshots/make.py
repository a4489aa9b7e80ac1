"""Regenerate the README's screenshots: the dispute report's first page in Chinese and English and
one monthly statement, printed by the system's Chromium and rasterised by pdftoppm.

    .venv/bin/python docs/screenshots/make.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from adapters.cli import main as cli
    from tests.disputekit import EVALUATED, TICKET, dispute_ledger

    with tempfile.TemporaryDirectory() as tmp:
        data = dispute_ledger(Path(tmp) / "data")
        views = str(Path(tmp) / "views.duckdb")
        cli(["--data-dir", str(data), "replay", "--at", EVALUATED, "--out", views])
        for lang in ("zh_CN", "en"):
            pdf = Path(tmp) / f"{lang}.pdf"
            cli(["--data-dir", str(data), "explain", TICKET, "--views", views, "--format", "pdf", "--lang", lang,
                 "--out", str(pdf)])
            _png(pdf, HERE / f"dispute-report-{lang}")
        cli(["--data-dir", str(data), "views", "rebuild", "--at", "2025-08-01T00:00:00+08:00"])
        pdf = Path(tmp) / "statement.pdf"
        cli(["--data-dir", str(data), "statement", "--customer", "buyer-000", "--month", "2025-07", "--format", "pdf",
             "--out", str(pdf)])
        _png(pdf, HERE / "statement-zh_CN")


def _png(pdf: Path, stem: Path) -> None:
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)],
                   check=True)


if __name__ == "__main__":
    main()
