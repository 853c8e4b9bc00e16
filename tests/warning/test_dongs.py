# SPDX-License-Identifier: Apache-2.0
"""Alerts and subscriptions work by administrative dong (10-digit MOIS code) as well as by district."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from safecity.geo.importer import import_layer
from safecity.geo.seoul import DONGS_FILE, boundary_file
from safecity.settings import Settings
from safecity.situation.model import Crisis
from safecity.warning.bands import Step
from safecity.warning.cap.xml import from_xml
from safecity.warning.drafting import DONG_GEOCODE
from safecity.warning.incident_view import AreaLevel, IncidentView
from tests.warning.test_alert_api import XSD, Ctx, _ctx
from tests.warning.test_point_alerts import subscribe

NORYANGJIN1 = "1159051000"  # 노량진1동, 동작구
NORYANGJIN2_POINT = (126.9377, 37.51182)  # in 노량진2동, same district
NORYANGJIN1_POINT = (126.95078, 37.51246)


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Ctx]:
    for c in _ctx(settings.model_copy(update={"cap_xsd": XSD}).with_warning(auto_levels=[2, 3])):
        with boundary_file(DONGS_FILE) as path:
            import_layer(c.platform, path, "dongs")
        yield c


def test_a_district_alert_reaches_dong_subscribers_and_a_dong_asks_for_its_district(ctx: Ctx) -> None:
    dong_sub = subscribe(ctx, "dong", {"kind": "dong", "code": NORYANGJIN1})
    ctx.incident(2, ["11590"], hazard="heat_wave")
    (alert,) = ctx.client.get("/alerts", params={"state": "issued"}, headers=ctx.headers).json()["alerts"]
    cap = from_xml(ctx.client.get(f"/alerts/{alert['identifier']}.xml").content)
    assert dong_sub in {
        r.subscription_id for r in ctx.platform.warnings.recipients_of(cap, alert["districts"])
    }
    found = ctx.client.get("/alerts/current", params={"district": NORYANGJIN1}).json()["warnings"]
    assert [w["identifier"] for w in found] == [alert["identifier"]]


def test_an_alert_for_one_dong_reaches_that_dong_only(ctx: Ctx) -> None:
    in_dong = subscribe(
        ctx, "in", {"kind": "point", "lon": NORYANGJIN1_POINT[0], "lat": NORYANGJIN1_POINT[1]}
    )
    next_dong = subscribe(
        ctx, "next", {"kind": "point", "lon": NORYANGJIN2_POINT[0], "lat": NORYANGJIN2_POINT[1]}
    )
    by_code = subscribe(ctx, "code", {"kind": "dong", "code": NORYANGJIN1})
    w = ctx.platform.warnings
    incident = ctx.incident(2, ["11590"], hazard="heat_wave")  # an incident to hang the dong alert on
    view = IncidentView(
        incident,
        "heat_wave",
        "open",
        Crisis.caution,
        "폭염",
        "Heat",
        (AreaLevel(NORYANGJIN1, "노량진1동", "Noryangjin 1-dong", Crisis.caution),),
        None,
        (),
        {},
    )
    ident = w._draft(
        view, Step("Alert", Crisis.caution, (NORYANGJIN1,), None, lowering=False), "test", w.clock.now()
    )
    issued = w.issue(ident, "duty-officer")
    cap = from_xml(w.xml(ident))
    (area,) = cap.infos[0].areas
    assert [(g.value_name, g.value) for g in area.geocodes] == [(DONG_GEOCODE, NORYANGJIN1)] and area.polygons
    assert "노량진1동" in (cap.infos[0].headline or "")
    reached = {r.subscription_id for r in w.recipients_of(cap, issued.districts)}
    assert in_dong in reached and by_code in reached and next_dong not in reached
