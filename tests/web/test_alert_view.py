# SPDX-License-Identifier: Apache-2.0
"""What the dashboard's read-only view of an issued alert reads: the alert (texts, CAP, area) and
``GET /alerts/{id}/deliveries``, its delivery counts per channel and status, without any address."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from safecity.settings import Settings
from tests.warning.test_alert_api import XSD, Ctx, _ctx


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Ctx]:
    yield from _ctx(settings.model_copy(update={"cap_xsd": XSD}))


def test_an_issued_alert_shows_its_deliveries_per_channel(ctx: Ctx) -> None:
    # two citizens in Dongjak: one by webhook, one on the live stream of the page
    for channels in (
        [{"channel": "webhook", "address": "https://hooks.example.org/safecity"}],
        [{"channel": "sse"}],
    ):
        body = {
            "kind": "anonymous",
            "channels": channels,
            "areas": [{"kind": "point", "lon": 126.9396, "lat": 37.5124}],
        }
        assert ctx.client.post("/subscriptions", json=body).status_code == 201
    ctx.incident(3, ["11590"])
    (draft,) = ctx.drafts()
    ident = draft["identifier"]
    before = ctx.client.get(f"/alerts/{ident}/deliveries", headers=ctx.headers)
    assert before.status_code == 200 and before.json()["channels"] == {}  # a draft goes to nobody
    assert ctx.client.post(f"/alerts/{ident}/approve", headers=ctx.headers).status_code == 200
    r = ctx.client.get(f"/alerts/{ident}/deliveries", headers=ctx.headers)
    assert r.status_code == 200, r.text
    got = r.json()
    # the worker is not running in this test: every delivery is still queued, one row per recipient
    assert got["channels"]["webhook"] == {"queued": 1}
    assert sum(got["channels"]["sse"].values()) >= 1
    assert got["total"]["queued"] == sum(sum(v.values()) for v in got["channels"].values())
    assert "hooks.example.org" not in r.text  # counts, never addresses
    # the view's other half: the alert with its CAP (area polygons for the map)
    alert = ctx.client.get(f"/alerts/{ident}", headers=ctx.headers).json()
    assert alert["state"] == "issued" and alert["cap"]["info"]


def test_deliveries_need_an_operator_and_a_known_alert(ctx: Ctx) -> None:
    assert ctx.client.get("/alerts/no-such-alert/deliveries").status_code == 401
    r = ctx.client.get("/alerts/no-such-alert/deliveries", headers=ctx.headers)
    assert r.status_code == 404 and "no-such-alert" in r.text
