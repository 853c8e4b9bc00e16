# SPDX-License-Identifier: Apache-2.0
"""School zones derived from the real Gongdeok OSM extract (../shared/data/roads, ODbL): the
kindergarten and the three elementary schools get zones, the middle and high schools none; each zone
is labelled derived with its OSM id and the attribution; the public layer serves them; the citizen page
(Chromium, a phone) shows the zone the chosen place is in, in Korean and English."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from safecity.care.school_zones import child_facilities, import_from_osm
from safecity.core.errors import BadRequest
from safecity.settings import Settings
from tests.care.conftest import CareEnv
from tests.e2e.conftest import ARTIFACTS, browser  # noqa: F401 (the browser fixture)
from tests.geo.roads.osm_data import ROADS

OSM = ROADS / "osm_seoul_gongdeok_cheongpa.osm"


def test_child_facilities_are_the_ones_the_law_names() -> None:
    names = sorted(f.name for f in child_facilities(OSM))
    assert names == sorted(
        ["서울공덕초등학교병설유치원", "서울청파초등학교", "서울공덕초등학교", "소의초등학교"]
    )
    # 배문중학교, 배문고등학교, 한세사이버보안고등학교: middle and high schools have no child zone


def test_a_file_without_schools_is_refused(care_env: CareEnv, tmp_path: Path) -> None:
    empty = tmp_path / "empty.osm"
    empty.write_text('<?xml version="1.0"?><osm version="0.6"></osm>')
    with pytest.raises(BadRequest, match="no kindergarten"):
        import_from_osm(care_env.platform.store, empty, datetime.now(UTC))


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_derived_zones_on_the_layer_and_the_citizen_page(
    care_env: CareEnv,
    browser: Any,  # noqa: F811
    settings: Settings,
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = care_env
    done = import_from_osm(env.platform.store, OSM, datetime.now(UTC))
    assert len(done) == 4
    layer = env.call(None, "GET", "/ogcapi/collections/school-zones/items").json()
    assert len(layer["features"]) == 4
    for f in layer["features"]:
        p = f["properties"]
        assert p["name"].endswith("어린이보호구역 (derived)") and p["generated"] is False
        assert p["source"].startswith("derived from OpenStreetMap way/") or "node/" in p["source"]
        assert "© OpenStreetMap contributors (ODbL 1.0)" in p["source"]
    school = next(f for f in child_facilities(OSM) if f.name == "서울공덕초등학교")
    here = school.shape.centroid

    page = browser.new_page(viewport={"width": 390, "height": 844})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{env.url}/citizen")
    page.evaluate("localStorage.setItem('safecity.lang', 'ko')")
    page.goto(f"{env.url}/citizen?lon={here.x:.5f}&lat={here.y:.5f}")
    box = page.locator("#school-zones")
    expect(box).to_be_visible()
    expect(box.locator("#school-inside")).to_contain_text("어린이보호구역 안")
    expect(box.locator("li", has_text="서울공덕초등학교 어린이보호구역")).to_contain_text("0 m")
    expect(box).to_contain_text("시속 30 km")
    expect(box).to_contain_text("OpenStreetMap에서 추정한 구역")
    expect(box).to_contain_text("© OpenStreetMap contributors")
    page.wait_for_selector("path.school-zone", state="attached")
    box.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "citizen-school-zones-ko.png"), full_page=True)
    page.click("#lang")
    expect(box.locator("#school-inside")).to_contain_text("inside a school zone")
    expect(box).to_contain_text("30 km/h")
    page.screenshot(path=str(ARTIFACTS / "citizen-school-zones-en.png"), full_page=True)
    assert errors == []
