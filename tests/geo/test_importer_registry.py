# SPDX-License-Identifier: Apache-2.0
"""Capabilities declare the layer kinds they import (``Capability.importers``); geography reads the file
and hands it to them, without importing them."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from safecity.app import Platform
from safecity.capability import Capability, Importer
from safecity.core.errors import BadRequest
from safecity.evacuation import tables as ev
from safecity.geo import tables as t
from safecity.geo.importer import import_layer, importers
from safecity.geo.layerfile import ImportOptions, ImportReport, LayerData
from tests.geo.data import SHELTERS

received: list[tuple[LayerData, ImportOptions]] = []


def _survey(conn: Connection, data: LayerData, options: ImportOptions, report: ImportReport) -> None:
    received.append((data, options))
    report.created = sum(1 for g in data.geoms if g is not None)


def _refuse_shelter_kind(options: ImportOptions) -> None:
    if options.shelter_kind != "civil_defence":
        raise BadRequest("survey points have no shelter kind", where="shelter_kind")


def _with_survey(platform: Platform) -> Any:
    survey = Capability(
        "survey",
        "A city's own survey points.",
        importers=(
            Importer(
                "survey-points", _survey, "Survey points.", options=("hazard",), check=_refuse_shelter_kind
            ),
        ),
    )
    return SimpleNamespace(store=platform.store, capabilities=[*platform.capabilities, survey])


def _points(path: Path) -> Path:
    features = [
        {
            "type": "Feature",
            "properties": {"id": "P1", "이름": "시청"},
            "geometry": {"type": "Point", "coordinates": [126.978, 37.5665]},
        },
        {"type": "Feature", "properties": {"id": "P2", "이름": "없음"}, "geometry": None},
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def test_a_declared_kind_goes_to_its_capability(platform: Platform, tmp_path: Path) -> None:
    received.clear()
    report = import_layer(
        _with_survey(platform), _points(tmp_path / "p.geojson"), "survey-points", hazard="flood"
    )
    assert report.created == 1
    ((data, options),) = received
    assert (
        data.fields == ["id", "이름"] and data.text("id", 0) == "P1" and data.properties(0)["이름"] == "시청"
    )
    assert options.kind == "survey-points" and options.hazard == "flood" and options.source == "p.geojson"
    with platform.store.engine.connect() as conn:  # not geography's generic features
        assert conn.execute(select(func.count()).select_from(t.features)).scalar_one() == 0


def test_options_are_checked_before_the_file_is_read(platform: Platform, tmp_path: Path) -> None:
    received.clear()
    with pytest.raises(BadRequest, match="no shelter kind"):
        import_layer(
            _with_survey(platform), tmp_path / "missing.geojson", "survey-points", shelter_kind="heat"
        )
    assert received == []


def test_hazard_is_only_for_the_kinds_that_read_it(platform: Platform, tmp_path: Path) -> None:
    with pytest.raises(BadRequest) as e:
        import_layer(_with_survey(platform), _points(tmp_path / "p.geojson"), "facilities", hazard="flood")
    assert (
        e.value.message == "--hazard: only for --as hazard-zones or --as survey-points, not --as facilities"
    )


def test_built_in_kinds_without_a_platform(platform: Platform) -> None:
    assert {"shelters", "hazard-zones"} <= importers(platform.store).keys()
    report = import_layer(platform.store, SHELTERS, "shelters")
    assert report.created > 0
    with platform.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ev.shelters)).scalar_one() == report.created
