# SPDX-License-Identifier: Apache-2.0
"""SIGKILL ``safecity serve`` in the middle of alert sends: the repeat carries the same Idempotency-Key.

The webhook receiver takes each request (records its key) and then holds its answer, as a slow
subscriber system does. The server is killed while the sends hang, so it never learns they arrived: its
rows stay ``sending``. After the restart they are claimed again when their lease runs out (by default at
least 120 s, see :mod:`safecity.warning.delivery`; 12 s here through ``SAFECITY_WARNING__LEASE_S``) and
sent again. The receiver must see the same key again (so it can drop the repeat), and every other
delivery exactly once.
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

from tests.reliability.harness import Receiver, Server, delivery_rows, secret, thing, wait_for
from tests.reliability.test_crash_alerts import DISTRICTS, GAUGES, SUBSCRIBERS, rain_rows
from tests.reliability.test_crash_observations import NO_STALE_RULE

pytestmark = [pytest.mark.reliability]


def test_sigkill_mid_send_repeats_with_the_same_key(new_store: Any, tmp_path: Path) -> None:
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
        SAFECITY_WARNING__SEND_TIMEOUT_S="5",
        # one worker, quick sends: a short lease, so the interrupted sends are repeated within seconds
        # (the production default is at least 120 s); the outcome is the same, only sooner
        SAFECITY_WARNING__LEASE_S="12",
    )
    gauges = [
        thing(
            f"gauge {i}", "rainfall_1min", ("millimetre", "mm"), 126.92 + i * 0.01, 37.50 if i % 2 else 37.46
        )
        for i in range(GAUGES)
    ]
    made = server.init(gauges)
    with Receiver(failing=False, hold=True) as receiver:
        server.start()
        try:
            with httpx.Client(base_url=server.url, headers=server.token(), timeout=30) as c:
                for n in range(SUBSCRIBERS * len(DISTRICTS)):
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
                            "areas": [{"kind": "district", "code": DISTRICTS[n % len(DISTRICTS)]}],
                        },
                    )
                    assert r.status_code == 201, r.text
                base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=240)
                r = c.post(
                    "/sta/v1.1/CreateObservations", content=orjson.dumps(rain_rows(made["streams"], base))
                )
                assert r.status_code == 201, r.text
            wait_for("sends hanging at the receiver", lambda: len(receiver.accepted) >= 4, 60)
            server.kill()
            at_kill = delivery_rows(server)
            interrupted = {key for _, _, status, key in at_kill if status == "sending"}
            taken_at_kill = set(receiver.accepted)
            receiver.release()
            server.start()
            t_restart = time.monotonic()
            keys = {key for _, _, _, key in at_kill}

            def all_made() -> bool:
                return set(receiver.accepted) >= keys and all(receiver.wire[k] >= 2 for k in taken_at_kill)

            wait_for("every delivery, the interrupted ones again", all_made, 240)
            waited = time.monotonic() - t_restart
            time.sleep(1.0)
            final = delivery_rows(server)
        finally:
            receiver.release()
            server.stop()
    figures = {
        "deliveries": len(final),
        "sending_at_kill": len(interrupted),
        "taken_by_receiver_at_kill": len(taken_at_kill),
        "pending_by_status_at_kill": dict(Counter(s for _, _, s, _ in at_kill)),
        "made": len(receiver.accepted),
        "wire_requests": sum(receiver.wire.values()),
        "wire_duplicates": sum(receiver.wire.values()) - len(receiver.wire),
        "distinct_keys": len(receiver.wire),
        "repeat_after_restart_s": round(waited, 1),
    }
    print(f"\nmid-send crash: {figures}")
    assert taken_at_kill and taken_at_kill <= interrupted, (
        "the kill must interrupt sends, or it tests nothing"
    )
    assert not receiver.bad_signature
    # A repeat carried the key of the first send: no key the store does not know reached the receiver.
    assert set(receiver.wire) == {key for _, _, _, key in final}
    # Each send the crash interrupted came once more, every other delivery once.
    assert all(receiver.wire[k] == (2 if k in taken_at_kill else 1) for k in receiver.wire)
    assert all(status in ("sent", "delivered") for _, _, status, _ in final)
