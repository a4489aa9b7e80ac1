"""A views file held by another process is told apart from any other error (issue 14, item 4):
by DuckDB's IOException saying it could not set the lock, never by the word "lock" somewhere in
an error's text (an overflow in `terms_clocks`, or a file named `blocks.duckdb`, was reported as
"in use by another process")."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import duckdb

from adapters.cli import main
from adapters.cli.views import is_locked

from .domainkit import ledger_with_one_ticket

HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(60)"


# What `views follow` does to its file: a writer holding the views publishes the analysts' snapshot
# with the follower's own Snapshots (a checkpoint, then the file's bytes copied in a thread)
PUBLISH = """
import sys, time
import projections
from adapters.follower import Snapshots
con = projections.open_views(sys.argv[1])
position = con.execute("SELECT max(position) FROM events").fetchall()[0][0]
snapshots = Snapshots(con, projections.database_file(con).with_name("views-snapshot.duckdb"), 0.0, print)
snapshots.poke(position)
snapshots.thread.join()
assert snapshots.copies == 1
print("held", flush=True)
time.sleep(60)
"""

def held(path: Path, script: str = HOLD) -> subprocess.Popen[str]:
    """Another process holding the DuckDB file (as `views follow` does)."""
    proc = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def cli(*args: str) -> tuple[int, str]:
    return cli_out(*args)[::2]


def cli_out(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_only_duckdbs_lock_error_is_taken_for_a_lock(tmp_path: Path) -> None:
    assert not is_locked(duckdb.OutOfRangeException("Overflow in terms_clocks: lock step"))
    assert not is_locked(duckdb.IOException('Cannot open file "/data/blocks.duckdb": No such file'))
    path = tmp_path / "v.duckdb"
    proc = held(path)
    try:
        try:
            duckdb.connect(str(path), read_only=True)
        except duckdb.Error as e:
            assert is_locked(e)
        else:
            raise AssertionError("a held file opened")
    finally:
        proc.kill()
        proc.wait()


def test_a_damaged_views_file_named_like_a_lock_is_not_reported_in_use(tmp_path: Path) -> None:
    data = ledger_with_one_ticket(tmp_path / "data")
    blocks = tmp_path / "blocks.duckdb"
    blocks.write_bytes(b"not a database at all" * 100)
    code, err = cli("--data-dir", str(data), "--lang", "en", "report", "sla", "--views", str(blocks))
    assert code == 2 and "is not a views database" in err and "in use" not in err, err


def test_views_rebuild_refuses_a_file_a_follower_holds_and_leaves_it_in_place(tmp_path: Path) -> None:
    data = ledger_with_one_ticket(tmp_path / "data")
    assert cli("--data-dir", str(data), "views", "rebuild")[0] == 0
    views = data / "views.duckdb"
    inode = views.stat().st_ino
    proc = held(views)
    try:
        code, err = cli("--data-dir", str(data), "views", "rebuild")
    finally:
        proc.kill()
        proc.wait()
    assert code == 2 and f"{views} is in use by another process" in err, err
    assert views.stat().st_ino == inode  # not replaced under the process that holds it


def test_a_follower_holds_its_views_after_publishing_the_analysts_snapshot(tmp_path: Path) -> None:
    """Copying the snapshot by the file's name opened and closed the views file in the follower's own
    process, which ends every POSIX lock the process holds on it: after its first snapshot the
    follower held nothing. Then another process opened the views read-write, `views rebuild` replaced
    them under the running follower (which went on writing to the deleted file), and `sql`/`report`
    read the file being written rather than the snapshot."""
    data = ledger_with_one_ticket(tmp_path / "data")
    assert cli("--data-dir", str(data), "views", "rebuild")[0] == 0
    views, snapshot = data / "views.duckdb", data / "views-snapshot.duckdb"
    snapshot.unlink()
    inode = views.stat().st_ino
    proc = held(views, PUBLISH)
    try:
        try:
            duckdb.connect(str(views)).close()
        except duckdb.Error as e:
            assert is_locked(e), e
        else:
            raise AssertionError("another process opened the followed views read-write")
        code, err = cli("--data-dir", str(data), "--lang", "en", "views", "rebuild")
        assert code == 2 and "TL-E032" in err and f"{views} is in use by another process" in err, err
        # the readers read the snapshot, not the file being written
        code, out, err = cli_out("--data-dir", str(data), "--json", "sql",
                                 "SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
        assert code == 0 and json.loads(out) == [{"path": str(snapshot)}], err
        code, out, err = cli_out("--data-dir", str(data), "--json", "report", "sla")
        assert code == 0 and {r["ticket"] for r in json.loads(out)} == {"T1"}, err
    finally:
        proc.kill()
        proc.wait()
    assert views.stat().st_ino == inode  # not replaced under the process that holds it
