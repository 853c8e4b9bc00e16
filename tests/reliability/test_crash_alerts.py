# SPDX-License-Identifier: Apache-2.0
"""SIGKILL ``safecity serve`` while alert deliveries are pending; after the restart each one is made.

Heavy rain on the gauges of two districts opens an incident whose alerts are issued automatically
(``warning_auto_levels``) to webhook subscribers of both districts. The webhook receiver is a real HTTP
server in this process: it checks each request's HMAC signature, and first answers 503 (the subscriber's
system is down), so the deliveries wait in the queue with retries. The server is killed with SIGKILL while
they wait, the receiver comes back, the server is started again on the same data, and then:

* every (alert, subscriber, webhook) reached the receiver with a valid signature: no key is lost;
* the receiver accepted each Idempotency-Key once; repeats at the wire (a send the crash interrupted
  after the receiver took it) carry the same key and are counted, not accepted again.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from safecity.warning.tables import alerts
from tests.reliability.harness import Receiver, Server, delivery_rows, secret, thing, wait_for
from tests.reliability.test_crash_observations import NO_STALE_RULE

pytestmark = pytest.mark.reliability

SUBSCRIBERS = 10  # per district
GAUGES = 6  # three per district
STEPS = 240  # minutes of data: one dry hour, then three hours of heavy rain
DISTRICTS = ("11590", "11620")


def rain_rows(streams: list[int], base: datetime) -> list[dict[str, Any]]:
    out = []
    for i, ds in enumerate(streams):
        rows = []
        for k in range(STEPS):
            v = 0.0 if k < 60 else round(0.6 + ((k + i) % 5 - 2) * 0.1, 1)
            rows.append([(base + timedelta(minutes=k)).isoformat(), v])
        out.append(
            {"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"], "dataArray": rows}
        )
    return out


def test_sigkill_with_deliveries_pending_delivers_each_once(new_store: Any, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "no_stale.toml").write_text(NO_STALE_RULE, encoding="utf-8")
    server = Server(
        tmp_path / "data",
        new_store(),
        SAFECITY_RULES_DIR=str(rules),
        SAFECITY_MQTT__ENABLED="false",
        SAFECITY_WARNING__AUTO_LEVELS="[1, 2, 3, 4]",
        SAFECITY_WARNING__AUTO_EVACUATE="true",  # no operator in this test: evacuation orders go out too
        SAFECITY_WARNING__SEND_TIMEOUT_S="2",
        SAFECITY_WARNING__RETRY_BASE_S="0.5",
        SAFECITY_WARNING__RETRY_MAX_S="2",
    )
    gauges = [
        thing(
            f"gauge {i}", "rainfall_1min", ("millimetre", "mm"), 126.92 + i * 0.01, 37.50 if i % 2 else 37.46
        )
        for i in range(GAUGES)
    ]
    made = server.init(gauges)
    with Receiver() as receiver:
        server.start()
        try:
            headers = server.token()
            subs: dict[int, str] = {}  # subscriber number -> district
            with httpx.Client(base_url=server.url, headers=headers, timeout=30) as c:
                for n in range(SUBSCRIBERS * len(DISTRICTS)):
                    district = DISTRICTS[n % len(DISTRICTS)]
                    r = c.post(
                        "/subscriptions",
                        json={
                            "kind": "system",
                            "name": f"control room {n}",
                            "channels": [
                                {
                                    "channel": "webhook",
                                    "address": f"{receiver.url}/hook/{n}",
                                    "secret": secret(n),
                                }
                            ],
                            "areas": [{"kind": "district", "code": district}],
                        },
                    )
                    assert r.status_code == 201, r.text
                    subs[n] = district
                base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=STEPS)
                r = c.post(
                    "/sta/v1.1/CreateObservations", content=orjson.dumps(rain_rows(made["streams"], base))
                )
                assert r.status_code == 201, r.text
            # The alerts are issued and their deliveries fail against the receiver that is down.
            wait_for("deliveries refused by the receiver", lambda: receiver.refused >= 2 * SUBSCRIBERS, 60)
            wait_for("the last alert's deliveries", lambda: len(delivery_rows(server)) >= 2 * SUBSCRIBERS, 30)
            server.kill()
            at_kill = delivery_rows(server)
            pending = Counter(status for _, _, status, _ in at_kill)
            receiver.failing = False
            server.start()
            with server.store() as conn:
                issued = {
                    ident: set(districts or [])
                    for ident, districts in conn.execute(
                        select(alerts.c.identifier, alerts.c.districts).where(alerts.c.sent.is_not(None))
                    )
                }
            # Every issued alert, for every subscriber of a district it targets, on the webhook.
            expected = {(ident, n) for ident, ds in issued.items() for n, d in subs.items() if d in ds}
            assert issued and expected

            def all_made() -> bool:
                return {(k.split("|")[0], n) for k, n in receiver.accepted.items()} >= expected

            # A send the crash interrupted is claimed again when its lease (>= 120 s) runs out.
            wait_for("every delivery at the receiver", all_made, 200)
            time.sleep(1.0)  # a late repeat would show up now
            final = delivery_rows(server)
        finally:
            server.stop()
    keys = {key for _, _, _, key in final}
    figures: dict[str, Any] = {
        "alerts": len(issued),
        "deliveries": len(final),
        "pending_at_kill": sum(pending[s] for s in ("queued", "retrying", "sending")),
        "pending_by_status": dict(pending),
        "refused_before_kill": receiver.refused,
        "made": len(receiver.accepted),
        "wire_requests": sum(receiver.wire.values()),
        "wire_duplicates": sum(receiver.wire.values()) - len(receiver.wire),
        "distinct_keys": len(receiver.wire),
    }
    print(f"\nalert deliveries: {figures}")
    assert not receiver.bad_signature
    assert set(receiver.accepted) == keys, (
        "a queued delivery never reached the receiver, or one came from nowhere"
    )
    assert int(figures["pending_at_kill"]) > 0, "the kill must find deliveries waiting, or it tests nothing"
    assert all(status in ("sent", "delivered") for _, _, status, _ in final)
    assert len(expected) == len(final)
