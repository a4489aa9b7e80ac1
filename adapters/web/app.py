"""The console's Starlette application: routes, sign-in, language, as-of and the page handlers.

Every handler resolves the signed-in user's Scope and hands it to `queries`; DuckDB work runs in
the thread pool so the event loop keeps serving the live streams.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import functools
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import msgspec
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from replay.explanations import pause_parts
from replay.i18n import LANGS, N_, VOCABULARY, normalise_lang, plural, recorded_word, texts, word
from replay.printable import printable

from ..alerts import Alert
from ..printing import PrintError
from ..statements import UnknownCustomer
from ..stream import ConnectOptions
from . import charts, documents, pages, queries
from .asof import STATES as JOB_STATES
from .asof import AsOfJobs, Busy
from .health import STALE_AFTER, Freshness, Watch
from .live import AlertFeed, page_time
from .pages import Page, PageCache
from .scope import OutOfScope, Scope
from .security import (
    CSP_CHARTS,
    CSP_DOCUMENT,
    SESSION_SECONDS,
    LoginThrottle,
    SecurityHeaders,
    csrf_ok,
    csrf_token,
    session_secret,
)
from .users import User, Users
from .views import NoViews, ViewsSource, reading_file

log = logging.getLogger("ticketledger.web")
ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
DEFAULT_TZ = "Asia/Shanghai"
DEFAULT_LANG = "zh_CN"  # the language of a reader who said none
STATIC = Path(__file__).parent / "static"


@dataclass
class Settings:
    data_dir: Path
    users_file: Path
    nats_url: str | None = None
    nats_options: ConnectOptions | None = None
    cache_dir: Path | None = None
    secure_cookies: bool = True
    stale_after: float = STALE_AFTER  # seconds the views may miss the log's events before pages say so

    def cache(self) -> Path:
        return self.cache_dir or (self.data_dir / "web-cache")


@dataclass
class Console:
    """What the handlers share: the views, the users, the live feed, the as-of jobs, caches."""

    settings: Settings
    views: ViewsSource
    users: Users
    feed: AlertFeed
    jobs: AsOfJobs
    env: Environment
    watch: Watch | None = None  # set by create_app: whether the views are current (adapters.web.health)
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    # reports by (ticket, as of, copy of the views, checkpoint)
    reports: collections.OrderedDict[tuple, dict[str, Any]] = field(default_factory=collections.OrderedDict)
    # the last report of each (ticket, as of, checkpoint): (its last log position, views version, report)
    latest: collections.OrderedDict[tuple, tuple[int, str, dict[str, Any]]] = field(
        default_factory=collections.OrderedDict)
    reports_lock: threading.Lock = field(default_factory=threading.Lock)
    ledger_lock: threading.Lock = field(default_factory=threading.Lock)
    building: dict[tuple, threading.Lock] = field(default_factory=dict)  # reports being built, by copy
    pages: PageCache = field(default_factory=PageCache)  # whole pages as served (adapters.web.pages)
    _ledger: Any = None
    bundle: bytes | None = None
    _proofs: tuple[bool, float] = (False, float("-inf"))  # proofs available, when last looked
    _first_recorded: datetime | None = None

    def first_recorded(self) -> datetime | None:
        """When the ledger's first event was recorded (UTC), read once: an as-of page before it
        shows empty charts that would read as 'no tickets then' unless said."""
        if self._first_recorded is None:
            with self.views.reading() as (con, _gen):
                first = con.execute("SELECT min(recorded_at) FROM events").fetchone()[0]
            self._first_recorded = first.replace(tzinfo=UTC) if first is not None else None
        return self._first_recorded

    def proofs_available(self) -> bool:
        """The ledger has a signed checkpoint. Once it has one it always will (checkpoints are
        only added), so that is looked up until it holds, at most once a second: under 50 users
        the look-up queued each page behind the ledger lock a report build holds."""
        known, when = self._proofs
        if known or time.monotonic() - when < 1.0:
            return known
        with self.ledger_lock:
            known = documents.proofs_available(self.ledger())
        self._proofs = (known, time.monotonic())
        return known

    def freshness(self) -> Freshness:
        return self.watch.now() if self.watch is not None else Freshness(None, None)

    def log_position(self) -> int:
        """The store's last position (its index: cheap at any size of log)."""
        with self.ledger_lock:
            return self.ledger().position

    def ledger(self) -> Any:
        if self._ledger is None:
            from ..ledger import open_ledger

            self._ledger = open_ledger(self.settings.data_dir)
        return self._ledger


# --- requests: who, which language, which views ------------------------------------------------------


class NotSignedIn(Exception):
    pass


class AsOfPending(Exception):
    def __init__(self, when: datetime, state: str, error: str = "") -> None:
        self.when, self.state, self.error = when, state, error


def console(request: Request) -> Console:
    return request.app.state.console


def signed_in(request: Request) -> User:
    name = request.session.get("user")
    user = console(request).users.get(name) if name else None
    if user is None:
        request.session.pop("user", None)
        raise NotSignedIn
    return user


def lang_of(request: Request, user: User | None = None) -> str:
    asked = request.query_params.get("lang")
    if asked:
        with contextlib.suppress(ValueError):
            request.session["lang"] = normalise_lang(asked)
    if request.session.get("lang") in LANGS:
        return request.session["lang"]
    if user and (chosen := user_lang(user)):
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip()
        if code:
            with contextlib.suppress(ValueError):
                return normalise_lang(code)
    return DEFAULT_LANG


