"""Evidence files, stored content-addressed in the data folder: evidence/ab/abcdef…"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path


def evidence_path(data_dir: Path, sha256: str) -> Path:
    return data_dir / "evidence" / sha256[:2] / sha256


def stage_evidence(data_dir: Path, source: Path) -> tuple[str, int, Path]:
    """Copy `source` into the evidence folder under a temporary name, hashing the bytes copied;
    returns (hash, size, staged file). `keep_evidence` files it under its hash once the ledger has
    recorded the attachment; a refused attachment deletes the staged file, so nothing is left."""
    staging = data_dir / "evidence" / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkstemp(dir=staging, suffix=".part")[1])
    h, size = hashlib.sha256(), 0
    with source.open("rb") as f, staged.open("wb") as out:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return h.hexdigest(), size, staged


def keep_evidence(data_dir: Path, sha256: str, staged: Path) -> Path:
    """The staged file under its hash (storing the same content twice is harmless)."""
    target = evidence_path(data_dir, sha256)
    if target.exists():
        staged.unlink()
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        staged.replace(target)
    return target


def check_evidence(data_dir: Path, sha256: str) -> str:
    """'ok', 'missing' or 'altered' for one recorded evidence hash."""
    path = evidence_path(data_dir, sha256)
    if not path.exists():
        return "missing"
    h = hashlib.sha256(path.read_bytes()).hexdigest()
    return "ok" if h == sha256 else "altered"
