# SPDX-License-Identifier: Apache-2.0
"""The places a city's own forecasts report on, imported from files: road underpasses and buildings with
semi-basement homes (``safecity import layer FILE --as underpasses|semi-basements``; geography reads the
file, any OGR format reprojected to WGS84, and hands it here in the import's one transaction).

Each import replaces the sites of its kind. A point is taken as it is; a polygon (a building footprint,
an underpass's outline) by a point inside it. A semi-basement file may say how many homes a building
holds (a ``homes`` / ``세대수`` / ``households`` field; 1 when absent). A feature whose ``generated`` field
is true, or a file whose name says *generated*, is kept labelled generated (no surveyed semi-basement
register was available to this project: Seoul's 반지하 주택 survey is not public as a file).
"""

from __future__ import annotations

from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, select

from safecity.flood.tables import sites
from safecity.geo.columns import first_field
from safecity.geo.layerfile import ImportOptions, ImportReport, LayerData, replace_kind

NAME_FIELDS = ("name", "name_ko", "명칭", "시설명", "지하차도명", "건물명", "title")
HOMES_FIELDS = ("homes", "세대수", "households", "units")
#: Kind as imported -> kind stored.
KINDS = {"underpasses": "underpass", "semi-basements": "semi_basement"}


def _import(
    kind: str, conn: Connection, data: LayerData, options: ImportOptions, report: ImportReport
) -> None:
    homes_col = first_field(data.fields, HOMES_FIELDS) if kind == "semi_basement" else None

    def site(i: int, geom: BaseGeometry) -> tuple[BaseGeometry, dict[str, Any]] | str:
        if geom.geom_type in ("Polygon", "MultiPolygon"):
            geom = (
                shapely.make_valid(geom).representative_point()
                if not geom.is_valid
                else geom.representative_point()
            )
        elif geom.geom_type != "Point":
            return f"a {geom.geom_type}: a {kind.replace('_', '-')} site is a point or a polygon"
        homes = 1
        raw = data.text(homes_col, i)
        if raw is not None:
            try:
                homes = int(float(raw))
            except ValueError:
                return f"{homes_col}: '{raw}' is not a number of homes"
            if not 0 < homes <= 10_000:
                return f"{homes_col}: {homes} homes is outside 1-10000"
        return geom, {"homes": homes}

    replace_kind(
        conn,
        sites,
        kind,
        data,
        options,
        report,
        site,
        name_fields=NAME_FIELDS,
        default_name=kind.replace("_", " "),
        what="point or polygon",
        columns={"homes": homes_col},
    )


def import_underpasses(
    conn: Connection, data: LayerData, options: ImportOptions, report: ImportReport
) -> None:
    """Replace the road underpasses with the file's (points at the sag, or outlines)."""
    _import("underpass", conn, data, options, report)


def import_semi_basements(
    conn: Connection, data: LayerData, options: ImportOptions, report: ImportReport
) -> None:
    """Replace the buildings with semi-basement homes with the file's (points or footprints)."""
    _import("semi_basement", conn, data, options, report)


def read_sites(conn: Connection, kind: str) -> list[dict[str, Any]]:
    """The imported sites of a kind (``underpass``, ``semi_basement``), WGS84 points."""
    return [
        dict(r)
        for r in conn.execute(select(sites).where(sites.c.kind == kind).order_by(sites.c.id)).mappings()
    ]
