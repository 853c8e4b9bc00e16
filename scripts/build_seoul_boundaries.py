# SPDX-License-Identifier: Apache-2.0
"""Build the Seoul boundaries shipped in the package (``src/safecity/geo/data/``) from the shared data.

    python scripts/build_seoul_boundaries.py                 # write the files
    python scripts/build_seoul_boundaries.py --check         # exit 1 if the shipped files differ

Inputs (``--data``, default ``../shared/data``; see ``boundaries/PROVENANCE.md`` there):

* ``boundaries/admdong_seoul_2021-04_vuski-via-raqoon886.geojson``: Seoul's 425 administrative dongs
  (행정동) of April 2021 from vuski/admdongkor, with the 10-digit MOIS code ``adm_cd2`` and the 5-digit
  MOIS district code ``sgg``. Free to use with attribution (https://github.com/vuski/admdongkor).
* ``boundaries/seoulmaps_kostat_2013_seoul_submunicipalities_geo_simple.geojson`` (southkorea/seoul-maps,
  Apache-2.0): the dongs' English names (``name_eng``), matched by the KOSTAT-style code ``adm_cd`` and
  the name, else by district and name; two dongs created after 2013 are romanised here.
* ``boundaries/seoulmaps_juso_2015_seoul_municipalities_geo.geojson`` (southkorea/seoul-maps, Apache-2.0):
  the districts' Korean and English names by MOIS code ``SIG_CD`` (only the names; not the outlines).

What it does: the dongs are simplified together as a coverage (``shapely.coverage_simplify``, GEOS
3.12+), which keeps shared borders shared (no gaps, no overlaps), at :data:`TOLERANCE_M` metres in a
local equirectangular frame; coordinates are rounded to 6 decimals (~0.1 m). The 25 districts are the
union of their dongs' simplified polygons, so the two layers nest exactly: a point is in a district
exactly when it is in one of that district's dongs. (The juso 2015 district outlines are an older survey
that differs from the 2021 dongs by up to a few hundred metres along the Han and the city border; with
them, a point could sit in a dong of one district and in another district.)

The output is byte-for-byte reproducible: no PROJ transform (whose results can change between PROJ
versions), fixed ordering by code, fixed JSON formatting.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "src" / "safecity" / "geo" / "data"

DONGS_IN = "boundaries/admdong_seoul_2021-04_vuski-via-raqoon886.geojson"
NAMES_IN = "boundaries/seoulmaps_kostat_2013_seoul_submunicipalities_geo_simple.geojson"
DISTRICTS_IN = "boundaries/seoulmaps_juso_2015_seoul_municipalities_geo.geojson"
DONGS_OUT = "seoul_dongs.geojson"
DISTRICTS_OUT = "seoul_districts.geojson"
ATTRIBUTION_OUT = "ATTRIBUTION.md"

#: Simplification tolerance (Douglas-Peucker distance on the shared coverage), metres. A dong border
#: moves by at most this much: well under a city block, and the source itself is a generalised
#: boundary; it cuts the vertices by a third and the file to ~0.35 MB.
TOLERANCE_M = 10.0
#: Decimal places kept (1e-6 degree is ~0.1 m in Seoul).
DECIMALS = 6
#: Metres per degree of latitude (WGS84 mean), as in safecity.geo.terrain.
M_PER_DEG = 111_195.0
#: Centre of the local frame the simplification runs in (Seoul City Hall, rounded).
LON0, LAT0 = 126.98, 37.55

#: Dongs created after the 2013 KOSTAT file (so without its English name): Revised Romanization of Korean.
EXTRA_ENGLISH = {"1153080000": "Hang-dong", "1171064700": "Wirye-dong"}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _features(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    features: list[dict[str, Any]] = data["features"]
    return features


def _fail(message: str) -> SystemExit:
    return SystemExit(f"build_seoul_boundaries: {message}")


def _english_names(dongs: list[dict[str, Any]], names_path: Path) -> dict[str, str]:
    """adm_cd2 → English name: by KOSTAT code and same name, else by district + name, else the table."""
    by_code: dict[str, dict[str, Any]] = {}
    by_name: dict[tuple[str, str], dict[str, Any]] = {}
    for f in _features(names_path):
        p = f["properties"]
        by_code[p["code"]] = p
        by_name[(p["code"][:5], p["name"])] = p
    out: dict[str, str] = {}
    for f in dongs:
        p = f["properties"]
        short = p["adm_nm"].split()[-1]
        old = by_code.get(p["adm_cd"])
        if old is None or old["name"] != short:
            old = by_name.get((p["adm_cd"][:5], short))
        if old is not None:
            out[p["adm_cd2"]] = old["name_eng"]
        elif p["adm_cd2"] in EXTRA_ENGLISH:
            out[p["adm_cd2"]] = EXTRA_ENGLISH[p["adm_cd2"]]
        else:
            raise _fail(f"no English name for {p['adm_cd2']} {p['adm_nm']}: add it to EXTRA_ENGLISH")
    return out


def _to_m(geoms: Any, inverse: bool = False) -> Any:
    kx = M_PER_DEG * math.cos(math.radians(LAT0))

    def fwd(c: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return np.column_stack([(c[:, 0] - LON0) * kx, (c[:, 1] - LAT0) * M_PER_DEG])

    def back(c: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        # rounding here makes a vertex shared by two dongs the same number in both
        return np.round(np.column_stack([c[:, 0] / kx + LON0, c[:, 1] / M_PER_DEG + LAT0]), DECIMALS)

    return shapely.transform(geoms, back if inverse else fwd)


def _polygonal(geom: BaseGeometry, what: str) -> BaseGeometry:
    if not geom.is_valid:
        raise _fail(f"{what}: invalid after simplification ({shapely.is_valid_reason(geom)})")
    parts = shapely.get_parts(geom)
    if geom.geom_type == "MultiPolygon" and len(parts) == 1:
        only: BaseGeometry = parts[0]
        return only
    return geom


def build(data: Path) -> dict[str, str]:
    """The shipped files' text by file name."""
    dongs_in, names_in, districts_in = data / DONGS_IN, data / NAMES_IN, data / DISTRICTS_IN
    for p in (dongs_in, names_in, districts_in):
        if not p.is_file():
            raise _fail(f"{p} is missing (the shared data folder, see --data)")
    dongs = sorted(_features(dongs_in), key=lambda f: f["properties"]["adm_cd2"])
    if len(dongs) != 425:
        raise _fail(f"{dongs_in}: expected 425 dongs, found {len(dongs)}")
    for f in dongs:
        p = f["properties"]
        if len(p["adm_cd2"]) != 10 or p["adm_cd2"][:5] != p["sgg"]:
            raise _fail(
                f"{dongs_in}: {p['adm_nm']}: adm_cd2 {p['adm_cd2']} does not start with sgg {p['sgg']}"
            )
    english = _english_names(dongs, names_in)
    districts_src = {f["properties"]["SIG_CD"]: f["properties"] for f in _features(districts_in)}
    for f in dongs:
        p = f["properties"]
        d = districts_src.get(p["sgg"])
        if d is None or d["SIG_KOR_NM"] != p["sggnm"]:
            raise _fail(f"{districts_in}: no district {p['sgg']} {p['sggnm']} (MOIS codes differ?)")

    source = np.array([shape(f["geometry"]) for f in dongs], dtype=object)
    if not shapely.coverage_is_valid(source):
        raise _fail(f"{dongs_in}: the dongs overlap or leave slivers (not a valid coverage)")
    simple = _to_m(shapely.coverage_simplify(_to_m(source), TOLERANCE_M), inverse=True)
    simple = np.array([_polygonal(g, f["properties"]["adm_nm"]) for g, f in zip(simple, dongs, strict=True)])
    if not shapely.coverage_is_valid(simple):
        raise _fail("the simplified dongs are not a valid coverage; lower TOLERANCE_M")

    dong_lines: list[str] = []
    for f, geom in zip(dongs, simple, strict=True):
        p = f["properties"]
        props = {
            "adm_cd2": p["adm_cd2"],
            "adm_cd": p["adm_cd"],
            "adm_nm": p["adm_nm"],
            "name_en": english[p["adm_cd2"]],
            "sgg": p["sgg"],
            "sggnm": p["sggnm"],
        }
        dong_lines.append(_feature(props, geom))

    district_lines: list[str] = []
    codes = sorted({f["properties"]["sgg"] for f in dongs})
    for code in codes:
        parts = [g for g, f in zip(simple, dongs, strict=True) if f["properties"]["sgg"] == code]
        union = _polygonal(shapely.coverage_union_all(parts), f"district {code}")
        d = districts_src[code]
        props = {"SIG_CD": code, "SIG_KOR_NM": d["SIG_KOR_NM"], "SIG_ENG_NM": d["SIG_ENG_NM"]}
        district_lines.append(_feature(props, union))

    stats = {
        "dongs": len(dongs),
        "districts": len(codes),
        "vertices_in": int(shapely.get_num_coordinates(source).sum()),
        "vertices_out": int(shapely.get_num_coordinates(simple).sum()),
        "sha_dongs": _sha256(dongs_in),
        "sha_names": _sha256(names_in),
        "sha_districts": _sha256(districts_in),
    }
    return {
        DONGS_OUT: _collection("seoul_dongs", dong_lines),
        DISTRICTS_OUT: _collection("seoul_districts", district_lines),
        ATTRIBUTION_OUT: _attribution(stats),
    }


