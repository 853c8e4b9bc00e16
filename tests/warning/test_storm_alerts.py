# SPDX-License-Identifier: Apache-2.0
"""The judged scenario of issue 5, end to end on both stores: the heavy-rain evening of the situation test
drafts an alert, the duty officer approves it, the subscribers of the affected districts (and only they)
receive it on each of their channels exactly once, the rising level brings Updates, and the end of the
situation a Cancel. Real servers: an SMTP server in-process (aiosmtpd) and an HTTP server for webhooks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import Message as EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from safecity.app import Platform, build_platform, create_app
from safecity.auth.model import Role
from safecity.core.clock import ManualClock
from safecity.geo.importer import import_layer
from safecity.settings import Settings, SmtpSettings
from safecity.warning.cap.xml import from_xml, validate
from safecity.warning.model import AlertSummary
from tests.conftest import SHARED, free_port, weather_station
from tests.geo.data import MOIS_DISTRICTS
from tests.situation.test_heavy_rain import DONGJAK, GAUGES, START

XSD = SHARED / "data" / "cap" / "schema" / "CAP-v1.2.xsd"
SECRET = "webhook-secret-of-gwanak-office"


class Inbox:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(message_from_bytes(envelope.content))
        return "250 OK"


class Hooks:
    """A real HTTP server receiving webhooks; checks each signature."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.bad_signatures = 0
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(want, self.headers.get("X-Safecity-Signature", "")):
                    hooks.bad_signatures += 1
                hooks.received.append((self.headers.get("Idempotency-Key", ""), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def city(
    settings: Settings,
) -> Iterator[tuple[Platform, TestClient, dict[str, str], ManualClock, Inbox, Hooks]]:
    inbox, hooks = Inbox(), Hooks()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    settings = settings.model_copy(
        update={
            "cap_xsd": XSD,
            "webhook_allow_networks": ["127.0.0.0/8"],  # the district's receivers run on this machine
        }
    ).with_warning(
        smtp=SmtpSettings(
            host="127.0.0.1", port=smtp.port, from_address="alerts@safecity.test", starttls=False
        )
    )
    clock = ManualClock(START)
    platform = build_platform(settings, clock)
    import_layer(platform, MOIS_DISTRICTS, "districts")
    app = create_app(settings, platform, start_services=False)
    platform.auth.create_user("duty-officer", "duty-officer-password", {Role.operator})
    platform.situation.start(ticker=False)
    platform.warnings.start()
    try:
        with TestClient(app) as client:
            r = client.post(
                "/auth/token", data={"username": "duty-officer", "password": "duty-officer-password"}
            )
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            yield platform, client, headers, clock, inbox, hooks
    finally:
        smtp.stop()
        hooks.close()
        platform.situation.stop()
        platform.bus.stop()
        platform.store.close()


def deliver(platform: Platform, now: datetime) -> None:
    while platform.bus.pending():
        platform.bus.drain()
    while platform.delivery.run_once(now):
        pass


def assert_right_level(platform: Platform, now: datetime) -> None:
    """No area has an alert in force stronger than its own level (the invariant of issue 12)."""
    in_force = platform.warnings.list(state="issued", origin="platform", limit=1000)
    latest: dict[str, AlertSummary] = {}
    for a in sorted(in_force, key=lambda a: (a.sent or a.created_at, a.identifier)):
        full = platform.warnings.get(a.identifier)
        thread = next(
            p["value"] for p in full.cap["info"][0]["parameter"] if p["valueName"] == "SAFECITY_THREAD"
        )
        latest[thread] = a
    for a in latest.values():
        if a.msg_type == "Cancel":
            continue
        assert a.incident_id is not None and a.level is not None
        incident = platform.incidents.get(a.incident_id)
        own = {x.code: x.level for x in incident.areas}
        for code in a.districts:
            assert own.get(code, 0) >= a.level, (now, code, own, a)


def new_issued(client: TestClient, headers: dict[str, str], seen: list[Any]) -> list[dict[str, Any]]:
    alerts = client.get("/alerts", params={"state": "issued"}, headers=headers).json()["alerts"]
    return sorted(alerts, key=lambda a: (a["sent"], a["identifier"]))[len(seen) :]


def subscribe(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> int:
    r = client.post("/subscriptions", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_storm_alerts_reach_the_right_people_once_with_updates_and_a_cancel(city: Any) -> None:
    platform, client, headers, clock, inbox, hooks = city
    # 동작구 resident (home point), e-mail, elderly; 관악구 district office's system (webhook, English);
    # a 종로구 resident who must receive nothing from a storm over Dongjak, Gwanak and Gangnam
    dongjak = subscribe(
        client,
        headers,
        {
            "kind": "person",
            "name": "Kim Dongjak",
            "language": "ko",
            "audience": "elderly",
            "channels": [{"channel": "email", "address": "kim@dongjak.test"}],
            "areas": [{"kind": "point", "lon": 126.9396, "lat": 37.5124}],
        },
    )
    gwanak = subscribe(
        client,
        headers,
        {
            "kind": "system",
            "name": "Gwanak-gu office",
            "language": "en",
            "channels": [{"channel": "webhook", "address": hooks.url, "secret": SECRET}],
            "areas": [{"kind": "district", "code": "11620"}],
        },
    )
    subscribe(
        client,
        headers,
        {
            "kind": "person",
            "name": "Lee Jongno",
            "language": "ko",
            "channels": [{"channel": "email", "address": "lee@jongno.test"}],
            "areas": [{"kind": "point", "lon": 126.9780, "lat": 37.5729}],
        },
    )
    streams = []
    for name, lon, lat, _code, _ in GAUGES:
        r = client.post("/sta/v1.1/Things", json=weather_station(name, lon, lat), headers=headers)
        tid = r.json()["@iot.id"]
        streams.append(
            client.get(f"/sta/v1.1/Things({tid})/Datastreams", headers=headers).json()["value"][0]["@iot.id"]
        )
    deliver(platform, START)

    approved: list[str] = []
    trace: list[tuple[str, str, int, list[str]]] = []
    for i, value in enumerate(DONGJAK):
        when = START + timedelta(minutes=10 * (i + 1))
        clock.set(when)
        body = [
            {
                "Datastream": {"@iot.id": ds},
                "components": ["phenomenonTime", "result"],
                "dataArray": [[when.isoformat(), value * factor]],
            }
            for ds, (*_, factor) in zip(streams, GAUGES, strict=True)
        ]
        assert client.post("/sta/v1.1/CreateObservations", json=body, headers=headers).status_code == 201
        deliver(platform, when)
        platform.situation.tick(when)
        deliver(platform, when)
        # the duty officer approves every draft the situation produces (what only lowers or ends an
        # alert in force the platform issues itself)
        drafts = client.get("/alerts", params={"state": "draft"}, headers=headers).json()["alerts"]
        for d in sorted(drafts, key=lambda d: d["identifier"]):
            r = client.post(f"/alerts/{d['identifier']}/approve", headers=headers)
            assert r.status_code == 200, r.text
            approved.append(d["identifier"])
        deliver(platform, when)
        assert_right_level(platform, when)
        trace += [
            (when.strftime("%H:%M"), a["msgType"], a["level"], a["districts"])
            for a in new_issued(client, headers, trace)
        ]

    issued = sorted(
        client.get("/alerts", params={"state": "issued"}, headers=headers).json()["alerts"],
        key=lambda a: (a["sent"], a["identifier"]),
    )
    kinds = [a["msgType"] for a in issued]
    assert kinds[0] == "Alert" and "Update" in kinds, trace
    assert all(a["incidentId"] == issued[0]["incidentId"] for a in issued)  # one situation
    # every thread (one per level band) ends with a Cancel, and each message references the one before
    threads: dict[str, list[Any]] = {}
    for a in issued:
        xml = client.get(f"/alerts/{a['identifier']}.xml").content
        assert validate(xml, XSD) == []
        cap = from_xml(xml)
        assert all(i.expires is not None and i.expires > cap.sent for i in cap.infos)  # every alert expires
        thread = next(p.value for p in cap.infos[0].parameters if p.value_name == "SAFECITY_THREAD")
        if cap.msg_type.value != "Alert":
            assert threads[thread][-1].identifier in (cap.references or ""), (thread, trace)
        threads.setdefault(thread, []).append(cap)
    assert len(threads) >= 2, trace  # the storm's districts sat at different levels: one alert per band
    assert all(msgs[-1].msg_type.value == "Cancel" for msgs in threads.values()), trace
    # once the rain eased (from 22:00), the alerts were lowered and ended at once, without the officer
    eased = [a for a in issued if datetime.fromisoformat(a["sent"]) >= START + timedelta(hours=5)]
    assert [a for a in eased if a["msgType"] == "Cancel"], trace
    assert all(a["auto"] and a["decidedBy"] == "system" for a in eased if a["msgType"] == "Cancel"), trace
    first = threads[issued[0]["identifier"]][0]
    assert {i.language for i in first.infos} == {"ko-KR", "en-US"}
    assert any(g.value == "11590" for i in first.infos for a in i.areas for g in a.geocodes)

    # Kim (동작구) got every alert for 동작구 by e-mail exactly once, in Korean, with the elderly guide
    to_kim = [m for m in inbox.mails if m["To"] == "kim@dongjak.test"]
    ids = [m["Message-ID"] for m in to_kim]
    for_dongjak = [a for a in issued if "11590" in a["districts"]]
    assert len(ids) == len(set(ids)) == len(for_dongjak), (len(ids), len(for_dongjak))
    text = to_kim[0].get_payload()[0].get_payload(decode=True).decode() if to_kim[0].is_multipart() else ""
    assert "호우" in text
    # the Gwanak office's webhook heard of the situation once Gwanak was in it, once per alert, signed
    keys = [k for k, _ in hooks.received]
    assert len(keys) == len(set(keys)) >= 2
    assert hooks.bad_signatures == 0
    assert all(f"|{gwanak}|webhook" in k for k in keys)
    assert hooks.received[-1][1]["msgType"] == "Cancel"
    # Lee (종로구) received nothing
    assert not [m for m in inbox.mails if m["To"] == "lee@jongno.test"]
    # the public feed lists them, each entry linking to its CAP
    feed = client.get("/alerts/feed.atom").text
    assert issued[-1]["identifier"] in feed and "application/cap+xml" in feed
    assert dongjak
