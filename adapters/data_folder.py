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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from replay.i18n import Texts

VIEWS_FILE = "views.duckdb"
SNAPSHOT_FILE = "views-snapshot.duckdb"


def views_path(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / VIEWS_FILE


def snapshot_path(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / SNAPSHOT_FILE


def sql_text(path: str | os.PathLike[str]) -> str:
    """A path as an SQL string literal (a quote in a folder name doubled), for ATTACH and COPY."""
    return "'" + str(path).replace("'", "''") + "'"


@dataclass(frozen=True)
class Behind:
    """The ledger's own views behind its log: a report read from them misses what came since
    (the CLI says it beside a report, the console on every page)."""

    views: int  # the position the views hold
    log: int  # the store's last position

    def said(self, _: Texts) -> str:
        return _("views are at position {views}, the log at {log}: run `ticketledger views rebuild` or "
                 "`views follow`", views=_.number(self.views), log=_.number(self.log))

    def as_json(self) -> dict[str, int]:
        return {"views_position": self.views, "log_position": self.log}
