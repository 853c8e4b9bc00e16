# SPDX-License-Identifier: Apache-2.0
"""NATS restarted, then PostgreSQL restarted, mid-stream, under the three processes of the Procfile
(ingest, core, standby) and a steady load of rain readings over HTTP and over MQTT (issue 15).

The test runs a PostgreSQL cluster and a NATS server of its own (tests/reliability/services.py) so it
can stop them; a supervisor starts again whatever process exits, as systemd's ``Restart=always`` would
(a holder whose store session ended exits 75 rather than work beside the next holder; a process
started while the store is away exits at once). PostgreSQL is stopped ``immediate`` (no checkpoint:
crash recovery at its next start); NATS is stopped and started on the same store directory.

After recovery, as in the kill test: every reading acknowledged (201, or PUBACK by the broker) is
stored once, the rain is one incident, no alert was issued twice, and every queued webhook delivery
was accepted once. The figures are printed (``-s``); ``SAFECITY_FAULT_SEED`` repeats a run's timings.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from safecity.sensing.tables import observations
from tests.reliability.harness import (
    Receiver,
    Server,
    delivery_rows,
    secret,
    start_mosquitto,
    thing,
    wait_for,
)
from tests.reliability.services import PrivateNats, PrivatePostgres, Supervisor
from tests.reliability.test_crash_observations import NO_STALE_RULE
from tests.reliability.test_procfile import _issued, _roles, _rule_incidents, _rules_caught_up, procfile
from tests.reliability.test_three_processes import DISTRICTS, GAUGES, SUBSCRIBERS, Device, Load, _stored

pytestmark = pytest.mark.reliability


def _roles_held(procs: dict[str, Server]) -> bool:
    """Every singleton role held by core or standby (together), and ingest running."""
    held: set[str] = set()
    for name in ("core", "standby"):
        try:
            held |= {r for r, s in _roles(procs[name]).items() if s == "held"}
        except httpx.HTTPError:
            continue
    try:
        ingest_up = _roles(procs["ingest"]) == {"ingest": "held"}
    except httpx.HTTPError:
        ingest_up = False
    return ingest_up and held >= {"rules", "incidents", "delivery", "audit", "relay"}


def _subscribe(ingest: Server, receiver: Receiver, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=ingest.url, headers=headers, timeout=30) as c:
        for n in range(SUBSCRIBERS):
            r = c.post(
                "/subscriptions",
                json={
                    "kind": "system",
                    "name": f"control room {n}",
                    "channels": [
                        {"channel": "webhook", "address": f"{receiver.url}/hook/{n}", "secret": secret(n)}
                    ],
                    "areas": [{"kind": "district", "code": DISTRICTS[n % 2]}],
                },
            )
            assert r.status_code == 201, r.text


def _chain(server: Server) -> dict[str, object]:
    """Incidents, alert rows (drafts too), the bus's cursors and dead letters, as stored."""
    from safecity.bus.tables import cursors, dead_letters
    from safecity.situation.tables import incidents
    from safecity.warning.tables import alerts

    with server.store() as conn:
        return {
            "incidents": [
                tuple(r) for r in conn.execute(select(incidents.c.id, incidents.c.status, incidents.c.level))
            ],
            "alerts": [
                tuple(r) for r in conn.execute(select(alerts.c.incident_id, alerts.c.msg_type, alerts.c.sent))
            ],
            "cursors": dict(tuple(r) for r in conn.execute(select(cursors.c.subscriber, cursors.c.position))),
            "dead": [tuple(r) for r in conn.execute(select(dead_letters.c.subscriber, dead_letters.c.error))],
        }


