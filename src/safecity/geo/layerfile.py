# SPDX-License-Identifier: Apache-2.0
"""Reading one layer of a geodata file (GeoJSON, Shapefile, GeoPackage) for an import: the public API a
capability's importer (``safecity.capability.Importer``) works with.

Files are read with pyogrio, reprojected to WGS84 (EPSG:4326, lon/lat) with pyproj when the source CRS
differs; geometries are 2D. :func:`repair` validates one geometry (an invalid one is repaired with
``shapely.make_valid``, and the repair reported per feature). Features are numbered from 0, as OGR numbers
GeoJSON features; :class:`ImportReport` says what an import did, feature by feature.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio  # type: ignore[import-untyped]  # no py.typed; its raw API returns numpy arrays
import pyogrio.errors  # type: ignore[import-untyped]
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, Table, delete, insert

from safecity.core.errors import BadRequest
from safecity.geo.columns import first_field

_WGS84 = CRS.from_epsg(4326)

#: what an import reports its progress to: (features done, total or None)
Progress = Callable[[int, int | None], None]


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
class ImportOptions:
    """The options of one import (``safecity import layer FILE --as KIND ...``), as an importer gets them."""

    kind: str
    #: the file's name (and ``:layer``): what the rows' ``source`` records
    source: str
    #: when the import runs (UTC)
    now: datetime
    code_field: str | None = None
    name_field: str | None = None
    name_en_field: str | None = None
    #: ``--shelter-kind``: a shelter's type when the file has no type column
    shelter_kind: str = "civil_defence"
    #: ``--hazard``: the hazard of every zone when the file has no hazard column
    hazard: str | None = None
    progress: Progress | None = None


@dataclass(frozen=True)
class LayerData:
    """One layer of a file: its attribute columns (numpy arrays by field name) and its WGS84 geometries
    (None where a feature has none), feature by feature."""

    #: the file (and ``:layer``), for messages
    where: str
    fields: list[str]
    columns: dict[str, np.ndarray[Any, Any]]
    geoms: list[BaseGeometry | None]
    crs: str | None

    def text(self, column: str | None, i: int) -> str | None:
        """Feature ``i``'s cell of ``column`` as text (None when no such column or an empty cell)."""
        return text(self.columns[column][i]) if column else None

    def properties(self, i: int) -> dict[str, Any]:
        """Every attribute of feature ``i``, as JSON values."""
        return {f: _json_value(self.columns[f][i]) for f in self.fields}


def read_layer(path: Path, layer: str | None, report: ImportReport) -> LayerData:
    """Read ``path`` (``layer`` of a multi-layer file), reprojected to WGS84. Raises :class:`BadRequest`
    naming the file when it cannot be read, has several layers and none is named, has no geometry, or
    its CRS is unknown (or missing, with coordinates that are not lon/lat)."""
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
    return LayerData(where, fields, dict(zip(fields, values, strict=True)), geoms, crs)


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


def text(value: Any) -> str | None:
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


def check_field(layer: LayerData, name: str | None, option: str, what: str) -> None:
    """Raise :class:`BadRequest` when a field named by an option (``--code-field``) is not in the file."""
    if name is not None and name not in layer.fields:
        raise BadRequest(
            f"{layer.where}: field '{name}' ({what}) is not in the file; fields are "
            f"{', '.join(layer.fields)}. Name the right one with {option}",
            where=f"{layer.where}:{name}",
        )


def repair(geom: BaseGeometry, i: int, report: ImportReport, dims: int | None) -> BaseGeometry | None:
    """A valid geometry of the wanted dimension (2 polygons, 0 points, None any), or None when unusable
    (the reason is in ``report.bad``; a repair is in ``report.repaired``)."""
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


def tick(progress: Progress | None, i: int, total: int) -> None:
    """Report progress every 200 features and at the end."""
    if progress is not None and (i % 200 == 0 or i == total):
        progress(i, total)


#: What an importer makes of one feature (its index and WGS84 geometry): the geometry to store and the
#: row's own columns, or why the feature is refused (reported as bad).
FeatureRow = Callable[[int, BaseGeometry], "tuple[BaseGeometry, dict[str, Any]] | str"]


def replace_kind(
    conn: Connection,
    table: Table,
    kind: str,
    data: LayerData,
    options: ImportOptions,
    report: ImportReport,
    row_of: FeatureRow,
    *,
    name_fields: tuple[str, ...],
    default_name: str,
    what: str,
    columns: dict[str, str | None] | None = None,
) -> None:
    """Replace the rows of ``kind`` in ``table`` with the file's features, in the import's transaction: one
    row per feature ``row_of`` accepts, with ``kind``, ``name`` (the first of ``name_fields`` the file has,
    or ``--name-field``; else ``"<default_name> <n>"``), ``source`` (the file), ``generated`` (the
    feature's ``generated`` field is true, or the file's name says *generated*: the layers label such
    rows), ``geom``, ``imported_at`` and the row's own columns. A feature without a geometry, or refused
    by ``row_of``, is reported bad; when none is left, BadRequest names the file (``no <what> to import as
    <kind>``) and nothing changes. ``columns``: the row's own columns read from the file, for the report.
    The table needs the columns named here; the flood sites and the care zones are imported this way."""
    name_col = first_field(data.fields, name_fields, options.name_field)
    gen_col = first_field(data.fields, ("generated",))
    file_generated = "generated" in options.source.lower()
    rows: list[dict[str, Any]] = []
    for i, geom in enumerate(data.geoms):
        if geom is None or geom.is_empty:
            report.bad.append((i, "no geometry"))
            continue
        made = row_of(i, geom)
        if isinstance(made, str):
            report.bad.append((i, made))
            continue
        stored, own = made
        rows.append(
            {
                "kind": kind,
                "name": (data.text(name_col, i) or f"{default_name} {i + 1}")[:200],
                "source": options.source[:300],
                "generated": file_generated or (data.text(gen_col, i) or "").lower() in ("true", "1", "yes"),
                "geom": stored,
                "imported_at": options.now,
                **own,
            }
        )
    if not rows:
        raise BadRequest(f"{data.where}: no {what} to import as {kind}", where=data.where)
    report.updated = conn.execute(delete(table).where(table.c.kind == kind)).rowcount
    conn.execute(insert(table), rows)
    report.created = len(rows)
    report.columns = {"name": name_col, **(columns or {}), "generated": gen_col}
