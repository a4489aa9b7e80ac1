"""Users and roles of the web console, kept in a TOML file with argon2 password hashes.

    [users.li-wei]
    role = "supplier"              # supplier | customer | arbitrator
    supplier = "supplier-000"      # supplier: the supplier id its contracts name
    password = "$argon2id$v=19$…"  # argon2id hash (argon2-cffi); never the password itself
    lang = "zh_CN"                 # optional: the pages' default language

    [users.buyer]
    role = "customer"
    customer = "buyer-000"

    [users.arbiter]
    role = "arbitrator"
    contracts = ["K-000", "K-004"]

The file is read again when it changes, so removing a user ends its sessions at once.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from domain.errors import N_, Explained, Phrase

ROLES = ("supplier", "customer", "arbitrator")
NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # the ledger's ids (customers, suppliers, contracts)
MIN_PASSWORD = 8

_hasher = PasswordHasher()
# verifying an unknown user costs as much as a known one: no timing tells which names exist
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class UsersError(Explained, ValueError):
    """A users file or a user that cannot be used; the message (a template, said in the reader's
    language) says where and what."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str = field(repr=False)
    supplier: str | None = None
    customer: str | None = None
    contracts: tuple[str, ...] = ()
    lang: str | None = None

    def describe(self) -> Phrase:
        """Who the user is and what it may see (said in the reader's language where printed)."""
        if self.role == "supplier":
            return Phrase(N_("{name} (supplier user: supplier {supplier})"), name=self.name, supplier=self.supplier)
        if self.role == "customer":
            return Phrase(N_("{name} (customer user: customer {customer})"), name=self.name, customer=self.customer)
        return Phrase(N_("{name} (arbitrator: contracts {contracts})"), name=self.name,
                      contracts=", ".join(self.contracts))


def check_user(user: User, where: str = "") -> User:
    """Refuse a user whose role and scope do not fit together, naming what is wrong."""
    at = f"{where}: " if where else ""
    if not NAME.fullmatch(user.name):
        raise UsersError(N_("{at}user name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-'"),
                         at=at, name=user.name)
    if user.role not in ROLES:
        raise UsersError(N_("{at}user {name}: role {role!r} is not one of {roles}"), at=at, name=user.name,
                         role=user.role, roles=", ".join(ROLES))
    need = {"supplier": "supplier", "customer": "customer", "arbitrator": "contracts"}[user.role]
    if user.role == "supplier" and not (user.supplier and ID.fullmatch(user.supplier)):
        raise UsersError(N_("{at}user {name}: a supplier user names its supplier id, e.g. supplier = "
                            "\"supplier-000\" in the users file, --supplier supplier-000 to `users add`"), at=at, name=user.name)
    if user.role == "customer" and not (user.customer and ID.fullmatch(user.customer)):
        raise UsersError(N_("{at}user {name}: a customer user names its customer id, e.g. customer = "
                            "\"buyer-000\" in the users file, --customer buyer-000 to `users add`"), at=at, name=user.name)
    if user.role == "arbitrator" and not (user.contracts and all(ID.fullmatch(c) for c in user.contracts)):
        raise UsersError(N_("{at}user {name}: an arbitrator names the contracts it may see, e.g. contracts = "
                            "[\"K-000\"] in the users file, --contract K-000 to `users add`"), at=at, name=user.name)
    extra = {"supplier", "customer", "contracts"} - {need}
    for key in extra:
        if getattr(user, key):
            raise UsersError(N_("{at}user {name}: a {role} user takes `{need}`, not `{key}`"), at=at,
                             name=user.name, role=user.role, need=need, key=key)
    if not user.password_hash.startswith("$argon2"):
        raise UsersError(N_("{at}user {name}: password must be an argon2 hash (write it with `ticketledger users "
                            "add`), never the password itself"), at=at, name=user.name)
    return user


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UsersError(N_("a password of at least {n} characters, please"), n=MIN_PASSWORD)
    return _hasher.hash(password)


class Users:
    """The users file, re-read when it changes on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, User] = {}
        self.reload()

    def reload(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            raise UsersError(N_("no users file {path}; add a user with "
                                "`ticketledger users add NAME --role supplier --supplier ID`"), path=self.path) from None
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        self._users = load_users(self.path)
        self._stamp = stamp

    def get(self, name: str) -> User | None:
        try:
            self.reload()
        except UsersError:
            return None
        return self._users.get(name)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when name and password match, else None (in the same time either way)."""
        user = self.get(name)
        try:
            _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        return user

    def all(self) -> list[User]:
        """The users, in the file's order."""
        try:
            self.reload()
        except UsersError:
            return []
        return list(self._users.values())

    def __len__(self) -> int:
        return len(self._users)


def load_users(path: Path) -> dict[str, User]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UsersError(N_("{path}: not valid TOML ({error})"), path=path, error=e) from None
    table = data.get("users", {})
    if not isinstance(table, dict):
        raise UsersError(N_("{path}: [users] must be a table of users, e.g. [users.li-wei]"), path=path)
    out = {}
    for name, entry in table.items():
        if not isinstance(entry, dict):
            raise UsersError(N_("{path}: [users.{name}] must be a table"), path=path, name=name)
        known = {"role", "password", "supplier", "customer", "contracts", "lang"}
        unknown = set(entry) - known
        if unknown:
            raise UsersError(N_("{path}: [users.{name}]: unknown key(s) {unknown}; keys are {known}"), path=path,
                             name=name, unknown=", ".join(sorted(unknown)), known=", ".join(sorted(known)))
        contracts = entry.get("contracts", [])
        if isinstance(contracts, str):
            contracts = [contracts]
        out[name] = check_user(User(
            name=name, role=str(entry.get("role", "")), password_hash=str(entry.get("password", "")),
            supplier=entry.get("supplier"), customer=entry.get("customer"),
            contracts=tuple(str(c) for c in contracts), lang=entry.get("lang"),
        ), str(path))
    return out


def add_user(path: Path, user: User) -> None:
    """Add or replace one user in the file (created 0600 when missing), written atomically."""
    check_user(user, str(path))
    data: dict = {"users": {}}
    if path.exists():
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        data.setdefault("users", {})
    entry: dict[str, object] = {"role": user.role, "password": user.password_hash}
    if user.supplier:
        entry["supplier"] = user.supplier
    if user.customer:
        entry["customer"] = user.customer
    if user.contracts:
        entry["contracts"] = list(user.contracts)
    if user.lang:
        entry["lang"] = user.lang
    data["users"][user.name] = entry
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        tomli_w.dump(data, f)
    os.replace(tmp, path)


def remove_user(path: Path, name: str) -> bool:
    if not path.exists():
        return False
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    if name not in data.get("users", {}):
        return False
    del data["users"][name]
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        tomli_w.dump(data, f)
    os.replace(tmp, path)
    return True
