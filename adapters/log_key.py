"""Where the log's signing key lives, and making one.

Looked up in this order:
  TICKETLEDGER_LOG_KEY       the signer key itself (PRIVATE+KEY+…), e.g. from a secret store
  TICKETLEDGER_LOG_KEY_FILE  a file holding it (mode 0600)
  <data folder>/log.key      made by `ticketledger init` (mode 0600)
On PostgreSQL the events have no folder of their own: every host that signs checkpoints needs
the same key, so set one of the two variables there (init still writes log.key into the data
folder of the host it runs on, and says so). The key is never printed or published; its
verifier key (printed by `init` and `checkpoint`) is what the customer keeps.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from domain import signed_note as sn
from domain.errors import N_, Explained

KEY_ENV = "TICKETLEDGER_LOG_KEY"
KEY_FILE_ENV = "TICKETLEDGER_LOG_KEY_FILE"
ORIGIN_ENV = "TICKETLEDGER_LOG_ORIGIN"
KEY_FILE = "log.key"


class KeyError_(Explained, LookupError):
    """No usable log key; the message says where one was looked for and what to do."""


def key_file(data_dir: Path) -> Path:
    named = os.environ.get(KEY_FILE_ENV, "").strip()
    return Path(named) if named else data_dir / KEY_FILE


def where(data_dir: Path) -> str:
    if os.environ.get(KEY_ENV, "").strip():
        return f"${KEY_ENV}"
    return str(key_file(data_dir))


def load(data_dir: Path) -> sn.Signer:
    text = os.environ.get(KEY_ENV, "").strip()
    path = key_file(data_dir)
    if not text:
        if not path.exists():
            raise KeyError_(N_("no log key: {path} does not exist and {env} is not set; "
                              "`ticketledger init` makes one (on PostgreSQL set {env} or "
                              "{file_env} on every host that signs)"),
                              path=path, env=KEY_ENV, file_env=KEY_FILE_ENV)
        text = path.read_text().strip()
    try:
        return sn.Signer.parse(text)
    except sn.NoteError as e:
        raise KeyError_(N_("the log key in {where} cannot be used: {error}"),
                        where=where(data_dir), error=e) from None


def given(data_dir: Path) -> bool:
    """Whether a key is there to load (the variable set, or the key file present): else `ensure`
    would make a new one."""
    return bool(os.environ.get(KEY_ENV, "").strip()) or key_file(data_dir).exists()


def default_origin() -> str:
    """The log's name in checkpoints and its key's name: $TICKETLEDGER_LOG_ORIGIN, else a new
    `ticketledger.local/<random>` (one per ledger, kept in the key)."""
    return os.environ.get(ORIGIN_ENV, "").strip() or f"ticketledger.local/{uuid.uuid4().hex[:16]}"


def write(path: Path, signer: sn.Signer, *, replace: bool = False) -> None:
    """Write the signer key readable by its owner only (0600), never over another unless `replace`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(signer.skey + "\n")
    if not replace and path.exists():
        tmp.unlink()
        raise KeyError_(N_("{path} already exists"), path=path)
    os.replace(tmp, path)


def ensure(data_dir: Path) -> tuple[sn.Signer, bool]:
    """The log key, made (in the key file) when there is none; (signer, made now)."""
    try:
        return load(data_dir), False
    except KeyError_:
        if os.environ.get(KEY_ENV, "").strip():
            raise
        path = key_file(data_dir)
        if path.exists():
            raise
    signer = sn.Signer.generate(default_origin(), os.urandom(32))
    write(key_file(data_dir), signer)
    return signer, True


def rotate(data_dir: Path) -> tuple[sn.Signer, sn.Signer]:
    """A new key of the same name replaces the old in its file; (old, new). The old verifier
    key stays listed in the ledger (ledger_log_keys), so what it signed stays verifiable."""
    old = load(data_dir)
    if os.environ.get(KEY_ENV, "").strip():
        raise KeyError_(N_("the log key comes from ${env}: rotate it where that value is "
                          "kept, using a key file instead ({file_env}) for `checkpoint "
                          "--rotate-key`"), env=KEY_ENV, file_env=KEY_FILE_ENV)
    new = sn.Signer.generate(old.name, os.urandom(32))
    write(key_file(data_dir), new, replace=True)
    return old, new
