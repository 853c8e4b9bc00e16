# SPDX-License-Identifier: Apache-2.0
"""Import of geodata files (GeoJSON, Shapefile, GeoPackage) into the store.

Files are read with pyogrio, reprojected to WGS84 (EPSG:4326, lon/lat) with pyproj when the source CRS
differs, and each geometry is validated; an invalid one is repaired with ``shapely.make_valid`` and the
repair is reported per feature. Attribute columns are mapped by :mod:`safecity.geo.columns`.

* ``districts``, ``dongs`` → ``geo_areas`` (upsert on kind + code system + code); each dong's parent is
  the district whose code is its 5-digit prefix in the same code system, else the district containing
  its representative point.
* ``shelters`` → :func:`safecity.evacuation.shelters.upsert_shelters`.
* ``hazard-zones`` → :func:`safecity.evacuation.zones.import_zones` (``evac_hazard_zones``, with
  evacuation guidance); the hazard comes from a ``hazard``/``type``/``kind`` column or ``hazard=``.
* any other kind (``facilities``...) → ``geo_features`` with ``layer`` = kind; the rows
  a previous import of the same file wrote are replaced.

One file is one transaction: a whole-file error writes nothing. Features that cannot be used (no code,
no geometry) are skipped and reported with their index (0-based, as OGR numbers GeoJSON features).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyogrio  # type: ignore[import-untyped]  # no py.typed; its raw API returns numpy arrays
import pyogrio.errors  # type: ignore[import-untyped]
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from safecity.core.errors import BadRequest
from safecity.geo import areas as area_index
from safecity.geo import tables as t
from safecity.geo.columns import (
    CODE_FIELDS,
    NAME_EN_FIELDS,
    NAME_FIELDS,
    PARENT_SYSTEM,
    ColumnMap,
    detect_area_columns,
    first_field,
    short_name,
)
from safecity.store import Store

AREA_KINDS = {"districts": "district", "dongs": "dong"}
SHELTER_KINDS = ("earthquake_outdoor", "temporary_housing", "heat", "cold", "civil_defence")
_SHELTER_TYPE_NAMES = {
    "지진옥외대피장소": "earthquake_outdoor",
    "임시주거시설": "temporary_housing",
    "무더위쉼터": "heat",
    "한파쉼터": "cold",
    "민방위대피시설": "civil_defence",
    "민방위대피소": "civil_defence",
}
_KIND_FIELDS = ("kind", "type", "shelter_type", "hazard", "시설구분")
_CAPACITY_FIELDS = ("capacity", "수용인원", "최대수용인원", "max_capacity")
_HAZARD_FIELDS = ("hazard", "hazard_type", "hazard_kind", "재해구분", "재해유형", "type", "kind")
_ADDRESS_FIELDS = ("address", "addr", "도로명주소", "주소")
_WGS84 = CRS.from_epsg(4326)

Progress = Callable[[int, int | None], None]


class _HasStore(Protocol):
    store: Store


@dataclass
class ImportReport:
    """What an import did. ``repaired`` and ``bad`` hold (feature index, reason)."""

    path: str
    layer: str | None
    kind: str
    features: int = 0
    created: int = 0
    updated: int = 0
    source_crs: str | None = None
    reprojected: bool = False
    columns: dict[str, str | None] = field(default_factory=dict)
    repaired: list[tuple[int, str]] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "layer": self.layer,
            "kind": self.kind,
            "features": self.features,
            "created": self.created,
            "updated": self.updated,
            "source_crs": self.source_crs,
            "reprojected": self.reprojected,
            "columns": self.columns,
            "repaired": [{"feature": i, "reason": r} for i, r in self.repaired],
            "bad": [{"feature": i, "reason": r} for i, r in self.bad],
            "notes": self.notes,
        }


@dataclass(frozen=True)
class _Layer:
    where: str
    fields: list[str]
    columns: dict[str, np.ndarray[Any, Any]]
    geoms: list[BaseGeometry | None]
    crs: str | None


def _store(platform_or_store: Store | _HasStore) -> Store:
    return platform_or_store.store if hasattr(platform_or_store, "store") else platform_or_store


def _read(path: Path, layer: str | None, report: ImportReport) -> _Layer:
    where = f"{path}" + (f":{layer}" if layer else "")
    if layer is None:
        try:
            layers = [str(name) for name, _type in pyogrio.list_layers(path)]
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as e:
            raise BadRequest(f"{where}: cannot read the file: {e}", where=where) from None
        if len(layers) > 1:
            raise BadRequest(
                f"{where}: the file has {len(layers)} layers ({', '.join(layers[:20])}); choose one with --layer",
                where=f"{where}:layer",
            )
    encoding = None
    if path.suffix.lower() == ".shp" and not any(path.with_suffix(x).exists() for x in (".cpg", ".CPG")):
        # Korean Shapefiles (juso.go.kr, MOIS, KOSTAT SGIS) usually come in CP949 without a .cpg file,
        # and GDAL would then read them as Latin-1: try UTF-8 first, then CP949.
        encoding = "UTF-8"
    try:
        try:
            meta, _fids, wkb, values = pyogrio.raw.read(path, layer=layer, encoding=encoding)
        except UnicodeDecodeError:
            meta, _fids, wkb, values = pyogrio.raw.read(path, layer=layer, encoding="CP949")
            report.notes.append("no .cpg file and the text is not UTF-8: read as CP949 (EUC-KR)")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as e:
        raise BadRequest(f"{where}: cannot read the file: {e}", where=where) from None
    fields = [str(f) for f in meta["fields"]]
    crs = meta.get("crs")
    report.source_crs = crs
    geoms: list[BaseGeometry | None] = (
        [_geometry(g, i, report) for i, g in enumerate(wkb)] if wkb is not None else []
    )
    if not geoms:
        raise BadRequest(f"{where}: the layer has no geometry column", where=where)
    geoms = _to_wgs84(geoms, crs, where, report)
    return _Layer(where, fields, dict(zip(fields, values, strict=True)), geoms, crs)


def _geometry(wkb: bytes | None, i: int, report: ImportReport) -> BaseGeometry | None:
    """One feature's 2D geometry; None (skipped as "no geometry") when GEOS cannot build it, e.g. a
    GeoJSON LineString of one point, which GDAL passes through and GEOS refuses (found by fuzzing)."""
    if wkb is None:
        return None
    try:
        # 2D: the store's geometry columns have no Z, and PostGIS refuses a Z value (found by fuzzing)
        return shapely.force_2d(shapely.from_wkb(wkb))
    except shapely.errors.GEOSException as e:
        report.notes.append(f"feature {i}: the geometry cannot be read ({e}); skipped")
        return None


def _to_wgs84(
    geoms: list[BaseGeometry | None], crs: str | None, where: str, report: ImportReport
) -> list[BaseGeometry | None]:
    if crs is None:
        report.notes.append("the file declares no CRS; read as WGS84 lon/lat")
        bounds = shapely.total_bounds([g for g in geoms if g is not None])
        if not (-180 <= bounds[0] <= bounds[2] <= 180 and -90 <= bounds[1] <= bounds[3] <= 90):
            raise BadRequest(
                f"{where}: the file declares no CRS and its coordinates are not lon/lat degrees "
                f"(bounds {bounds.tolist()}); write the file with its CRS (e.g. a .prj next to a Shapefile)",
                where=where,
            )
        return geoms
    try:
        source = CRS.from_user_input(crs)
    except CRSError as e:
        raise BadRequest(f"{where}: unknown CRS '{crs}': {e}", where=where) from None
    if source.equals(_WGS84, ignore_axis_order=True) or source.to_epsg() == 4326:
        return geoms
    # always_xy: GDAL hands us x/y in the traditional GIS order, lon first, whatever the CRS axis order.
    transformer = Transformer.from_crs(source, _WGS84, always_xy=True)

    def project(coords: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    report.reprojected = True
    return [None if g is None else shapely.transform(g, project) for g in geoms]


def _text(value: Any) -> str | None:
    """A cell as text; integral floats lose their ``.0`` (codes read as numbers from Shapefiles)."""
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        if float(value).is_integer():
            return str(int(value))
    s = str(value).strip()
    return s or None


def _json_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    return value


def _properties(layer: _Layer, i: int) -> dict[str, Any]:
    return {f: _json_value(layer.columns[f][i]) for f in layer.fields}


def _check_field(layer: _Layer, name: str | None, option: str, what: str) -> None:
    if name is not None and name not in layer.fields:
        raise BadRequest(
            f"{layer.where}: field '{name}' ({what}) is not in the file; fields are "
            f"{', '.join(layer.fields)}. Name the right one with {option}",
            where=f"{layer.where}:{name}",
        )


def _repair(geom: BaseGeometry, i: int, report: ImportReport, dims: int | None) -> BaseGeometry | None:
    """A valid geometry of the wanted dimension (2 polygons, 0 points, None any), or None when unusable."""
    if geom.is_empty:
        report.bad.append((i, "empty geometry"))
        return None
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        fixed = shapely.make_valid(geom)
        if dims is not None and fixed.geom_type == "GeometryCollection":
            parts = [p for p in shapely.get_parts(fixed) if shapely.get_dimensions(p) == dims]
            fixed = shapely.union_all(parts) if parts else shapely.GeometryCollection()
        if fixed.is_empty:
            report.bad.append((i, f"invalid geometry ({reason}) could not be repaired"))
            return None
        report.repaired.append((i, f"{reason}; repaired with make_valid into a {fixed.geom_type}"))
        geom = fixed
    if dims is not None and shapely.get_dimensions(geom) != dims:
        want = "polygon" if dims == 2 else "point" if dims == 0 else "line"
        report.bad.append((i, f"geometry is a {geom.geom_type}, this layer needs a {want}"))
        return None
    return geom


def import_layer(
    platform_or_store: Store | _HasStore,
    path: Path,
    kind: str,
    *,
    code_field: str | None = None,
    name_field: str | None = None,
    name_en_field: str | None = None,
    layer: str | None = None,
    code_system: str | None = None,
    shelter_kind: str = "civil_defence",
    hazard: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import one layer of a geodata file as ``kind``; see the module docstring for where rows go.

    Raises :class:`BadRequest` (nothing written) when the file cannot be read, its CRS is unknown, a
    named field is missing, or an area layer has no code column; the message names the file, layer
    and field.
    """
    if not kind or not re.fullmatch(r"[a-z][a-z0-9_-]*", kind):
        raise BadRequest(f"--as: '{kind}' is not a layer name (lower-case letters, digits, - and _)")
    if hazard is not None and kind != "hazard-zones":
        raise BadRequest(f"--hazard: only for --as hazard-zones, not --as {kind}", where="hazard")
    if kind == "shelters" and shelter_kind not in SHELTER_KINDS:
        raise BadRequest(f"shelter kind '{shelter_kind}': use one of {', '.join(SHELTER_KINDS)}")
    store = _store(platform_or_store)
    path = Path(path)
    report = ImportReport(str(path), layer, kind)
    data = _read(path, layer, report)
    report.features = len(data.geoms)
    for name, option, what in (
        (code_field, "--code-field", "code"),
        (name_field, "--name-field", "Korean name"),
        (name_en_field, "--name-en-field", "English name"),
    ):
        _check_field(data, name, option, what)
    source = path.name + (f":{layer}" if layer else "")
    now = datetime.now(UTC)
    if kind in AREA_KINDS:
        cols = detect_area_columns(
            data.fields,
            code_field=code_field,
            name_field=name_field,
            name_en_field=name_en_field,
            code_system=code_system,
        )
        if cols is None:
            raise BadRequest(
                f"{data.where}: no code field for {kind}: none of SIG_CD, adm_cd2, EMD_CD, adm_cd, code "
                f"is in the file (fields: {', '.join(data.fields)}); name it with --code-field",
                where=f"{data.where}:code",
            )
        _check_field(data, cols.code, "--code-field", "code")
        if cols.name is None:
            raise BadRequest(
                f"{data.where}: no name field for {kind} (fields: {', '.join(data.fields)}); "
                "name it with --name-field",
                where=f"{data.where}:name",
            )
        report.columns = {
            "code": cols.code,
            "code_system": cols.code_system,
            "name_ko": cols.name,
            "name_en": cols.name_en,
            "profile": cols.profile,
        }
        with store.write() as conn:
            _import_areas(conn, data, AREA_KINDS[kind], cols, source, now, report, progress)
            _link_parents(conn)
        area_index.invalidate(store.engine)
    elif kind == "shelters":
        with store.write() as conn:
            _import_shelters(
                conn, data, shelter_kind, code_field, name_field, name_en_field, report, progress
            )
    elif kind == "hazard-zones":
        with store.write() as conn:
            _import_hazard_zones(conn, data, hazard, name_field, name_en_field, source, now, report, progress)
    else:
        with store.write() as conn:
            _import_features(
                conn, data, kind, code_field, name_field, name_en_field, source, now, report, progress
            )
    return report


