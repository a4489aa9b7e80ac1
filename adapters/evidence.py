"""Evidence files, stored content-addressed in the data folder: evidence/ab/abcdef…"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path


def evidence_path(data_dir: Path, sha256: str) -> Path:
    return data_dir / "evidence" / sha256[:2] / sha256


def store_evidence(data_dir: Path, source: Path) -> tuple[str, int]:
    """Copy `source` under its SHA-256; returns (hash, size). Storing twice is harmless."""
    h = hashlib.sha256()
    with source.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    sha = h.hexdigest()
    target = evidence_path(data_dir, sha)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    return sha, source.stat().st_size


def check_evidence(data_dir: Path, sha256: str) -> str:
    """'ok', 'missing' or 'altered' for one recorded evidence hash."""
    path = evidence_path(data_dir, sha256)
    if not path.exists():
        return "missing"
    h = hashlib.sha256(path.read_bytes()).hexdigest()
    return "ok" if h == sha256 else "altered"
