# SPDX-License-Identifier: Apache-2.0
"""SSE from any process: two ``safecity worker`` processes on one PostgreSQL and one NATS JetStream.

Process A holds every role (the rule engine, incidents, alerts); process B only ingests and serves the
API. Heavy rain posted to A fires a rule there: a dashboard connected to B's ``/situation/stream`` gets
the condition, the incident and the alerts, with the events' ids as SSE ids. The dashboard then
reconnects to A with ``Last-Event-ID`` and gets exactly what followed that id, byte for byte; B is
killed with SIGKILL and started again, and the same reconnection to it gets the same. The public
``/alerts/stream`` of B catches up the issued alert from the outbox too.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.reliability.harness import Server, thing
from tests.reliability.test_crash_alerts import rain_rows
from tests.reliability.test_crash_observations import NO_STALE_RULE
from tests.situation.test_stream import Event, Reader

pytestmark = pytest.mark.reliability

ALL = "rules,incidents,delivery,audit,relay,ingest"


def _frames(events: list[Event]) -> list[tuple[int, str | None, str]]:
    return [(e.id, e.event, e.raw) for e in events]


@pytest.mark.parametrize("new_store", ["postgresql"], indirect=True)
def test_a_stream_from_another_process_resumes_anywhere(
    new_store: Any, nats_url: str, tmp_path: Path
) -> None:
    store_url = new_store()
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "no_stale.toml").write_text(NO_STALE_RULE, encoding="utf-8")
    env = {
        "SAFECITY_BUS_URL": nats_url,
        "SAFECITY_BUS__NATS_STREAM": f"S{uuid.uuid4().hex[:12]}",
        "SAFECITY_RULES_DIR": str(rules),
        "SAFECITY_MQTT__ENABLED": "false",
        "SAFECITY_WARNING__AUTO_LEVELS": "[1, 2, 3, 4]",
        "SAFECITY_WARNING__AUTO_EVACUATE": "true",
    }
    a = Server(tmp_path / "a", store_url, ("worker", "--role", ALL), **env)
    b = Server(tmp_path / "b", store_url, ("worker", "--role", "ingest"), **env)
    gauges = [
        thing(f"gauge {i}", "rainfall_1min", ("millimetre", "mm"), 126.92 + i * 0.01, 37.50) for i in range(2)
    ]
    made = a.init(gauges)
    try:
        a.start(180)
        b.start(180)
        headers = a.token()
        at_b = f"{b.url}/situation/stream"
        live = Reader(at_b, headers, lambda evs: any(e.event == "alert" for e in evs)).start()
        base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=240)
        r = httpx.post(
            f"{a.url}/sta/v1.1/CreateObservations",
            content=orjson.dumps(rain_rows(made["streams"], base)),
            headers=headers,
            timeout=60,
        )
        assert r.status_code == 201, r.text
        live.join(120)
        events = live.events
        kinds = [e.event for e in events]
        assert "condition" in kinds and "IncidentOpened" in kinds, kinds
        ids = [e.id for e in events]
        assert all(i > 0 for i in ids) and ids == sorted(set(ids)), ids  # the events' ids, rising
        last = max(ids)

        def resume(server: Server) -> list[Event]:
            again = Reader(
                f"{server.url}/situation/stream",
                {**headers, "Last-Event-ID": str(events[0].id)},
                lambda evs: any(e.id >= last for e in evs),
            ).start()
            again.join(60)
            return [e for e in again.events if e.id <= last]

        # to the other process: exactly what followed the first event
        assert _frames(resume(a)) == _frames(events[1:])
        # to the same process after a SIGKILL and a restart: the same
        b.kill()
        b.start(180)
        assert _frames(resume(b)) == _frames(events[1:])

        # the public alert stream catches the issued alert up from the outbox, in the process that did
        # not issue it
        public = Reader(f"{b.url}/alerts/stream", {"Last-Event-ID": "0"}, lambda evs: bool(evs)).start()
        public.join(60)
        first = public.events[0]
        assert first.event == "alert" and first.id > 0
        assert first.data["identifier"] and {"ko", "en"} <= set(first.data["texts"])
        print(
            f"\nsse from another process: {len(events)} events streamed by B, replayed by A and by B restarted"
        )
    finally:
        b.stop()
        a.stop()