def _tick(progress: Progress | None, i: int, total: int) -> None:
    if progress is not None and (i % 200 == 0 or i == total):
        progress(i, total)


def _import_areas(
    conn: Connection,
    data: _Layer,
    area_kind: str,
    cols: ColumnMap,
    source: str,
    now: datetime,
    report: ImportReport,
    progress: Progress | None,
) -> None:
    existing = {
        code: aid
        for aid, code in conn.execute(
            select(t.areas.c.id, t.areas.c.code).where(
                t.areas.c.kind == area_kind, t.areas.c.code_system == cols.code_system
            )
        )
    }
    seen: set[str] = set()
    total = len(data.geoms)
    for i, raw in enumerate(data.geoms):
        _tick(progress, i, total)
        code = _text(data.columns[cols.code][i])
        if code is None:
            report.bad.append((i, f"field '{cols.code}' (code) is empty"))
            continue
        if code in seen:
            report.bad.append((i, f"field '{cols.code}': code {code} appears twice; kept the first"))
            continue
        name = _text(data.columns[cols.name][i]) if cols.name else None
        if name is None:
            report.bad.append((i, f"field '{cols.name}' (name) is empty"))
            continue
        if raw is None:
            report.bad.append((i, "no geometry"))
            continue
        geom = _repair(raw, i, report, dims=2)
        if geom is None:
            continue
        seen.add(code)
        props = _properties(data, i)
        if cols.name_is_full:
            props["full_name"] = name
            name = short_name(name)
        values = {
            "name_ko": name,
            "name_en": _text(data.columns[cols.name_en][i]) if cols.name_en else None,
            "geom": geom,
            "properties": props,
            "source": source,
            "imported_at": now,
        }
        if code in existing:
            conn.execute(update(t.areas).where(t.areas.c.id == existing[code]).values(**values))
            report.updated += 1
        else:
            conn.execute(
                t.areas.insert().values(kind=area_kind, code=code, code_system=cols.code_system, **values)
            )
            report.created += 1
    _tick(progress, total, total)


