# SPDX-License-Identifier: Apache-2.0
"""The forecast's warning aimed at the places at risk, over the real chain: rain gauges posted over
SensorThings, the bus, a forecast run, the warning capability's targeted alert (CAP valid against the
OASIS schema), the operator's approval, delivery targeting and the citizen page; then a dry city ends it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from shapely.geometry import Point

from safecity.core.clock import ManualClock
from safecity.flood.catchment import Catchment, PlaceIn, from_elevation
from safecity.flood.service import FloodForecasts
from safecity.flood.targets import BUILDING_RADIUS_KM, UNDERPASS_RADIUS_KM
from safecity.settings import Settings
from safecity.warning.cap.xml import from_xml, validate
from tests.conftest import weather_station
from tests.flood.test_forecast import SQUARE, UNDERPASS, _plane
from tests.warning.test_alert_api import NOW, XSD, Ctx, _ctx
from tests.warning.test_point_alerts import offset, subscribe

#: semi-basement buildings: one down in the bowl 500 m from the underpass, one on the rim
LOW = offset(UNDERPASS.x, UNDERPASS.y, 500)
RIM = (127.0215, 37.4915)


def _catchment() -> Catchment:
    places = [
        PlaceIn("up-1", "underpass", "시험 지하차도", "Test underpass", UNDERPASS, "11680"),
        PlaceIn(
            "b-low", "building", "반지하 주택", "Semi-basement homes", Point(*LOW), "11680", {"homes": 6}
        ),
        PlaceIn(
            "b-rim", "building", "반지하 주택", "Semi-basement homes", Point(*RIM), "11680", {"homes": 4}
        ),
    ]
    return from_elevation(_plane, SQUARE, places, cell_m=50.0, label="test bowl")


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Ctx]:
    yield from _ctx(settings.model_copy(update={"cap_xsd": XSD}))


def _rain(ctx: Ctx, streams: list[int], at_minutes: tuple[int, ...], mm_10min: float) -> None:
    for k in at_minutes:
        at = NOW + timedelta(minutes=k)
        for d in streams:
            body = {"Datastream": {"@iot.id": d}, "phenomenonTime": at.isoformat(), "result": mm_10min}
            r = ctx.client.post("/sta/v1.1/Observations", json=body, headers=ctx.headers)
            assert r.status_code == 201, r.text
    ctx.deliver()


def test_the_forecast_warns_the_underpass_and_the_homes_at_risk_and_ends_when_dry(ctx: Ctx) -> None:
    platform = ctx.platform
    svc = platform.services.get(FloodForecasts)
    svc.use(_catchment())
    streams = []
    for name, lon, lat in (("AWS west", 127.022, 37.50), ("AWS east", 127.045, 37.505)):
        r = ctx.client.post("/sta/v1.1/Things", json=weather_station(name, lon, lat), headers=ctx.headers)
        assert r.status_code == 201, r.text
        ds = ctx.client.get(f"/sta/v1.1/Things({r.json()['@iot.id']})/Datastreams", headers=ctx.headers)
        streams.append(int(ds.json()["value"][0]["@iot.id"]))
    near_low = subscribe(ctx, "low", {"kind": "point", "lon": offset(*LOW, 40)[0], "lat": LOW[1]})
    on_rim = subscribe(ctx, "rim", {"kind": "point", "lon": RIM[0], "lat": RIM[1]})

    _rain(ctx, streams, (-10, 0), 30.0)  # 180 mm/h over the last 20 minutes
    result = svc.run(NOW)
    assert result is not None
    at_risk = {p.place.code: p.risk for p in result.semi_basements_at_risk()}
    assert at_risk.get("b-low") == "high" and at_risk.get("b-rim") != "high", at_risk
    ctx.deliver()
    (draft,) = [d for d in ctx.drafts() if d["incidentId"] is None]
    xml = ctx.client.get(f"/alerts/{draft['identifier']}.xml", headers=ctx.headers).content
    assert validate(xml, XSD) == []
    ko = next(i for i in from_xml(xml).infos if i.language == "ko-KR")
    (area,) = ko.areas  # one district, 강남구
    assert area.area_desc == "강남구: 시험 지하차도, 반지하 주택 6세대"
    radii = sorted(float(c.split()[1]) for c in area.circles)
    assert radii == [BUILDING_RADIUS_KM, UNDERPASS_RADIUS_KM]  # 500 m apart: two circles
    assert ko.headline == "[지하차도 1곳·반지하 주택 6세대] 호우 침수 예측: 대비하십시오"
    assert (ko.instruction or "").splitlines()[:2] == [
        "반지하 주택에 계신 분은 물이 들어오기 전에 지상이나 높은 곳으로 대피할 준비를 하십시오.",
        "지하차도에 진입하지 마십시오.",
    ]
    detail = ctx.platform.warnings.get(draft["identifier"])
    assert detail.check.problems == () and detail.check.disagreements == ()
    assert len(detail.short_texts["ko"].text) <= 90

    r = ctx.client.post(f"/alerts/{draft['identifier']}/approve", headers=ctx.headers)
    assert r.status_code == 200, r.text
    issued = from_xml(ctx.client.get(f"/alerts/{draft['identifier']}.xml").content)
    targets = {x.subscription_id for x in platform.warnings.recipients_of(issued, [])}
    assert near_low in targets and on_rim not in targets
    here = ctx.client.get("/alerts/current", params={"lon": offset(*LOW, 40)[0], "lat": LOW[1]}).json()
    assert [w["identifier"] for w in here["warnings"]] == [draft["identifier"]]
    assert ctx.client.get("/alerts/current", params={"lon": RIM[0], "lat": RIM[1]}).json()["warnings"] == []

    # the next run predicts the same places: no new message
    assert isinstance(platform.clock, ManualClock)
    platform.clock.advance(timedelta(minutes=5))
    assert svc.run(NOW + timedelta(minutes=5)) is not None
    assert [d for d in ctx.drafts() if d["incidentId"] is None] == []

    # the rain is over and the streets are dry (a fresh analysis): the warning is cancelled at once
    svc.use(_catchment())
    platform.clock.advance(timedelta(minutes=15))
    _rain(ctx, streams, (10, 20), 0.0)
    assert svc.run(NOW + timedelta(minutes=20)) is None
    ctx.deliver()
    issued_now = ctx.client.get("/alerts", params={"state": "issued"}, headers=ctx.headers).json()["alerts"]
    cancel = next(a for a in issued_now if a["msgType"] == "Cancel" and a["incidentId"] is None)
    assert draft["identifier"] in str(cancel["references"]) and cancel["auto"] is True
    assert ctx.client.get("/alerts/current", params={"lon": LOW[0], "lat": LOW[1]}).json()["warnings"] == []
