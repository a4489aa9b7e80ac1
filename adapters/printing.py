"""HTML to PDF with the operating system's headless Chromium (issue 17).

Why Chromium (Debian's `chromium`) and not WeasyPrint: it is the engine the tests measure the
report in (text overflow, the SVG's label boxes) and the browser people open the HTML with, so
the PDF is the layout that was checked, not a second one; it lays out CJK text with the
system's Noto fonts, repeats table headers, keeps rows whole, prints the CSS page-margin boxes
that carry "第 n 页 / 共 m 页", and writes a tagged PDF. The OS package is the only browser.

How: `Printer` starts Chromium itself and speaks the DevTools protocol over the pipe Chromium
opens on file descriptors 3 and 4 (`--remote-debugging-pipe`), with the switches and page
settings Playwright uses (CHROMIUM_SWITCHES, PAGE_FONTS; and the hidden address bar's popup
turned off, UNSEEN_UI_FEATURES; the document hidden on screen, SCREEN_HIDDEN, so that it is laid
out for print only): the PDF is byte-identical to Playwright's page.pdf of the same HTML.
Printing through Playwright's Python package cost its Node.js driver's start (~0.5 s of a one-page report's 2 s) on every PDF; the tests still use
Playwright (`browser`) to measure the pages in the DOM. A `Printer` is started before its
document exists, so that Chromium's start runs on the other core while the command reads the
views and writes the HTML.

Determinism: Chromium stamps the print time as the PDF's creation and modification dates;
`print_pdf` rewrites both, in place and at the same length, to the time the caller names (the
views' evaluation time), so two renders of the same report are byte-identical.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from domain.errors import N_, Explained

CHROMIUM = os.environ.get("TICKETLEDGER_CHROMIUM", "/usr/bin/chromium")
INSTALL_HINT = "apt-get install chromium fonts-noto-cjk poppler-utils"


class PrintError(Explained, RuntimeError):
    """The PDF cannot be printed here; the message says what to install."""


def chromium_path() -> str:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise PrintError(N_("no Chromium at {chromium} to print the PDF; install it with "
                          "`{install}` (or set TICKETLEDGER_CHROMIUM), or write --format "
                          "html and print that"), chromium=CHROMIUM, install=INSTALL_HINT)
    return path


def launch_args() -> list[str]:
    # Chromium refuses to run sandboxed as root; only then is the sandbox turned off
    return ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


@contextmanager
def browser() -> Iterator[Any]:
    """A headless Chromium driven by Playwright, closed on exit: the tests measure pages in its DOM
    (PDFs are printed by `Printer`, the same switches and page settings without the driver)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise PrintError(N_("the playwright package is missing ({error}); reinstall ticketledger"),
                         error=e) from None
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=launch_args())
        try:
            yield b
        finally:
            b.close()


def print_pdf(html: bytes, dated: datetime | None, *, printer: Printer | None = None) -> bytes:
    """`html` printed as A4 (the page size and margins of its CSS), no browser header or footer,
    tagged, with an outline; the PDF's dates set to `dated` (naive = UTC). `printer`: one the
    caller started ahead (`Printer`), else one started now."""
    if printer is not None:
        return printer.print(html, dated)
    with Printer() as p:
        return p.print(html, dated)


