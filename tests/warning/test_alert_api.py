# SPDX-License-Identifier: Apache-2.0
"""The alert workflow through the API: drafts from incidents, edit, approve, reject, automatic levels,
imports of other agencies' CAP, the public feed and CAP documents, and who may see what."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from fastapi.testclient import TestClient

from safecity.app import Platform, build_platform, create_app
from safecity.auth.model import Role
from safecity.core.clock import ManualClock
from safecity.geo.importer import import_layer
from safecity.settings import Settings
from safecity.situation.incident_inputs import ManualIncidentIn
from safecity.warning.cap.xml import from_xml, validate
from tests.conftest import SHARED
from tests.geo.data import MOIS_DISTRICTS

XSD = SHARED / "data" / "cap" / "schema" / "CAP-v1.2.xsd"
ALERTS = sorted((SHARED / "data" / "cap" / "alerts").iterdir())
NOW = datetime(2026, 7, 15, 5, 0, tzinfo=UTC)


class Ctx:
    def __init__(self, platform: Platform, client: TestClient, headers: dict[str, str]) -> None:
        self.platform = platform
        self.client = client
        self.headers = headers

    def incident(self, level: int, districts: list[str], hazard: str = "heavy_rain") -> int:
        body = ManualIncidentIn.model_validate(
            {
                "hazard": hazard,
                "level": level,
                "title_ko": "저지대 침수 신고",
                "title_en": "Flooding reported in low-lying streets",
                "districts": districts,
            }
        )
        incident = self.platform.incidents.open_manual(body, "duty-officer")
        self.deliver()
        return incident.id

    def deliver(self) -> None:
        while self.platform.bus.pending():
            self.platform.bus.drain()

    def drafts(self) -> list[dict[str, Any]]:
        r = self.client.get("/alerts", params={"state": "draft"}, headers=self.headers)
        assert r.status_code == 200, r.text
        return list(r.json()["alerts"])


def _ctx(settings: Settings) -> Iterator[Ctx]:
    platform = build_platform(settings, ManualClock(NOW))
    import_layer(platform, MOIS_DISTRICTS, "districts")
    app = create_app(settings, platform, start_services=False)
    platform.auth.create_user("duty-officer", "duty-officer-password", {Role.operator})
    platform.warnings.start()
    with TestClient(app) as client:
        r = client.post("/auth/token", data={"username": "duty-officer", "password": "duty-officer-password"})
        yield Ctx(platform, client, {"Authorization": f"Bearer {r.json()['access_token']}"})
    platform.bus.stop()
    platform.store.close()


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Ctx]:
    yield from _ctx(settings.model_copy(update={"cap_xsd": XSD}))


@pytest.fixture
def auto_ctx(settings: Settings) -> Iterator[Ctx]:
    yield from _ctx(
        settings.model_copy(update={"cap_xsd": XSD}).with_warning(auto_levels=[4], auto_evacuate=True)
    )


def test_an_incident_drafts_a_bilingual_alert_that_the_operator_edits_and_approves(ctx: Ctx) -> None:
    ctx.incident(3, ["11590"])
    (draft,) = ctx.drafts()
    assert draft["msgType"] == "Alert" and draft["level"] == 3 and draft["districts"] == ["11590"]
    assert "동작구" in draft["headlines"]["ko"] and "Dongjak" in draft["headlines"]["en"]
    # a draft is not public
    assert ctx.client.get(f"/alerts/{draft['identifier']}.xml").status_code == 404
    xml = ctx.client.get(f"/alerts/{draft['identifier']}.xml", headers=ctx.headers).content
    assert validate(xml, XSD) == []
    r = ctx.client.patch(
        f"/alerts/{draft['identifier']}",
        json={"ko": {"instruction": "반지하 주민은 즉시 지상으로 대피하십시오."}},
        headers=ctx.headers,
    )
    assert r.status_code == 200, r.text
    bad = ctx.client.patch(
        f"/alerts/{draft['identifier']}", json={"ko": {"colour": "red"}}, headers=ctx.headers
    )
    assert bad.status_code == 400 and "colour" in bad.text
    r = ctx.client.post(f"/alerts/{draft['identifier']}/approve", headers=ctx.headers)
    assert r.status_code == 200, r.text
    issued = r.json()
    assert issued["state"] == "issued" and issued["decidedBy"] == "duty-officer"
    assert [e["action"] for e in issued["log"]] == ["drafted", "edited", "issued"]
    cap = from_xml(ctx.client.get(f"/alerts/{draft['identifier']}.xml").content)  # public once issued
    ko = next(i for i in cap.infos if i.language == "ko-KR")
    assert ko.instruction == "반지하 주민은 즉시 지상으로 대피하십시오."
    assert (ko.severity.value, ko.urgency.value) == ("Severe", "Immediate")
    assert ko.areas[0].polygons and ko.areas[0].geocodes[0].value == "11590"
    # issuing twice is refused
    assert ctx.client.post(f"/alerts/{draft['identifier']}/approve", headers=ctx.headers).status_code == 409
    # the JSON rendition carries the same alert
    assert ctx.client.get(f"/alerts/{draft['identifier']}.json").json()["identifier"] == draft["identifier"]


def test_reject_needs_a_reason_and_a_new_level_replaces_the_pending_draft(ctx: Ctx) -> None:
    incident = ctx.incident(2, ["11620"])
    (first,) = ctx.drafts()
    r = ctx.client.post(f"/alerts/{first['identifier']}/reject", json={"reason": ""}, headers=ctx.headers)
    assert r.status_code == 400
    # the incident escalates before anyone approved: the old draft is superseded by one for the new level
    ctx.platform.incidents.transition(incident, "acknowledged", "duty-officer")
    ctx.platform.warnings.draft_for(incident)  # nothing new: same level and areas
    assert [d["identifier"] for d in ctx.drafts()] == [first["identifier"]]
    r = ctx.client.post(
        f"/alerts/{first['identifier']}/reject", json={"reason": "known drain works"}, headers=ctx.headers
    )
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    assert ctx.drafts() == []


def test_levels_configured_as_automatic_are_issued_at_once(auto_ctx: Ctx) -> None:
    auto_ctx.incident(4, ["11680"])
    assert auto_ctx.drafts() == []
    (alert,) = auto_ctx.client.get("/alerts", params={"state": "issued"}, headers=auto_ctx.headers).json()[
        "alerts"
    ]
    assert alert["auto"] is True and alert["decidedBy"] == "system"
    full = auto_ctx.client.get(f"/alerts/{alert['identifier']}", headers=auto_ctx.headers).json()
    assert [e["action"] for e in full["log"]] == ["drafted", "auto-issued"]
    feed = feedparser.parse(auto_ctx.client.get("/alerts/feed.atom").content)
    assert feed.bozo == 0
    (entry,) = feed.entries
    assert any(link["type"] == "application/cap+xml" for link in entry.links)
    # the per-area feed has it for 강남구 and not for 종로구
    assert len(feedparser.parse(auto_ctx.client.get("/alerts/feed.atom?district=11680").content).entries) == 1
    assert feedparser.parse(auto_ctx.client.get("/alerts/feed.atom?district=11110").content).entries == []


@pytest.mark.parametrize("path", ALERTS, ids=lambda p: p.name)
def test_real_alerts_of_other_agencies_import_without_loss_and_show_on_the_board(
    ctx: Ctx, path: Path
) -> None:
    data = path.read_bytes()
    r = ctx.client.post(
        "/alerts/import", content=data, headers={**ctx.headers, "Content-Type": "application/cap+xml"}
    )
    assert r.status_code == 201, r.text
    (imported,) = r.json()["imported"]
    assert imported["origin"] == "import"
    original = from_xml(data)
    again = from_xml(ctx.client.get(f"/alerts/{imported['identifier']}.xml").content)
    assert again == original  # every field kept
    board = ctx.client.get("/situation", headers=ctx.headers).json()
    assert [a["identifier"] for a in board["externalAlerts"]] == [original.identifier]
    # the same alert twice is a conflict, not a second copy
    assert ctx.client.post("/alerts/import", content=data, headers=ctx.headers).status_code == 409


def test_unsafe_and_foreign_documents_are_refused(ctx: Ctx) -> None:
    edge = SHARED / "data" / "cap" / "invalid_or_edge"
    for name in (
        "google__xee_xml_external_entity_attack.cap",
        "google__weather_cap11.cap",
        "capparselib__invalid.cap",
    ):
        r = ctx.client.post("/alerts/import", content=(edge / name).read_bytes(), headers=ctx.headers)
        assert r.status_code == 400, (name, r.text)
        assert r.json()["message"]
    assert ctx.client.get("/alerts", params={"origin": "import"}, headers=ctx.headers).json()["alerts"] == []


def test_roles(ctx: Ctx) -> None:
    assert ctx.client.get("/alerts").status_code == 401
    assert ctx.client.post("/alerts/import", content=ALERTS[0].read_bytes()).status_code == 401
    assert ctx.client.get("/alerts/feed.atom").status_code == 200


def test_a_point_hazard_warns_a_circle_around_it(ctx: Ctx) -> None:
    body = ManualIncidentIn.model_validate(
        {
            "hazard": "gas",
            "level": 3,
            "title_ko": "도시가스 누출 신고",
            "title_en": "Gas leak reported",
            "lon": 126.9780,
            "lat": 37.5665,
        }
    )
    ctx.platform.incidents.open_manual(body, "duty-officer")
    ctx.deliver()
    (draft,) = ctx.drafts()
    xml = ctx.client.get(f"/alerts/{draft['identifier']}.xml", headers=ctx.headers).content
    assert validate(xml, XSD) == []
    area = from_xml(xml).infos[0].areas[0]
    # CAP circle "lat,lon radius_km": 0.5 km around the leak, and no district code (a receiver targeting
    # by code would warn the whole of 중구)
    assert area.circles == ("37.56650,126.97800 0.5",)
    assert area.geocodes == () and "중구" in area.area_desc
    assert "반경 0.5km" in area.area_desc


def test_an_evacuation_alert_names_the_nearest_open_shelters(ctx: Ctx) -> None:
    from tests.geo.data import SHELTERS

    # the shared data's civil-defence shelters are underground: not a place to flee a flood to
    import_layer(ctx.platform, SHELTERS, "shelters")
    r = ctx.client.post(
        "/shelters",
        json={
            "kind": "temporary_housing",
            "name_ko": "덕수초등학교",
            "name_en": "Deoksu Elementary School",
            "capacity": 400,
            "geometry": {"type": "Point", "coordinates": [126.9745, 37.5662]},
        },
        headers=ctx.headers,
    )
    assert r.status_code == 201, r.text
    ctx.incident(3, ["11140"])  # 중구
    (draft,) = ctx.drafts()
    cap = from_xml(ctx.client.get(f"/alerts/{draft['identifier']}.xml", headers=ctx.headers).content)
    ko = next(i for i in cap.infos if i.language == "ko-KR")
    en = next(i for i in cap.infos if i.language == "en-US")
    assert ko.response_types[0].value == "Evacuate"
    assert "가까운 대피소: 덕수초등학교" in (ko.instruction or "")
    assert "Nearest open shelters: Deoksu Elementary School" in (en.instruction or "")


ZH = """
language = "zh-CN"
city = "首尔特别市"
sender_name = "首尔市灾难安全对策本部"
place_names = "en"
headline = "[{places}] {stage}：{action}"
description = "{places}：{stage}（{level}）。"
cancel_headline = "[{places}] {stage} 解除"
cancel_description = "{places}的{hazard}情况已经结束。"
cancel_instruction = "在确认安全之前，请勿靠近受灾地区。"
around = "半径 {km} 公里"
shelters = "附近的避难所：{names}"
[actions]
Evacuate = "请立即避难"
Shelter = "请在室内避难"
Avoid = "请勿靠近"
Execute = "请遵守安全守则"
Prepare = "请做好准备"
Monitor = "请关注最新消息"
[levels]
attention = "关注"
caution = "注意"
alert = "警戒"
serious = "严重"
none = "正常"
[hazards]
heavy_rain = "暴雨"
other = "其他"
"""


def test_a_city_adds_a_language_with_a_wording_file(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "zh.toml").write_text(ZH, encoding="utf-8")
    s = settings.model_copy(update={"cap_xsd": XSD}).with_warning(
        languages=["ko", "en", "zh"], wording_dir=tmp_path
    )
    for c in _ctx(s):
        c.incident(3, ["11590"])
        (draft,) = c.drafts()
        xml = c.client.get(f"/alerts/{draft['identifier']}.xml", headers=c.headers).content
        assert validate(xml, XSD) == []
        zh = next(i for i in from_xml(xml).infos if i.language == "zh-CN")
        assert zh.headline == "[Dongjak-gu] 暴雨 警戒：请立即避难"
        assert zh.event == "暴雨"
        r = c.client.patch(
            f"/alerts/{draft['identifier']}", json={"zh": {"headline": "东雀区 暴雨警报"}}, headers=c.headers
        )
        assert r.status_code == 200, r.text


def test_a_language_without_wording_is_a_configuration_error(settings: Settings) -> None:
    from safecity.core.errors import ConfigError

    with pytest.raises(ConfigError, match="no alert wording for language 'vi'"):
        build_platform(settings.with_warning(languages=["ko", "en", "vi"]))


def test_current_warnings_for_a_place_in_a_language_with_the_guide_for_a_profile(auto_ctx: Ctx) -> None:
    incident = auto_ctx.incident(4, ["11680"])
    c = auto_ctx.client
    (w,) = c.get("/alerts/current", params={"district": "11680"}).json()["warnings"]  # public, no login
    assert w["category"] == "긴급재난문자"  # 위급 is for war, air raids and strong earthquakes only
    assert w["headline"].startswith("[강남구]") and w["guide"]["lines"]
    # a point inside 강남구 (COEX) has it; a point in 종로구 has nothing
    inside = c.get("/alerts/current", params={"lon": 127.0588, "lat": 37.5116, "lang": "en"}).json()[
        "warnings"
    ]
    assert [x["identifier"] for x in inside] == [w["identifier"]]
    assert inside[0]["language"] == "en-US" and inside[0]["category"] == "Urgent disaster alert"
    elderly = c.get("/alerts/current", params={"district": "11680", "audience": "elderly"}).json()["warnings"]
    assert elderly[0]["guide"]["audience"] == "elderly"
    assert c.get("/alerts/current", params={"lon": 126.9780, "lat": 37.5729}).json()["warnings"] == []
    # once the incident is closed, the Cancel ends the warning
    auto_ctx.platform.incidents.transition(incident, "closed", "duty-officer")
    auto_ctx.deliver()
    assert c.get("/alerts/current", params={"district": "11680"}).json()["warnings"] == []
    assert c.get("/alerts/current", params={"lon": 127.0}).status_code == 400
    assert c.get("/alerts/current").status_code == 400


def test_every_alert_expires_and_one_whose_condition_lasts_is_renewed_before_it_does(ctx: Ctx) -> None:
    from datetime import timedelta

    clock = ctx.platform.warnings.clock
    assert isinstance(clock, ManualClock)
    ctx.incident(3, ["11590"])
    (draft,) = ctx.drafts()
    ctx.client.post(f"/alerts/{draft['identifier']}/approve", headers=ctx.headers)
    cap = from_xml(ctx.client.get(f"/alerts/{draft['identifier']}.xml").content)
    # heavy rain: valid 3 h (warning/policy.toml) from the moment it went out
    assert {i.expires - cap.sent for i in cap.infos if i.expires} == {timedelta(hours=3)}
    assert ctx.platform.warnings.renew() == []  # far from its expiry: nothing to do
    clock.set(NOW + timedelta(hours=2))
    (renewed,) = ctx.platform.warnings.renew()
    assert renewed.msg_type == "Update" and renewed.auto and renewed.references
    assert draft["identifier"] in renewed.references
    again = from_xml(ctx.client.get(f"/alerts/{renewed.identifier}.xml").content)
    assert again.infos[0].expires == NOW + timedelta(hours=5)
    # past its expiry an alert is no longer in force on the citizen page, even without a Cancel
    clock.set(NOW + timedelta(hours=6))
    assert ctx.client.get("/alerts/current", params={"district": "11590"}).json()["warnings"] == []


def test_an_evacuation_order_waits_for_an_operator_unless_the_city_enables_it(settings: Settings) -> None:
    for c in _ctx(settings.model_copy(update={"cap_xsd": XSD}).with_warning(auto_levels=[3])):
        c.incident(3, ["11590"])  # heavy rain 경계: evacuate -> drafted, not issued
        (draft,) = c.drafts()
        assert draft["msgType"] == "Alert" and draft["level"] == 3
        c.incident(3, ["11680"], hazard="heat_wave")  # 경계 heat: safety actions -> issued at once
        issued = c.client.get("/alerts", params={"state": "issued"}, headers=c.headers).json()["alerts"]
        assert [(a["hazard"], a["auto"]) for a in issued] == [("heat_wave", True)]
        full = c.client.get(f"/alerts/{issued[0]['identifier']}", headers=c.headers).json()
        assert full["shortTexts"]["ko"]["category"] == "안전안내문자"  # heat is safety guidance
        assert full["problems"] == [] and full["disagreements"] == []


def test_the_composer_checks_edits_for_problems_and_disagreements_without_saving(ctx: Ctx) -> None:
    ctx.incident(3, ["11590"])
    (draft,) = ctx.drafts()
    ident = draft["identifier"]
    full = ctx.client.get(f"/alerts/{ident}", headers=ctx.headers).json()
    assert full["problems"] == [] and full["disagreements"] == []
    ko = full["shortTexts"]["ko"]
    assert ko["category"] == "긴급재난문자" and ko["max"] == 90 and ko["chars"] <= 90
    assert ko["text"].startswith("[서울특별시] 호우") and "대피하십시오 [Heavy Rain] Evacuate" in ko["text"]
    edits = {
        "ko": {"short": "[서울특별시] 동작구 주민은 오후 3시까지 안전한 곳으로 이동하세요."},
        "en": {"short": "[Seoul] Heavy rain: evacuate now. Dongjak-gu, by 4 pm."},
    }
    r = ctx.client.post(f"/alerts/{ident}/check", json=edits, headers=ctx.headers)
    assert r.status_code == 200, r.text
    checked = r.json()
    assert any("ko: the hazard is missing" in p for p in checked["problems"])
    assert any("ko: the action is missing" in p for p in checked["problems"])
    assert any("different numbers" in d and "3" in d and "4" in d for d in checked["disagreements"])
    # nothing was saved
    assert (
        ctx.client.get(f"/alerts/{ident}", headers=ctx.headers).json()["shortTexts"]["ko"]["edited"] is False
    )
    r = ctx.client.post(f"/alerts/{ident}/check", json={"ko": {"colour": "red"}}, headers=ctx.headers)
    assert r.status_code == 422 or r.status_code == 400


def test_a_text_with_a_problem_is_not_issued_automatically_but_shown_to_the_operator(
    settings: Settings, tmp_path: Path
) -> None:
    from safecity.warning.wording import BUILTIN

    # a city's wording whose hazard name alone overflows a text message
    ko = (BUILTIN / "ko.toml").read_text(encoding="utf-8")
    (tmp_path / "ko.toml").write_text(
        ko.replace('heat_wave = "폭염"', f'heat_wave = "{"폭염" * 50}"'), "utf-8"
    )
    s = settings.model_copy(update={"cap_xsd": XSD}).with_warning(auto_levels=[2], wording_dir=tmp_path)
    for c in _ctx(s):
        c.incident(2, ["11680"], hazard="heat_wave")
        (draft,) = c.drafts()  # level 2 is automatic, but not with a broken text
        full = c.client.get(f"/alerts/{draft['identifier']}", headers=c.headers).json()
        assert any(p.startswith("ko: too long") for p in full["problems"]), full["problems"]


def test_a_district_changing_level_inside_its_incident_replans_the_incidents_alerts(ctx: Ctx) -> None:
    incident = ctx.incident(3, ["11590"])
    (draft,) = ctx.drafts()
    ctx.client.post(f"/alerts/{draft['identifier']}/reject", json={"reason": "checking"}, headers=ctx.headers)
    assert ctx.drafts() == []
    # the situation's district-scope event names the incidents the district's level counts in
    event = {
        "scope": "district",
        "district": "11590",
        "hazard": "heavy_rain",
        "level": 3,
        "incidents": [incident],
    }
    ctx.platform.warnings.on_incident_events([event])
    (again,) = ctx.drafts()
    assert again["incidentId"] == incident and again["districts"] == ["11590"]


def test_an_earthquake_alert_is_worded_for_after_the_shaking(ctx: Ctx) -> None:
    ctx.incident(3, ["11590"], hazard="earthquake")
    (draft,) = ctx.drafts()
    cap = from_xml(ctx.client.get(f"/alerts/{draft['identifier']}.xml", headers=ctx.headers).content)
    ko = next(i for i in cap.infos if i.language == "ko-KR")
    assert "여진" in (ko.instruction or "") and "탁자" not in (
        ko.instruction or ""
    )  # aftershocks, not "duck"
    full = ctx.client.get(f"/alerts/{draft['identifier']}", headers=ctx.headers).json()
    assert full["shortTexts"]["ko"]["category"] == "안전안내문자"  # KMA sends the earthquake texts


#: The JSON of one alert in the lists (GET /alerts, the board), key by key in order: the service returns
#: typed AlertSummary values now, and the HTTP answer must stay what clients were written against.
SUMMARY_KEYS = [
    "identifier",
    "sender",
    "state",
    "msgType",
    "origin",
    "incidentId",
    "hazard",
    "level",
    "auto",
    "districts",
    "sent",
    "expires",
    "headlines",
    "severity",
    "urgency",
    "references",
    "createdAt",
    "decidedBy",
]


def test_the_lists_json_is_what_clients_were_written_against(ctx: Ctx) -> None:
    incident = ctx.incident(3, ["11590"])
    (draft,) = ctx.drafts()
    assert list(draft) == SUMMARY_KEYS
    assert {k: draft[k] for k in SUMMARY_KEYS if k not in ("identifier", "headlines", "createdAt")} == {
        "sender": "safecity@seoul.go.kr",
        "state": "draft",
        "msgType": "Alert",
        "origin": "platform",
        "incidentId": incident,
        "hazard": "heavy_rain",
        "level": 3,
        "auto": False,
        "districts": ["11590"],
        "sent": None,
        "expires": None,
        "severity": "Severe",
        "urgency": "Immediate",
        "references": None,
        "decidedBy": None,
    }
    assert set(draft["headlines"]) == {"ko", "en"} and all(draft["headlines"].values())
    assert datetime.fromisoformat(draft["createdAt"]) == NOW
    # the alert itself and the board show the same summary
    full = ctx.client.get(f"/alerts/{draft['identifier']}", headers=ctx.headers).json()
    assert {k: full[k] for k in SUMMARY_KEYS} == draft
    assert ctx.client.get("/situation", headers=ctx.headers).json()["alertDrafts"] == [draft]
    ctx.client.post(f"/alerts/{draft['identifier']}/approve", headers=ctx.headers)
    r = ctx.client.get("/alerts", params={"state": "issued"}, headers=ctx.headers)
    (issued,) = r.json()["alerts"]
    assert list(issued) == SUMMARY_KEYS and r.json()["numberReturned"] == 1
    assert (issued["state"], issued["decidedBy"]) == ("issued", "duty-officer")
    assert datetime.fromisoformat(issued["sent"]) == NOW
    assert datetime.fromisoformat(issued["expires"]) == NOW + timedelta(hours=3)