def user_lang(user: User) -> str | None:
    """The language set for the user in the users file, if any (and valid)."""
    if user.lang:
        with contextlib.suppress(ValueError):
            return normalise_lang(user.lang)
    return None


class BadAsOf(ValueError):
    """An `?as_of=` the console cannot use; its message is marked for the catalog and written
    in the reader's language where the page is rendered."""


AS_OF_FORM = N_("as_of: write a time like 2025-10-01T12:00 (Beijing time) or with a zone")
AS_OF_FUTURE = N_("as_of is in the future; the live pages show now")
# `+08:00` typed into a URL arrives as ` 08:00` (a `+` in a query string is a space)
_OFFSET_AS_SPACE = re.compile(r"([T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


def parse_as_of(text: str | None) -> datetime | None:
    """`?as_of=`: an ISO time; without a zone it is Beijing time (the ledger's people's)."""
    if not text:
        return None
    written = _OFFSET_AS_SPACE.sub(r"\1+\2", text.strip()).replace("Z", "+00:00")
    try:
        t = datetime.fromisoformat(written)
    except ValueError:
        raise BadAsOf(AS_OF_FORM) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=ZoneInfo(DEFAULT_TZ))
    if t > datetime.now(UTC):
        raise BadAsOf(AS_OF_FUTURE)
    return t.astimezone(UTC)


@contextlib.contextmanager
def views_for(c: Console, as_of: datetime | None):
    """(cursor, generation) of the live views, or of the as-of file when it is ready."""
    if as_of is None:
        with c.views.reading() as pair:
            yield pair
        return
    path = c.jobs.ready(as_of)
    if path is None:
        try:
            job = c.jobs.request(as_of)
        except Busy:
            raise AsOfPending(as_of, "busy") from None
        raise AsOfPending(as_of, job.state, job.error)
    with reading_file(path) as pair:
        yield pair


def _query_string(kept: dict[str, str], **changes: Any) -> str:
    """A query string of the parameters this page checked (as-of and scope-checked filters) with
    `changes`: nothing the user typed is echoed into a link unchecked."""
    params = {**kept}
    for k, v in changes.items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = v
    return ("?" + urlencode(params)) if params else ""


CLOCKS_COUNT = plural("{n} clock", "{n} clocks")  # the queue's count, as the page and its script write it
ROLE_NAMES = {"supplier": N_("supplier"), "customer": N_("customer"), "arbitrator": N_("arbitrator")}


