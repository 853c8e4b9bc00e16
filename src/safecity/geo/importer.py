# SPDX-License-Identifier: Apache-2.0
"""Import of geodata files (GeoJSON, Shapefile, GeoPackage) into the store.

A file is read by :mod:`safecity.geo.layerfile` (pyogrio, reprojected to WGS84, geometries validated and
repaired per feature); attribute columns are mapped by :mod:`safecity.geo.columns`. Where its rows go
depends on the kind (``--as``):

* ``districts``, ``dongs`` → ``geo_areas`` (upsert on kind + code system + code); each dong's parent is
  the district whose code is its 5-digit prefix in the same code system, else the district containing
  its representative point.
* a kind a capability declares (:class:`safecity.capability.Importer`: evacuation's ``shelters`` and
  ``hazard-zones``) → that capability's importer, which writes its own tables.
* any other kind (``facilities``...) → ``geo_features`` with ``layer`` = kind; the rows
  a previous import of the same file wrote are replaced.

One file is one transaction: a whole-file error writes nothing. Features that cannot be used (no code,
no geometry) are skipped and reported with their index (0-based, as OGR numbers GeoJSON features).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Connection

from safecity.capability import BUILT_IN, Capability, Importer, resolve
from safecity.capability import load as load_capability
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
from safecity.geo.layerfile import (
    ImportOptions,
    ImportReport,
    LayerData,
    Progress,
    check_field,
    read_layer,
    repair,
    tick,
)
from safecity.geo.population import PopulationReport, import_population
from safecity.store import Store

__all__ = [
    "AREA_KINDS",
    "ImportReport",
    "PopulationReport",
    "describe",
    "import_layer",
    "import_population",
    "importers",
]

AREA_KINDS = {"districts": "district", "dongs": "dong"}
_KIND_FIELDS = ("kind", "type", "shelter_type", "hazard", "시설구분")


class _HasStore(Protocol):
    store: Store


def _store(platform_or_store: Store | _HasStore) -> Store:
    return platform_or_store.store if hasattr(platform_or_store, "store") else platform_or_store


@functools.cache
def _built_in() -> tuple[Capability, ...]:
    return tuple(load_capability(module) for module in BUILT_IN)


def importers(platform_or_store: object) -> dict[str, Importer]:
    """The layer kinds capabilities import, by kind: those of the platform's capabilities (a platform or a
    capability context), else of the built-in ones (given a bare store)."""
    caps: Sequence[Capability] = getattr(platform_or_store, "capabilities", None) or _built_in()
    return {imp.kind: imp for cap in caps for imp in cap.importers}


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
    kinds = importers(platform_or_store)
    importer = None if kind in AREA_KINDS else kinds.get(kind)
    if hazard is not None and (importer is None or "hazard" not in importer.options):
        takes = " or ".join(f"--as {k}" for k, imp in sorted(kinds.items()) if "hazard" in imp.options)
        raise BadRequest(f"--hazard: only for {takes}, not --as {kind}", where="hazard")
    path = Path(path)
    source = path.name + (f":{layer}" if layer else "")
    options = ImportOptions(
        kind,
        source,
        datetime.now(UTC),
        code_field=code_field,
        name_field=name_field,
        name_en_field=name_en_field,
        shelter_kind=shelter_kind,
        hazard=hazard,
        progress=progress,
    )
    if importer is not None and importer.check is not None:
        resolve(importer.check)(options)
    store = _store(platform_or_store)
    report = ImportReport(str(path), layer, kind)
    data = read_layer(path, layer, report)
    report.features = len(data.geoms)
    for name, option, what in (
        (code_field, "--code-field", "code"),
        (name_field, "--name-field", "Korean name"),
        (name_en_field, "--name-en-field", "English name"),
    ):
        check_field(data, name, option, what)
    now = options.now
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
        check_field(data, cols.code, "--code-field", "code")
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
    elif importer is not None:
        run = resolve(importer.run)
        with store.write() as conn:
            run(conn, data, options, report)
    else:
        with store.write() as conn:
            _import_features(
                conn, data, kind, code_field, name_field, name_en_field, source, now, report, progress
            )
    return report


def _import_areas(
    conn: Connection,
    data: LayerData,
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
    # new areas go in as one executemany: one statement compiled, not one per area (a city's 425 dongs)
    created: list[dict[str, Any]] = []
    for i, raw in enumerate(data.geoms):
        tick(progress, i, total)
        code = data.text(cols.code, i)
        if code is None:
            report.bad.append((i, f"field '{cols.code}' (code) is empty"))
            continue
        if code in seen:
            report.bad.append((i, f"field '{cols.code}': code {code} appears twice; kept the first"))
            continue
        name = data.text(cols.name, i)
        if name is None:
            report.bad.append((i, f"field '{cols.name}' (name) is empty"))
            continue
        if raw is None:
            report.bad.append((i, "no geometry"))
            continue
        geom = repair(raw, i, report, dims=2)
        if geom is None:
            continue
        seen.add(code)
        props = data.properties(i)
        if cols.name_is_full:
            props["full_name"] = name
            name = short_name(name)
        values = {
            "name_ko": name,
            "name_en": data.text(cols.name_en, i),
            "geom": geom,
            "properties": props,
            "source": source,
            "imported_at": now,
        }
        if code in existing:
            conn.execute(update(t.areas).where(t.areas.c.id == existing[code]).values(**values))
            report.updated += 1
        else:
            created.append({"kind": area_kind, "code": code, "code_system": cols.code_system, **values})
            report.created += 1
    if created:
        conn.execute(t.areas.insert(), created)
    tick(progress, total, total)


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
    changed: list[dict[str, int]] = []
    for dong in dongs:
        parent = by_code.get((PARENT_SYSTEM.get(dong.code_system, dong.code_system), dong.code[:5]))
        if parent is None:
            parent = districts[_containing(dong.geom, dong.code_system, districts, tree)].id
        if parent != dong.parent_id:
            changed.append({"dong_id": dong.id, "parent": parent})
    if changed:  # one executemany
        conn.execute(
            update(t.areas).where(t.areas.c.id == bindparam("dong_id")).values(parent_id=bindparam("parent")),
            changed,
        )


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
    data: LayerData,
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
        tick(progress, i, total)
        if raw is None:
            report.bad.append((i, "no geometry"))
            continue
        geom = repair(raw, i, report, dims=None)
        if geom is None:
            continue
        rows.append(
            {
                "layer": layer_name,
                "kind": data.text(kind_col, i),
                "name_ko": data.text(name_col, i),
                "name_en": data.text(name_en_col, i),
                "code": data.text(code_col, i),
                "properties": data.properties(i),
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
    tick(progress, total, total)


def describe(report: ImportReport) -> Sequence[str]:
    """Human lines for the repair and bad-feature report (CLI)."""
    lines = [f"{report.path}: feature {i}: repaired: {why}" for i, why in report.repaired]
    lines += [f"{report.path}: feature {i}: skipped: {why}" for i, why in report.bad]
    lines += [f"{report.path}: note: {n}" for n in report.notes]
    return lines
