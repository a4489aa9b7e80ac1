"""DuckDB views rebuilt by replaying the log (SPEC §4): schema, view SQL, the batch-apply path.

Imports only `domain` (ARCHITECTURE): readers of the store or the stream live in adapters and
hand Arrow batches in.
"""

from .apply import (
    ARROW_SCHEMA,
    Twin,
    apply_batch,
    copy_aside,
    database_file,
    open_views,
    publish_snapshot,
    rebuild,
    rebuild_from_store,
    reevaluate,
)

__all__ = [
    "ARROW_SCHEMA", "Twin", "apply_batch", "copy_aside", "database_file", "open_views", "publish_snapshot", "reevaluate",
    "rebuild", "rebuild_from_store",
]