def epoch_ms(t: datetime | None) -> str:
    """A views instant (naive UTC) as milliseconds since the epoch, for the page's scripts."""
    if t is None:
        return ""
    return str(int((t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp() * 1000))


def render(request: Request, template: str, lang: str, user: User | None, status: int = 200,
           csp: str | None = None, filters: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    """A page. Only checked values reach it: the as-of time as parsed and the filters the scope
    admitted (a refused page echoes nothing of the request)."""
    body = Page(render_body(request, template, lang, user, status, filters, **context))
    response = HTMLResponse(body.fill({pages.STALE: stale_banner(console(request), lang, user)}), status_code=status)
    if csp:
        response.headers["Content-Security-Policy"] = csp
    return response


def render_body(request: Request, template: str, lang: str, user: User | None, status: int = 200,
                filters: dict[str, str] | None = None, csrf: str | None = None, **context: Any) -> str:
    """`render`'s text; `csrf` given: written in place of the session's token (a kept page's slot)."""
    c = console(request)
    t = texts(lang)
    as_of, before_first = "", ""
    if status < 400:
        with contextlib.suppress(ValueError):
            parsed = parse_as_of(request.query_params.get("as_of"))
            as_of = parsed.astimezone(ZoneInfo(DEFAULT_TZ)).strftime("%Y-%m-%dT%H:%M:%S") if parsed else ""
            first = c.first_recorded() if parsed else None
            if parsed and first and parsed < first:
                before_first = t.time(first, DEFAULT_TZ, zone=True)
    keep = {"as_of": as_of} if as_of else {}
    kept = {**keep, **(filters or {})}
    body = c.env.get_template(template).render(
        _=t, t=t, lang=lang, langs=LANGS, user=user, word=functools.partial(word, lang),
        recorded=functools.partial(recorded_word, lang), p=printable,
        tz=DEFAULT_TZ, as_of=as_of, csrf=csrf_token(request.session) if csrf is None else csrf,
        path=request.url.path if status < 400 else "/queue", qs=functools.partial(_query_string, kept),
        keep=("?" + urlencode(keep)) if keep else "", keep_amp=("&" + urlencode(keep)) if keep else "",
        ms=epoch_ms, role_names=ROLE_NAMES, filters=filters or {}, before_first=before_first,
        stale=Markup(pages.STALE), **context)
    return body


def operates(user: User | None) -> bool:
    """A supplier's user: the one who runs the follower and the relay, and can act on their state."""
    return user is not None and user.role == "supplier"


def stale_banner(c: Console, lang: str, user: User | None) -> str:
    """The banner every page carries: shown while the views are not current (adapters.web.health),
    hidden otherwise, where the queue's script shows it when they stop being current."""
    text = c.freshness().said(texts(lang), operator=operates(user))
    return (f'<p id="stale" class="stale-banner" role="alert">{escape(text)}</p>' if text
            else '<p id="stale" class="stale-banner" role="alert" hidden></p>')


def kept_page(request: Request, user: User, lang: str, key: tuple, template: str,
              context: Callable[[], dict[str, Any]]) -> Page:
    """The page kept under `key` (adapters.web.pages), rendered from `context()` when it is not
    kept yet, with slots where the user's name and the session's token go. Run in a worker thread."""
    def make() -> str:
        shown = dataclasses.replace(user, name=pages.NAME)
        return render_body(request, template, lang, shown, csrf=pages.CSRF, **context())

    page = console(request).pages.get(key, make)
    assert page is not None  # make() always renders
    return page


def served(request: Request, user: User, page: Page, lang: str) -> HTMLResponse:
    """A kept page with this request's user name, CSRF token, server time and whether the views
    are current filled in."""
    return HTMLResponse(page.fill({pages.NAME: str(escape(printable(user.name))),
                                   pages.CSRF: csrf_token(request.session),
                                   pages.NOW_MS: epoch_ms(datetime.now(UTC)),
                                   pages.STALE: stale_banner(console(request), lang, user)}))


def page(handler: Callable[..., Any]) -> Callable[[Request], Any]:
    """A page: signed in, language chosen, refusals and pending as-of jobs answered alike."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            user = signed_in(request)
        except NotSignedIn:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
        lang = lang_of(request, user)
        try:
            return await handler(request, user, lang)
        except OutOfScope:
            return render(request, "refused.html", lang, user, status=404)
        except AsOfPending as p:
            return render(request, "asof_wait.html", lang, user, status=202, when=p.when, state=p.state,
                          error=p.error, states=JOB_STATES)
        except BadAsOf as e:
            return bad_as_of(request, user, lang, e)
        except ValueError as e:
            return render(request, "refused.html", lang, user, status=400, reason=str(e))
        except NoViews as e:
            return render(request, "refused.html", lang, user, status=503, reason=str(e))

    return wrapped


def bad_as_of(request: Request, user: User | None, lang: str, e: BadAsOf) -> HTMLResponse:
    """The refusal of an `?as_of=` the console cannot use, in the reader's language: said as a
    time that cannot be used (not as a page refused), with the way back to the page as it is now."""
    t = texts(lang)
    path = request.url.path  # a route's own path; never another site's ("//host")
    return render(request, "refused.html", lang, user, status=400, reason=t(str(e)),
                  heading=t(N_("The “as of” time cannot be used")),
                  back=path if path.startswith("/") and not path.startswith("//") else "/queue")


def not_found(request: Request, user: User | None, lang: str) -> HTMLResponse:
    """The one answer to what does not exist and to what is not the user's: a page that says
    neither, so nothing is learnt from the difference."""
    return render(request, "refused.html", lang, user, status=404)


async def unknown_path(request: Request, exc: Exception) -> Response:
    """Any path the console has no route for: the same not-found page, signed in or not."""
    try:
        user: User | None = signed_in(request)
    except NotSignedIn:
        user = None
    return not_found(request, user, lang_of(request, user))


def scope_for(c: Console, user: User, con: Any, gen: Any = None) -> Scope:
    """The user's scope in these views (kept with the views' copy: it changes only with them)."""
    if gen is None:
        return Scope.of(user, con)
    return gen.remember(("scope", user), lambda cur: Scope.of(user, cur))


# --- sign-in -------------------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only a path of this console (no scheme, no other host, no //)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/queue"


async def login(request: Request) -> Response:
    c = console(request)
    lang = lang_of(request)
    _ = texts(lang)
    if request.method == "GET":
        return render(request, "login.html", lang, None, next=_safe_next(request.query_params.get("next")))
    form = await request.form()
    origin = request.headers.get("origin")
    if origin and origin not in (f"{request.url.scheme}://{request.url.netloc}",):
        return PlainTextResponse("cross-site sign-in refused", status_code=403)
    if not csrf_ok(request.session, str(form.get("csrf", ""))):
        return render(request, "login.html", lang, None, status=403, next=_safe_next(str(form.get("next", ""))),
                      error=_("The form had expired; please sign in again."))
    name, password = str(form.get("user", "")), str(form.get("password", ""))
    client = request.client.host if request.client else "?"
    if c.throttle.blocked(f"u:{name}", f"a:{client}"):
        return render(request, "login.html", lang, None, status=429, next=_safe_next(str(form.get("next", ""))),
                      error=_("Too many failed sign-ins; wait a few minutes."))
    user = await run_in_threadpool(c.users.authenticate, name, password)
    if user is None:
        c.throttle.failed(f"u:{name}", f"a:{client}")
        return render(request, "login.html", lang, None, status=401, next=_safe_next(str(form.get("next", ""))),
                      error=_("Wrong user name or password."))
    c.throttle.succeeded(f"u:{name}", f"a:{client}")
    keep_lang = request.session.get("lang")
    request.session.clear()  # a new session on sign-in: no fixation
    request.session.update({"user": user.name, **({"lang": keep_lang} if keep_lang else {})})
    csrf_token(request.session)
    return RedirectResponse(_safe_next(str(form.get("next", ""))), status_code=303)


async def logout(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request.session, str(form.get("csrf", ""))):
        return PlainTextResponse("refused: the form had no valid token", status_code=403)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


# --- pages ---------------------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    return RedirectResponse("/queue" + (f"?{request.url.query}" if request.url.query else ""), status_code=303)


def queue_data(c: Console, user: User, con: Any, gen: Any, asked: Mapping[str, str], now: datetime) -> dict[str, Any]:
    """What the queue page shows of this copy of the views: the user's scope, its filter values,
    the filters asked for (each one of those values) and the clocks, soonest deadline first."""
    scope = scope_for(c, user, con, gen)
    options = gen.remember(("options", scope), lambda cur: queries.filter_options(cur, scope))
    filters = queries.checked_filters(asked, options)
    rows, total = queries.queue(con, scope, filters, now, remember=gen.remember)
    zones = gen.remember(("zones", scope), lambda cur: queries.contract_zones(cur, scope))
    cals = queries.calendars_now(con, rows, now)
    for r in rows:
        r["at_risk_at"] = queries.at_risk_at(r)
    return {"rows": rows, "total": total, "options": options, "filters": filters, "now": now,
            "evaluated_at": gen.evaluated_at, "zones": zones, "cals": cals}


WARM_USERS = 20  # users of the users file whose queue is computed as the console starts
PAGE_TEMPLATES = ("base.html", "queue.html", "queue_row.html", "ticket.html")


def warm_start(c: Console) -> None:
    """The unfiltered queue of the first users of the users file, computed on the views as the
    console starts, so the first pages after a start do not all wait for it (~1 s of CPU per
    supplier at 10M events; later copies are warmed with what pages asked, adapters.web.views);
    and its rows as the page writes them, in the user's language (or the console's default), with
    the page templates compiled: at 10M events the first queue pages after a start, 50 at once,
    all waited ~0.65 s for ~1,000 rows of Jinja and the templates' compilation."""
    for name in PAGE_TEMPLATES:
        c.env.get_template(name)
    try:
        with c.views.reading() as (con, gen):
            for user in c.users.all()[:WARM_USERS]:
                data = queue_data(c, user, con, gen, {}, datetime.now(UTC))
                row = queue_row(c, gen, user_lang(user) or DEFAULT_LANG, data["zones"], data["cals"], data["now"])
                for r in data["rows"]:
                    row(r, "")
    except (NoViews, OutOfScope) as e:
        log.info("queue not computed at start: %s", e)


