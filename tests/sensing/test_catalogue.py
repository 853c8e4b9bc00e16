# SPDX-License-Identifier: Apache-2.0
"""The shipped observed-property catalogue: it loads, its data are sane, and match() finds entries."""

from __future__ import annotations

import copy
import json
import math
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from safecity.core.errors import ConfigError, NotFound
from safecity.sensing.catalogue import (
    Catalogue,
    catalogue_from_dict,
    load_catalogue,
    sta_observed_property,
    sta_unit,
)

HANGUL = re.compile(r"[\uac00-\ud7a3]")

EXPECTED_KEYS = {
    "rainfall_1min",
    "rainfall_10min",
    "rainfall_1h",
    "air_temperature",
    "relative_humidity",
    "wind_speed",
    "wind_gust",
    "water_level",
    "water_level_elevation",
    "river_discharge",
    "road_water_depth",
    "predicted_water_depth",  # the flood model's forecasts (safecity.flood.chain)
    "semi_basement_homes_at_risk",
    "soil_moisture",
    "tilt",
    "crack_width",
    "acceleration",
    "peak_ground_acceleration",
    "vibration_velocity",
    "strain",
    "smoke_obscuration",
    "co_concentration",
    "fire_detector_temperature",
    "combustible_gas",
    "pm10",
    "pm2_5",
    "noise_level",
}


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