# The features Playwright (the pinned version) turns off, then ours: headless Chromium (since 2023
# the whole browser in a hidden window) loads the address bar's WebUI popup in a renderer of its
# own for every page, ~400 script modules: ~0.6 s of CPU beside each print on two cores (the
# busiest statement's print 1.09 -> 0.71 s, Chromium's CPU 1.62 -> 1.01 s, the same PDF bytes).
# Chromium reads one --disable-features switch, so they are one list.
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding", "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect", "TcpPortRandomizationWin", "OptimizationHints", "NetworkTimeServiceQuerying",
    "AimEnabled", "PreconnectToSearch", "msForceBrowserSignIn", "msEdgeUpdateLaunchServicesPreferredVersion",
)
UNSEEN_UI_FEATURES = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup")
# The switches Playwright launches headless Chromium with, and the page settings it makes, so that
# a PDF printed here is the one Playwright prints of the same HTML
CHROMIUM_SWITCHES = (
    "--disable-field-trial-config", "--disable-background-networking", "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows", "--disable-back-forward-cache", "--disable-breakpad",
    "--disable-component-extensions-with-background-pages", "--disable-component-update",
    "--no-default-browser-check", "--disable-default-apps", "--disable-dev-shm-usage", "--disable-edgeupdater",
    "--disable-extensions",
    "--disable-features=" + ",".join(PLAYWRIGHT_DISABLED_FEATURES + UNSEEN_UI_FEATURES),
    "--enable-features=CDPScreenshotNewSurface,SkipListAccountsWithoutGaiaCookies",
    "--allow-pre-commit-input", "--disable-hang-monitor", "--disable-ipc-flooding-protection",
    "--disable-popup-blocking", "--disable-prompt-on-repost", "--disable-renderer-backgrounding",
    "--disable-updater-scheduler", "--force-color-profile=srgb", "--metrics-recording-only", "--no-first-run",
    "--password-store=basic", "--use-mock-keychain", "--no-service-autorun", "--disable-search-engine-choice-screen",
    "--unsafely-disable-devtools-self-xss-warnings", "--enable-unsafe-swiftshader", "--edge-skip-compat-layer-relaunch",
    "--disable-stack-profiler", "--disable-infobars", "--disable-sync", "--do-not-de-elevate",
    "--headless", "--hide-scrollbars", "--mute-audio",
    "--blink-settings=primaryHoverType=2,availableHoverTypes=2,primaryPointerType=4,availablePointerTypes=4",
)
PAGE_VIEWPORT = {"mobile": False, "width": 1280, "height": 720, "screenWidth": 1280, "screenHeight": 720,
                 "deviceScaleFactor": 1, "screenOrientation": {"angle": 0, "type": "landscapePrimary"}}
PAGE_FONTS = {"standard": "Times New Roman", "fixed": "Monospace", "serif": "Times New Roman", "sansSerif": "Arial",
              "cursive": "Comic Sans MS", "fantasy": "Impact"}
A4_INCHES = (8.27, 11.7)
PRINT_TIMEOUT_S = 120.0  # one answer from Chromium; a statement of 30 pages takes ~1 s
# Chromium writes ~150 files into a fresh profile as it starts and the printer removes them all
# after: in memory (/dev/shm) where there is such a folder, since on a disk busy with a views
# rebuild their removal alone took 0.28 s of every PDF (the profile is thrown away either way)
PROFILE_PARENT = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK | os.X_OK) else None


def _stat(pid: int | str) -> list[str]:
    """A process's /proc stat fields after its command's closing parenthesis: state, ppid, pgrp, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _members(group: int) -> list[int]:
    """The processes of a process group (from /proc: a few ms)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with suppress(OSError, IndexError, ValueError):
            if int(_stat(pid)[2]) == group:
                found.append(int(pid))
    return found


