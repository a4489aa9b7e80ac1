"""What a data folder holds, by name: one place for the paths the commands, the follower and
the demo share.

    <data-dir>/events.sqlite          the event store (SQLite; with PostgreSQL the events are there)
               views.duckdb           the views (`views rebuild`, `views follow`)
               views-snapshot.duckdb  the analysts' read-only copy while a follower holds the views
               nats/                  the self-started nats-server's JetStream store (adapters.nats_server)
               evidence/              attached files, content-addressed (adapters.evidence)
               persons.sqlite         personal data, outside the log (adapters.persons)
"""

from __future__ import annotations

import os
from pathlib import Path

VIEWS_FILE = "views.duckdb"
SNAPSHOT_FILE = "views-snapshot.duckdb"


def views_path(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / VIEWS_FILE


def snapshot_path(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / SNAPSHOT_FILE


def sql_text(path: str | os.PathLike[str]) -> str:
    """A path as an SQL string literal (a quote in a folder name doubled), for ATTACH and COPY."""
    return "'" + str(path).replace("'", "''") + "'"
