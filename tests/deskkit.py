"""The real desk logs of /work/shared/data, for tests: where they are and slices of them."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

UCI = Path("/work/shared/data/uci-incident-event-log/incident_event_log.csv.gz")


def uci_slice(path: Path, incidents: int) -> Path:
    """The UCI log's rows of its first `incidents` incidents, as a plain CSV: the file a user imported."""
    with gzip.open(UCI, "rt", encoding="utf-8", newline="") as src, path.open("w", newline="") as dst:
        rows, out = csv.reader(src), csv.writer(dst)
        out.writerow(next(rows))
        seen: set[str] = set()
        for row in rows:
            if row[0] not in seen and len(seen) == incidents:
                break
            seen.add(row[0])
            out.writerow(row)
    return path
