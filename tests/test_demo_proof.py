"""The demo ends with what a customer keeps and the offline check of its dispute report (issue 16);
the printed command still passes after the data folder is deleted, with the report copied out."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys


def test_the_demo_ends_with_the_proof_and_its_check_holds_without_the_data_folder(tmp_path):
    data = tmp_path / "data"
    done = subprocess.run([sys.executable, "-m", "adapters.cli", "--lang", "en", "--data-dir", str(data), "demo",
                           "--tickets", "120", "--no-stream"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    tail = done.stdout.rsplit("verifier key (for the contract annex): ", 1)[1]
    vkey = tail.split()[0]
    assert "checkpoint (the signed tree head a customer saves" in tail
    command = re.search(r"check the dispute report offline: (.+)", tail).group(1)
    assert "proof holds for the" in tail.rstrip().splitlines()[-1]  # the demo ran the command
    argv = shlex.split(command)
    report = tmp_path / "kept.html"
    shutil.copy(argv[argv.index("verify") + 1], report)
    shutil.rmtree(data)
    check = subprocess.run([sys.executable, "-m", "adapters.cli", "proof", "verify", str(report), "--log-key", vkey],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "proof holds" in check.stdout
    text = report.read_text()
    text = text.replace('"originator_version":1,', '"originator_version":2,', 1)  # one cited event's leaf changed
    report.write_text(text)
    check = subprocess.run([sys.executable, "-m", "adapters.cli", "proof", "verify", str(report), "--log-key", vkey],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert check.returncode == 1 and "FAIL TL-E163: event at position" in check.stdout
