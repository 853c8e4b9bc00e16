# SPDX-License-Identifier: Apache-2.0
"""A small geocoder: an address, a place name or a dong, as a 119 caller or a citizen says it, to a point.

Its data are what the platform already holds, no online service:

* the **OpenStreetMap extract** the road network comes from (``safecity import roads FILE.osm`` writes
  ``roads/gazetteer.json`` beside the graph): road-name addresses (``addr:street`` + ``addr:housenumber``
  on buildings and points), named streets (``highway=*`` with ``name``/``name:ko``/``name:en``) and named
  places (police stations, schools, community centres...);
* the **shipped Seoul boundaries** (:mod:`safecity.geo.seoul`): district and dong names, Korean and English.

:func:`geocode` tries, most precise first: an address on a named street with its building number (exact;
or placed between the two nearest known numbers on that street, because Korean road-name building numbers
grow with the distance from the road's start: one number per 10 m, odd on the left, even on the right,
도로명주소법 시행령 — so a number between two known ones lies between them); a named place; a named street
(its middle); a dong (a point inside it). District and dong names in the text narrow the search. Nothing
matching is a :class:`~safecity.core.errors.BadRequest` naming the field the text came in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safecity.core.errors import BadRequest

#: "서울", "서울시", "서울특별시", "Seoul" and the like say nothing a Seoul geocoder can use.
CITY_WORDS = frozenset({"서울", "서울시", "서울특별시", "seoul", "korea", "대한민국", "한국"})
#: A building number: 109, 186-6 (main and sub number), optionally followed by 번/번지.
NUMBER = re.compile(r"^(\d{1,5})(?:-(\d{1,4}))?(?:번지|번)?$")
#: Metres per building number along a road (road-name addresses: a basic number every 20 m, odd left
#: and even right, so consecutive numbers on one side are 20 m apart: 10 m per number).
METRES_PER_NUMBER = 10.0


@dataclass(frozen=True)
class Place:
    """Where a text was placed: WGS84 point, how precisely, and what in the text matched."""

    lon: float
    lat: float
    precision: str  # address | interpolated | place | street | dong
    matched: str
    dong: str | None = None  # MOIS dong code, where known

    def public(self) -> dict[str, Any]:
        return {
            "lon": round(self.lon, 7),
            "lat": round(self.lat, 7),
            "precision": self.precision,
            "matched": self.matched,
            "dong": self.dong,
        }


@dataclass
class Gazetteer:
    """Addresses, streets and places read from an OSM extract (WGS84)."""

    #: street name -> {building number "109" or "186-6": (lon, lat)}
    addresses: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    #: street name (any language) -> the street's points (its ways' nodes, in order)
    streets: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    #: place name (any language) -> (lon, lat)
    places: dict[str, tuple[float, float]] = field(default_factory=dict)
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "addresses": self.addresses,
            "streets": self.streets,
            "places": self.places,
        }

    @staticmethod
    def from_json(raw: dict[str, Any]) -> Gazetteer:
        return Gazetteer(
            addresses={s: {n: (p[0], p[1]) for n, p in v.items()} for s, v in raw["addresses"].items()},
            streets={s: [(p[0], p[1]) for p in v] for s, v in raw["streets"].items()},
            places={s: (p[0], p[1]) for s, p in raw["places"].items()},
            source=str(raw.get("source", "")),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)

    def counts(self) -> dict[str, int]:
        return {
            "addresses": sum(len(v) for v in self.addresses.values()),
            "streets": len(self.streets),
            "places": len(self.places),
        }


def gazetteer_path(data_dir: Path) -> Path:
    """Where ``safecity import roads`` writes the gazetteer (beside the road graph)."""
    return data_dir / "roads" / "gazetteer.json"


def load_gazetteer(data_dir: Path | None) -> Gazetteer | None:
    """The gazetteer imported with the roads, or None where none is."""
    path = gazetteer_path(data_dir) if data_dir else None
    if path is None or not path.is_file():
        return None
    return Gazetteer.from_json(json.loads(path.read_text(encoding="utf-8")))


def read_gazetteer(path: Path) -> Gazetteer:
    """Read the addresses, named streets and named places of an OSM XML or PBF file (osmium).

    A way's point is the mean of its nodes' locations (buildings are small); nodes outside the file are
    skipped. Raises BadRequest naming the file when libosmium cannot read it."""
    import osmium

    gaz = Gazetteer(source=path.name)
    try:
        processor = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
        for obj in processor:
            tags = {t.k: t.v for t in obj.tags}
            if not tags:
                continue
            if isinstance(obj, osmium.osm.Node):
                if not obj.location.valid():
                    continue
                pts = [(obj.location.lon, obj.location.lat)]
            elif isinstance(obj, osmium.osm.Way):
                pts = [(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]
                if not pts:
                    continue
            else:
                continue
            names = {tags[k].strip() for k in ("name", "name:ko", "name:en") if tags.get(k, "").strip()}
            if "highway" in tags and isinstance(obj, osmium.osm.Way):
                for name in names:
                    gaz.streets.setdefault(name, []).extend(pts)
                continue
            mid = (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
            street, number = (
                _street_name(tags.get("addr:street", "")),
                tags.get("addr:housenumber", "").strip(),
            )
            if street and NUMBER.match(number):
                gaz.addresses.setdefault(street, {})[number.removesuffix("번지").removesuffix("번")] = mid
            if "place" in tags or "boundary" in tags:
                continue  # areas (a dong, a quarter): the shipped boundaries place those better
            for name in names:
                gaz.places.setdefault(name, mid)
    except (RuntimeError, osmium.InvalidLocationError) as e:
        raise BadRequest(f"{path}: not a readable OSM XML or PBF file ({e})", where=str(path)) from e
    return gaz


def _street_name(raw: str) -> str:
    """'마포대로11길 (Mapo-daero 11-gil)' and '마포구 백범로' as the street name alone."""
    words = re.sub(r"\(.*?\)", " ", raw).split()
    return words[-1] if words else ""


def geocode(text: str, gazetteer: Gazetteer | None, *, where: str = "address") -> Place:
    """Place ``text`` (see the module's docstring for the order tried). Raises BadRequest naming
    ``where`` when nothing in it can be placed, saying what to give instead."""
    import shapely

    from safecity.geo.seoul import dongs

    words = [w for w in re.split(r"[\s,()]+", text.strip()) if w and w.lower() not in CITY_WORDS]
    joined = " ".join(words)
    area = _area(words, joined)
    inside = shapely.union_all([d.polygon for d in area]) if area else None

    def ok(p: tuple[float, float]) -> bool:
        return inside is None or bool(shapely.intersects_xy(inside.buffer(0.002), p[0], p[1]))

    if gazetteer is not None:
        found = (
            _address(words, gazetteer, ok) or _place(joined, gazetteer, ok) or _street(words, gazetteer, ok)
        )
        if found is not None:
            d = next((b for b in dongs() if shapely.contains_xy(b.polygon, found.lon, found.lat)), None)
            return Place(found.lon, found.lat, found.precision, found.matched, d.code if d else None)
    if len(area) == 1:
        c = area[0].polygon.representative_point()
        return Place(float(c.x), float(c.y), "dong", area[0].name_ko, area[0].code)
    if len(area) > 1:
        raise BadRequest(
            f"{where}: '{text}' names {len(area)} dongs; add the district name, a street and number, or give lon/lat",
            where=where,
            message_ko=f"{where}: '{text}'은(는) 동 {len(area)}곳과 일치합니다. 구 이름이나 도로명과 건물번호, 또는 좌표를 주십시오",
        )
    raise BadRequest(
        f"{where}: cannot place '{text}': give a road-name address (e.g. '마포대로 109'), a place name, "
        "a district and dong (e.g. '마포구 공덕동'), or lon/lat",
        where=where,
        message_ko=f"{where}: '{text}'의 위치를 찾을 수 없습니다. 도로명주소(예: '마포대로 109'), 장소 이름, "
        "구와 동(예: '마포구 공덕동')이나 좌표를 주십시오",
    )


def _area(words: list[str], joined: str) -> list[Any]:
    """The dongs the text names (narrowed by the district it names); every dong of a named district when
    it names no dong; none when it names neither."""
    from safecity.geo.seoul import districts, dongs

    lower = joined.lower()
    named_districts = {
        b.code for b in districts() if b.name_ko in words or (b.name_en and b.name_en.lower() in lower)
    }
    found = [
        d
        for d in dongs()
        if d.name_ko in words
        or d.name_ko.removesuffix("동") in words
        or (d.name_en and re.search(rf"\b{re.escape(d.name_en.lower())}\b", lower))
    ]
    if named_districts:
        in_district = [d for d in found if d.district_code in named_districts]
        if in_district or not found:
            found = in_district or [d for d in dongs() if d.district_code in named_districts]
    return found


@dataclass(frozen=True)
class _Hit:
    lon: float
    lat: float
    precision: str
    matched: str


def _address(words: list[str], gaz: Gazetteer, ok: Any) -> _Hit | None:
    """A street name followed by a building number: exact, or between the nearest known numbers."""
    for i, word in enumerate(words[:-1]):
        street = word if word in gaz.addresses or word in gaz.streets else None
        m = NUMBER.match(words[i + 1])
        if street is None or m is None:
            continue
        number = words[i + 1].removesuffix("번지").removesuffix("번")
        known = gaz.addresses.get(street, {})
        if number in known and ok(known[number]):
            lon, lat = known[number]
            return _Hit(lon, lat, "address", f"{street} {number}")
        main = int(m.group(1))
        # known numbers on the same side of the street (same parity), nearest below and above
        side = sorted(
            (int(k.split("-")[0]), p)
            for k, p in known.items()
            if int(k.split("-")[0]) % 2 == main % 2 and ok(p)
        )
        below = [s for s in side if s[0] <= main]
        above = [s for s in side if s[0] >= main]
        if below and above and above[0][0] != below[-1][0]:
            (n0, p0), (n1, p1) = below[-1], above[0]
            f = (main - n0) / (n1 - n0)
            return _Hit(
                p0[0] + f * (p1[0] - p0[0]), p0[1] + f * (p1[1] - p0[1]), "interpolated", f"{street} {number}"
            )
        if below and above:
            return _Hit(below[-1][1][0], below[-1][1][1], "interpolated", f"{street} {number}")
    return None


def _place(joined: str, gaz: Gazetteer, ok: Any) -> _Hit | None:
    """The longest place name the text contains (a whole-word match: '마포경찰서', '아현동 주민센터')."""
    best: tuple[str, tuple[float, float]] | None = None
    for name, p in gaz.places.items():
        if len(name) < 3 or (best is not None and len(name) <= len(best[0])):
            continue
        if re.search(rf"(?<!\S){re.escape(name)}(?!\S)", joined) and ok(p):
            best = (name, p)
    return _Hit(best[1][0], best[1][1], "place", best[0]) if best else None


def _street(words: list[str], gaz: Gazetteer, ok: Any) -> _Hit | None:
    """A named street: the middle of its points inside the named area."""
    for word in words:
        pts = [p for p in gaz.streets.get(word, []) if ok(p)]
        if pts:
            lon, lat = pts[len(pts) // 2]
            return _Hit(lon, lat, "street", word)
    return None
