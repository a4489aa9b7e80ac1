"""Reporters' personal data, kept out of the log (SPEC §7, PIPL art. 47).

Events carry only a reference (e.g. P-1a2b…); names and phone numbers live here, in a
separate SQLite file that can be erased row by row without touching the hash-chained log.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


class PersonStore:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "persons.sqlite"
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS persons (ref TEXT PRIMARY KEY, name TEXT NOT NULL, phone TEXT NOT NULL)")

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        db.execute("PRAGMA secure_delete = ON")  # erased bytes are overwritten, not left in free pages
        return db

    def add(self, ref: str, name: str, phone: str = "") -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO persons VALUES (?,?,?)", (ref, name, phone))

    def get(self, ref: str) -> dict[str, str] | None:
        with self._db() as db:
            row = db.execute("SELECT ref, name, phone FROM persons WHERE ref = ?", (ref,)).fetchone()
        return {"ref": row[0], "name": row[1], "phone": row[2]} if row else None

    def erase(self, ref: str) -> bool:
        db = self._db()
        try:
            with db:
                n = db.execute("DELETE FROM persons WHERE ref = ?", (ref,)).rowcount
            db.execute("VACUUM")
        finally:
            db.close()
        return n > 0
