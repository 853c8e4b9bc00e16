# SPDX-License-Identifier: Apache-2.0
"""An earthquake's predicted collapses become suggested collapse-rescue calls in the dispatcher's queue,
through quake's public event only (real HTTP, both stores): once per building, above the dispatch
threshold, left out of the golden-time KPIs until a unit is sent."""

from __future__ import annotations

from typing import Any

from safecity.capability import Context
from safecity.core.events import Envelope
from safecity.dispatch.kpi import kpis
from safecity.dispatch.service import Dispatch
from safecity.dispatch.subscribers import on_damage_assessed
from tests.dispatch.conftest import Desk
from tests.quake.test_chain import _kma_cap, _platform_with_areas


def _assessed(desk: Desk) -> list[Envelope]:
    seen: list[Envelope] = []
    desk.platform.bus.subscribe("quake.DamageAssessed", seen.extend, "test.damage")
    return seen


def _suggested(desk: Desk) -> list[dict[str, Any]]:
    return [c for c in desk.get("/dispatch/calls").json() if c["source"] == "quake"]


def test_predicted_collapses_are_suggested_to_the_dispatcher(desk: Desk) -> None:
    dispatch = desk.platform.services.get(Dispatch)
    threshold = 0.002
    dispatch.settings = dispatch.settings.model_copy(update={"quake_min_collapse": threshold})
    seen = _assessed(desk)
    _platform_with_areas(desk)  # type: ignore[arg-type]  # it needs .platform only
    r = desk.client.post(
        "/quake/messages",
        content=_kma_cap(),
        headers={**desk.operator, "Content-Type": "application/cap+xml"},
    )
    assert r.status_code == 201, r.text
    desk.platform.bus.drain()
    (event,) = [e.data.to_json() for e in seen]
    wanted = [c for c in event["candidates"] if c["collapseProbability"] >= threshold]
    assert wanted, "the test earthquake predicts no collapse above the threshold"
    assert (
        len(wanted) < len(event["candidates"]) or min(c["collapseProbability"] for c in wanted) >= threshold
    )
    calls = _suggested(desk)
    assert len(calls) == len(wanted)
    by_place = {(round(c["lon"], 6), round(c["lat"], 6)): c for c in calls}
    for c in wanted:
        call = by_place[(c["lon"], c["lat"])]
        assert call["type"] == "rescue_collapse" and call["status"] == "suggested"
        assert c["building"] in call["note"] and "예측" in call["note"] and "prediction" in call["note"]

    # the same event again (a redelivery, a new assessment naming the same buildings): nothing new
    on_damage_assessed(_context(desk))(seen)
    assert len(_suggested(desk)) == len(wanted)

    # a suggestion is not a call in the KPIs until the dispatcher acts on it
    assert sum(r.calls for r in kpis(desk.platform.store)) == 0
    first = calls[0]["id"]
    sent = desk.post(f"/dispatch/calls/{first}/dispatch", {"units": ["청파구조1"]})
    assert sent.status_code == 200, sent.text
    assert sum(r.calls for r in kpis(desk.platform.store)) == 1


def _context(desk: Desk) -> Context:
    p = desk.platform
    return Context(
        settings=p.settings, store=p.store, bus=p.bus, clock=p.clock, metrics=p.metrics, services=p.services
    )
