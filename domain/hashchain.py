"""The tamper-evident chain over the log (SPEC §5), pure: a link from the previous one.

link(n) = sha256(link(n-1) | n | recorded_at | originator_id | version | topic | sha256(state))
The genesis link is 64 zeros. Changing, deleting or swapping any stored event changes
every link from it on, so `verify` names the first position that differs.
"""

from __future__ import annotations

import hashlib

GENESIS = "0" * 64


def state_digest(state: bytes) -> str:
    return hashlib.sha256(state).hexdigest()


def link(previous: str, position: int, recorded_at: str, originator_id: str, version: int,
         topic: str, digest: str) -> str:
    material = "|".join((previous, str(position), recorded_at, originator_id, str(version), topic, digest))
    return hashlib.sha256(material.encode()).hexdigest()
