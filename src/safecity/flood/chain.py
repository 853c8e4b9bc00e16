# SPDX-License-Identifier: Apache-2.0
"""Predictions into the warning chain: the flood model as a SensorThings sensor.

A forecast is a reading the model makes about a place, so it enters the platform the way every reading
does: each underpass the forecast reports on is a Thing (``properties.forecast = "flood"``)
with a Datastream of ``predicted_water_depth`` (the deepest water predicted within the horizon, m;
the time it reaches 15 cm in the observation's ``parameters``), and each district with semi-basement
homes a Thing with a ``semi_basement_homes_at_risk`` Datastream (homes where the predicted street water
reaches a semi-basement's sill). They are written through sensing's public functions (its Writer and
ingest), so the situation rules (pack ``flood_forecast``) turn them into conditions, incidents and
crisis levels, and warnings follow, with no new path and no upward import: situation never knows the
flood capability exists.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

if TYPE_CHECKING:
    from safecity.flood.catchment import Catchment, Place
    from safecity.flood.forecast import ForecastResult
    from safecity.sensing.service import Sensing

PREDICTED_DEPTH = "predicted_water_depth"
SEMI_BASEMENT_AT_RISK = "semi_basement_homes_at_risk"
OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
MODEL_SENSOR = {
    "name": "safecity flood model",
    "description": "2D local-inertial surface model run on extrapolated rain (docs/flood-model.md)",
    "encodingType": "text/plain",
    "metadata": "safecity.flood (docs/flood-model.md)",
}


@dataclass(frozen=True)
class _Target:
    key: str  # place code, or "semi-basement-<district>"
    name: str
    name_ko: str
    lon: float
    lat: float
    prop: str
    unit: tuple[str, str]
    properties: dict[str, Any]


class ForecastStreams:
    """The Things and Datastreams carrying one catchment's predictions, created once (reused across
    restarts by their ``forecast_key``), and the observations of each run."""

    def __init__(self, sensing: Sensing, interval_s: float) -> None:
        self.sensing = sensing
        self.interval_s = interval_s
        self.streams: dict[str, int] = {}  # target key -> datastream id

    def ensure(self, catchment: Catchment) -> None:
        """Create the Things of ``catchment``'s places that do not exist yet."""
        from sqlalchemy.engine import Connection

        from safecity.sensing.directory import stream_directory
        from safecity.sensing.sta.model import ENTITIES
        from safecity.sensing.sta.write import Writer

        with self.sensing.store.engine.connect() as conn:
            for s in stream_directory(conn, self.sensing.catalogue):
                key = s.thing_properties.get("forecast_key")
                if s.thing_properties.get("forecast") == "flood" and key:
                    self.streams[str(key)] = s.datastream_id
        missing = [t for t in _targets(catchment) if t.key not in self.streams]
        if not missing:
            return

        def create(conn: Connection, w: Writer) -> None:
            for target in missing:
                w.create(conn, ENTITIES["Thing"], _thing(target, self.interval_s))

        self.sensing.write(create)
        with self.sensing.store.engine.connect() as conn:
            for s in stream_directory(conn, self.sensing.catalogue):
                key = s.thing_properties.get("forecast_key")
                if s.thing_properties.get("forecast") == "flood" and key:
                    self.streams[str(key)] = s.datastream_id

    def publish(self, result: ForecastResult) -> int:
        """One observation per target, zeros included (a zero lifts a prediction, and the streams keep
        reporting while forecasts run). Returns how many were written."""
        from safecity.sensing.ingest import DATASTREAM, ObservationIn

        at = result.issued.isoformat()
        values = _values(result)
        items = []
        for key, (value, params) in values.items():
            ds = self.streams.get(key)
            if ds is None:
                continue
            items.append(
                ObservationIn(
                    stream_kind=DATASTREAM,
                    stream_id=ds,
                    phenomenon_time=at,
                    result=value,
                    has_result=True,
                    result_time=at,
                    parameters=params,
                    where=key,
                )
            )
        if items:
            self.sensing.ingest.ingest(items)
            self.sensing.bus.notify()
        return len(items)


