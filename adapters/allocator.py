"""The views follower's memory allocator: jemalloc where the operating system has it.

A live batch runs ~95 DuckDB statements on a few hundred rows each, and much of their CPU is
malloc and free: DuckDB's Python wheel uses the C library's allocator. Under jemalloc (Debian's
`libjemalloc2`) the same batches took 15-20 % less CPU, and the live p99 at 1,000 events/s fell
by about a third (docs/performance-history.md). A process picks its allocator when it starts, so the
follower executes itself again with the library preloaded. Only the follower: a full rebuild
showed no gain, and the commands that start Chromium must not pass it on.

`TICKETLEDGER_ALLOCATOR=system` keeps the C library's allocator.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Mapping

from domain.errors import N_

from .message_size import ConfigurationError

ENV = "TICKETLEDGER_ALLOCATOR"
CHOICES = ("jemalloc", "system")
# where Debian, Ubuntu, Fedora and Alpine put the library (the multiarch folder for this machine first)
JEMALLOC = (
    f"/usr/lib/{os.uname().machine}-linux-gnu/libjemalloc.so.2",
    "/usr/lib64/libjemalloc.so.2",
    "/usr/lib/libjemalloc.so.2",
)


def jemalloc_environment(environ: Mapping[str, str], candidates: Iterable[str] = JEMALLOC,
                         exists: Callable[[str], bool] = os.path.exists) -> dict[str, str] | None:
    """The environment to run this process again under jemalloc, or None: the library is
    missing, already preloaded, or `TICKETLEDGER_ALLOCATOR` asks for the system's allocator.
    Another value of it is a ConfigurationError, before anything starts."""
    choice = environ.get(ENV, "").strip() or "jemalloc"
    if choice not in CHOICES:
        raise ConfigurationError(N_("{setting}={value}: write jemalloc (the default, where the system has "
                                    "libjemalloc.so.2) or system (the C library's allocator)"),
                                 setting=ENV, value=repr(choice))
    preloaded = environ.get("LD_PRELOAD", "")
    if choice != "jemalloc" or "libjemalloc" in preloaded:
        return None
    library = next((c for c in candidates if exists(c)), None)
    if library is None:
        return None
    return {**environ, "LD_PRELOAD": f"{library} {preloaded}".strip()}


def run_under(environment: Mapping[str, str]) -> None:
    """Execute this very command again in `environment` (it does not return)."""
    sys.stdout.flush()
    sys.stderr.flush()
    with contextlib.suppress(OSError):  # a follower that cannot start again runs as it is
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], environment)


def run_under_jemalloc(program: str) -> None:
    """`run_under` jemalloc where `jemalloc_environment` finds it should; else return. A bad
    `TICKETLEDGER_ALLOCATOR` ends `program` with its message."""
    try:
        environment = jemalloc_environment(os.environ)
    except ConfigurationError as e:
        sys.exit(f"{program}: {e}")
    if environment is not None:
        run_under(environment)
