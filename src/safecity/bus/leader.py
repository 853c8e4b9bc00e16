# SPDX-License-Identifier: Apache-2.0
"""Leadership of a singleton role among several processes (the outbox relay, the rule engine of a
partition, the auto-issue of alerts): at most one process holds a name at a time, and when it dies
another takes over within one polling interval.

* PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection kept for the
  purpose. The server releases it when that session ends, and a process killed with SIGKILL ends its
  sessions at once (the kernel closes its sockets), so a standby polling every ``interval_s`` takes
  over within about that long. A machine that vanishes closes nothing: the session is given a TCP
  keepalive (:func:`keepalive`: with the default 1 s poll, probes after 2 s idle, two probes 1 s
  apart), so the server ends it, and the lock, about 4 s after the holder last spoke. A holder checks its connection every round and steps down when it is
  gone (a restarted server, a cut network), before anyone else can hold the lock.
* SQLite (one machine): an exclusive ``flock`` on a file beside the database, which the kernel releases
  when the holding process dies, whatever the way.

Why not a NATS KV lease: it would expire on a timer (a lease must outlive pauses, so failover is slower)
and needs NATS; the store is there in every deployment.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from safecity.core.logging import get_logger
from safecity.core.worker import Worker

log = get_logger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for a role name."""
    return int.from_bytes(hashlib.sha256(f"safecity.leader:{name}".encode()).digest()[:8], "big", signed=True)


def keepalive(interval_s: float) -> tuple[int, int, int]:
    """The TCP keepalive of a holder's session, in whole seconds (idle, between probes, probes): the
    server ends the session of a holder whose machine stopped answering after about idle + between ×
    probes, so a standby polling every ``interval_s`` takes over within that plus one poll."""
    return max(1, math.ceil(2 * interval_s)), 1, 2


class Leadership:
    """Holds (or waits for) the role ``name``; ``on_gain``/``on_lose`` are called on the worker thread
    when this process becomes, or stops being, the holder."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        *,
        on_gain: Callable[[], None] | None = None,
        on_lose: Callable[[], None] | None = None,
        interval_s: float = 1.0,
    ) -> None:
        self.engine = engine
        self.name = name
        self.on_gain = on_gain
        self.on_lose = on_lose
        self._key = lock_key(name)
        self._conn: Connection | None = None
        self._file: IO[bytes] | None = None
        self._held = threading.Event()
        self._gained = False  # on_gain returned since the lock was taken (the role's parts run)
        self.worker = Worker(f"leader-{name}", self.step, interval_s=interval_s)

    @property
    def held(self) -> bool:
        return self._held.is_set()

    def wait(self, timeout: float) -> bool:
        """Block until this process holds the role (True) or ``timeout`` seconds passed (False)."""
        return self._held.wait(timeout)

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        """Stop competing and give the role up (another process takes it at its next round)."""
        self.worker.stop()
        self.release()

    def step(self) -> int:
        """One round: keep the role if held and still valid, else try to take it. Returns 0 (a timer).

        A role whose ``on_gain`` raised (its start met a refusal of the store, say) stays held and
        ``on_gain`` is called again at the next round, until it returns: the lock is not let go of, so
        no other process starts the role meanwhile, and the failure is logged and counted by the
        worker (``/health`` ``tasks``) instead of leaving a role held that nobody runs."""
        if self.held:
            if not self._still_held():
                log.warning("leadership lost", role=self.name)
                try:
                    self._drop()
                finally:  # whatever closing the dead session raised, the role's work stops here
                    if self.on_lose:
                        self.on_lose()
            elif not self._gained:
                log.info("leadership: starting the role again", role=self.name)
                self._gain()
            return 0
        if self._try_take():
            log.info("leadership taken", role=self.name, pid=os.getpid())
            self._held.set()
            self._gain()
        return 0

    def _gain(self) -> None:
        if self.on_gain:
            self.on_gain()  # raises: the next round calls it again
        self._gained = True

    def release(self) -> None:
        was = self.held
        self._drop()
        if was and self.on_lose:
            self.on_lose()

    # -- the two mechanisms ----------------------------------------------------------------------
    def _try_take(self) -> bool:
        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            try:
                got = bool(
                    conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar_one()
                )
                conn.commit()  # the lock is the session's, not the transaction's
            except DBAPIError:
                conn.close()
                raise
            if not got:
                conn.close()
                return False
            try:
                # a holder whose machine vanishes sends no FIN: have the server probe this session so
                # the lock is released within about keepalive_s() rather than TCP's two hours
                idle, interval, count = keepalive(self.worker.interval_s)
                conn.execute(
                    text(
                        "SELECT set_config('tcp_keepalives_idle', :idle, false),"
                        " set_config('tcp_keepalives_interval', :interval, false),"
                        " set_config('tcp_keepalives_count', :count, false)"
                    ),
                    {"idle": str(idle), "interval": str(interval), "count": str(count)},
                )
                conn.commit()
            except DBAPIError:
                conn.invalidate()
                conn.close()
                raise
            self._conn = conn
            return True
        path = _lock_path(self.engine, self.name)
        f = path.open("ab")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            return False
        self._file = f
        return True

    def _still_held(self) -> bool:
        if self._file is not None:
            return True  # a flock lasts as long as this process has the file open
        conn = self._conn
        if conn is None:
            return False
        try:
            conn.execute(text("SELECT 1")).scalar_one()
            conn.commit()
        except DBAPIError:
            return False  # the session (and with it the lock) is gone
        return True

    def _drop(self) -> None:
        self._held.clear()
        self._gained = False
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                # closing the session releases the lock; unlock first so a pooled connection does not
                # keep it
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
                conn.commit()
            except SQLAlchemyError:
                pass  # the session is gone already, and the lock with it
            finally:
                try:
                    conn.invalidate()  # never back to the pool: the session is the lock
                    conn.close()
                except SQLAlchemyError:
                    pass  # a dead session's transaction cannot be rolled back: it went with it
        f, self._file = self._file, None
        if f is not None:
            f.close()  # releases the flock


def _lock_path(engine: Engine, name: str) -> Path:
    db = engine.url.database
    base = Path(db).parent if db and db != ":memory:" else Path(".")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return base / f"leader-{safe}.lock"
