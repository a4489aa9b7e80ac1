"""Sessions, CSRF and the headers every response carries.

- Sessions: Starlette's signed cookie (itsdangerous), `Secure`, `HttpOnly`, `SameSite=Lax`,
  8 hours; it holds the user's name, the CSRF token and the chosen language, nothing else. The
  user is looked up again on every request, so a user removed from the file is out at once.
- CSRF: every form that posts (login, logout) carries the session's token; a post whose token
  or Origin does not match is refused. The console has no other form: it writes nothing.
- Content-Security-Policy: scripts and styles from the console itself only; the dashboard adds
  'unsafe-eval', which Vega needs to compile its chart expressions; the dispute report (a
  document of its own, shown in a frame) allows its inline styles and no script at all.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from collections import defaultdict, deque
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_SECONDS = 8 * 3600

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
CSP_CHARTS = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'")
CSP_DOCUMENT = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


def session_secret(cache_dir: Path) -> str:
    """TICKETLEDGER_WEB_SECRET, else a random secret kept (0600) in the console's cache folder,
    so sessions survive a restart and no two installations share one."""
    given = os.environ.get("TICKETLEDGER_WEB_SECRET")
    if given:
        return given
    path = cache_dir / "session-secret"
    if path.exists():
        return path.read_text().strip()
    cache_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    return value


def csrf_token(session: dict) -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_ok(session: dict, given: str | None) -> bool:
    token = session.get("csrf")
    return bool(token and given and hmac.compare_digest(token, given))


class LoginThrottle:
    """At most `attempts` failed logins per name and per client address in `window` seconds."""

    def __init__(self, attempts: int = 5, window: float = 300.0) -> None:
        self.attempts, self.window = attempts, window
        self.failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        q = self.failures[key]
        while q and q[0] < time.monotonic() - self.window:
            q.popleft()
        return q

    def blocked(self, *keys: str) -> bool:
        return any(len(self._recent(k)) >= self.attempts for k in keys)

    def failed(self, *keys: str) -> None:
        for k in keys:
            self._recent(k).append(time.monotonic())

    def succeeded(self, *keys: str) -> None:
        for k in keys:
            self.failures.pop(k, None)


class SecurityHeaders:
    """Adds the CSP and the other protective headers to every response (a route may set its
    own Content-Security-Policy first: the dashboard's and the report's)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                h.setdefault("Content-Security-Policy", CSP)
                h.setdefault("X-Content-Type-Options", "nosniff")
                h.setdefault("Referrer-Policy", "same-origin")  # no-referrer makes Chromium send `Origin: null`
                h.setdefault("X-Frame-Options", "DENY")
                h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
                if not scope["path"].startswith("/static/"):
                    h.setdefault("Cache-Control", "no-store")  # private data: never in a shared cache
            await send(message)

        await self.app(scope, receive, send_with_headers)