def _link_parents(conn: Connection) -> None:
    """Set every dong's parent: by code prefix within the code system, else by spatial containment."""
    districts = conn.execute(
        select(t.areas.c.id, t.areas.c.code, t.areas.c.code_system, t.areas.c.geom).where(
            t.areas.c.kind == "district"
        )
    ).all()
    if not districts:
        return
    by_code = {(d.code_system, d.code): d.id for d in districts}
    geoms = [d.geom for d in districts]
    tree = shapely.STRtree(geoms)
    dongs = conn.execute(
        select(
            t.areas.c.id, t.areas.c.code, t.areas.c.code_system, t.areas.c.geom, t.areas.c.parent_id
        ).where(t.areas.c.kind == "dong")
    ).all()
    for dong in dongs:
        parent = by_code.get((PARENT_SYSTEM.get(dong.code_system, dong.code_system), dong.code[:5]))
        if parent is None:
            parent = districts[_containing(dong.geom, dong.code_system, districts, tree)].id
        if parent != dong.parent_id:
            conn.execute(update(t.areas).where(t.areas.c.id == dong.id).values(parent_id=parent))


def _containing(geom: BaseGeometry, code_system: str, districts: Sequence[Any], tree: shapely.STRtree) -> int:
    """Index of the district holding a dong: the one it overlaps most (outlines of different surveys
    disagree along the Han River and the KOSTAT 2013 files sit ~300 m off the MOIS ones), else the
    nearest. A district of the dong's own code system wins when outlines of several systems overlap."""
    hits = sorted(int(h) for h in tree.query(geom, predicate="intersects"))
    same = [h for h in hits if districts[h].code_system == code_system]
    hits = same or hits
    if len(hits) == 1:
        return hits[0]
    if hits:
        return max(hits, key=lambda h: shapely.area(shapely.intersection(districts[h].geom, geom)))
    return int(tree.nearest(geom.representative_point()))