@page
async def queue_page(request: Request, user: User, lang: str) -> Response:
    c = console(request)
    as_of = parse_as_of(request.query_params.get("as_of"))
    live = c.feed.enabled and as_of is None

    def work() -> Page:
        with views_for(c, as_of) as (con, gen):
            # the second the page is kept for: time left counts whole seconds (queries.queue)
            now = as_of or datetime.now(UTC).replace(microsecond=0)
            scope = scope_for(c, user, con, gen)
            options = gen.remember(("options", scope), lambda cur: queries.filter_options(cur, scope))
            filters = queries.checked_filters(request.query_params, options)  # before the key: refused else
            key = ("queue", gen.key, scope.sees, lang, tuple(sorted(filters.items())), str(as_of), now)

            def context() -> dict[str, Any]:
                data = queue_data(c, user, con, gen, request.query_params, now)
                _ = texts(lang)
                words = {"clock": {k: word(lang, "clock", k) for k in ("response", "remote_resolution", "arrival",
                                                                          "resolution", "spare")},
                         "state": {k: word(lang, "state", k) for k in ("running", "at_risk", "breached", "met",
                                                                          "not_applicable")},
                         "severity": {k: word(lang, "severity", k) for k in VOCABULARY["severity"]},
                         "paused": _("paused"), "overdue": _("overdue {d}"), "h": _("{h} h {m} min"), "dh": _("{d} d {h} h"), "dhm": _("{d} d {h} h {m} min"), "live": _("live"), "offline": _("reconnecting…"),
                         "stale": _("not live: data not current"),
                         "weekdays": _.weekdays(),
                         "clocks": [_.plural_form(*CLOCKS_COUNT, 1), _.plural_form(*CLOCKS_COUNT, 2)],
                         "zones": data["zones"], "lang": _.html_lang}
                # an as-of page stands still at its time; a live one counts from the server's clock
                return {**data, "clocks_count": _.plural(*CLOCKS_COUNT, data["total"]), "row": queue_row(c, gen, lang, data["zones"], data["cals"], now), "live": live,
                        "words": json.dumps(words, ensure_ascii=False), "many_options": queries.MANY_OPTIONS,
                        "now_ms": epoch_ms(as_of) if as_of else pages.NOW_MS}

            return kept_page(request, user, lang, key, "queue.html", context)

    return served(request, user, await run_in_threadpool(work), lang)


LEFT = "\x00left\x00"  # where a queue row's time left goes (no template writes this character)
NOTE = "\x00note\x00"  # and what its calendar does now (not counting, working time left)
_MARKS = re.compile(f"{LEFT}|{NOTE}")


