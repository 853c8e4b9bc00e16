# SPDX-License-Identifier: Apache-2.0
"""CCTV and police stations near a person in trouble, for the control room's view of a trip or SOS.

Nothing here is invented: the platform holds no camera or police position until a city imports them.

* **CCTV** from the Korean public standard dataset 전국CCTV표준데이터 (공공데이터포털; one CSV row per
  installation: 관리기관명, 소재지도로명주소, 소재지지번주소, 설치목적구분, 카메라대수, 카메라화소수,
  촬영방면정보, 보관일수, 설치연월, 위도, 경도, 데이터기준일자; 위도/경도 also as WGS84위도/WGS84경도),
  ``safecity care import-cctv FILE.csv`` (UTF-8 or CP949). A bad row fails the whole import with its line
  and column: nothing is half imported.
* **CCTV and police stations from OpenStreetMap** (``safecity care safety-points-from-osm FILE``):
  ``man_made=surveillance`` nodes, and ``amenity=police`` nodes and buildings (a building's centre), with
  the ODbL attribution. The Gongdeok extract in ../shared/data has 2 police stations and no camera.

Both are public (where a camera or a police station is, not what it sees) and are served as the map
layers ``cctv`` and ``police`` (OGC API), stored as points among care's safety zones; each import
replaces the points of its source (the CSV's, or the OSM file's), so the two sources can live together.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from shapely.geometry import Point
from sqlalchemy import delete, insert

from safecity.care.school_zones import ATTRIBUTION
from safecity.care.tables import safety_zones
from safecity.core.errors import BadRequest
from safecity.store import Store

#: the standard's columns; 위도/경도 are required, the others are kept in the point's name and source
LAT = ("위도", "WGS84위도")
LON = ("경도", "WGS84경도")
CCTV_SOURCE = "전국CCTV표준데이터"


@dataclass(frozen=True)
class SafetyPoint:
    kind: str  # cctv | police
    name: str
    lon: float
    lat: float
    source: str


def _column(header: list[str], names: tuple[str, ...]) -> str | None:
    return next((h for h in header if h.strip() in names), None)


def decoded_text(path: Path) -> str:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadRequest(f"{path.name}: neither UTF-8 nor CP949 text", where="file")


def read_cctv_csv(path: Path) -> list[SafetyPoint]:
    """The cameras of a 전국CCTV표준데이터 CSV. Raises BadRequest naming the line and column of the first
    row that is not a camera position (no partial import)."""
    reader = csv.DictReader(io.StringIO(decoded_text(path)))
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    lat_col, lon_col = _column(header, LAT), _column(header, LON)
    if lat_col is None or lon_col is None:
        raise BadRequest(
            f"{path.name}: the header has no 위도/경도 columns (전국CCTV표준데이터: ..., 위도, 경도, 데이터기준일자); "
            f"found {', '.join(header[:15]) or 'nothing'}",
            where="header",
            message_ko=f"{path.name}: 위도/경도 열이 없습니다",
        )
    found: list[SafetyPoint] = []
    for line, row in enumerate(reader, start=2):
        values: dict[str, float] = {}
        for col, lo, hi in ((lat_col, -90.0, 90.0), (lon_col, -180.0, 180.0)):
            cell = (row.get(col) or "").strip()
            try:
                values[col] = float(cell)
            except ValueError:
                raise BadRequest(
                    f"{path.name} line {line}, {col}: '{cell[:40]}' is not a number",
                    where=f"line {line}/{col}",
                    message_ko=f"{path.name} {line}행 {col}: '{cell[:40]}'은(는) 숫자가 아닙니다",
                ) from None
            if not lo <= values[col] <= hi:
                raise BadRequest(
                    f"{path.name} line {line}, {col}: {cell} is outside {lo:g}..{hi:g}",
                    where=f"line {line}/{col}",
                    message_ko=f"{path.name} {line}행 {col}: {cell}은(는) 범위를 벗어났습니다",
                )

        def cell(name: str, row: dict[str, Any] = row) -> str:
            return str(row.get(name) or "").strip()

        where = cell("소재지도로명주소") or cell("소재지지번주소")
        cameras = cell("카메라대수")
        purpose = cell("설치목적구분") or "CCTV"
        name = f"{purpose} CCTV" + (f" {cameras}대" if cameras else "") + (f" · {where}" if where else "")
        agency, as_of = cell("관리기관명"), cell("데이터기준일자")
        source = (
            f"{CCTV_SOURCE} {path.name}" + (f"; {agency}" if agency else "") + (f"; {as_of}" if as_of else "")
        )
        found.append(SafetyPoint("cctv", name[:200], values[lon_col], values[lat_col], source[:300]))
    if not found:
        raise BadRequest(
            f"{path.name}: no camera rows", where="file", message_ko=f"{path.name}: CCTV 행이 없습니다"
        )
    return found


def read_osm(path: Path) -> list[SafetyPoint]:
    """``man_made=surveillance`` nodes (CCTV) and ``amenity=police`` nodes and buildings (police) of an
    OSM XML or PBF file (osmium). Raises BadRequest naming the file when it cannot be read."""
    import osmium

    found: list[SafetyPoint] = []
    try:
        processor = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
        for obj in processor:
            tags = {t.k: t.v for t in obj.tags}
            if tags.get("amenity") == "police":
                kind = "police"
            elif tags.get("man_made") == "surveillance":
                kind = "cctv"
            else:
                continue
            if isinstance(obj, osmium.osm.Node):
                if not obj.location.valid():
                    continue
                lon, lat, osm = obj.location.lon, obj.location.lat, f"node/{obj.id}"
            elif isinstance(obj, osmium.osm.Way):
                pts = [(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]
                if not pts:
                    continue
                lon, lat = sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)
                osm = f"way/{obj.id}"
            else:
                continue
            default = "경찰 / police" if kind == "police" else "CCTV"
            name = tags.get("name") or tags.get("name:ko") or tags.get("surveillance:type") or default
            if kind == "police" and tags.get("name:en"):
                name = f"{name} ({tags['name:en']})"
            source = f"OpenStreetMap {osm} ({path.name}); {ATTRIBUTION}"
            found.append(SafetyPoint(kind, name[:200], float(lon), float(lat), source[:300]))
    except (RuntimeError, osmium.InvalidLocationError) as e:
        raise BadRequest(f"{path}: not a readable OSM XML or PBF file ({e})", where=str(path)) from e
    return found


def replace(store: Store, points: list[SafetyPoint], origin: str, now: datetime) -> dict[str, int]:
    """Store the points, replacing those an earlier import of the same origin brought (``origin`` is in
    every point's source: the CSV file's name, or the OSM file's). Returns the count per kind."""
    rows = [
        {
            "kind": p.kind,
            "name": p.name,
            "source": p.source,
            "generated": False,
            "geom": Point(p.lon, p.lat),
            "imported_at": now,
        }
        for p in points
    ]
    kinds = sorted({p.kind for p in points})
    with store.write() as conn:
        conn.execute(
            delete(safety_zones).where(
                safety_zones.c.kind.in_(["cctv", "police"]), safety_zones.c.source.contains(origin)
            )
        )
        if rows:
            conn.execute(insert(safety_zones), rows)
    return {k: sum(1 for p in points if p.kind == k) for k in kinds}


__all__ = ["SafetyPoint", "read_cctv_csv", "read_osm", "replace"]