def _import_features(
    conn: Connection,
    data: _Layer,
    layer_name: str,
    code_field: str | None,
    name_field: str | None,
    name_en_field: str | None,
    source: str,
    now: datetime,
    report: ImportReport,
    progress: Progress | None,
) -> None:
    code_col = first_field(data.fields, CODE_FIELDS, code_field)
    name_col = first_field(data.fields, NAME_FIELDS, name_field)
    name_en_col = first_field(data.fields, NAME_EN_FIELDS, name_en_field)
    kind_col = first_field(data.fields, _KIND_FIELDS)
    report.columns = {"code": code_col, "name_ko": name_col, "name_en": name_en_col, "kind": kind_col}
    removed = conn.execute(
        delete(t.features).where(t.features.c.layer == layer_name, t.features.c.source == source)
    ).rowcount
    total = len(data.geoms)
    rows: list[dict[str, Any]] = []
    for i, raw in enumerate(data.geoms):
        _tick(progress, i, total)
        if raw is None:
            report.bad.append((i, "no geometry"))
            continue
        geom = _repair(raw, i, report, dims=None)
        if geom is None:
            continue
        rows.append(
            {
                "layer": layer_name,
                "kind": _text(data.columns[kind_col][i]) if kind_col else None,
                "name_ko": _text(data.columns[name_col][i]) if name_col else None,
                "name_en": _text(data.columns[name_en_col][i]) if name_en_col else None,
                "code": _text(data.columns[code_col][i]) if code_col else None,
                "properties": _properties(data, i),
                "geom": geom,
                "area_id": None,
                "source": source,
                "imported_at": now,
            }
        )
    if rows:
        # each feature's dong, all at once (one version check and one vectorised query, not one per row)
        points = shapely.point_on_surface([r["geom"] for r in rows])
        dongs = area_index.locate(conn, shapely.get_x(points), shapely.get_y(points), "dong")
        for row, dong_id in zip(rows, dongs.tolist(), strict=True):
            row["area_id"] = dong_id if dong_id >= 0 else None
        conn.execute(t.features.insert(), rows)
    replaced = min(removed or 0, len(rows))
    report.updated = replaced
    report.created = len(rows) - replaced
    _tick(progress, total, total)