def _wait_gone(pids: list[int], timeout: float = 2.0) -> None:
    """Until each of these processes has ended (or is a zombie nobody has reaped yet): a signal is
    delivered before the process is gone, and a dying helper can still write a file."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                if _stat(pid)[0] in ("Z", "X"):
                    break
            except (OSError, IndexError):
                break
            time.sleep(0.002)


class Printer:
    """A headless Chromium started before the document it will print exists: the process at
    once, its page (a fresh browser context, Playwright's viewport and fonts) on a thread, so
    that the start runs while the caller reads the views and writes the HTML. `print` once;
    use as a context manager (the browser and its profile folder go on exit)."""

    def __init__(self) -> None:
        self._profile = tempfile.mkdtemp(prefix="tl-chromium-", dir=PROFILE_PARENT)
        self._buf = b""
        self._id = 0
        self._events: list[dict[str, Any]] = []
        self._session: str | None = None
        self._error: BaseException | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        self._ready = threading.Thread(target=self._open_page, name="chromium-page", daemon=True)
        self._ready.start()

    def _start(self) -> None:
        a, self._w = os.pipe()  # Chromium reads commands on its fd 3 ...
        self._r, b = os.pipe()  # ... and writes answers and events on its fd 4
        # bash puts the pipe's ends on 3 and 4 and execs Chromium (no preexec_fn: the console
        # prints from a server's threads, where running Python between fork and exec is unsafe);
        # moved above 9 first, so that neither is 3 or 4 itself (dash takes no fd above 9: bash)
        to_chromium, from_chromium = fcntl.fcntl(a, fcntl.F_DUPFD, 10), fcntl.fcntl(b, fcntl.F_DUPFD, 10)
        os.close(a)
        os.close(b)
        fds = f'exec "$0" "$@" 3<&{to_chromium} 4>&{from_chromium} {to_chromium}<&- {from_chromium}>&-'
        args = ["/bin/bash", "-c", fds, chromium_path(), *CHROMIUM_SWITCHES, *launch_args(),
                f"--user-data-dir={self._profile}", "--remote-debugging-pipe", "--no-startup-window"]
        # its complaints (D-Bus and the like) go to a file: a pipe nobody reads could fill and stall it
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close(), with the browser
        try:
            # a process group of its own, so close() stops its helpers with it (below)
            self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=self._stderr, pass_fds=(to_chromium, from_chromium),
                                          start_new_session=True)
        finally:
            os.close(to_chromium)
            os.close(from_chromium)

    def _open_page(self) -> None:
        try:
            context = self._send("Target.createBrowserContext", {"disposeOnDetach": True})["browserContextId"]
            target = self._send("Target.createTarget", {"url": "about:blank", "browserContextId": context})["targetId"]
            self._session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            self._send("Page.enable", session=True)
            self._send("Page.setLifecycleEventsEnabled", {"enabled": True}, session=True)
            self._send("Emulation.setDeviceMetricsOverride", PAGE_VIEWPORT, session=True)
            self._send("Page.setFontFamilies", {"fontFamilies": PAGE_FONTS}, session=True)
        except BaseException as e:  # raised in the caller's thread by print()
            self._error = e

    def print(self, html: bytes, dated: datetime | None) -> bytes:
        self._ready.join()
        if self._error is not None:
            raise self._error
        frame = self._send("Page.getFrameTree", session=True)["frameTree"]["frame"]["id"]
        self._send("Page.setDocumentContent", {"frameId": frame, "html": hidden_on_screen(html.decode())},
                   session=True)
        while self._event("Page.lifecycleEvent")["params"]["name"] != "load":
            pass
        width, height = A4_INCHES
        stream = self._send("Page.printToPDF", {
            "transferMode": "ReturnAsStream", "landscape": False, "displayHeaderFooter": False, "headerTemplate": "",
            "footerTemplate": "", "printBackground": True, "scale": 1, "paperWidth": width, "paperHeight": height,
            "marginTop": 0, "marginBottom": 0, "marginLeft": 0, "marginRight": 0, "pageRanges": "",
            "preferCSSPageSize": True, "generateTaggedPDF": True, "generateDocumentOutline": True,
        }, session=True)["stream"]
        parts = []
        while True:
            chunk = self._send("IO.read", {"handle": stream, "size": 1 << 22}, session=True)
            parts.append(base64.b64decode(chunk["data"]) if chunk.get("base64Encoded") else chunk["data"].encode())
            if chunk.get("eof"):
                break
        self._send("IO.close", {"handle": stream}, session=True)
        return with_dates(b"".join(parts), dated)

    # --- the DevTools protocol over the pipe: JSON messages, each ended by a NUL byte -------------

    def _send(self, method: str, params: dict[str, Any] | None = None, session: bool = False) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._w, data):]
        except BrokenPipeError:
            raise self._gone() from None
        while True:
            answer = self._receive()
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise PrintError(N_("Chromium refused {method}: {message}"),
                                     method=method, message=answer['error'].get('message'))
                return answer.get("result", {})
            if "method" in answer:
                self._events.append(answer)

    def _event(self, method: str) -> dict[str, Any]:
        for i, e in enumerate(self._events):
            if e["method"] == method and e.get("sessionId") == self._session:
                return self._events.pop(i)
        while True:
            e = self._receive()
            if e.get("method") == method and e.get("sessionId") == self._session:
                return e
            if "method" in e:
                self._events.append(e)

    def _receive(self) -> dict[str, Any]:
        deadline = time.monotonic() + PRINT_TIMEOUT_S
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise PrintError(N_("Chromium did not answer within {seconds} s"), seconds=f"{PRINT_TIMEOUT_S:.0f}")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise self._gone()
            self._buf += chunk
        message, self._buf = self._buf.split(b"\0", 1)
        return json.loads(message)

    def _gone(self) -> PrintError:
        err = b""
        with suppress(subprocess.TimeoutExpired, ValueError, OSError):
            if self._proc is not None:
                self._proc.wait(timeout=5)
            self._stderr.seek(0)
            err = self._stderr.read()
        last = [x for x in err.decode(errors="replace").splitlines() if "ERROR" in x or "FATAL" in x][-1:]
        return PrintError("Chromium stopped before the PDF was printed" + (f": {last[0]}" if last else ""))

    def close(self) -> None:
        """Stop the browser and remove its profile folder. Stopped, not asked to close: its
        profile is thrown away, so nothing needs its orderly shutdown (0.14 s against 0.05 s).
        Its whole process group is stopped: a helper left to end when its pipe closed (the network
        service) could still write its state into the profile after the folder was removed, and
        left an empty folder behind in /dev/shm."""
        proc = self._proc
        if proc is not None:
            group = _members(proc.pid)
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            _wait_gone(group)
        ready = getattr(self, "_ready", None)
        if ready is not None:  # its page's setup ends at once: the pipe is closed
            ready.join()
        for fd in ("_w", "_r"):
            with suppress(AttributeError, OSError):
                os.close(getattr(self, fd))
            self.__dict__.pop(fd, None)
        if hasattr(self, "_stderr"):
            self._stderr.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Printer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Chromium lays a page out for its screen (1280 px, never shown here) and paints it, then lays it
# out again at A4 to print: hidden on screen, only the print is laid out (the busiest statement's
# print 0.70 -> 0.59 s) and not a byte of the PDF changes, since print media never applies a screen
# rule. Added to the document's own stylesheet: a <style> element of its own would shift the
# tagged PDF's structure ids.
SCREEN_HIDDEN = "@media screen{html{display:none}}"


def hidden_on_screen(html: str) -> str:
    """`html` with SCREEN_HIDDEN at the end of its first stylesheet (as it is without one)."""
    return html.replace("</style>", SCREEN_HIDDEN + "</style>", 1)


_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:\d{14}[^)]*\)")


def with_dates(pdf: bytes, dated: datetime | None) -> bytes:
    """The PDF's info dates replaced by `dated` at the same length (cross-reference offsets
    stay valid). Chromium writes them as D:YYYYMMDDHHmmSS+00'00'."""
    if dated is None:
        return pdf
    if dated.tzinfo is None:
        dated = dated.replace(tzinfo=UTC)
    stamp = dated.astimezone(UTC).strftime("%Y%m%d%H%M%S").encode()

    def sub(m: re.Match[bytes]) -> bytes:
        old = m.group(0)
        new = old[: old.index(b"D:") + 2] + stamp + old[old.index(b"D:") + 16:]
        return new if len(new) == len(old) else old

    return _DATE.sub(sub, pdf)
