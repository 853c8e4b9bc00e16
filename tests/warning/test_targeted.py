# SPDX-License-Identifier: Apache-2.0
"""Targeted warnings (safecity.warning.targeted): one CAP alert with several <area> blocks and several
circles, reaching whoever is inside any of them and nobody by district code; its thread goes Alert,
Update (only when a new spot lies outside the alert in force), Cancel."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import shapely

from safecity.core.errors import BadRequest
from safecity.settings import Settings
from safecity.situation.model import Crisis
from safecity.warning.cap.xml import from_xml, validate
from safecity.warning.recipients import alert_area
from safecity.warning.targeted import (
    MAX_CIRCLES,
    TargetArea,
    TargetedAlerts,
    TargetedWarning,
    TargetSpot,
    merge_circles,
)
from tests.warning.test_alert_api import XSD, Ctx, _ctx
from tests.warning.test_point_alerts import offset, subscribe

UNDERPASS = (126.8890, 37.4990)  # 구로구 (11530)
HOMES = (126.9300, 37.4800)  # 관악구 (11620)
BETWEEN = (126.9095, 37.4895)  # about 2 km from both


def warning(*extra: tuple[float, float]) -> TargetedWarning:
    areas = [
        TargetArea(
            {"ko": "구로구: 시험 지하차도", "en": "Guro-gu: Test underpass"},
            (TargetSpot(*UNDERPASS, 0.3),),
            "11530",
        ),
        TargetArea(
            {"ko": "관악구: 반지하 주택 24세대", "en": "Gwanak-gu: 24 semi-basement homes"},
            tuple(TargetSpot(lon, lat, 0.1) for lon, lat in (HOMES, *extra)),
            "11620",
        ),
    ]
    return TargetedWarning(
        hazard="heavy_rain",
        level=Crisis.caution,
        areas=tuple(areas),
        stage={"ko": "호우 침수 예측", "en": "Heavy rain flooding forecast"},
        place={"ko": "지하차도 1곳·반지하 주택 24세대", "en": "1 underpass, 24 semi-basement homes"},
        detail={
            "ko": "홍수 모델 예측(60분 이내): 지하차도 1곳 수심 15 cm 이상 침수 예상.",
            "en": "Flood model forecast (within 60 minutes): 1 underpass 15 cm deep or more expected.",
        },
        instruction={
            "ko": ("반지하 주택에 계신 분은 물이 들어오기 전에 지상으로 대피할 준비를 하십시오.",),
            "en": ("If you live in a semi-basement home, be ready to move upstairs before water comes in.",),
        },
    )


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Ctx]:
    yield from _ctx(settings.model_copy(update={"cap_xsd": XSD}))


@pytest.fixture
def auto_ctx(settings: Settings) -> Iterator[Ctx]:
    yield from _ctx(settings.model_copy(update={"cap_xsd": XSD}).with_warning(auto_levels=[2]))


def _alert(ctx: Ctx, identifier: str) -> dict[str, object]:
    r = ctx.client.get(f"/alerts/{identifier}", headers=ctx.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_one_alert_reaches_every_circle_and_nobody_by_district(ctx: Ctx) -> None:
    targeted = ctx.platform.services.get(TargetedAlerts)
    near_underpass = subscribe(
        ctx, "u", {"kind": "point", "lon": offset(*UNDERPASS, 150)[0], "lat": UNDERPASS[1]}
    )
    near_homes = subscribe(ctx, "h", {"kind": "point", "lon": offset(*HOMES, 50)[0], "lat": HOMES[1]})
    between = subscribe(ctx, "b", {"kind": "point", "lon": BETWEEN[0], "lat": BETWEEN[1]})
    whole_district = subscribe(ctx, "d", {"kind": "district", "code": "11620"})

    (ident,) = targeted.warn("flood-forecast", warning())
    ctx.deliver()
    (draft,) = ctx.drafts()  # 주의 is not automatic here: an operator approves it
    assert (
        draft["identifier"] == ident
        and draft["incidentId"] is None
        and draft["districts"] == ["11530", "11620"]
    )
    xml = ctx.client.get(f"/alerts/{ident}.xml", headers=ctx.headers).content
    assert validate(xml, XSD) == []
    cap = from_xml(xml)
    for info in cap.infos:
        assert [len(a.circles) for a in info.areas] == [1, 1]  # two <area> blocks, a circle each
        assert all(not a.polygons and not a.geocodes for a in info.areas)  # never a district by code
        assert info.certainty.value == "Likely"
    ko = next(i for i in cap.infos if i.language == "ko-KR")
    assert [a.area_desc for a in ko.areas] == ["구로구: 시험 지하차도", "관악구: 반지하 주택 24세대"]
    assert (ko.instruction or "").startswith("반지하 주택에 계신 분은")
    # the short texts: hazard, action, place, within the 90 characters, Korean and English agreeing
    check = ctx.platform.warnings.text_check(ctx.platform.warnings.get(ident).cap)
    assert check.problems == () and check.disagreements == ()
    shorts = ctx.platform.warnings.short_texts(ctx.platform.warnings.get(ident).cap)
    assert "호우 침수 예측, 대비하십시오" in shorts["ko"].text and len(shorts["ko"].text) <= 90
    assert "지하차도 1곳·반지하 주택 24세대" in shorts["ko"].text

    r = ctx.client.post(f"/alerts/{ident}/approve", headers=ctx.headers)
    assert r.status_code == 200, r.text
    issued = from_xml(ctx.client.get(f"/alerts/{ident}.xml").content)
    targets = {r.subscription_id for r in ctx.platform.warnings.recipients_of(issued, [])}
    assert near_underpass in targets and near_homes in targets
    assert between not in targets and whole_district in targets  # the district's shape overlaps a circle

    # the citizen page: inside either circle sees it; between them, or by district code alone, not
    def current(**params: object) -> list[dict[str, object]]:
        return list(ctx.client.get("/alerts/current", params=params).json()["warnings"])

    assert [w["identifier"] for w in current(lon=offset(*HOMES, 50)[0], lat=HOMES[1])] == [ident]
    assert [w["identifier"] for w in current(lon=UNDERPASS[0], lat=UNDERPASS[1])] == [ident]
    assert current(lon=BETWEEN[0], lat=BETWEEN[1]) == [] and current(district="11620") == []

    # the next forecast says the same: no new message
    assert targeted.warn("flood-forecast", warning()) == []
    # a new spot outside the alert in force: an Update referencing it, drafted for the operator
    further = offset(*HOMES, 1500)
    (update,) = targeted.warn("flood-forecast", warning(further))
    row = _alert(ctx, update)
    assert row["msgType"] == "Update" and row["state"] == "draft"
    assert ident in str(row["cap"]["references"])  # type: ignore[index]
    # nothing at risk any more: the pending Update goes, a Cancel to the same circles goes out at once
    (cancel,) = targeted.end("flood-forecast")
    assert _alert(ctx, update)["state"] == "superseded"
    done = from_xml(ctx.client.get(f"/alerts/{cancel}.xml").content)
    assert done.msg_type.value == "Cancel" and done.references and ident in str(done.references)
    assert alert_area(done) is not None and alert_area(done).equals(alert_area(issued))  # type: ignore[union-attr]
    assert validate(ctx.client.get(f"/alerts/{cancel}.xml").content, XSD) == []
    assert current(lon=UNDERPASS[0], lat=UNDERPASS[1]) == []
    assert targeted.end("flood-forecast") == []  # nothing in force: nothing to say


def test_an_automatic_thread_updates_itself(auto_ctx: Ctx) -> None:
    targeted = auto_ctx.platform.services.get(TargetedAlerts)
    (first,) = targeted.warn("flood-forecast", warning())
    assert _alert(auto_ctx, first)["state"] == "issued" and _alert(auto_ctx, first)["auto"] is True
    (update,) = targeted.warn("flood-forecast", warning(offset(*HOMES, 1500)))
    assert _alert(auto_ctx, update)["state"] == "issued" and _alert(auto_ctx, update)["msgType"] == "Update"
    # a spot that dropped out stays covered: fewer spots is no new message
    assert targeted.warn("flood-forecast", warning()) == []


def test_a_draft_waiting_for_an_operator_is_not_drafted_again(ctx: Ctx) -> None:
    targeted = ctx.platform.services.get(TargetedAlerts)
    (draft,) = targeted.warn("flood-forecast", warning())
    assert targeted.warn("flood-forecast", warning()) == []
    assert [d["identifier"] for d in ctx.drafts()] == [draft]
    # a wider one replaces it
    (wider,) = targeted.warn("flood-forecast", warning(offset(*HOMES, 1500)))
    assert [d["identifier"] for d in ctx.drafts()] == [wider] and _alert(ctx, draft)["state"] == "superseded"


def test_bad_targeted_warnings_name_the_field(ctx: Ctx) -> None:
    targeted = ctx.platform.services.get(TargetedAlerts)
    good = warning()
    with pytest.raises(BadRequest, match="thread"):
        targeted.warn("Flood Forecast", good)
    bad_en = TargetedWarning(**{**good.__dict__, "stage": {"ko": "호우 침수 예측"}})
    with pytest.raises(BadRequest, match=r"stage\.en"):
        targeted.warn("flood-forecast", bad_en)
    no_spots = TargetedWarning(**{**good.__dict__, "areas": ()})
    with pytest.raises(BadRequest, match="spot"):
        targeted.warn("flood-forecast", no_spots)
    assert ctx.drafts() == []


def test_many_spots_merge_into_few_circles_that_cover_every_one() -> None:
    # 400 semi-basement buildings on a 20 x 20 grid 150 m apart: their 0.1 km circles overlap in chains
    kx = 111.32 * math.cos(math.radians(37.48))
    spots = [
        TargetSpot(126.92 + 0.15 * i / kx, 37.47 + 0.15 * j / 111.32, 0.1)
        for i in range(20)
        for j in range(20)
    ]
    scattered = [TargetSpot(126.80 + 0.05 * k, 37.45 + 0.01 * (k % 3), 0.1) for k in range(8)]
    merged = merge_circles([*spots, *scattered], max_circles=MAX_CIRCLES)
    assert 1 < len(merged) <= MAX_CIRCLES
    union = shapely.union_all([shapely.Point(c.lon * kx, c.lat * 111.32).buffer(c.radius_km) for c in merged])
    for s in [*spots, *scattered]:
        assert union.buffer(1e-6).covers(shapely.Point(s.lon * kx, s.lat * 111.32).buffer(s.radius_km * 0.99))
    # scattered spots 4 km apart stay apart when there is room
    assert len(merge_circles(scattered)) == len(scattered)
    assert len(merge_circles(scattered, max_circles=3)) <= 3


def test_an_operator_rejects_and_cancels_and_the_forecasts_respect_it(ctx: Ctx) -> None:
    targeted = ctx.platform.services.get(TargetedAlerts)
    (draft,) = targeted.warn("flood-forecast", warning())
    r = ctx.client.post(f"/alerts/{draft}/reject", json={"reason": "물이 빠지고 있음"}, headers=ctx.headers)
    assert r.status_code == 200, r.text
    # the next forecasts say the same: the operator's "no" stands; a wider set asks again
    assert targeted.warn("flood-forecast", warning()) == []
    (wider,) = targeted.warn("flood-forecast", warning(offset(*HOMES, 1500)))
    assert ctx.client.post(f"/alerts/{wider}/approve", headers=ctx.headers).status_code == 200
    # the operator withdraws it: a Cancel to its circles, with the reason, at once
    r = ctx.client.post(
        f"/alerts/{wider}/cancel", json={"reason": "현장 확인 결과 침수 없음"}, headers=ctx.headers
    )
    assert r.status_code == 200, r.text
    cancel = r.json()
    assert (
        cancel["msgType"] == "Cancel"
        and cancel["state"] == "issued"
        and cancel["decidedBy"] == "duty-officer"
    )
    xml = ctx.client.get(f"/alerts/{cancel['identifier']}.xml").content
    assert validate(xml, XSD) == [] and from_xml(xml).note == "현장 확인 결과 침수 없음"
    assert (
        ctx.client.get("/alerts/current", params={"lon": HOMES[0], "lat": HOMES[1]}).json()["warnings"] == []
    )
    # only the alert in force can be cancelled, and only with a reason
    again = ctx.client.post(f"/alerts/{wider}/cancel", json={"reason": "again"}, headers=ctx.headers)
    assert again.status_code == 409, again.text


def test_after_an_operator_cancels_an_automatic_warning_the_next_one_waits_for_them(auto_ctx: Ctx) -> None:
    targeted = auto_ctx.platform.services.get(TargetedAlerts)
    (first,) = targeted.warn("flood-forecast", warning())
    assert _alert(auto_ctx, first)["state"] == "issued"
    r = auto_ctx.client.post(f"/alerts/{first}/cancel", json={"reason": "오경보"}, headers=auto_ctx.headers)
    assert r.status_code == 200, r.text
    (next_one,) = targeted.warn("flood-forecast", warning())
    row = _alert(auto_ctx, next_one)
    assert row["state"] == "draft" and row["msgType"] == "Alert"  # not issued by itself this time
    # nothing in force: nothing to end
    assert targeted.end("flood-forecast") == []
