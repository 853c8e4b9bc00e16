# SPDX-License-Identifier: Apache-2.0
"""Leadership of a singleton role, on both stores: one holder at a time; when the holder's process is
killed (SIGKILL, no clean-up) another process takes the role over; a holder whose session was ended
steps down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from safecity.bus.inprocess import InProcessBus
from safecity.bus.leader import Leadership, keepalive, lock_key
from safecity.capability import migration_folders, registered
from safecity.settings import Settings
from safecity.store import Store, open_store

HOLDER = """
import sys, time
from safecity.bus.leader import Leadership
from safecity.settings import MqttSettings, Settings
from safecity.store import open_store
store = open_store(Settings(store_url=sys.argv[1], data_dir=sys.argv[2], mqtt=MqttSettings(enabled=False)))
lead = Leadership(store.engine, "relay")
assert lead.step() == 0 and lead.held
print("held", flush=True)
sys.stdin.read()  # until killed
"""


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    s = open_store(settings)
    # with the capabilities' branches: the session's PostgreSQL database may carry them already
    s.migrate(migration_folders(registered(settings)))
    yield s
    s.close()


def test_one_holder_at_a_time_and_the_role_passes_on_release(store: Store) -> None:
    events: list[str] = []
    a = Leadership(
        store.engine, "relay", on_gain=lambda: events.append("a+"), on_lose=lambda: events.append("a-")
    )
    b = Leadership(store.engine, "relay", on_gain=lambda: events.append("b+"))
    other = Leadership(store.engine, "rules:11110")
    a.step()
    b.step()
    other.step()
    assert a.held and not b.held and other.held  # another role is another lock
    b.step()
    assert not b.held
    a.release()
    b.step()
    assert b.held and not a.held and events == ["a+", "a-", "b+"]
    b.release()
    other.release()


def test_a_killed_holder_is_replaced(store: Store, settings: Settings) -> None:
    url = settings.resolved_store_url
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, str(settings.data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": "src"},
        text=True,
    )
    try:
        assert holder.stdout is not None
        for _ in range(50):  # its log lines come first, on the same stream
            if holder.stdout.readline().strip() == "held":
                break
        else:
            pytest.fail("the holder process did not take the role")
        standby = Leadership(store.engine, "relay", interval_s=0.05)
        standby.step()
        assert not standby.held
        standby.start()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(30)
        assert standby.wait(30), "the standby did not take the role after the holder was killed"
        standby.stop()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
        for pipe in (holder.stdin, holder.stdout):
            if pipe is not None:
                pipe.close()


def test_a_holder_whose_session_ended_steps_down(store: Store) -> None:
    if store.dialect != "postgresql":
        pytest.skip("a SQLite holder's lock is its own process's file lock: it cannot be ended from outside")
    InProcessBus(store)  # its listeners on the engine, as in every process (they met the dead session)
    lost: list[bool] = []
    a = Leadership(store.engine, "relay", on_lose=lambda: lost.append(True))
    a.step()
    assert a.held
    with store.engine.connect() as conn:  # an operator (or a restarted server) ends the session
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                "AND ((classid::bigint << 32) | objid::bigint) = :k"
            ),
            {"k": lock_key("relay") & 0xFFFFFFFFFFFFFFFF},
        )
        conn.commit()
    a.step()
    assert not a.held and lost == [True]
    b = Leadership(store.engine, "relay")
    b.step()
    assert b.held
    b.release()


def test_a_role_whose_start_failed_is_started_again_and_stays_held(store: Store) -> None:
    """A take-over whose start raised (the fault test's survivor once met a refusal of the store while
    its rule engine warmed up) keeps the lock and starts the role again at the next round, instead of
    holding a role that nothing runs."""
    starts: list[int] = []

    def gain() -> None:
        starts.append(len(starts))
        if len(starts) == 1:
            raise RuntimeError("the first start fails")

    a = Leadership(store.engine, "relay", on_gain=gain)
    b = Leadership(store.engine, "relay")
    with pytest.raises(RuntimeError):
        a.step()
    assert a.held and starts == [0]
    b.step()
    assert not b.held  # still a's: nobody else starts the role meanwhile
    a.step()
    assert a.held and starts == [0, 1]
    a.step()
    assert starts == [0, 1]  # started once it returned: not again
    a.release()
    b.step()
    assert b.held
    b.release()


def test_a_holders_session_is_probed_so_a_vanished_machine_releases_the_lock(store: Store) -> None:
    """A holder's machine that loses power sends no FIN: the server must probe the lock's session
    (TCP keepalive) to end it within seconds rather than after TCP's two hours."""
    if store.dialect != "postgresql":
        pytest.skip("a SQLite holder's flock is released by the kernel of the one machine")
    a = Leadership(store.engine, "relay", interval_s=1.0)
    a.step()
    assert a.held and a._conn is not None
    got = a._conn.execute(
        text(
            "SELECT current_setting('tcp_keepalives_idle'), current_setting('tcp_keepalives_interval'),"
            " current_setting('tcp_keepalives_count'), inet_client_addr() IS NOT NULL"
        )
    ).one()
    a._conn.commit()
    if not got[3]:
        pytest.skip("connected over a Unix socket: no TCP keepalive to set")
    assert (int(got[0]), int(got[1]), int(got[2])) == keepalive(1.0) == (2, 1, 2)
    a.release()
