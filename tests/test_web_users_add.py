"""`users add` beside a follower that has just started: the follower holds `views.duckdb` and
publishes its first snapshot only once caught up, so the parties cannot be checked yet. The
user is written, with a note saying it was not checked, rather than refused (TL-E032)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .webkit import ROOT

HOLD = """import sys, time, duckdb
con = duckdb.connect(sys.argv[1])  # a writer's lock, as `views follow` holds it
con.execute("CREATE TABLE checkpoint (consumer VARCHAR, position BIGINT)")
print("held", flush=True)
sys.stdin.read()
"""


def test_users_add_while_a_follower_holds_the_views_and_published_no_snapshot(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(data / "views.duckdb")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        done = subprocess.run([sys.executable, "-m", "adapters.cli", "--data-dir", str(data), "--lang", "en", "users",
                               "add", "li-wei", "--role", "supplier", "--supplier", "supplier-000", "--password-stdin"],
                              input="a-long-enough-password\n", capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        holder.communicate("", timeout=30)
    assert done.returncode == 0, done.stderr
    assert "not checked against the views" in done.stderr and "no snapshot was published yet" in done.stderr
    assert "li-wei" in (data / "web-users.toml").read_text()
