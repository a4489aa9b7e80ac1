"""As-of pages: the views as the ledger knew them at an earlier recording time, replayed into a
cached file by `ticketledger replay --as-of-recorded T` (the live views are never touched).

A full as-of replay takes tens of seconds and a gigabyte or more on a large ledger, so replays
are background jobs with bounds: one runs at a time (in its own process, at low priority), at
most `max_waiting` wait, and at most `keep` files stay cached (least recently used removed).
A page asked for an as-of that is not ready says so and refreshes itself.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from replay.i18n import N_

# a job's states, as the waiting page names them
# ("running" alone is a clock's state, 计时中: a job's has words of its own)
STATES = {"waiting": N_("waiting its turn"), "running": N_("replaying"), "done": N_("done"), "failed": N_("failed"),
          "busy": N_("busy")}


@dataclass
class Job:
    stamp: str  # the recording time, UTC, as the file name holds it
    state: str  # waiting, running, done, failed
    started: float = 0.0
    error: str = ""


class Busy(RuntimeError):
    """Too many as-of replays asked for at once."""


def stamp_of(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


class AsOfJobs:
    def __init__(self, data_dir: Path, cache_dir: Path, *, max_waiting: int = 3, keep: int = 12,
                 timeout: float = 1800.0) -> None:
        self.data_dir, self.cache_dir = data_dir, cache_dir
        self.max_waiting, self.keep, self.timeout = max_waiting, keep, timeout
        self.jobs: dict[str, Job] = {}
        self.waiting: queue.Queue[tuple[str, datetime]] = queue.Queue()
        self.lock = threading.Lock()
        self.worker: threading.Thread | None = None
        self.stopping = False
        self.current: subprocess.Popen[bytes] | None = None

    def path(self, t: datetime) -> Path:
        return self.cache_dir / f"asof-{stamp_of(t)}.duckdb"

    def ready(self, t: datetime) -> Path | None:
        p = self.path(t)
        if p.exists():
            os.utime(p)  # least recently used goes first
            return p
        return None

    def request(self, t: datetime) -> Job:
        """The job for this as-of time, queued when new; Busy when too many wait."""
        s = stamp_of(t)
        with self.lock:
            job = self.jobs.get(s)
            if job is not None and job.state in ("waiting", "running"):
                return job
            if sum(1 for j in self.jobs.values() if j.state == "waiting") >= self.max_waiting:
                raise Busy(f"{self.max_waiting} as-of replays are already waiting")
            job = self.jobs[s] = Job(s, "waiting")
            self.waiting.put((s, t))
            if self.worker is None or not self.worker.is_alive():
                self.worker = threading.Thread(target=self._work, name="asof-jobs", daemon=True)
                self.worker.start()
            return job

    def _work(self) -> None:
        while not self.stopping:
            try:
                s, t = self.waiting.get(timeout=5)
            except queue.Empty:
                return
            job = self.jobs[s]
            job.state, job.started = "running", time.monotonic()
            try:
                self._replay(t)
                job.state = "done"
            except Exception as e:  # noqa: BLE001 - reported on the page that asked
                job.state, job.error = "failed", str(e)
            self._evict()

    def _replay(self, t: datetime) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        final = self.path(t)
        partial = final.with_name(final.stem + ".partial.duckdb")
        partial.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "adapters.cli", "--data-dir", str(self.data_dir), "replay",
               "--as-of-recorded", t.astimezone(UTC).isoformat(), "--out", str(partial)]
        self.current = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        preexec_fn=lambda: os.nice(10))  # pages before replays
        try:
            _, err = self.current.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.current.kill()
            self.current.wait()
            raise RuntimeError(f"the replay took longer than {self.timeout:.0f} s") from None
        finally:
            rc, self.current = self.current.returncode, None
        if rc != 0:
            partial.unlink(missing_ok=True)
            raise RuntimeError(err.decode(errors="replace").strip().splitlines()[-1] if err else f"exit {rc}")
        os.replace(partial, final)

    def _evict(self) -> None:
        files = sorted(self.cache_dir.glob("asof-*Z.duckdb"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[self.keep:]:
            old.unlink(missing_ok=True)

    def stop(self) -> None:
        self.stopping = True
        proc = self.current
        if proc is not None and proc.poll() is None:
            proc.kill()
