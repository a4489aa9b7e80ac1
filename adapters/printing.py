"""HTML to PDF with the operating system's headless Chromium (issue 17).

Why Chromium (Debian's `chromium`, driven by Playwright's Python package through
`executable_path`) and not WeasyPrint: it is the engine the tests measure the report in (text
overflow, the SVG's label boxes) and the browser people open the HTML with, so the PDF is the
layout that was checked, not a second one; it lays out CJK text with the system's Noto fonts,
repeats table headers, keeps rows whole, prints the CSS page-margin boxes that carry
"第 n 页 / 共 m 页", and writes a tagged PDF. Playwright brings its own driver inside the wheel
and downloads no browser here: the OS package is the only browser.

Determinism: Chromium stamps the print time as the PDF's creation and modification dates;
`print_pdf` rewrites both, in place and at the same length, to the time the caller names (the
views' evaluation time), so two renders of the same report are byte-identical.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("TICKETLEDGER_CHROMIUM", "/usr/bin/chromium")
INSTALL_HINT = "apt-get install chromium fonts-noto-cjk poppler-utils"


class PrintError(RuntimeError):
    """The PDF cannot be printed here; the message says what to install."""


def chromium_path() -> str:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise PrintError(f"no Chromium at {CHROMIUM} to print the PDF; install it with `{INSTALL_HINT}` "
                         "(or set TICKETLEDGER_CHROMIUM), or write --format html and print that")
    return path


def launch_args() -> list[str]:
    # Chromium refuses to run sandboxed as root; only then is the sandbox turned off
    return ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


@contextmanager
def browser() -> Iterator[Any]:
    """A headless Chromium (Playwright), closed on exit."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise PrintError(f"the playwright package is missing ({e}); reinstall ticketledger") from None
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=launch_args())
        try:
            yield b
        finally:
            b.close()


def print_pdf(html: bytes, dated: datetime | None, *, browser_: Any = None, printer: Printer | None = None) -> bytes:
    """`html` printed as A4 (the page size and margins of its CSS), no browser header or footer,
    tagged; the PDF's dates set to `dated` (naive = UTC). `printer`: one started ahead (`Printer`)."""
    if printer is not None:
        return printer.print(html, dated)
    if browser_ is None:
        with browser() as b:
            return print_pdf(html, dated, browser_=b)
    page = browser_.new_page()
    try:
        return _print_page(page, html, dated)
    finally:
        page.close()


def _print_page(page: Any, html: bytes, dated: datetime | None) -> bytes:
    page.set_content(html.decode(), wait_until="load")
    pdf = page.pdf(format="A4", prefer_css_page_size=True, print_background=True,
                   display_header_footer=False, tagged=True, outline=True)
    return with_dates(pdf, dated)


class Printer:
    """A headless Chromium started before the document it will print exists, so that its start
    (Playwright's driver, the browser and a page: about 1 s, most of a one-page report's PDF) runs
    on the other core while the caller reads the views and writes the HTML. Playwright's sync API
    stays on the one thread that started it: that thread launches, waits for the one document,
    prints it and closes. Use as a context manager; `print` once."""

    def __init__(self) -> None:
        self._html: queue.Queue[tuple[bytes, datetime | None] | None] = queue.Queue(maxsize=1)
        self._done: queue.Queue[tuple[bytes | None, BaseException | None]] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._run, name="chromium-printer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with browser() as b:
                page = b.new_page()
                job = self._html.get()
                if job is None:
                    return
                self._done.put((_print_page(page, *job), None))
        except BaseException as e:  # handed to the caller's thread, raised there
            if self._done.empty():
                self._done.put((None, e))

    def print(self, html: bytes, dated: datetime | None) -> bytes:
        self._html.put((html, dated))
        pdf, error = self._done.get()
        self._thread.join()  # the browser closed before the caller goes on
        if error is not None:
            raise error
        assert pdf is not None
        return pdf

    def close(self) -> None:
        """Stop the browser if nothing was printed (e.g. the command failed before)."""
        if self._thread.is_alive():
            with suppress(queue.Full):
                self._html.put_nowait(None)
            self._thread.join()

    def __enter__(self) -> Printer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
