# SPDX-License-Identifier: Apache-2.0
"""School zones (어린이보호구역) derived from OpenStreetMap where no official zone file is at hand.

도로교통법 §12 lets a city designate a child protection zone around a kindergarten (유치원), an elementary
school (초등학교), a special school (특수학교), a childcare centre (어린이집) or a cram school (학원) for
children, reaching up to 300 m from the main gate (the 시행규칙 article for the 300 m: UNCONFIRMED).
OSM does not map the designated zones, so we derive an approximation: the grounds of every such
facility (``amenity=kindergarten|childcare``, or ``amenity=school`` whose name says 초등/특수/유치원/
Elementary; middle and high schools are not child protection zones) grown by 300 m, or a 300 m circle
round a facility mapped as a point. Each zone is labelled *derived* with its OSM id and the ODbL
attribution the data requires ("© OpenStreetMap contributors", derived database under ODbL 1.0).
An official 어린이보호구역 file, when a city has one, replaces them (``safecity import layer FILE --as
school-zones``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, insert

from safecity.care.tables import safety_zones
from safecity.core.errors import BadRequest
from safecity.store import Store

ZONE_M = 300.0
CHILD_AMENITIES = frozenset({"kindergarten", "childcare"})
#: Names of schools whose zone the law provides for (an OSM ``amenity=school`` does not say the grade).
CHILD_SCHOOL_WORDS = ("초등", "특수", "유치원", "elementary", "special school")
ATTRIBUTION = "© OpenStreetMap contributors (ODbL 1.0)"


@dataclass(frozen=True)
class Facility:
    osm: str  # "node/368883617", "way/464248402"
    name: str
    name_en: str | None
    amenity: str
    shape: BaseGeometry  # WGS84 point or polygon


def child_facilities(path: Path) -> list[Facility]:
    """The facilities of an OSM XML or PBF file that a child protection zone is drawn around (osmium).
    Raises BadRequest naming the file when libosmium cannot read it."""
    import osmium

    found: list[Facility] = []
    try:
        processor = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
        for obj in processor:
            tags = {t.k: t.v for t in obj.tags}
            amenity, name = tags.get("amenity", ""), tags.get("name", "").strip()
            if not _for_children(amenity, name, tags.get("name:en", "")):
                continue
            shape: BaseGeometry
            if isinstance(obj, osmium.osm.Node):
                if not obj.location.valid():
                    continue
                shape, osm = Point(obj.location.lon, obj.location.lat), f"node/{obj.id}"
            elif isinstance(obj, osmium.osm.Way):
                pts = [(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]
                if len(pts) < 4 or pts[0] != pts[-1]:
                    continue  # not closed: not grounds
                shape, osm = Polygon(pts), f"way/{obj.id}"
            else:
                continue
            found.append(Facility(osm, name or osm, tags.get("name:en") or None, amenity, shape))
    except (RuntimeError, osmium.InvalidLocationError) as e:
        raise BadRequest(f"{path}: not a readable OSM XML or PBF file ({e})", where=str(path)) from e
    return found


def _for_children(amenity: str, name: str, name_en: str) -> bool:
    if amenity in CHILD_AMENITIES:
        return True
    text = f"{name} {name_en}".lower()
    return amenity == "school" and any(w in text for w in CHILD_SCHOOL_WORDS)


def zone(shape: BaseGeometry) -> BaseGeometry:
    """The grounds (or point) grown by :data:`ZONE_M`, measured in EPSG:5186 (Korea 2000 Central)."""
    import numpy as np
    import shapely
    from pyproj import Transformer

    def reproject(src: int, dst: int) -> Any:
        tr = Transformer.from_crs(src, dst, always_xy=True)
        return lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))

    grown = shapely.transform(shape, reproject(4326, 5186)).buffer(ZONE_M, quad_segs=16)
    return shapely.transform(grown, reproject(5186, 4326))


def import_from_osm(store: Store, path: Path, now: datetime) -> list[dict[str, Any]]:
    """Replace the school zones with those derived from ``path``; returns what was imported (name,
    OSM id, source). Raises BadRequest when the file has no facility a zone is drawn around."""
    facilities = child_facilities(path)
    if not facilities:
        raise BadRequest(
            f"{path.name}: no kindergarten, childcare centre or elementary/special school in this file",
            where="file",
            message_ko=f"{path.name}: 유치원·어린이집·초등/특수학교가 없습니다",
        )
    rows = [
        {
            "kind": "school_zone",
            "name": f"{f.name} 어린이보호구역 (derived)"[:200],
            "source": f"derived from OpenStreetMap {f.osm}: grounds + {ZONE_M:.0f} m; {ATTRIBUTION}"[:300],
            "generated": False,
            "geom": zone(f.shape),
            "imported_at": now,
        }
        for f in facilities
    ]
    with store.write() as conn:
        conn.execute(delete(safety_zones).where(safety_zones.c.kind == "school_zone"))
        conn.execute(insert(safety_zones), rows)
    return [{"name": r["name"], "source": r["source"]} for r in rows]