def _safe_from(data: _Layer, column: str | None, i: int) -> list[str] | None:
    """Hazard names from a ``safe_from`` column ("flood,earthquake" or a list), or None for the default."""
    if column is None:
        return None
    value = data.columns[column][i]
    if value is None:
        return None
    if isinstance(value, str):
        return [h.strip() for h in value.replace(";", ",").split(",") if h.strip()]
    return [str(h) for h in value]


def _shelter_kind(value: str | None, default: str) -> str:
    if value is None:
        return default
    v = value.strip()
    if v in SHELTER_KINDS:
        return v
    return _SHELTER_TYPE_NAMES.get(v.replace(" ", ""), default)


def _import_shelters(
    conn: Connection,
    data: _Layer,
    default_kind: str,
    code_field: str | None,
    name_field: str | None,
    name_en_field: str | None,
    report: ImportReport,
    progress: Progress | None,
) -> None:
    try:
        from safecity.evacuation.shelters import upsert_shelters
    except ImportError:
        raise BadRequest(
            "shelters cannot be imported: safecity.evacuation.shelters.upsert_shelters is not available"
        ) from None
    code_col = first_field(data.fields, CODE_FIELDS, code_field)
    name_col = first_field(data.fields, NAME_FIELDS, name_field)
    if code_col is None or name_col is None:
        missing = "code" if code_col is None else "name"
        raise BadRequest(
            f"{data.where}: no {missing} field for shelters (fields: {', '.join(data.fields)}); "
            f"name it with --{missing}-field",
            where=f"{data.where}:{missing}",
        )
    name_en_col = first_field(data.fields, NAME_EN_FIELDS, name_en_field)
    # Not app_type_unverified or similar guesses: only a real type column sets the shelter kind.
    kind_col = first_field(data.fields, _KIND_FIELDS)
    capacity_col = first_field(data.fields, _CAPACITY_FIELDS)
    address_col = first_field(data.fields, _ADDRESS_FIELDS)
    safe_col = first_field(data.fields, ("safe_from",))
    report.columns = {
        "code": code_col,
        "name_ko": name_col,
        "name_en": name_en_col,
        "kind": kind_col,
        "capacity": capacity_col,
        "address": address_col,
    }
    if capacity_col is None:
        report.notes.append(
            "no capacity field: capacity recorded as unknown (shown as such; area plans do not count on "
            "these shelters until an operator sets it)"
        )
    records: list[dict[str, Any]] = []
    feature_index: list[int] = []
    seen: set[str] = set()
    total = len(data.geoms)
    for i, raw in enumerate(data.geoms):
        _tick(progress, i, total)
        code = _text(data.columns[code_col][i])
        name = _text(data.columns[name_col][i])
        if code is None or name is None:
            report.bad.append((i, f"field '{code_col if code is None else name_col}' is empty"))
            continue
        if code in seen:
            report.bad.append((i, f"field '{code_col}': code {code} appears twice; kept the first"))
            continue
        if raw is None:
            report.bad.append((i, "no geometry"))
            continue
        geom = _repair(raw, i, report, dims=None)
        if geom is None:
            continue
        if geom.geom_type != "Point":
            report.repaired.append((i, f"{geom.geom_type} replaced by its representative point"))
            geom = geom.representative_point()
        capacity: int | None = None  # unknown unless the row says (a blank cell is unknown too, not 0)
        if capacity_col is not None:
            cap = _text(data.columns[capacity_col][i])
            try:
                capacity = int(float(cap)) if cap is not None else None
            except ValueError:
                report.bad.append((i, f"field '{capacity_col}': capacity '{cap}' is not a number"))
                continue
        kind = _shelter_kind(_text(data.columns[kind_col][i]) if kind_col else None, default_kind)
        seen.add(code)
        feature_index.append(i)
        records.append(
            {
                "code": code,
                "kind": kind,
                "name_ko": name,
                "name_en": _text(data.columns[name_en_col][i]) if name_en_col else None,
                "address": _text(data.columns[address_col][i]) if address_col else None,
                "capacity": capacity,
                "geom": geom,
                "properties": _properties(data, i),
                # None: the registry's default for the kind (a civil-defence basement is no flood shelter).
                "safe_from": _safe_from(data, safe_col, i),
            }
        )
    if records:
        try:
            report.created, report.updated = upsert_shelters(conn, records)
        except BadRequest as e:
            # The registry names records[k]; say which feature of which file that is.
            def feature(m: re.Match[str]) -> str:
                return f"feature {feature_index[int(m.group(1))]}"

            message = re.sub(r"records\[(\d+)\]", feature, e.message)
            where = re.sub(r"records\[(\d+)\]", feature, e.where or "")
            raise BadRequest(f"{data.where}: {message}", where=f"{data.where}:{where}") from None
    _tick(progress, total, total)


