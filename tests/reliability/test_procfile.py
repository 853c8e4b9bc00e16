# SPDX-License-Identifier: Apache-2.0
"""The ``Procfile`` at the root, started line by line as real processes on one PostgreSQL and one NATS
JetStream: an ingest process, a core process holding the singleton roles and its standby.

Heavy rain posted to the ingest process opens an incident and issues its alerts (in the core process:
the rules, incidents and relay roles). The core process is killed with SIGKILL; the standby takes its
roles over (its /health says ``held``); more of the same rain then reaches the rule engine in the
standby, which joins the open incident: still one incident, and no alert issued twice.
"""

from __future__ import annotations

import shlex
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from safecity.bus.tables import cursors, outbox
from safecity.situation.tables import incidents
from safecity.warning.tables import alerts
from tests.reliability.harness import Server, thing, wait_for
from tests.reliability.test_crash_alerts import rain_rows
from tests.reliability.test_crash_observations import NO_STALE_RULE

pytestmark = pytest.mark.reliability

PROCFILE = Path(__file__).parents[2] / "Procfile"
GAUGES = 4


def procfile() -> dict[str, list[str]]:
    """Each line's name and its arguments after ``safecity`` (``$PORT`` left for the caller)."""
    out: dict[str, list[str]] = {}
    for line in PROCFILE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, command = line.partition(":")
        args = shlex.split(command)
        assert args[0] == "safecity", f"Procfile line {name!r} does not run safecity"
        out[name.strip()] = args[1:]
    return out


def _process(root: Path, name: str, args: list[str], store_url: str, env: dict[str, str]) -> Server:
    server = Server(root / name, store_url, **env)
    server.command = [str(server.port) if a == "$PORT" else a for a in args]
    return server


def _roles(server: Server) -> dict[str, str]:
    roles: dict[str, str] = server.health()["roles"]
    return roles


def _issued(server: Server) -> list[tuple[int | None, str, int | None]]:
    """Each issued alert as (incident, msgType, level): the same twice is an alert issued twice."""
    with server.store() as conn:
        q = select(alerts.c.incident_id, alerts.c.msg_type, alerts.c.level).where(alerts.c.sent.is_not(None))
        return sorted(((inc, str(m), lvl) for inc, m, lvl in conn.execute(q)), key=str)


def _rule_incidents(server: Server) -> int:
    with server.store() as conn:
        q = select(func.count()).select_from(incidents).where(incidents.c.source == "rule")
        return int(conn.execute(q).scalar_one())


def _rules_caught_up(server: Server) -> bool:
    with server.store() as conn:
        head = conn.execute(select(func.max(outbox.c.id))).scalar_one()
        pos = conn.execute(
            select(cursors.c.position).where(cursors.c.subscriber == "situation.rules")
        ).scalar_one_or_none()
    return pos is not None and head is not None and pos >= head


@pytest.mark.parametrize("new_store", ["postgresql"], indirect=True)
def test_the_procfile_runs_and_a_standby_takes_the_roles_over(
    new_store: Any, nats_url: str, tmp_path: Path
) -> None:
    lines = procfile()
    assert set(lines) == {"ingest", "core", "standby"}
    store_url = new_store()  # several processes share PostgreSQL (SQLite is one process's store)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "no_stale.toml").write_text(NO_STALE_RULE, encoding="utf-8")
    env = {
        "SAFECITY_BUS_URL": nats_url,
        "SAFECITY_BUS__NATS_STREAM": f"P{uuid.uuid4().hex[:12]}",
        "SAFECITY_BUS__LEADER_INTERVAL_S": "0.2",
        "SAFECITY_RULES_DIR": str(rules),
        "SAFECITY_MQTT__ENABLED": "false",
        "SAFECITY_WARNING__AUTO_LEVELS": "[1, 2, 3, 4]",
        "SAFECITY_WARNING__AUTO_EVACUATE": "true",
    }
    procs = {name: _process(tmp_path, name, args, store_url, env) for name, args in lines.items()}
    gauges = [
        thing(
            f"gauge {i}", "rainfall_1min", ("millimetre", "mm"), 126.92 + i * 0.01, 37.50 if i % 2 else 37.46
        )
        for i in range(GAUGES)
    ]
    made = procs["core"].init(gauges)
    try:
        procs["core"].start(180)
        procs["standby"].start(180)
        procs["ingest"].start(180)
        assert set(_roles(procs["core"]).values()) == {"held"}
        assert set(_roles(procs["standby"]).values()) == {"standby"}
        assert _roles(procs["ingest"]) == {"ingest": "held"}
        ingest = procs["ingest"]
        base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=480)
        with httpx.Client(base_url=ingest.url, headers=ingest.token(), timeout=60) as c:
            r = c.post("/sta/v1.1/CreateObservations", content=orjson.dumps(rain_rows(made["streams"], base)))
            assert r.status_code == 201, r.text
            wait_for("the rules of the core process", lambda: _rules_caught_up(ingest), 120)
            wait_for("an automatic alert", lambda: bool(_issued(ingest)), 60)
            before_kill = _issued(ingest)
            opened = _rule_incidents(ingest)
            assert opened >= 1

            procs["core"].kill()
            killed_at = time.monotonic()
            wait_for(
                "the standby to hold every role",
                lambda: set(_roles(procs["standby"]).values()) == {"held"},
                60,
            )
            failover = time.monotonic() - killed_at

            # the same rain goes on: the standby's rule engine joins the open incident
            later = base + timedelta(minutes=240)
            r = c.post(
                "/sta/v1.1/CreateObservations", content=orjson.dumps(rain_rows(made["streams"], later))
            )
            assert r.status_code == 201, r.text
            wait_for("the rules of the standby", lambda: _rules_caught_up(ingest), 120)
            time.sleep(1.0)  # a late second incident or alert would show now
            after = _issued(ingest)
            print(
                f"\nprocfile: failover {failover:.2f} s (polled every 0.2 s); incidents {opened} -> "
                f"{_rule_incidents(ingest)}; alerts issued {len(before_kill)} -> {len(after)}"
            )
            assert _rule_incidents(ingest) == opened
            assert len(set(after)) == len(after), f"an alert issued twice: {after}"
    finally:
        for p in procs.values():
            p.stop()