# a private PostgreSQL, three process starts and their restarts after each outage: minutes here
@pytest.mark.timeout(1500)
def test_nats_and_postgresql_restarted_mid_stream_lose_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("SAFECITY_FAULT_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    pg = PrivatePostgres()
    nats = PrivateNats(tmp_path)
    broker = None
    procs: dict[str, Server] = {}
    figures: dict[str, object] = {"seed": seed}
    try:
        pg.start()
        nats.start()
        store_url = pg.create_database(f"safecity_restart_{uuid.uuid4().hex[:8]}")
        rules = tmp_path / "rules"
        rules.mkdir()
        (rules / "no_stale.toml").write_text(NO_STALE_RULE, encoding="utf-8")
        broker, mqtt_port = start_mosquitto(tmp_path, max_queued=0)
        env = {
            "SAFECITY_BUS_URL": nats.url,
            "SAFECITY_BUS__NATS_STREAM": f"R{uuid.uuid4().hex[:12]}",
            "SAFECITY_BUS__LEADER_INTERVAL_S": "0.2",
            "SAFECITY_RULES_DIR": str(rules),
            "SAFECITY_WARNING__AUTO_LEVELS": "[1, 2, 3, 4]",
            "SAFECITY_WARNING__AUTO_EVACUATE": "true",
            "SAFECITY_WARNING__RETRY_BASE_S": "0.5",
            "SAFECITY_WARNING__RETRY_MAX_S": "2",
            "SAFECITY_MQTT__URL": f"mqtt://127.0.0.1:{mqtt_port}",
        }
        for name, args in procfile().items():
            procs[name] = Server(tmp_path / name, store_url, **env)
            procs[name].command = [str(procs[name].port) if a == "$PORT" else a for a in args]
        gauges = [
            thing(
                f"gauge {i}",
                "rainfall_1min",
                ("millimetre", "mm"),
                126.92 + i * 0.01,
                37.50 if i % 2 else 37.46,
            )
            for i in range(GAUGES)
        ]
        devices = [
            thing(f"device {i}", "rainfall_1min", ("millimetre", "mm"), 126.93, 37.47) for i in range(2)
        ]
        made = procs["core"].init([*gauges, *devices])
        rain_streams, device_streams = made["streams"][:GAUGES], made["streams"][GAUGES:]
        with Receiver(failing=False) as receiver:
            for name in ("core", "standby", "ingest"):
                procs[name].start(180)
            ingest = procs["ingest"]
            headers = ingest.token()
            _subscribe(ingest, receiver, headers)
            base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=6)
            load = Load(ingest, rain_streams, headers, base)
            device = Device(mqtt_port, device_streams, base)
            with Supervisor(procs) as supervisor:
                load.thread.start()
                device.thread.start()
                outages: dict[str, float] = {}
                recovery: dict[str, float] = {}
                for service in ("nats", "postgresql"):
                    time.sleep(rng.uniform(2.0, 6.0))
                    down_s = rng.uniform(2.0, 5.0)
                    (nats.stop if service == "nats" else pg.stop)()
                    time.sleep(down_s)
                    (nats.start if service == "nats" else pg.start)()
                    back = time.monotonic()
                    outages[service] = round(down_s, 2)
                    wait_for(f"every role held after the {service} restart", lambda: _roles_held(procs), 300)
                    recovery[service] = round(time.monotonic() - back, 2)
                time.sleep(3.0)
                load.stop.set()
                load.thread.join(60)
                device.close()
                wait_for("every MQTT message stored", lambda: set(_stored(ingest)) >= device.acked, 300)
                wait_for("the rules to catch up", lambda: _rules_caught_up(ingest), 300)
                ingest.wait_drained(300)
                try:
                    wait_for("the rain's alert", lambda: bool(_issued(ingest)), 120)
                except AssertionError as e:  # what the store holds, to tell where the chain stopped
                    raise AssertionError(f"{e} (seed {seed}): {_chain(ingest)}") from None
                wait_for(
                    "every delivery made",
                    lambda: all(s in ("sent", "delivered") for _, _, s, _ in delivery_rows(ingest)),
                    240,
                )
                stored = _stored(ingest)
                issued = _issued(ingest)
                incidents = _rule_incidents(ingest)
                final = delivery_rows(ingest)
                with ingest.store() as conn:
                    rows = int(conn.execute(select(func.count()).select_from(observations)).scalar_one())
            acked = load.acked | device.acked
            lost = acked - set(stored)
            duplicated = [k for k, n in stored.items() if n > 1]
            figures.update(
                {
                    "outage_s": outages,
                    "all_roles_held_again_after_s": recovery,
                    "process_exits": supervisor.exits,
                    "sent_http": load.sent,
                    "http_statuses": dict(load.statuses),
                    "sent_mqtt": len(device.sent),
                    "acked_mqtt": len(device.acked),
                    "acked": len(acked),
                    "stored": sum(stored.values()),
                    "dup": len(duplicated),
                    "lost": len(lost),
                    "incidents": incidents,
                    "alerts": len(issued),
                    "deliveries": len(final),
                    "made": len(receiver.accepted),
                    "wire_repeats": sum(receiver.wire.values()) - len(receiver.wire),
                }
            )
            print(f"\nservice restarts: {figures}")
            # the holder of the roles lost its store session: it exited (75) rather than go on beside
            # the next holder, and was started again
            assert any(name in ("core", "standby") and code == 75 for name, code in supervisor.exits)
            # the store away: 503 (send again), never a 500
            assert set(load.statuses) <= {0, 201, 503}, load.statuses
            assert not lost, f"acknowledged readings lost: {sorted(lost)[:10]}"
            assert not duplicated
            assert rows == len(set(stored)) == sum(stored.values())
            assert incidents == 1
            assert len(set(issued)) == len(issued), f"an alert issued twice: {issued}"
            assert issued and final
            assert not receiver.bad_signature
            assert {key for _, _, _, key in final} == set(receiver.accepted)
    finally:
        for p in procs.values():
            p.stop()
        if broker is not None:
            broker.terminate()
            broker.wait(10)
        nats.stop()
        pg.close()