def _targets(catchment: Catchment) -> list[_Target]:
    out = []
    for p in catchment.places:
        # underpasses only: a road's prediction closes it (evacuation's road closures) but a Thing per
        # street segment would flood the sensor map; underpasses are where people drown in cars
        if p.kind == "underpass":
            c = _point(p)
            props = {"facility": p.kind, "place": p.code, "district": p.district}
            out.append(
                _Target(
                    p.code,
                    f"Flood forecast: {p.name_en}",
                    f"침수 예측: {p.name_ko}",
                    c[0],
                    c[1],
                    PREDICTED_DEPTH,
                    ("metre", "m"),
                    props,
                )
            )
    homes: dict[str, list[Place]] = defaultdict(list)
    for p in catchment.places:
        if p.kind == "building" and p.district:
            homes[p.district].append(p)
    for district, places in sorted(homes.items()):
        # the Thing stands at the home nearest the centre of the district's semi-basement homes: inside
        # the district (a centroid of a concave district may not be), so the rules place it there
        pts = np.array([_point(p) for p in places])
        centre = pts.mean(axis=0)
        x, y = pts[int(np.argmin(((pts - centre) ** 2).sum(axis=1)))]
        out.append(
            _Target(
                f"semi-basement-{district}",
                f"Flood forecast: semi-basement homes of district {district}",
                f"침수 예측: {district} 반지하 주택",
                float(x),
                float(y),
                SEMI_BASEMENT_AT_RISK,
                ("count", "{homes}"),
                {"district": district, "homes": sum(int(p.properties.get("homes", 1)) for p in places)},
            )
        )
    return out


def _point(p: Place) -> tuple[float, float]:
    """A point of the place (WGS84): itself, or the middle of a road."""
    c = p.geometry.interpolate(0.5, normalized=True) if p.geometry.geom_type != "Point" else p.geometry
    x, y = shapely.get_coordinates(c)[0]
    return round(float(x), 6), round(float(y), 6)


def _values(result: ForecastResult) -> dict[str, tuple[float, dict[str, Any]]]:
    out: dict[str, tuple[float, dict[str, Any]]] = {}
    horizon_min = result.horizon.total_seconds() / 60
    homes: dict[str, int] = defaultdict(int)
    buildings: dict[str, int] = defaultdict(int)
    for p in result.places:
        if p.place.kind == "underpass":
            out[p.place.code] = (
                round(p.depth_max_m, 2),
                {
                    "crossesAt": _iso(p.crosses_at),
                    "depthNowM": round(p.depth_now_m, 3),
                    "horizonMin": horizon_min,
                },
            )
        elif p.place.kind == "building" and p.place.district:
            homes.setdefault(p.place.district, 0)
            if p.risk == "high":
                homes[p.place.district] += int(p.place.properties.get("homes", 1))
                buildings[p.place.district] += 1
    for district, n in homes.items():
        out[f"semi-basement-{district}"] = (
            float(n),
            {"buildingsHigh": buildings[district], "horizonMin": horizon_min},
        )
    return out


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def _thing(t: _Target, interval_s: float) -> dict[str, Any]:
    return {
        "name": t.name,
        "description": f"{t.name_ko} / {t.name}: predictions of the flood model, not a gauge (모델 예측값, 실측 아님)",
        "properties": {"name_ko": t.name_ko, "forecast": "flood", "forecast_key": t.key, **t.properties},
        "Locations": [
            {
                "name": t.name,
                "description": t.name_ko,
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [t.lon, t.lat]},
            }
        ],
        "Datastreams": [
            {
                "name": f"{t.name}: {t.prop}",
                "description": t.name_ko,
                "observationType": OM,
                "unitOfMeasurement": {
                    "name": t.unit[0],
                    "symbol": t.unit[1],
                    "definition": f"ucum:{t.unit[1]}",
                },
                # no expected interval: a dry city runs no forecasts, which is not a silent sensor
                "properties": {"forecastIntervalSeconds": interval_s},
                "Sensor": MODEL_SENSOR,
                "ObservedProperty": {
                    "name": t.prop,
                    "definition": f"urn:safecity:def:observed-property:{t.prop}",
                    "description": t.prop,
                },
            }
        ],
    }


__all__ = ["PREDICTED_DEPTH", "SEMI_BASEMENT_AT_RISK", "ForecastStreams"]
