"""The views follower's memory allocator: jemalloc where the operating system has it.

A live batch runs ~95 DuckDB statements on a few hundred rows each, and much of their CPU is
malloc and free: DuckDB's Python wheel uses the C library's allocator. Under jemalloc (Debian's
`libjemalloc2`) the same batches took 15-20 % less CPU, and the live p99 at 1,000 events/s fell
by about a third (docs/performance.md). A process picks its allocator when it starts, so the
follower executes itself again with the library preloaded. Only the follower: a full rebuild
showed no gain, and the commands that start Chromium must not pass it on.

`TICKETLEDGER_ALLOCATOR=system` keeps the C library's allocator.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Mapping

ENV = "TICKETLEDGER_ALLOCATOR"
# where Debian, Ubuntu, Fedora and Alpine put the library (the multiarch folder for this machine first)
JEMALLOC = (
    f"/usr/lib/{os.uname().machine}-linux-gnu/libjemalloc.so.2",
    "/usr/lib64/libjemalloc.so.2",
    "/usr/lib/libjemalloc.so.2",
)


def jemalloc_environment(environ: Mapping[str, str], candidates: Iterable[str] = JEMALLOC,
                         exists: Callable[[str], bool] = os.path.exists) -> dict[str, str] | None:
    """The environment to run this process again under jemalloc, or None: the library is
    missing, already preloaded, or `TICKETLEDGER_ALLOCATOR` asks for another allocator."""
    choice = environ.get(ENV, "jemalloc")
    preloaded = environ.get("LD_PRELOAD", "")
    if choice != "jemalloc" or "libjemalloc" in preloaded:
        return None
    library = next((c for c in candidates if exists(c)), None)
    if library is None:
        return None
    return {**environ, "LD_PRELOAD": f"{library} {preloaded}".strip()}


def run_under_jemalloc() -> None:
    """Execute this very command again with jemalloc preloaded (it does not return), where
    `jemalloc_environment` finds it should; else do nothing."""
    env = jemalloc_environment(os.environ)
    if env is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        with contextlib.suppress(OSError):  # a follower that cannot start again runs as it is
            os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)
