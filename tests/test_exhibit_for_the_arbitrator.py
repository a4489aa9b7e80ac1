"""The dispute report as an arbitrator reads it (review of the exhibit): on the demo ledger, the
reports of the tickets the reviewer read, read as a person meets them (the Markdown's text, the
HTML's text, the PDF's text by pdftotext, the JSON)."""

from __future__ import annotations

import html
import io
import json
import re
import subprocess
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from adapters.cli import main

REPLACED = "T-s7n3000-002857"  # the 2nd repeat failure (2025-10-09 05:57) made the replacement due
EARLIER = "T-s7n3000-000214"  # an August 2025 ticket on the same recorder, before the obligation
CONSENT = "T-s7n3000-002294"
PAUSED = "T-s7n3000-002225"
WEEK = "T-s7n3000-000194"  # a 1-week target whose last day fell in the National Day holiday
REOPENED = "T-s7n3000-000371"


def run(*argv: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(list(argv)) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    """`report(ticket, fmt, lang)`: the report's text as a person reads it."""
    tmp = tmp_path_factory.mktemp("arb")
    data = tmp / "data"
    run("--data-dir", str(data), "demo", "--no-stream")
    cache: dict[tuple[str, str, str], str] = {}

    def get(ticket: str, fmt: str = "md", lang: str = "zh_CN") -> str:
        key = (ticket, fmt, lang)
        if key not in cache:
            path = tmp / f"{ticket}.{lang}.{fmt}"
            run("--data-dir", str(data), "--lang", lang, "explain", ticket, "--format", fmt, "--out", str(path))
            if fmt == "pdf":
                cache[key] = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                                            capture_output=True, text=True).stdout
            elif fmt == "html":
                text = re.sub(r"<script.*?</script>|<style.*?</style>", "", path.read_text(), flags=re.S)
                cache[key] = html.unescape(re.sub(r"<[^>]+>", " ", text))
            else:
                cache[key] = path.read_text()
        return cache[key]

    return get


def _row(md: str, position: int) -> str:
    return next(line for line in md.splitlines() if line.startswith(f"| {position} |"))


def test_a_repair_that_did_not_fix_the_fault_says_so(report) -> None:
    zh, en = report(REPLACED), report(REPLACED, "md", "en")
    for position in (21266, 21269):
        assert "已修复: 否" in _row(zh, position)
        assert "fixed: no" in _row(en, position)
    assert "已修复: 是" in _row(zh, 21272)
