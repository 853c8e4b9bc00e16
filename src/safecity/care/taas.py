# SPDX-License-Identifier: Apache-2.0
"""Crash hotspots from 도로교통공단 TAAS (교통사고분석시스템) 사고다발지역 files.

TAAS publishes its hotspots (어린이·보행자·자전거 사고다발지역 and others; 공공데이터포털 files and the
TAAS open API) as one row per hotspot with, among others, 지점명 (the place), 발생건수 (crashes),
사상자수 (casualties), 위도, 경도 (the centre) and 다발지역폴리곤 (the hotspot's area, GeoJSON text; WKT
accepted too). ``safecity care import-taas FILE.csv`` (UTF-8 or CP949) replaces the crash hotspots with
the file's: the polygon when the row has one, else a ``HOTSPOT_RADIUS_M`` circle round the centre. Each
is named "<지점명> (발생 N건, 사상자 M명)" and its source names TAAS and the file. A row that is not a
hotspot fails the whole import with its line and column (nothing half imported). A file whose name says
*generated* is labelled generated in every hotspot (and wherever one is shown).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, insert

from safecity.care.fences import circle
from safecity.care.safety_points import decoded_text
from safecity.care.tables import safety_zones
from safecity.care.zones import HOTSPOT_RADIUS_M
from safecity.core.errors import BadRequest
from safecity.store import Store

NAME = ("지점명", "사고지역위치명", "spot_nm")
CRASHES = ("발생건수", "occrrnc_cnt")
CASUALTIES = ("사상자수", "caslt_cnt")
LAT = ("위도", "la_crd")
LON = ("경도", "lo_crd")
POLYGON = ("다발지역폴리곤", "geom_json")
SOURCE = "TAAS 사고다발지역"


def _pick(header: list[str], names: tuple[str, ...]) -> str | None:
    return next((h for h in header if h in names), None)


def _polygon(text: str, where: str) -> BaseGeometry:
    try:
        geom = shape(json.loads(text)) if text.lstrip().startswith("{") else shapely.from_wkt(text)
    except (ValueError, TypeError, KeyError, AttributeError, shapely.errors.GEOSException) as e:
        raise BadRequest(f"{where}: not a GeoJSON or WKT polygon ({str(e)[:80]})", where=where) from None
    if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
        raise BadRequest(f"{where}: a {geom.geom_type}, not a polygon", where=where)
    return geom if geom.is_valid else shapely.make_valid(geom)


def read_taas_csv(path: Path, now: datetime) -> list[dict[str, Any]]:
    """The hotspots of a TAAS 사고다발지역 CSV as ``care_safety_zones`` rows."""
    reader = csv.DictReader(io.StringIO(decoded_text(path)))
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    cols = {k: _pick(header, names) for k, names in (("name", NAME), ("lat", LAT), ("lon", LON))}
    crashes, casualties, poly = _pick(header, CRASHES), _pick(header, CASUALTIES), _pick(header, POLYGON)
    if cols["name"] is None or (poly is None and (cols["lat"] is None or cols["lon"] is None)):
        raise BadRequest(
            f"{path.name}: a TAAS hotspot file has 지점명 and 다발지역폴리곤 or 위도/경도; found "
            f"{', '.join(header[:15]) or 'nothing'}",
            where="header",
            message_ko=f"{path.name}: 지점명과 다발지역폴리곤(또는 위도/경도) 열이 필요합니다",
        )
    generated = "generated" in path.name.lower()
    rows: list[dict[str, Any]] = []
    for line, row in enumerate(reader, start=2):

        def cell(col: str | None, row: dict[str, Any] = row) -> str:
            return str(row.get(col) or "").strip() if col else ""

        name = cell(cols["name"])
        if not name:
            raise BadRequest(
                f"{path.name} line {line}, {cols['name']}: empty", where=f"line {line}/{cols['name']}"
            )
        counts: list[str] = []
        for col, ko in ((crashes, "발생"), (casualties, "사상자")):
            value = cell(col)
            if not value:
                continue
            if not value.isdigit():
                raise BadRequest(
                    f"{path.name} line {line}, {col}: '{value[:20]}' is not a count",
                    where=f"line {line}/{col}",
                )
            counts.append(f"{ko} {int(value)}{'건' if ko == '발생' else '명'}")
        if cell(poly):
            geom = _polygon(cell(poly), f"{path.name} line {line}, {poly}")
        else:
            try:
                lat, lon = float(cell(cols["lat"])), float(cell(cols["lon"]))
            except ValueError:
                raise BadRequest(
                    f"{path.name} line {line}, {cols['lat']}/{cols['lon']}: no polygon and no numeric position",
                    where=f"line {line}/{cols['lat']}",
                ) from None
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise BadRequest(
                    f"{path.name} line {line}: {lat}, {lon} is not a position", where=f"line {line}"
                )
            geom = circle(lon, lat, HOTSPOT_RADIUS_M)
        label = f"{name} ({', '.join(counts)})" if counts else name
        rows.append(
            {
                "kind": "crash_hotspot",
                "name": label[:200],
                "source": f"{SOURCE} {path.name}" + (" (GENERATED)" if generated else ""),
                "generated": generated,
                "geom": geom,
                "imported_at": now,
            }
        )
    if not rows:
        raise BadRequest(
            f"{path.name}: no hotspot rows",
            where="file",
            message_ko=f"{path.name}: 사고다발지역 행이 없습니다",
        )
    return rows


def import_taas(store: Store, path: Path, now: datetime) -> int:
    """Replace the crash hotspots with the file's; returns how many."""
    rows = read_taas_csv(path, now)
    with store.write() as conn:
        conn.execute(delete(safety_zones).where(safety_zones.c.kind == "crash_hotspot"))
        conn.execute(insert(safety_zones), rows)
    return len(rows)


__all__ = ["import_taas", "read_taas_csv"]
