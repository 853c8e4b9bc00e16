# SPDX-License-Identifier: Apache-2.0
"""Seoul's real administrative boundaries, shipped in the package (``safecity/geo/data/``).

* ``seoul_dongs.geojson``: the 425 administrative dongs (행정동) of April 2021 from vuski/admdongkor
  (free to use with attribution), MOIS code ``adm_cd2`` (10 digits), district code ``sgg``, Korean and
  English names; simplified at 10 m as one coverage.
* ``seoul_districts.geojson``: the 25 districts (자치구), MOIS code ``SIG_CD``, each the union of its dongs,
  so the two layers nest exactly.

Both are ordinary files for ``safecity import layer FILE --as districts|dongs`` (the column names are the
ones the importer recognises); :func:`boundary_file` gives their path. ``ATTRIBUTION.md`` next to them
names the sources, licences, versions and the simplification; ``scripts/build_seoul_boundaries.py``
regenerates them from the shared data. Nothing here reads anything outside the package.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

DISTRICTS_FILE = "seoul_districts.geojson"
DONGS_FILE = "seoul_dongs.geojson"
ATTRIBUTION_FILE = "ATTRIBUTION.md"


@dataclass(frozen=True)
class Attribution:
    """Who made the shipped boundaries and on what terms (for the OGC API metadata and the pages)."""

    text: str
    licences: tuple[tuple[str, str], ...]  # (title, url) of each source's terms


ATTRIBUTION = Attribution(
    text=(
        "Administrative dong boundaries (행정동, April 2021): vuski/admdongkor "
        "(https://github.com/vuski/admdongkor), free to use with attribution; English dong names and "
        "district names: southkorea/seoul-maps (Apache-2.0). Simplified by safecity at 10 m as one "
        "coverage; districts are the union of their dongs."
    ),
    licences=(
        ("vuski/admdongkor: free to use, please cite", "https://github.com/vuski/admdongkor"),
        ("southkorea/seoul-maps: Apache-2.0", "https://github.com/southkorea/seoul-maps"),
    ),
)

#: The ``source`` a layer imported from a shipped file gets (``geo_areas.source`` is the file name).
SHIPPED_SOURCES = frozenset({DISTRICTS_FILE, DONGS_FILE})


@contextlib.contextmanager
def boundary_file(name: str) -> Iterator[Path]:
    """The filesystem path of a shipped file (``DISTRICTS_FILE``, ``DONGS_FILE``, ``ATTRIBUTION_FILE``)
    for as long as the context lasts (a zipped install extracts it to a temporary file)."""
    if name not in (DISTRICTS_FILE, DONGS_FILE, ATTRIBUTION_FILE):
        raise KeyError(f"no shipped boundary file {name!r}")
    with resources.as_file(resources.files("safecity.geo").joinpath("data", name)) as path:
        yield path


@dataclass(frozen=True)
class Boundary:
    """One shipped area: MOIS code, names, parent district code (dongs) and WGS84 polygon."""

    code: str
    name_ko: str
    name_en: str
    district_code: str  # a district's own code, a dong's parent
    polygon: BaseGeometry


def _read(name: str) -> tuple[list[dict[str, Any]], list[BaseGeometry]]:
    """The features' properties and geometries, in file order."""
    text = resources.files("safecity.geo").joinpath("data", name).read_text(encoding="utf-8")
    props = [f["properties"] for f in json.loads(text)["features"]]
    # GEOS reads the whole collection at once (a GeometryCollection in feature order), ~5x faster than
    # shapely.geometry.shape() per feature
    geoms = list(shapely.get_parts(shapely.from_geojson(text)))
    if len(geoms) != len(props):
        raise ValueError(f"{name}: {len(props)} features but {len(geoms)} geometries")
    return props, geoms


@cache
def districts() -> tuple[Boundary, ...]:
    """The 25 districts, ordered by code (read once; the values are immutable)."""
    props, geoms = _read(DISTRICTS_FILE)
    return tuple(
        Boundary(p["SIG_CD"], p["SIG_KOR_NM"], p["SIG_ENG_NM"], p["SIG_CD"], g)
        for p, g in zip(props, geoms, strict=True)
    )


@cache
def dongs() -> tuple[Boundary, ...]:
    """The 425 administrative dongs, ordered by code; ``name_ko`` is the short name ("사직동")."""
    props, geoms = _read(DONGS_FILE)
    return tuple(
        Boundary(p["adm_cd2"], p["adm_nm"].split()[-1], p["name_en"], p["sgg"], g)
        for p, g in zip(props, geoms, strict=True)
    )


def attribution_for(sources: Iterable[str | None]) -> Attribution | None:
    """The attribution owed when any of these ``source`` values is a shipped file, else None."""
    return ATTRIBUTION if any(s in SHIPPED_SOURCES for s in sources) else None


__all__ = [
    "ATTRIBUTION",
    "ATTRIBUTION_FILE",
    "DISTRICTS_FILE",
    "DONGS_FILE",
    "SHIPPED_SOURCES",
    "Attribution",
    "Boundary",
    "attribution_for",
    "boundary_file",
    "districts",
    "dongs",
]