def queue_row(c: Console, gen: Any, lang: str, zones: dict[str, str], cals: Mapping[str, queries.CalendarNow],
              now: datetime) -> Callable[[dict[str, Any], str], Markup]:
    """The queue's rows as the page writes them (`queue_row.html`): each rendered once per copy of
    the views, language and as-of, and only its time left and its calendar's note at each page,
    as they move with now (at 10M events 500 rows of Jinja took 0.12-0.2 s of CPU a page, the
    console's largest cost under 50 users). A row's values are those of the copy it came from,
    so its piece is too."""
    t = texts(lang)
    template = c.env.get_template("queue_row.html")
    context = {"t": t, "_": t, "word": functools.partial(word, lang), "p": printable, "ms": epoch_ms,
               "zones": zones, "tz": DEFAULT_TZ, "left": LEFT, "note": NOTE,
               "calendar": functools.partial(calendar_words, t)}

    def row(r: dict[str, Any], keep: str) -> Markup:
        piece = gen.piece(("queue-row", lang, keep, r["ticket"], r["clock"]),
                          lambda: _MARKS.split(template.render(r=r, keep=keep, **context)))
        seconds = r["seconds_left"]
        note = calendar_note(t, r, cals, now, zones.get(r["contract"], DEFAULT_TZ))
        return Markup(piece[0] + str(escape(t.countdown(seconds))) + piece[1]
                      + (f'<span class="cal now">{escape(note)}</span>' if note else "") + piece[2])

    return row


def calendar_words(_: Any, kind: str | None, hours: Any) -> str:
    """The calendar a clock counts on, in words: 7×24, working days, business hours 09:00–12:00, …"""
    if kind == "business_hours":
        return _("business hours {hours}", hours=", ".join(f"{a}–{b}" for a, b in (hours or [])))
    if kind == "working_days":
        return _("working days")
    return _("7×24")


def calendar_note(_: Any, r: Mapping[str, Any], cals: Mapping[str, queries.CalendarNow], now: datetime,
                  tz: str) -> str:
    """What a clock on business hours or working days does now: not counting, and when it resumes;
    and, for an hour/minute target, the working time left (target + extension − counted at the
    evaluation time, less what the calendar counted since)."""
    cal = cals.get(r.get("cal_key") or "")
    if cal is None or r["state"] not in ("running", "at_risk"):
        return ""
    naive = now.astimezone(UTC).replace(tzinfo=None)
    parts = []
    if r["paused_since"] is None and not cal.counting(naive):
        reason = _("outside business hours") if r["cal_kind"] == "business_hours" else _("not a working day")
        resumes = cal.resumes(naive)
        parts.append(_("not counting ({reason}), resumes {when}", reason=reason,
                       when=_.time(resumes, tz, weekday=True)) if resumes else _("not counting ({reason})", reason=reason))
    if r.get("target_minutes") is not None and r.get("counted_minutes") is not None:
        counted = r["counted_minutes"]
        if r["paused_since"] is None and r["evaluated_at"] is not None:
            counted += cal.open_minutes(r["evaluated_at"], naive)
        left = r["target_minutes"] + (r["extension_minutes"] or 0) - counted
        if left > 0:  # whole minutes, cut: never more time than is left
            parts.append(_("working time left {duration}", duration=_.duration(int(left), days=False)))
    return " · ".join(parts)


STATUS_EVERY = 5.0  # seconds between the live stream's status events (also its keep-alive)


def _sse(alert: Alert) -> bytes:
    return b"event: clock\ndata: " + msgspec.json.encode(alert) + b"\n\n"


async def live(request: Request) -> Response:
    """Server-sent events: the alerts this user may see, for the queue page's filters."""
    c = console(request)
    try:
        user = signed_in(request)
    except NotSignedIn:
        return PlainTextResponse("sign in first", status_code=401)

    def resolve() -> tuple[Scope, dict[str, str]]:
        with c.views.reading() as (con, gen):
            scope = scope_for(c, user, con, gen)
            options = gen.remember(("options", scope), lambda cur: queries.filter_options(cur, scope))
            return scope, queries.checked_filters(request.query_params, options)

    try:
        scope, filters = await run_in_threadpool(resolve)
    except OutOfScope:
        return PlainTextResponse("not in your view", status_code=403)
    except NoViews:
        return PlainTextResponse("no views yet", status_code=503)
    if not c.feed.enabled:
        return PlainTextResponse("live updates are off: the console was started without NATS", status_code=503)
    since = page_time(request.query_params.get("since"))

    _ = texts(lang_of(request, user))

    def status() -> bytes:
        """Whether the views are current: the page says "live" only while they are (and shows
        the stale banner while they are not); sent at once and every STATUS_EVERY seconds."""
        fresh = c.freshness()
        return b"event: status\ndata: " + json.dumps({"stale": fresh.stale, "text": fresh.said(_, operator=operates(user))},
                                                     ensure_ascii=False).encode() + b"\n\n"

    async def events() -> AsyncIterator[bytes]:
        yield b"retry: 2000\n: connected\n\n"
        yield status()
        stream = c.feed.follow(scope, filters, since).__aiter__()
        # the same wait across status beats: wait_for's timeout cancelled the stream's __anext__,
        # which closed the generator, so the stream ended at each beat and the browser reconnected
        waiting = asyncio.ensure_future(stream.__anext__())
        try:
            while True:
                done, _pending = await asyncio.wait({waiting}, timeout=STATUS_EVERY)
                if not done:
                    yield status()
                    continue
                try:
                    alert = waiting.result()
                except StopAsyncIteration:
                    return
                yield _sse(alert)
                waiting = asyncio.ensure_future(stream.__anext__())
        finally:
            waiting.cancel()

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@page
async def dashboard_page(request: Request, user: User, lang: str) -> Response:
    c = console(request)
    as_of = parse_as_of(request.query_params.get("as_of"))

    def work() -> dict[str, Any]:
        with views_for(c, as_of) as (con, gen):
            scope = scope_for(c, user, con, gen)
            options = gen.remember(("dashboard-options", scope), lambda cur: queries.dashboard_options(cur, scope))
            filters = queries.checked_filters(request.query_params, options, queries.DASHBOARD_FILTERS)
            return {"data": queries.dashboard(con, scope, filters), "options": options, "filters": filters,
                    "evaluated_at": gen.evaluated_at}

    d = await run_in_threadpool(work)
    _ = texts(lang)
    data = d["data"]
    specs = {
        "by-month": charts.breach_by_month(data["by_month"], lang),
        "by-customer": charts.breach_by(data["by_customer"], "customer", lang, _("Breach rate per customer")),
        "by-site": charts.breach_by(data["by_site"], "site", lang, _("Breach rate per site")),
        "visits": charts.visits(data["visits"], lang),
        "money": charts.money(data["money"], lang),
    }
    return render(request, "dashboard.html", lang, user, csp=CSP_CHARTS,
                  specs={k: json.dumps(v, ensure_ascii=False).replace("</", "<\\/") for k, v in specs.items()},
                  **d)