def _feature(props: dict[str, Any], geom: BaseGeometry) -> str:
    body = {"type": "Feature", "properties": props, "geometry": mapping(geom)}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _collection(name: str, lines: list[str]) -> str:
    head = (
        '{"type":"FeatureCollection","name":"' + name + '",'
        '"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}},'
        '"attribution":"Administrative dong boundaries: vuski/admdongkor (https://github.com/vuski/admdongkor), '
        'April 2021, simplified by safecity; see ATTRIBUTION.md","features":[\n'
    )
    return head + ",\n".join(lines) + "\n]}\n"


def _attribution(s: dict[str, Any]) -> str:
    return f"""# Seoul administrative boundaries shipped with safecity

`seoul_dongs.geojson` — Seoul's {s["dongs"]} administrative dongs (행정동) as of April 2021, with the
10-digit Ministry of the Interior and Safety (MOIS, 행정안전부) code `adm_cd2`, the 7-digit
KOSTAT-style code `adm_cd`, the full Korean name `adm_nm`, the English name `name_en`, and the 5-digit MOIS
district code and name `sgg`, `sggnm`.

`seoul_districts.geojson` — Seoul's {s["districts"]} districts (자치구) with the MOIS code `SIG_CD` and
names `SIG_KOR_NM`, `SIG_ENG_NM`: each is the union of its dongs above, so the two layers nest exactly.

## Sources and licences

- **Dong boundaries**: vuski/admdongkor, https://github.com/vuski/admdongkor — version ver20210401
  (April 2021), based on Statistics Korea (KOSTAT) SGIS boundaries. Its terms: free to use; please cite
  https://github.com/vuski/admdongkor. Users are responsible for checking the boundaries. Taken from the
  Seoul subset in raqoon886/Local_HangJeongDong (`hangjeongdong_서울특별시.geojson`, commit
  c6815a42938ec7e611c3677bb4cb15aad7520005).
- **English names** of the dongs: southkorea/seoul-maps (Lucy Park, Apache-2.0),
  `kostat/2013/json/seoul_submunicipalities_geo_simple.json`, commit
  dbb1dcde2e3c9937684c5a44ab9301888ad63ee6, matched by code and name; 항동 (Hang-dong) and 위례동
  (Wirye-dong), created after 2013, romanised by safecity (Revised Romanization).
- **District names** (Korean, English): southkorea/seoul-maps `juso/2015/json/seoul_municipalities_geo.json`
  (same commit, Apache-2.0; data from juso.go.kr via Seoul Open Data Plaza OA-11677), by MOIS code.
  Only the names are used, not that file's outlines.

## What safecity changed

- Simplified as one coverage (shared borders stay shared: no gaps, no overlaps) with GEOS
  `coverage_simplify`, tolerance {TOLERANCE_M:g} m in a local equirectangular frame centred on
  ({LON0}, {LAT0}); {s["vertices_in"]} vertices became {s["vertices_out"]}. Coordinates rounded to
  {DECIMALS} decimals (about 0.1 m). WGS84 longitude/latitude (CRS84).
- Districts dissolved from the simplified dongs.
- Regenerate with `python scripts/build_seoul_boundaries.py` (from `../shared/data`); `--check` verifies
  that these files are what the script makes. Input SHA-256:
  - `admdong_seoul_2021-04_vuski-via-raqoon886.geojson` {s["sha_dongs"]}
  - `seoulmaps_kostat_2013_seoul_submunicipalities_geo_simple.geojson` {s["sha_names"]}
  - `seoulmaps_juso_2015_seoul_municipalities_geo.geojson` {s["sha_districts"]}

## Caveats

Boundaries as of April 2021: Seoul has had 426–427 dongs since 2024 (splits in 강남구 and 강동구). The
dong population is not shipped (its source carries no licence); the demo city spreads each district's
2021 total over its dongs by area and labels it generated.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the package data goes")
    parser.add_argument(
        "--check", action="store_true", help="compare instead of writing; exit 1 on a difference"
    )
    args = parser.parse_args(argv)
    files = build(args.data)
    if args.check:
        stale = [
            name
            for name, text in files.items()
            if not (args.out / name).is_file() or (args.out / name).read_text(encoding="utf-8") != text
        ]
        if stale:
            print(f"differ from what the script makes: {', '.join(stale)}", file=sys.stderr)
            return 1
        print(f"up to date: {', '.join(files)}")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.out / name} ({len(text.encode()) / 1000:.0f} kB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
