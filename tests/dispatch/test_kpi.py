# SPDX-License-Identifier: Apache-2.0
"""Golden-time KPIs computed from calls worked on an injected clock, checked against figures by hand."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from safecity.app import Platform
from safecity.core.clock import ManualClock
from safecity.dispatch.kpi import kpis, to_csv
from safecity.dispatch.model import CallIn, StationIn, StatusIn, UnitIn, UnitStatus, UnitType
from safecity.dispatch.service import Dispatch
from safecity.dispatch.settings import DispatchSettings

START = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 2026-12-01 01:00 KST: December in Seoul


def _work(d: Dispatch, clock: ManualClock, unit: str, handling_s: int, travel_s: int, dong: str) -> None:
    call = d.receive_call(CallIn(type="ems_cardiac_arrest", dong=dong), "disp")
    clock.advance(timedelta(seconds=handling_s))
    d.dispatch(call.id, [unit], "disp")
    d.set_status(unit, StatusIn(status=UnitStatus.en_route), unit)
    clock.advance(timedelta(seconds=travel_s))
    d.set_status(unit, StatusIn(status=UnitStatus.on_scene), unit)
    d.set_status(unit, StatusIn(status=UnitStatus.returning), unit)
    d.set_status(unit, StatusIn(status=UnitStatus.available), unit)
    clock.advance(timedelta(minutes=30))


def test_kpis_by_hand(platform: Platform) -> None:
    clock = ManualClock(START)
    d = Dispatch(platform.store, platform.bus, clock, DispatchSettings())
    d.add_station(
        StationIn(code="s", name_ko="센터", name_en="Centre", district="11440", lon=126.95, lat=37.545)
    )
    d.add_unit(UnitIn(callsign="A1", type=UnitType.ambulance, station="s"), "admin")
    # 공덕동 (Mapo-gu): handling 80 s + travel 200 s = 280 s (within 5 and 7 min, not 4)
    _work(d, clock, "A1", 80, 200, "1144056500")
    # 공덕동: 60 + 150 = 210 s (within 4)
    _work(d, clock, "A1", 60, 150, "1144056500")
    # 청파동 (Yongsan-gu): 100 + 400 = 500 s (over 7)
    _work(d, clock, "A1", 100, 400, "1117055500")
    # a call never reached counts as a call, not in the shares
    d.receive_call(CallIn(type="ems_cardiac_arrest", dong="1144056500"), "disp")
    rows = {r.district: r for r in kpis(platform.store, month="2026-12")}
    mapo, yongsan = rows["11440"], rows["11170"]
    assert (mapo.calls, mapo.arrived) == (3, 2)
    assert mapo.handling_mean_s == 70.0 and mapo.travel_mean_s == 175.0 and mapo.response_mean_s == 245.0
    assert mapo.within == {4: 0.5, 5: 1.0, 7: 1.0}
    assert mapo.within_golden == 0.5  # cardiac arrest's golden time is 4 minutes
    assert yongsan.within == {4: 0.0, 5: 0.0, 7: 0.0} and yongsan.response_mean_s == 500.0
    assert kpis(platform.store, month="2026-11") == []
    table = list(csv.DictReader(io.StringIO(to_csv(kpis(platform.store)))))
    assert [(r["district"], r["within5min"], r["callTypeKo"]) for r in table] == [
        ("11170", "0.0", "심정지"),  # sorted by month, then district code
        ("11440", "1.0", "심정지"),
    ]
    from safecity.core.errors import BadRequest

    with pytest.raises(BadRequest, match="month"):
        kpis(platform.store, month="December")
