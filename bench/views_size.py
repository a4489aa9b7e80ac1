"""Where a views file's bytes go (issue 15: `views.duckdb` <= 1 GB at 10M).

  python -m bench.views_size VIEWS.duckdb [--columns TABLE ...] [--top N]

Opens the file read-only and prints its size, its used and free blocks, the blocks each table's
segments occupy and, for the tables asked, each column's share. A segment's bytes are read from
`pragma_storage_info`: segments share blocks (small ones are packed together), so a segment's
size is the distance to the next segment's offset in its block (the block's end for the last),
plus a whole block per additional block it spans. Those bytes add up to the used blocks.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

MB = 1e6


def measure(path: str, columns: tuple[str, ...] = (), top: int = 8) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(path, read_only=True)
    try:
        size = con.execute("SELECT block_size, total_blocks, used_blocks, free_blocks FROM pragma_database_size()"
                           ).fetchall()[0]
        block, total, used, free = size
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND NOT temporary"
        ).fetchall()]
        segs = []
        for t in tables:
            for col, bid, off, extra in con.execute(
                    f"SELECT column_name, block_id, block_offset, additional_block_ids FROM pragma_storage_info('{t}') "
                    "WHERE persistent AND block_id >= 0").fetchall():
                segs.append((t, col, bid, off, len(extra or [])))
        by_block: dict[int, list[tuple[int, int]]] = {}
        for i, (_, _, bid, off, _) in enumerate(segs):
            by_block.setdefault(bid, []).append((off, i))
        seg_bytes = [0] * len(segs)
        for entries in by_block.values():
            entries.sort()
            for k, (off, i) in enumerate(entries):
                end = entries[k + 1][0] if k + 1 < len(entries) else block
                seg_bytes[i] = end - off + segs[i][4] * block
        table_bytes: dict[str, int] = {}
        col_bytes: dict[tuple[str, str], int] = {}
        for (t, col, *_), b in zip(segs, seg_bytes, strict=True):
            table_bytes[t] = table_bytes.get(t, 0) + b
            col_bytes[(t, col)] = col_bytes.get((t, col), 0) + b
    finally:
        con.close()
    return {
        "file_bytes": os.path.getsize(path), "block_size": block, "total_blocks": total,
        "used_blocks": used, "free_blocks": free,
        "tables": dict(sorted(table_bytes.items(), key=lambda kv: -kv[1])),
        "columns": {t: dict(sorted(((c, b) for (tt, c), b in col_bytes.items() if tt == t), key=lambda kv: -kv[1])[:top])
                    for t in columns},
    }


def show(m: dict[str, Any]) -> str:
    b = m["block_size"]
    lines = [f"file {m['file_bytes'] / MB:,.0f} MB: {m['used_blocks']:,} blocks used "
             f"({m['used_blocks'] * b / MB:,.0f} MB), {m['free_blocks']:,} free ({m['free_blocks'] * b / MB:,.0f} MB)"]
    lines += [f"  {t:26} {v / MB:8.1f} MB" for t, v in m["tables"].items() if v >= 0.05 * MB]
    for t, cols in m["columns"].items():
        lines.append(f"  {t}:")
        lines += [f"    {c:28} {v / MB:8.1f} MB" for c, v in cols.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("views")
    p.add_argument("--columns", nargs="*", default=["events"])
    p.add_argument("--top", type=int, default=12)
    a = p.parse_args(argv)
    print(show(measure(a.views, tuple(a.columns), a.top)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