def _report(c: Console, user: User, ticket: str, as_of: datetime | None) -> tuple[dict[str, Any], Any]:
    """The ticket's report data once the scope admits the ticket: built once per copy of the
    views (who asks meanwhile waits for that build), and carried over to the next copy when the
    ticket's rows did not change (`_report_of_copy`)."""
    _admitted_now(c, user, ticket, as_of)
    with views_for(c, as_of) as (con, gen):
        return _report_in(c, user, ticket, as_of, con, gen)


def _admitted_now(c: Console, user: User, ticket: str, as_of: datetime | None) -> None:
    """OutOfScope unless the ticket id is well formed and, for an as-of page, in the user's view
    now (before any replay is started for it)."""
    if not ID.fullmatch(ticket):
        raise OutOfScope("no such ticket")
    if as_of is not None:
        with c.views.reading() as (con, _gen):
            queries.ticket_head(con, scope_for(c, user, con), ticket)


def _report_in(c: Console, user: User, ticket: str, as_of: datetime | None, con: Any, gen: Any
               ) -> tuple[dict[str, Any], Any]:
    """`_report` on the views `views_for` gave."""
    scope = scope_for(c, user, con, gen)
    # once per copy: a scan of liability at 10M events
    head = gen.piece(("head", scope, ticket), lambda: queries.ticket_head(con, scope, ticket))
    with c.ledger_lock:  # a checkpoint signed since changes the report's proofs, not its views
        signed = documents.latest_checkpoint_id(c.ledger())
    copy_key = (ticket, str(as_of), gen.key, signed)
    with c.reports_lock:
        cached = c.reports.get(copy_key)
        if cached is not None:
            return cached, head
        once = c.building.setdefault(copy_key, threading.Lock())
    with once:
        with c.reports_lock:
            cached = c.reports.get(copy_key)
        if cached is None:
            cached = _report_of_copy(c, ticket, as_of, signed, con, gen)
            with c.reports_lock:
                c.reports[copy_key] = cached
                while len(c.reports) > 1024:
                    c.reports.popitem(last=False)
    with c.reports_lock:
        c.building.pop(copy_key, None)
    return cached, head


def _report_of_copy(c: Console, ticket: str, as_of: datetime | None, signed: int | None, con: Any,
                    gen: Any) -> dict[str, Any]:
    """The report on this copy of the views. The follower publishes a copy every few seconds
    and stamps every row with each batch's evaluation time; at 10M events a report costs ~0.65 s
    of view scans, so the report of an earlier copy is kept when the ticket's log rows in the
    cut end at the same position and its clocks and liability are the same but for that stamp
    (`documents.views_version`, two of those scans). It then says the evaluation time it was
    built at, which is when the views last changed anything in it."""
    position = None if as_of else gen.position
    with c.ledger_lock:
        rows_read = documents.report_rows(c.ledger(), ticket, position=position, recorded=as_of)
    last = rows_read[1][-1].position
    mine = (ticket, str(as_of), signed)
    with c.reports_lock:
        prior = c.latest.get(mine)
    if prior is not None and prior[0] == last and prior[1] == documents.views_version(con, ticket):
        report = prior[2]
    else:
        report = documents.report_data(
            c.ledger(), c.settings.data_dir, ticket, con, position=position, recorded=as_of,
            evidence_href=lambda sha: f"/tickets/{ticket}/evidence/{sha}", ledger_lock=c.ledger_lock,
            rows_read=rows_read)
    with c.reports_lock:
        c.latest[mine] = (last, documents.report_version(report), report)
        c.latest.move_to_end(mine)
        while len(c.latest) > 512:
            c.latest.popitem(last=False)
    return report


