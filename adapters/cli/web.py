"""CLI of the web console: `serve` and `users` (add, remove, list).

`ticketledger serve` reads the views beside a running `views follow` (its snapshot) and never
writes them; live updates need the NATS server the follower publishes alerts to (`--nats-url`
or TICKETLEDGER_NATS_URL). TLS: put it behind a reverse proxy that terminates TLS (README), or
give `--https-cert` and `--https-key` to let uvicorn serve HTTPS itself.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from domain.errors import N_

from . import UserError, positive_float
from .output import said, speak

USERS_FILE = "web-users.toml"


def users_path(args: argparse.Namespace) -> Path:
    return Path(args.users) if getattr(args, "users", None) else Path(args.data_dir) / USERS_FILE


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help=N_("the web console: live queue, dashboards, ticket, asset and statement pages"),
                       description=N_("Serve the web console on HTTP (or HTTPS with --https-cert/--https-key). It reads "
                                   "the views beside a running `views follow` through its snapshot and never "
                                   "writes them; live queue updates come from the follower's alerts on NATS."))
    p.add_argument("--host", default="127.0.0.1", help=N_("address to listen on (default 127.0.0.1)"))
    p.add_argument("--port", type=int, default=8080, help=N_("port (default 8080)"))
    p.add_argument("--users", metavar="FILE", help=N_("users and roles (TOML; default <data-dir>/web-users.toml)"))
    p.add_argument("--https-cert", metavar="PEM", help=N_("serve HTTPS with this certificate chain"))
    p.add_argument("--https-key", metavar="PEM", help=N_("and this private key"))
    p.add_argument("--nice", type=int, default=5, metavar="N",
                   help=N_("run at this lower CPU priority (default 5): on a shared machine the live follower and "
                        "the relay go first, pages wait (0 keeps the priority)"))
    p.add_argument("--insecure-cookies", action="store_true",
                   help=N_("session cookies without the Secure flag (only for plain HTTP on a host other than "
                        "localhost; browsers accept Secure cookies on http://localhost)"))
    p.add_argument("--stale-after", type=positive_float, default=30.0, metavar="SECONDS",
                   help=N_("pages say the data is not current once the views miss events the log held this many "
                        "seconds ago (default 30; the follower publishes its snapshot every few seconds, a large "
                        "ledger's less often)"))
    from .stream import nats_options

    nats_options(p)
    p.set_defaults(func=cmd_serve)

    u = sub.add_parser("users", help=N_("the web console's users and roles (a TOML file, argon2 hashes)"))
    usub = u.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = usub.add_parser("add", help=N_("add or replace a user (the password is read from the terminal or stdin)"))
    a.add_argument("name")
    a.add_argument("--role", required=True, choices=("supplier", "customer", "arbitrator"),
                   help=N_("what the user may see: a supplier's contracts, a customer's, or the contracts named (arbitrator)"))
    a.add_argument("--supplier", help=N_("supplier role: the supplier id its contracts name"))
    a.add_argument("--customer", help=N_("customer role: the customer id"))
    a.add_argument("--contract", action="append", dest="contracts", default=[],
                   help=N_("arbitrator role: a contract it may see (repeatable)"))
    a.add_argument("--default-lang", dest="user_lang", metavar="LANG", help=N_("the pages' language for this user until it picks one (zh_CN or en)"))
    a.add_argument("--password-stdin", action="store_true", help=N_("read the password from the first line of stdin"))
    a.add_argument("--users", metavar="FILE", help=N_("the users file (default <data-dir>/web-users.toml)"))
    a.set_defaults(func=cmd_users_add)
    r = usub.add_parser("remove", help=N_("remove a user (its sessions end at its next request)"))
    r.add_argument("name")
    r.add_argument("--users", metavar="FILE", help=N_("the users file (default <data-dir>/web-users.toml)"))
    r.set_defaults(func=cmd_users_remove)
    ls = usub.add_parser("list", help=N_("the users and what each may see"))
    ls.add_argument("--users", metavar="FILE", help=N_("the users file (default <data-dir>/web-users.toml)"))
    ls.set_defaults(func=cmd_users_list)


def cmd_users_add(args: argparse.Namespace) -> int:
    from ..web.users import User, UsersError, add_user, hash_password

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not sys.stdin.isatty():  # piped in without saying so: getpass would read it once, then fail
        _ = speak()
        raise UserError(_("no terminal to ask the password on; pipe it with --password-stdin, e.g. "
                          "`printf '%s\\n' \"$PASSWORD\" | ticketledger users add {name} --password-stdin …`",
                          name=args.name))
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            _ = speak()
            raise UserError(_("the two passwords differ; nothing written"))
    user_lang = None
    if args.user_lang:
        from replay.i18n import normalise_lang

        try:
            user_lang = normalise_lang(args.user_lang)
        except ValueError as e:
            _ = speak()
            raise UserError(_("--default-lang: {error}", error=said(e))) from None
    path = users_path(args)
    try:
        user = User(args.name, args.role, hash_password(password), supplier=args.supplier, customer=args.customer,
                    contracts=tuple(args.contracts), lang=user_lang)
        _refuse_unknown_parties(args, user)
        add_user(path, user)
    except UsersError as e:
        raise UserError(said(e)) from None
    _ = speak()
    print(_("{path}: {user}", path=path, user=user.describe().said(_)))
    return 0


def _refuse_unknown_parties(args: argparse.Namespace, user: Any) -> None:
    """A mistyped supplier, customer or contract would give a user who sees nothing: refuse what
    the views do not hold. Without views yet there is nothing to check against (nor to serve);
    with views a follower holds and no snapshot yet, the user is written with a note on stderr."""
    from ..statements import customer_known
    from .views import open_for_reading, snapshot_path, unknown_party, views_path

    if not views_path(args).exists() and not snapshot_path(args).exists():
        return
    try:
        con = open_for_reading(args)
    except UserError as e:
        if e.code != "TL-E032":
            raise
        # a follower just started holds the views and publishes its first snapshot once caught
        # up (minutes on a large ledger): the user is written unchecked rather than refused
        _ = speak()
        print(_("users add: {user} not checked against the views ({reason}); `ticketledger users list` "
                "shows what was written", user=user.describe().said(_), reason=said(e)), file=sys.stderr)
        return
    try:
        if user.customer and not customer_known(con, user.customer, None):
            raise unknown_party(user.customer, None)
        for contract in user.contracts:
            if not customer_known(con, None, contract):
                raise unknown_party(None, contract)
        if user.supplier and not con.execute("SELECT count(*) FROM terms WHERE supplier = ?",
                                             [user.supplier]).fetchone()[0]:
            known = [r[0] for r in con.execute("SELECT DISTINCT supplier FROM terms ORDER BY 1 LIMIT 12").fetchall()]
            _ = speak()
            raise UserError(_("no supplier {name} in the views; the views' suppliers include {known}",
                              name=repr(user.supplier), known=", ".join(known)), code="TL-E040")
    finally:
        con.close()


def cmd_users_remove(args: argparse.Namespace) -> int:
    from ..web.users import remove_user

    path = users_path(args)
    if not remove_user(path, args.name):
        _ = speak()
        raise UserError(_("no user {name} in {path}", name=args.name, path=path))
    _ = speak()
    print(_("{path}: removed {name}", path=path, name=args.name))
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from ..web.users import UsersError, load_users
    from .output import Column, emit

    path = users_path(args)
    if not path.exists():
        _ = speak()
        raise UserError(_("no users file {path}; add a user with `ticketledger users add`", path=path))
    try:
        users = load_users(path)
    except UsersError as e:
        raise UserError(said(e)) from None
    emit([{"user": u.name, "role": u.role, "supplier": u.supplier or "", "customer": u.customer or "",
           "contracts": ", ".join(u.contracts), "lang": u.lang or ""} for u in users.values()], args.json,
         [Column("user", N_("user"), "id"), Column("role", N_("role")), Column("supplier", N_("supplier"), "id"),
          Column("customer", N_("customer"), "id"), Column("contracts", N_("contracts")),
          Column("lang", N_("language"))], title=str(path))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ..store import StoreConfig, StoreMismatch, check_store
    from ..web.app import Settings, create_app
    from ..web.users import Users, UsersError
    from .core import data_folder
    from .stream import options_of

    folder = data_folder(args)
    if not folder.is_dir():
        _ = speak()
        raise UserError(_("no data folder {folder}; run `ticketledger init` or `ticketledger "
                          "demo` first", folder=folder))
    try:
        check_store(StoreConfig.from_env(folder))  # not a page's 500 at the first ledger read
    except StoreMismatch as e:
        raise UserError(said(e), code="TL-E013") from None
    if not 1 <= args.port <= 65535:
        _ = speak()
        raise UserError(_("--port {port}: use a port from 1 to 65535, e.g. 8080", port=args.port))
    if bool(args.https_cert) != bool(args.https_key):
        _ = speak()
        raise UserError(_("--https-cert and --https-key go together: give both, or neither (and "
                          "a TLS proxy in front)"))
    for opt in ("https_cert", "https_key"):
        value = getattr(args, opt)
        if value and not Path(value).is_file():
            _ = speak()
            raise UserError(_("--{option} {value}: no such file", option=opt.replace('_', '-'), value=value))
    path = users_path(args)
    try:
        users = Users(path)
    except UsersError as e:
        raise UserError(said(e)) from None
    if not len(users):
        _ = speak()
        raise UserError(_("{path} holds no user; add one with `ticketledger users add`", path=path))
    options = options_of(args)
    url = options.url or os.environ.get("TICKETLEDGER_NATS_URL") or None
    settings = Settings(data_dir=folder, users_file=path, nats_url=url, nats_options=options,
                        secure_cookies=not args.insecure_cookies, stale_after=args.stale_after)
    app = create_app(settings)
    if args.nice > 0:
        os.nice(args.nice)
    scheme = "https" if args.https_cert else "http"
    _ = speak()
    live = _("live updates from {server}", server=options.describe()) if url else _("live updates off (no --nats-url)")
    print(_("ticketledger serve: {url} — views of {folder}, {users} users from {path}; {live}",
            url=f"{scheme}://{args.host}:{args.port}/", folder=folder, users=len(users), path=path, live=live),
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", ssl_certfile=args.https_cert,
                ssl_keyfile=args.https_key, proxy_headers=True, forwarded_allow_ips="127.0.0.1",
                timeout_graceful_shutdown=3)
    return 0
