# SPDX-License-Identifier: Apache-2.0
"""An earthquake message's warnings tell each district its own level (the platform's rule: no area gets
an alert stronger than its own level). The real chain on both stores: a CAP earthquake message in KMA's
shape → the quake capability's shaking per district (KMA intensity classes) → situation's incident with
each district at the level of its own shaking → warning's drafts, one per level band → issued → the CAP
alerts and the citizen page's warnings per district."""

from __future__ import annotations

from typing import Any

import pytest

from safecity.quake.capmsg import quake_from_cap
from safecity.quake.chain import QuakeChain
from safecity.quake.intensity import kma_class_of
from safecity.quake.service import assess_scenario
from safecity.situation.model import Crisis
from safecity.warning.cap.xml import from_xml
from tests.conftest import Api
from tests.quake.test_chain import _platform_with_areas, _settle

#: The demo's epicentre, near Uiwang, ~12 km south of the city.
EPICENTRE = (127.00, 37.33)
GWANAK, DOBONG = "11620", "11320"  # the nearest district to the epicentre and one of the farthest


@pytest.fixture(autouse=True)
def small_inventory(monkeypatch: pytest.MonkeyPatch) -> None:
    # the published 592,463 buildings take seconds to generate: the same shares on 4,000 here
    monkeypatch.setenv("SAFECITY_QUAKE__BUILDINGS", "4000")


def _message(magnitude: float, n: int) -> bytes:
    """A CAP 1.2 earthquake message in KMA's shape (as tests.quake.test_chain._kma_cap) of ``magnitude``."""
    params = "".join(
        f"<parameter><valueName>{k}</valueName><value>{v}</value></parameter>"
        for k, v in (("mt", magnitude), ("lat", EPICENTRE[1]), ("lon", EPICENTRE[0]), ("dep", 10.0))
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>KMA-EQK-LEVELS-{n}</identifier>
  <sender>kma.go.kr</sender>
  <sent>2026-05-14T10:05:30+09:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>ko-KR</language>
    <category>Geo</category>
    <event>지진</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <headline>경기 의왕시 지역 규모 {magnitude} 지진 발생 (가상)</headline>
    {params}
    <area><areaDesc>경기 의왕시</areaDesc></area>
  </info>
</alert>""".encode()


def _quake(api: Api, magnitude: float, n: int = 1) -> tuple[dict[str, Any], dict[str, int]]:
    """Post the message; the incident and each district's level from the quake report's own KMA class
    (the truth the warnings must follow; districts below intensity IV have none)."""
    r = api.client.post(
        "/quake/messages",
        content=_message(magnitude, n),
        headers={**api.headers, "Content-Type": "application/cap+xml"},
    )
    assert r.status_code == 201, r.text
    _settle(api)
    incident = api.platform.incidents.get(r.json()["incidentId"]).to_json()
    # the damage model's KMA class of each district's strongest shaking, and the pack's level for it
    chain = api.platform.services.get(QuakeChain)
    result = assess_scenario(quake_from_cap(_message(magnitude, n)).rupture, chain.inventory(), top=1)
    shaken = {
        a.code: int(Crisis[c.crisis])
        for a in result.summary.areas
        if (c := kma_class_of(a.pga_max_g)) is not None
    }
    return incident, shaken


def _drafts(api: Api, incident_id: int) -> list[dict[str, Any]]:
    listed = api.client.get("/alerts", params={"state": "draft", "limit": 100}, headers=api.headers).json()
    return [a for a in listed["alerts"] if a["incidentId"] == incident_id]


def _issue_all(api: Api, drafts: list[dict[str, Any]]) -> None:
    for d in drafts:
        r = api.client.post(f"/alerts/{d['identifier']}/approve", headers=api.headers)
        assert r.status_code == 200, r.text
    _settle(api)


def test_a_strong_earthquake_tells_each_district_its_own_level(api: Api) -> None:
    _platform_with_areas(api)
    api.platform.warnings.start()
    incident, shaken = _quake(api, 5.8)
    # the incident: every district shaken at IV or more, each at its own shaking's level
    own = {a["code"]: a["level"] for a in incident["areas"]}
    assert own == shaken and len(own) == 25
    assert incident["level"] == max(shaken.values()) == 4
    assert own[GWANAK] == 4 and own[DOBONG] == 3  # far from the epicentre: a lower level than near it

    drafts = _drafts(api, incident["id"])
    # one alert per level band, each with only the districts at its level, none in two
    assert sorted(d["level"] for d in drafts) == sorted(set(shaken.values()))
    for d in drafts:
        assert d["msgType"] == "Alert" and d["districts"]
        assert all(shaken[c] == d["level"] for c in d["districts"]), d
    assert sorted(c for d in drafts for c in d["districts"]) == sorted(shaken)
    for d in drafts:
        full = api.client.get(f"/alerts/{d['identifier']}", headers=api.headers).json()
        ko = full["shortTexts"]["ko"]["text"]
        en = full["shortTexts"]["en"]["text"]
        # the hazard word in both languages (it was "기타 / Other" before earthquake had its words)
        assert "지진" in ko and "earthquake" in en.lower()
        # each alert says its own level, and no internal sender address
        infos = {i["language"]: i for i in full["cap"]["info"]}
        word = {4: ("심각", "Serious"), 3: ("경계", "Alert")}[d["level"]]
        assert word[0] in infos["ko-KR"]["description"] and word[1] in infos["en-US"]["description"]
        assert "kma.go.kr" not in infos["ko-KR"]["headline"] + infos["en-US"]["headline"]

    _issue_all(api, drafts)
    # the CAP alerts: each <info> at its band's level, its geocodes only its districts
    for d in drafts:
        cap = from_xml(api.client.get(f"/alerts/{d['identifier']}.xml").content)
        for info in cap.infos:
            codes = {g.value for a in info.areas for g in a.geocodes}
            assert codes == set(d["districts"])
            assert [c.value for c in info.categories] == ["Geo"]
    # the citizen page: each district sees one earthquake warning, at its own level
    for code in (GWANAK, DOBONG):
        found = api.client.get("/alerts/current", params={"district": code}).json()["warnings"]
        assert [w["level"] for w in found] == [shaken[code]], (code, found)


def test_a_district_below_the_threshold_gets_no_warning(api: Api) -> None:
    _platform_with_areas(api)
    api.platform.warnings.start()
    incident, shaken = _quake(api, 4.9)
    own = {a["code"]: a["level"] for a in incident["areas"]}
    assert own == shaken
    # near the epicentre intensity V (주의: citizens are warned); far, intensity IV (관심: the room only)
    assert shaken[GWANAK] == 2 and shaken[DOBONG] == 1
    drafts = _drafts(api, incident["id"])
    assert [d["level"] for d in drafts] == [2]
    (draft,) = drafts
    assert GWANAK in draft["districts"] and DOBONG not in draft["districts"]
    assert set(draft["districts"]) == {c for c, lv in shaken.items() if lv >= 2}
    _issue_all(api, drafts)
    assert api.client.get("/alerts/current", params={"district": DOBONG}).json()["warnings"] == []
    assert len(api.client.get("/alerts/current", params={"district": GWANAK}).json()["warnings"]) == 1

    # an earthquake felt nowhere in the city at IV: an incident for the room at its epicentre, no district
    # and no warning
    weak, shaken = _quake(api, 3.5, n=2)
    assert shaken == {} and weak["areas"] == [] and weak["level"] == 1
    assert _drafts(api, weak["id"]) == []