@page
async def ticket_page(request: Request, user: User, lang: str) -> Response:
    c = console(request)
    ticket = request.path_params["ticket"]
    as_of = parse_as_of(request.query_params.get("as_of"))

    def work() -> Page:
        _admitted_now(c, user, ticket, as_of)
        with views_for(c, as_of) as (con, gen):
            scope = scope_for(c, user, con, gen)
            proof, has_pdf = c.proofs_available(), documents.pdf_available()
            # the page shows the report's clocks, the ticket's head and whether downloads exist;
            # a key is kept only once `_report_in` admitted the ticket to this scope
            key = ("ticket", gen.key, scope.sees, lang, ticket, str(as_of), proof, has_pdf)

            def context() -> dict[str, Any]:
                report, head = _report_in(c, user, ticket, as_of, con, gen)
                # a clock's pauses apart from its time between a resolution and its reopening
                pauses = functools.partial(pause_parts, inputs=report.get("clock_inputs", []))
                cals = queries.ticket_calendars(con, scope, ticket)
                return {"ticket": ticket, "head": head, "report": report, "has_pdf": has_pdf, "proof": proof,
                        "pauses": pauses, "calendar": lambda clock: calendar_words(
                            texts(lang), (cals.get(clock) or {}).get("cal_kind"), (cals.get(clock) or {}).get("cal_hours")),
                        "rtz": report.get("timezone") or DEFAULT_TZ}

            return kept_page(request, user, lang, key, "ticket.html", context)

    try:
        page = await run_in_threadpool(work)
    except LookupError:
        raise OutOfScope("no such ticket") from None
    return served(request, user, page, lang)


