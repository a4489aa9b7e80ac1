"""Reporters' personal data, kept out of the log (SPEC §7, PIPL art. 47).

Events carry only a reference (e.g. P-1a2b…); names and phone numbers live here, in a
separate SQLite file that can be erased row by row without touching the hash-chained log.
The file is created by the first `add`; reading or erasing never creates it.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from domain.errors import N_, Explained
from domain.events import SUBJECT_ID_PATTERN

PHONE_PATTERN = r"[0-9 +()-]*[0-9][0-9 +()-]*"  # digits, spaces, +, - and parentheses


class PersonError(Explained, ValueError):
    """Details that cannot be stored; the message says what is wrong and what would be right."""


def check_person(ref: str, name: str, phone: str) -> None:
    if not re.fullmatch(SUBJECT_ID_PATTERN, ref):
        raise PersonError(N_("--ref {ref} is not a valid reference; a reference is 1-64 ASCII "
                          "letters, digits, \"_\" or \"-\" (e.g. P-0001), or leave --ref out for a "
                          "new one"), ref=repr(ref))
    if not name.strip():
        raise PersonError(N_("--name is empty; give the reporter's name, e.g. --name 王小明"))
    if phone and not re.fullmatch(PHONE_PATTERN, phone):
        raise PersonError(N_("--phone {phone} is not a phone number; use digits, spaces, +, - and "
                          "parentheses only, e.g. --phone \"+86 138-0013-8000\""), phone=repr(phone))


class PersonStore:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "persons.sqlite"

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        db.execute("PRAGMA secure_delete = ON")  # erased bytes are overwritten, not left in free pages
        db.execute("CREATE TABLE IF NOT EXISTS persons (ref TEXT PRIMARY KEY, name TEXT NOT NULL, phone TEXT NOT NULL)")
        return db

    def add(self, ref: str, name: str, phone: str = "") -> None:
        """Store a new reporter; refused (PersonError) when the details are invalid or `ref` exists."""
        check_person(ref, name, phone)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = self._db()
        try:
            with db:
                db.execute("INSERT INTO persons VALUES (?,?,?)", (ref, name.strip(), phone.strip()))
        except sqlite3.IntegrityError:
            raise PersonError(
                N_("{ref} already exists; nothing changed. Leave --ref out (or name a "
                              "new one) for another person; to replace {ref}'s details, "
                              "`ticketledger erase-person {ref}`, then add them again"), ref=ref) from None
        finally:
            db.close()

    def get(self, ref: str) -> dict[str, str] | None:
        if not self.path.is_file():
            return None
        db = self._db()
        try:
            row = db.execute("SELECT ref, name, phone FROM persons WHERE ref = ?", (ref,)).fetchone()
        finally:
            db.close()
        return {"ref": row[0], "name": row[1], "phone": row[2]} if row else None

    def erase(self, ref: str) -> bool:
        if not self.path.is_file():
            return False
        db = self._db()
        try:
            with db:
                n = db.execute("DELETE FROM persons WHERE ref = ?", (ref,)).rowcount
            db.execute("VACUUM")
        finally:
            db.close()
        return n > 0