def _raw() -> dict[str, Any]:
    text = resources.files("safecity.sensing").joinpath("catalogue.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def test_every_expected_property_loads(cat: Catalogue) -> None:
    assert {s.key for s in cat.all()} == EXPECTED_KEYS
    assert len(cat) == len(EXPECTED_KEYS)
    assert [s.key for s in cat] == [s.key for s in cat.all()]


def test_ranges_are_finite_and_ordered(cat: Catalogue) -> None:
    for s in cat:
        assert math.isfinite(s.valid_min) and math.isfinite(s.valid_max), s.key
        assert s.valid_min < s.valid_max, s.key
        assert s.valid_range == (s.valid_min, s.valid_max)
        assert s.expected_interval_s is None or s.expected_interval_s > 0, s.key


def test_korean_and_english_texts_present(cat: Catalogue) -> None:
    for s in cat:
        assert HANGUL.search(s.name_ko), s.key
        assert HANGUL.search(s.description_ko), s.key
        assert s.name_en and s.description_en, s.key


def test_definitions_are_stable_urns(cat: Catalogue) -> None:
    for s in cat:
        assert s.definition == f"urn:safecity:def:observed-property:{s.key}"


def test_unit_definitions_are_the_ogc_ucum_uri_of_the_code(cat: Catalogue) -> None:
    # Guards hand-written percent-encoding in the TOML against typos.
    for s in cat:
        assert s.unit.definition == "http://www.opengis.net/def/uom/UCUM/0/" + quote(s.unit.ucum, safe=""), (
            s.key
        )


@pytest.mark.parametrize(
    ("key", "ucum", "symbol"),
    [
        ("rainfall_1h", "mm", "mm"),
        ("air_temperature", "Cel", "°C"),
        ("relative_humidity", "%", "%"),
        ("water_level", "m", "m"),
        ("water_level_elevation", "m", "EL.m"),
        ("river_discharge", "m3/s", "m³/s"),
        ("acceleration", "[g]", "g"),
        ("vibration_velocity", "cm/s", "cm/s"),
        ("strain", "10*-6", "µε"),
        ("smoke_obscuration", "%/m", "%/m"),
        ("co_concentration", "[ppm]", "ppm"),
        ("combustible_gas", "%{LEL}", "%LEL"),
        ("pm2_5", "ug/m3", "µg/m³"),
        ("noise_level", "dB[SPL]", "dB"),
    ],
)
def test_units(cat: Catalogue, key: str, ucum: str, symbol: str) -> None:
    unit = cat.by_key(key).unit
    assert (unit.ucum, unit.symbol) == (ucum, symbol)


def test_rainfall_maxima_follow_the_world_records(cat: Catalogue) -> None:
    one_min, ten_min, one_h = (cat.by_key(k) for k in ("rainfall_1min", "rainfall_10min", "rainfall_1h"))
    # 38 mm/1 min (Barot 1970), 198 mm/15 min (Plumb Point 1916), 305 mm/42 min (Holt 1947).
    assert 38 <= one_min.valid_max < 50
    assert 198 <= ten_min.valid_max < 250
    assert 305 <= one_h.valid_max < 350
    assert one_min.valid_min == ten_min.valid_min == one_h.valid_min == 0
    for s in (one_min, ten_min, one_h):
        assert s.qc.flatline_ignores_zero and not s.qc.spike_check


def test_common_sentinels_are_out_of_range_for_rain_and_weather(cat: Catalogue) -> None:
    for key in ("rainfall_1min", "rainfall_10min", "rainfall_1h", "air_temperature", "relative_humidity"):
        s = cat.by_key(key)
        for sentinel in (-9999.0, -999.0, 999.0, 9999.0, 65535.0):
            assert not s.valid_min <= sentinel <= s.valid_max, (key, sentinel)


# --- match ---------------------------------------------------------------------------------------------


def test_match_by_urn_case_insensitive(cat: Catalogue) -> None:
    assert cat.match("urn:safecity:def:observed-property:rainfall_1h", None, None) is cat.by_key(
        "rainfall_1h"
    )
    assert cat.match("URN:SafeCity:def:observed-property:RAINFALL_1H", None, None) is cat.by_key(
        "rainfall_1h"
    )


def test_match_by_key_english_and_korean_name(cat: Catalogue) -> None:
    assert cat.match(None, "pm2_5", None) is cat.by_key("pm2_5")
    assert cat.match(None, "  AIR TEMPERATURE ", None) is cat.by_key("air_temperature")
    assert cat.match(None, "기온", None) is cat.by_key("air_temperature")
    # An unknown definition falls back to the name.
    assert cat.match("http://example.org/unknown", "tilt", "deg") is cat.by_key("tilt")


@pytest.mark.parametrize("unit", ["Cel", "°C", "degC", "℃", "cel"])
def test_match_accepts_ucum_code_symbol_and_aliases(cat: Catalogue, unit: str) -> None:
    assert cat.match(None, "air_temperature", unit) is cat.by_key("air_temperature")


@pytest.mark.parametrize(
    ("key", "unit"),
    [
        ("strain", "µε"),
        ("strain", "um/m"),
        ("pm10", "μg/m³"),  # Greek mu and superscript three
        ("pm10", "ug/m3"),
        ("acceleration", "[g]"),
        ("noise_level", "dB(A)"),
        ("water_level_elevation", "EL.m"),
        ("water_level_elevation", "m"),
        ("combustible_gas", "%LEL"),
    ],
)
def test_match_unit_spellings(cat: Catalogue, key: str, unit: str) -> None:
    assert cat.match(cat.by_key(key).definition, None, unit) is cat.by_key(key)


def test_match_rejects_incompatible_unit(cat: Catalogue) -> None:
    assert cat.match("urn:safecity:def:observed-property:rainfall_1h", None, "[in_i]") is None
    assert cat.match(None, "air_temperature", "[degF]") is None


def test_match_needs_a_definition_or_name(cat: Catalogue) -> None:
    assert cat.match(None, None, "%") is None  # humidity or soil moisture? refuse to guess
    assert cat.match(None, "wind speed", "m/s") is None
    assert cat.match("", "", None) is None


def test_by_key_and_get(cat: Catalogue) -> None:
    assert cat.get("nope") is None
    with pytest.raises(NotFound) as err:
        cat.by_key("nope")
    assert "nope" in err.value.message and "rainfall_1h" in err.value.message
    assert err.value.message_ko


# --- SensorThings JSON ---------------------------------------------------------------------------------


def test_sta_json(cat: Catalogue) -> None:
    spec = cat.by_key("rainfall_1h")
    op = sta_observed_property(spec)
    assert op["name"] == spec.name_en
    assert op["definition"] == "urn:safecity:def:observed-property:rainfall_1h"
    assert op["description"] == spec.description_en
    assert op["properties"]["name_ko"] == "1시간 강우량"
    assert op["properties"]["key"] == "rainfall_1h"
    assert op["properties"]["valid_max"] == spec.valid_max
    assert sta_unit(spec) == {
        "name": "millimetre",
        "symbol": "mm",
        "definition": "http://www.opengis.net/def/uom/UCUM/0/mm",
    }
    for s in cat:  # everything renders as JSON
        json.dumps([sta_observed_property(s), sta_unit(s)], ensure_ascii=False)


# --- validation ----------------------------------------------------------------------------------------


def _with(mutate: Any) -> dict[str, Any]:
    data = copy.deepcopy(_raw())
    mutate(data["property"])
    return data


def _error(data: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        catalogue_from_dict(data, source="test.toml")
    return err.value


def test_the_raw_file_round_trips() -> None:
    assert {s.key for s in catalogue_from_dict(_raw())} == EXPECTED_KEYS


def test_error_min_not_below_max_names_key_and_field() -> None:
    def bad(props: list[dict[str, Any]]) -> None:
        props[2]["valid_min"] = props[2]["valid_max"]

    e = _error(_with(bad))
    assert "rainfall_1h" in e.message and "valid_max" in e.message
    assert e.where is not None and e.where.endswith("valid_max")


def test_error_duplicate_key() -> None:
    def bad(props: list[dict[str, Any]]) -> None:
        dup = copy.deepcopy(props[0])
        dup["definition"] = "urn:safecity:def:observed-property:other"
        props.append(dup)

    e = _error(_with(bad))
    assert "duplicate key 'rainfall_1min'" in e.message and ".key" in e.message


def test_error_duplicate_definition() -> None:
    def bad(props: list[dict[str, Any]]) -> None:
        props[1]["definition"] = props[0]["definition"]

    e = _error(_with(bad))
    assert "rainfall_10min" in e.message and "definition" in e.message and "rainfall_1min" in e.message


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.pop("name_ko"), "name_ko"),
        (lambda p: p.update(valid_max="a lot"), "valid_max"),
        (lambda p: p.update(valid_min=math.nan), "valid_min"),
        (lambda p: p.update(colour="blue"), "colour"),
        (lambda p: p["unit"].pop("ucum"), "unit.ucum"),
        (lambda p: p.update(qc={"flatline_count": 1}), "qc.flatline_count"),
        (lambda p: p.update(qc={"spike_check": "yes"}), "qc.spike_check"),
        (lambda p: p.update(expected_interval_s=0), "expected_interval_s"),
        (lambda p: p.update(key="Rain Fall"), "key"),
    ],
)
def test_error_names_the_field(mutate: Any, field: str) -> None:
    def bad(props: list[dict[str, Any]]) -> None:
        mutate(props[3])

    e = _error(_with(bad))
    assert field in e.message
    assert e.where is not None and field in e.where
    if field != "key":
        assert "air_temperature" in e.message


def test_load_from_path_reports_bad_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[[property]\nkey = ", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_catalogue(path)
    assert str(path) in err.value.message


def test_load_from_path(tmp_path: Path) -> None:
    src = resources.files("safecity.sensing").joinpath("catalogue.toml").read_text(encoding="utf-8")
    path = tmp_path / "copy.toml"
    path.write_text(src, encoding="utf-8")
    assert len(load_catalogue(path)) == len(EXPECTED_KEYS)
