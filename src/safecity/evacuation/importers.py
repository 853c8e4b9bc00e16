# SPDX-License-Identifier: Apache-2.0
"""The layers evacuation imports from geodata files (``safecity import layer FILE --as shelters|hazard-zones``),
declared in ``setup()`` as :class:`safecity.capability.Importer`s: geography reads the file (reprojected,
in one transaction) and hands the features here; evacuation writes its own tables.

* ``shelters`` → :func:`safecity.evacuation.shelters.upsert_shelters`; the type comes from a type
  column (Korean registry names are understood) or ``--shelter-kind``.
* ``hazard-zones`` → :func:`safecity.evacuation.zones.import_zones` (``evac_hazard_zones``, with
  evacuation guidance); the hazard comes from a ``hazard``/``type``/``kind`` column or ``--hazard``.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.engine import Connection

from safecity.core.errors import BadRequest
from safecity.evacuation.shelters import upsert_shelters
from safecity.evacuation.zones import import_zones, parse_hazard
from safecity.geo.columns import CODE_FIELDS, NAME_EN_FIELDS, NAME_FIELDS, first_field
from safecity.geo.layerfile import ImportOptions, ImportReport, LayerData, repair, tick

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


def check_shelter_options(options: ImportOptions) -> None:
    """Before the file is read: the default shelter type must be one of :data:`SHELTER_KINDS`."""
    if options.shelter_kind not in SHELTER_KINDS:
        raise BadRequest(f"shelter kind '{options.shelter_kind}': use one of {', '.join(SHELTER_KINDS)}")


def _safe_from(data: LayerData, column: str | None, i: int) -> list[str] | None:
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


def _feature_named(message: str, feature_index: list[int]) -> str:
    """The registry names ``records[k]``; say which feature of the file that is."""
    return re.sub(r"records\[(\d+)\]", lambda m: f"feature {feature_index[int(m.group(1))]}", message)


def import_shelters(conn: Connection, data: LayerData, options: ImportOptions, report: ImportReport) -> None:
    """Upsert the layer's features as shelters (on their code); see the module docstring."""
    code_col = first_field(data.fields, CODE_FIELDS, options.code_field)
    name_col = first_field(data.fields, NAME_FIELDS, options.name_field)
    if code_col is None or name_col is None:
        missing = "code" if code_col is None else "name"
        raise BadRequest(
            f"{data.where}: no {missing} field for shelters (fields: {', '.join(data.fields)}); "
            f"name it with --{missing}-field",
            where=f"{data.where}:{missing}",
        )
    name_en_col = first_field(data.fields, NAME_EN_FIELDS, options.name_en_field)
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
        tick(options.progress, i, total)
        code = data.text(code_col, i)
        name = data.text(name_col, i)
        if code is None or name is None:
            report.bad.append((i, f"field '{code_col if code is None else name_col}' is empty"))
            continue
        if code in seen:
            report.bad.append((i, f"field '{code_col}': code {code} appears twice; kept the first"))
            continue
        if raw is None:
            report.bad.append((i, "no geometry"))
            continue
        geom = repair(raw, i, report, dims=None)
        if geom is None:
            continue
        if geom.geom_type != "Point":
            report.repaired.append((i, f"{geom.geom_type} replaced by its representative point"))
            geom = geom.representative_point()
        capacity: int | None = None  # unknown unless the row says (a blank cell is unknown too, not 0)
        if capacity_col is not None:
            cap = data.text(capacity_col, i)
            try:
                capacity = int(float(cap)) if cap is not None else None
            except ValueError:
                report.bad.append((i, f"field '{capacity_col}': capacity '{cap}' is not a number"))
                continue
        kind = _shelter_kind(data.text(kind_col, i), options.shelter_kind)
        seen.add(code)
        feature_index.append(i)
        records.append(
            {
                "code": code,
                "kind": kind,
                "name_ko": name,
                "name_en": data.text(name_en_col, i),
                "address": data.text(address_col, i),
                "capacity": capacity,
                "geom": geom,
                "properties": data.properties(i),
                # None: the registry's default for the kind (a civil-defence basement is no flood shelter).
                "safe_from": _safe_from(data, safe_col, i),
            }
        )
    if records:
        try:
            report.created, report.updated = upsert_shelters(conn, records)
        except BadRequest as e:
            message = _feature_named(e.message, feature_index)
            where = _feature_named(e.where or "", feature_index)
            raise BadRequest(f"{data.where}: {message}", where=f"{data.where}:{where}") from None
    tick(options.progress, total, total)


def import_hazard_zones(
    conn: Connection, data: LayerData, options: ImportOptions, report: ImportReport
) -> None:
    """Store the layer's polygons as active hazard zones, replacing those of an earlier import of the
    same file; see the module docstring."""
    fixed = parse_hazard(options.hazard, "--hazard") if options.hazard is not None else None
    hazard_col = None if fixed is not None else first_field(data.fields, _HAZARD_FIELDS)
    if fixed is None and hazard_col is None:
        raise BadRequest(
            f"{data.where}: no hazard column (hazard, type, kind) in the file (fields: "
            f"{', '.join(data.fields)}); give the hazard with --hazard flood|landslide|...",
            where=f"{data.where}:hazard",
        )
    name_col = first_field(data.fields, NAME_FIELDS, options.name_field)
    name_en_col = first_field(data.fields, NAME_EN_FIELDS, options.name_en_field)
    report.columns = {"hazard": hazard_col, "name_ko": name_col, "name_en": name_en_col}
    records: list[dict[str, Any]] = []
    feature_index: list[int] = []
    total = len(data.geoms)
    for i, raw in enumerate(data.geoms):
        tick(options.progress, i, total)
        if raw is None:
            report.bad.append((i, "no geometry"))
            continue
        geom = repair(raw, i, report, dims=2)
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
                "name_ko": data.text(name_col, i),
                "name_en": data.text(name_en_col, i),
                "properties": data.properties(i),
                "source": options.source,
            }
        )
    try:
        stored, replaced = import_zones(conn, records, now=options.now)
    except BadRequest as e:
        raise BadRequest(
            f"{data.where}: {_feature_named(e.message, feature_index)}", where=data.where
        ) from None
    if replaced:
        report.notes.append(
            f"{replaced} active zones of an earlier import of {options.source} were deactivated"
        )
    report.updated = min(replaced, stored)
    report.created = stored - report.updated
    tick(options.progress, total, total)