def _import_hazard_zones(
    conn: Connection,
    data: _Layer,
    hazard: str | None,
    name_field: str | None,
    name_en_field: str | None,
    source: str,
    now: datetime,
    report: ImportReport,
    progress: Progress | None,
) -> None:
    from safecity.evacuation.zones import import_zones, parse_hazard

    fixed = parse_hazard(hazard, "--hazard") if hazard is not None else None
    hazard_col = None if fixed is not None else first_field(data.fields, _HAZARD_FIELDS)
    if fixed is None and hazard_col is None:
        raise BadRequest(
            f"{data.where}: no hazard column (hazard, type, kind) in the file (fields: "
            f"{', '.join(data.fields)}); give the hazard with --hazard flood|landslide|...",
            where=f"{data.where}:hazard",
        )
    name_col = first_field(data.fields, NAME_FIELDS, name_field)
    name_en_col = first_field(data.fields, NAME_EN_FIELDS, name_en_field)
    report.columns = {"hazard": hazard_col, "name_ko": name_col, "name_en": name_en_col}
    records: list[dict[str, Any]] = []
    feature_index: list[int] = []
    total = len(data.geoms)
    for i, raw in enumerate(data.geoms):
        _tick(progress, i, total)
        if raw is None:
            report.bad.append((i, "no geometry"))
            continue
        geom = _repair(raw, i, report, dims=2)
        if geom is None:
            continue
        try:
            kind = fixed or parse_hazard(data.columns[str(hazard_col)][i], f"field '{hazard_col}'")
        except BadRequest as e:
            report.bad.append((i, e.message))
            continue
        feature_index.append(i)
        records.append(
            {
                "hazard": kind,
                "geom": geom,
                "name_ko": _text(data.columns[name_col][i]) if name_col else None,
                "name_en": _text(data.columns[name_en_col][i]) if name_en_col else None,
                "properties": _properties(data, i),
                "source": source,
            }
        )
    try:
        stored, replaced = import_zones(conn, records, now=now)
    except BadRequest as e:
        message = re.sub(
            r"records\[(\d+)\]", lambda m: f"feature {feature_index[int(m.group(1))]}", e.message
        )
        raise BadRequest(f"{data.where}: {message}", where=data.where) from None
    if replaced:
        report.notes.append(f"{replaced} active zones of an earlier import of {source} were deactivated")
    report.updated = min(replaced, stored)
    report.created = stored - report.updated
    _tick(progress, total, total)