async def _document(request: Request, kind: str) -> Response:
    c = console(request)
    try:
        user = signed_in(request)
    except NotSignedIn:
        return PlainTextResponse("sign in first", status_code=401)
    lang = lang_of(request, user)
    ticket = request.path_params["ticket"]
    try:
        as_of = parse_as_of(request.query_params.get("as_of"))
        report, _head = await run_in_threadpool(_report, c, user, ticket, as_of)
    except (OutOfScope, LookupError):
        return not_found(request, user, lang)
    except AsOfPending:
        return PlainTextResponse("the as-of views are being computed; try again shortly", status_code=202)
    except BadAsOf as e:
        return bad_as_of(request, user, lang, e)
    except ValueError as e:
        return PlainTextResponse(str(e), status_code=400)
    if kind == "html":
        body = await run_in_threadpool(documents.dispute_report_html, report, lang)
        response = Response(body, media_type="text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = CSP_DOCUMENT
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        return response
    if kind == "pdf":
        try:
            pdf = await run_in_threadpool(documents.dispute_report_pdf, report, lang)
        except PrintError as e:
            return PlainTextResponse(str(e), status_code=503)
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{ticket}.pdf"'})
    if kind == "proof":
        def proof() -> tuple[bytes, str]:
            with c.ledger_lock:
                return documents.ticket_proof(c.ledger(), ticket, report)

        try:
            body, media = await run_in_threadpool(proof)
        except documents.ProofsUnavailable as e:
            return PlainTextResponse(str(e), status_code=501)
        return Response(body, media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="{ticket}-proof.json"'})
    sha = request.path_params.get("sha", "")
    path = documents.evidence_file(c.settings.data_dir, report, sha)
    if path is None:
        return not_found(request, user, lang)
    return FileResponse(path, media_type="application/octet-stream", filename=f"{sha[:16]}.bin")


async def report_html(request: Request) -> Response:
    return await _document(request, "html")


async def report_pdf(request: Request) -> Response:
    return await _document(request, "pdf")


async def evidence(request: Request) -> Response:
    return await _document(request, "evidence")


async def proof(request: Request) -> Response:
    return await _document(request, "proof")


@page
async def asset_page(request: Request, user: User, lang: str) -> Response:
    c = console(request)
    asset = request.path_params["asset"]
    if not ID.fullmatch(asset):
        raise OutOfScope("no such asset")
    as_of = parse_as_of(request.query_params.get("as_of"))

    def work() -> dict[str, Any]:
        if as_of is not None:  # in the user's view now, before any replay is started for it
            with c.views.reading() as (con, _gen):
                queries.asset_page(con, scope_for(c, user, con), asset)
        with views_for(c, as_of) as (con, gen):
            scope = scope_for(c, user, con)
            data = queries.asset_page(con, scope, asset)
            data["rtz"] = queries.contract_zone(con, data["warranty"].get("contract"))
            data["evaluated_at"] = gen.evaluated_at
            return data

    data = await run_in_threadpool(work)
    return render(request, "asset.html", lang, user, asset=asset, **data)


@page
async def statements_page(request: Request, user: User, lang: str) -> Response:
    c = console(request)
    as_of = parse_as_of(request.query_params.get("as_of"))

    def work() -> dict[str, Any]:
        with views_for(c, as_of) as (con, gen):
            return {"choices": queries.statement_choices(con, scope_for(c, user, con)),
                    "evaluated_at": gen.evaluated_at}

    data = await run_in_threadpool(work)
    return render(request, "statements.html", lang, user, **data)


async def statement_file(request: Request) -> Response:
    c = console(request)
    try:
        user = signed_in(request)
    except NotSignedIn:
        return PlainTextResponse("sign in first", status_code=401)
    lang = lang_of(request, user)
    customer, month, fmt = (request.path_params[k] for k in ("customer", "month", "fmt"))
    contract = request.query_params.get("contract")
    if not (ID.fullmatch(customer) and MONTH.fullmatch(month) and fmt in ("html", "pdf", "xlsx")
            and (contract is None or ID.fullmatch(contract))):
        return not_found(request, user, lang)

    @contextlib.contextmanager
    def ledger() -> Iterator[Any]:  # the restated tickets' rows, read under the console's one ledger
        with c.ledger_lock:
            yield c.ledger()

    def work() -> dict[str, Any] | None:
        if as_of is not None:  # in the user's view now, before any replay is started for it
            with c.views.reading() as (con, _gen):
                if not queries.statement_admitted(con, scope_for(c, user, con), customer, contract):
                    return None
        with views_for(c, as_of) as (con, gen):
            scope = scope_for(c, user, con)
            if not (queries.statement_admitted(con, scope, customer, contract)
                    and queries.statement_month_stated(con, scope, customer, contract, month, gen.evaluated_at)):
                return None
            try:
                return documents.statement_data(con, ledger, customer, contract, month)
            except UnknownCustomer:
                return None

    try:
        as_of = parse_as_of(request.query_params.get("as_of"))
        data = await run_in_threadpool(work)
        # rendered after the views are let go: a PDF waits seconds for Chromium
        result = None if data is None else await run_in_threadpool(documents.statement, data, fmt, lang)
    except BadAsOf as e:
        return bad_as_of(request, user, lang, e)
    except ValueError as e:
        return PlainTextResponse(str(e), status_code=400)
    except AsOfPending:
        return PlainTextResponse("the as-of views are being computed; try again shortly", status_code=202)
    except NoViews as e:
        return PlainTextResponse(str(e), status_code=503)
    except PrintError as e:
        return PlainTextResponse(str(e), status_code=503)
    if result is None:
        return not_found(request, user, lang)
    body, media = result
    # one contract's statement and the customer's whole one are different files: named apart
    name = f"statement-{customer}{f'-{contract}' if contract else ''}-{month}.{fmt}"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def vega_bundle(request: Request) -> Response:
    c = console(request)
    if c.bundle is None:
        c.bundle = await run_in_threadpool(load_bundle, c.settings.cache())
    return Response(c.bundle, media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=86400"})


def load_bundle(cache: Path) -> bytes:
    """vega, vega-lite and vega-embed as one script, from the vl-convert package, kept on disk.
    Bundling takes seconds and holds the GIL, so it runs in a process of its own."""
    import vl_convert

    name = f"vega-bundle-{vl_convert.get_vega_version()}-{vl_convert.get_vega_embed_version()}.js"
    path = cache / name
    with _BUNDLE_LOCK:  # the warm-up at start and a first dashboard may ask at once
        if not path.exists():
            _bundle_into(path)
    return path.read_bytes()


_BUNDLE_LOCK = threading.Lock()


def _bundle_into(path: Path) -> None:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        subprocess.run([sys.executable, "-c", "import sys, vl_convert; "
                        "open(sys.argv[1], 'w', encoding='utf-8').write(vl_convert.javascript_bundle())", str(tmp)],
                       check=True, timeout=300)
        tmp.replace(path)


async def healthz(request: Request) -> Response:
    """200 while the console serves. `live` is true only when the console is connected to the
    alerts and the views are current (`stale` false: adapters.web.health); `views_behind` and
    `follower_silent_seconds` say why not. A monitor alerts on `live` or `stale`."""
    c = console(request)
    fresh = c.freshness()
    return JSONResponse({"views": c.views.snapshot.exists() or c.views.main.exists(),
                         "live": c.feed.connected and not fresh.stale, "alerts_connected": c.feed.connected,
                         "alerts_received": c.feed.received, **fresh.as_json()})


# --- the application --------------------------------------------------------------------------------------


def create_app(settings: Settings) -> Starlette:
    cache = settings.cache()
    env = Environment(loader=PackageLoader("adapters.web", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    c = Console(settings=settings, views=ViewsSource(settings.data_dir), users=Users(settings.users_file),
                feed=AlertFeed(settings.nats_url, settings.nats_options),
                jobs=AsOfJobs(settings.data_dir, cache / "asof"), env=env)
    c.watch = Watch(c.log_position, c.views.position, c.feed.follower_silent, settings.stale_after)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await c.feed.start()
        c.watch.start()
        warm = asyncio.get_running_loop().run_in_executor(None, load_bundle, cache)
        queue = asyncio.get_running_loop().run_in_executor(None, warm_start, c)
        try:
            yield
        finally:
            await c.feed.stop()
            await run_in_threadpool(c.watch.stop)
            c.jobs.stop()
            with contextlib.suppress(Exception):
                await queue
            c.views.close()
            with contextlib.suppress(Exception):
                await warm
            if c._ledger is not None:
                c._ledger.close()

    routes = [
        Route("/", home),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/queue", queue_page),
        Route("/live", live),
        Route("/dashboard", dashboard_page),
        Route("/tickets/{ticket}", ticket_page),
        Route("/tickets/{ticket}/report.html", report_html),
        Route("/tickets/{ticket}/report.pdf", report_pdf),
        Route("/tickets/{ticket}/evidence/{sha}", evidence),
        Route("/tickets/{ticket}/proof", proof),
        Route("/assets/{asset}", asset_page),
        Route("/statements", statements_page),
        Route("/statements/{customer}/{month}.{fmt}", statement_file),
        Route("/static/vega-bundle.js", vega_bundle),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Route("/healthz", healthz),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=session_secret(cache), session_cookie="ticketledger_session",
                   max_age=SESSION_SECONDS, same_site="lax", https_only=settings.secure_cookies),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={404: unknown_path})
    app.state.console = c
    return app