# --- population ------------------------------------------------------------------------------------


@dataclass
class PopulationReport:
    """``unmatched`` lists "district dong" names of the file with no dong in the store."""

    dongs: int = 0
    districts: int = 0
    total: int = 0
    file_total: int | None = None
    unmatched: list[str] = field(default_factory=list)


def _norm(name: str) -> str:
    # The source mixes "·", "." and "ㆍ" in names like 종로1·2·3·4가동; compare without them.
    return re.sub(r"[\s·.ㆍ・]", "", name)


def _int(cell: str) -> int:
    return int(cell.replace(",", "").strip())


def import_population(store: Store | _HasStore, path: Path) -> PopulationReport:
    """Set ``geo_areas.population`` from the Seoul resident registration table by administrative dong.

    The file (Seoul Open Data "주민등록인구 (동별)", tab-separated, three header rows) names places, not
    codes: rows are matched to dongs by district name + dong name, in every code system loaded. Each
    district gets the file's 소계 (subtotal) row. Raises :class:`BadRequest` when the layout is not that
    table or no dong is loaded.
    """
    st = _store(store)
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f, delimiter="\t"))
    except (UnicodeDecodeError, csv.Error) as e:
        raise BadRequest(
            f"{path}: not the tab-separated UTF-8 table of Seoul Open Data ({e}); save it as UTF-8 text",
            where=str(path),
            message_ko=f"{path}: 서울 열린데이터광장의 탭 구분 UTF-8 표가 아닙니다. UTF-8 텍스트로 저장하세요",
        ) from None
    if len(rows) < 4 or len(rows[0]) < 5 or rows[0][1] != "자치구" or rows[0][2] != "동":
        raise BadRequest(
            f"{path}: not the 주민등록인구 by dong table (expected header 기간, 자치구, 동, 세대, 인구...)",
            where=str(path),
        )
    report = PopulationReport()
    by_dong: dict[tuple[str, str], int] = {}
    by_district: dict[str, int] = {}
    for line, row in enumerate(rows[3:], start=4):
        if len(row) < 5 or not row[1].strip():
            continue
        try:
            people = _int(row[4])
        except ValueError:
            raise BadRequest(
                f"{path}:{line}: 인구 (population) '{row[4]}' is not a number", where=f"{path}:{line}:인구"
            ) from None
        gu, dong = row[1].strip(), row[2].strip()
        if gu == "합계":
            report.file_total = people
        elif dong == "소계":
            by_district[_norm(gu)] = people
        else:
            by_dong[(_norm(gu), _norm(dong))] = people
    with st.write() as conn:
        areas_rows = conn.execute(
            select(t.areas.c.id, t.areas.c.kind, t.areas.c.name_ko, t.areas.c.parent_id, t.areas.c.properties)
        ).all()
        names = {r.id: r.name_ko for r in areas_rows}
        matched: set[tuple[str, str]] = set()
        for r in areas_rows:
            if r.kind == "district":
                value = by_district.get(_norm(r.name_ko))
                if value is not None:
                    report.districts += 1
            else:
                props = r.properties or {}
                gu_name = names.get(r.parent_id) if r.parent_id else props.get("sggnm")
                key = (_norm(gu_name or ""), _norm(r.name_ko))
                value = by_dong.get(key)
                if value is not None:
                    matched.add(key)
                    report.dongs += 1
                    report.total += value
            conn.execute(update(t.areas).where(t.areas.c.id == r.id).values(population=value))
        if report.dongs == 0:
            raise BadRequest(
                f"{path}: no dong in the store matches the file's names; import the dongs first "
                "(safecity import layer FILE --as dongs)",
                where=str(path),
            )
    area_index.invalidate(st.engine)
    report.unmatched = sorted(f"{gu} {dong}" for gu, dong in by_dong.keys() - matched)
    return report


def describe(report: ImportReport) -> Sequence[str]:
    """Human lines for the repair and bad-feature report (CLI)."""
    lines = [f"{report.path}: feature {i}: repaired: {why}" for i, why in report.repaired]
    lines += [f"{report.path}: feature {i}: skipped: {why}" for i, why in report.bad]
    lines += [f"{report.path}: note: {n}" for n in report.notes]
    return lines
