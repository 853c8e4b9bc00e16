# SPDX-License-Identifier: Apache-2.0
"""Literals: numbers, strings, booleans, null, date-times, durations and WKT geometries."""

from __future__ import annotations

from datetime import timedelta

import shapely
import shapely.errors
from odata_query import ast
from sqlalchemy import Boolean, Float, String, literal, null

from safecity.sensing.sta.odata.values import BOOL, DATE, DURATION, GEOM, NULL, STRING, TIMEOFDAY, _Val
from safecity.sensing.sta.odata.visitor import _Visitor


class _Literals(_Visitor):
    # literals -------------------------------------------------------------------------------------
    def visit_Integer(self, node: ast.Integer) -> _Val:
        return self.number_const(node.py_val, node.val)

    def visit_Float(self, node: ast.Float) -> _Val:
        return self.number_const(node.py_val, node.val)

    def visit_String(self, node: ast.String) -> _Val:
        if "\x00" in node.val:
            raise self.bad("strings cannot contain the NUL character")
        return _Val(STRING, literal(node.val, String()), text=repr(node.val), py=node.val)

    def visit_GUID(self, node: ast.GUID) -> _Val:
        return _Val(STRING, literal(node.val, String()), text=node.val, py=node.val)

    def visit_Boolean(self, node: ast.Boolean) -> _Val:
        return _Val(BOOL, literal(node.py_val, Boolean()), text=node.val.lower(), py=node.py_val)

    def visit_Null(self, node: ast.Null) -> _Val:
        return _Val(NULL, null(), text="null", py=None)

    def visit_DateTime(self, node: ast.DateTime) -> _Val:
        try:
            value = node.py_val
        except (ValueError, OverflowError):
            raise self.bad(f"{node.val} is not a valid date-time") from None
        if value.tzinfo is None:
            raise self.bad(f"{node.val} has no time zone; add Z or an offset such as +09:00")
        return self.time_const(value, node.val)

    def visit_Date(self, node: ast.Date) -> _Val:
        try:
            value = node.py_val
        except ValueError:
            raise self.bad(f"{node.val} is not a valid date") from None
        return _Val(DATE, None, text=node.val, py=value)

    def visit_Time(self, node: ast.Time) -> _Val:
        try:
            value = node.py_val
        except ValueError:
            raise self.bad(f"{node.val} is not a valid time of day") from None
        seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
        return _Val(TIMEOFDAY, literal(seconds, Float()), text=node.val, py=seconds)

    def visit_Duration(self, node: ast.Duration) -> _Val:
        try:
            sign, years, months, days, hours, minutes, seconds = node.unpack()
        except ValueError:
            raise self.bad(f"duration'{node.val}' is not a valid duration") from None
        if years or months:
            raise self.bad(f"duration'{node.val}': years and months are not supported (use days)")
        try:
            delta = timedelta(days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0))
            delta += timedelta(seconds=float(seconds or 0))
        except OverflowError:
            raise self.bad(f"duration'{node.val}' is too long") from None
        return _Val(DURATION, None, text=f"duration'{node.val}'", py=-delta if sign == "-" else delta)

    def visit_Geography(self, node: ast.Geography) -> _Val:
        wkt = node.val.strip()
        if wkt.upper().startswith("SRID="):
            srid, _, wkt = wkt.partition(";")
            if srid.strip().upper() not in ("SRID=4326", "SRID=0"):
                raise self.bad(f"geometry literal {srid}: only WGS84 (SRID=4326) is supported")
        try:
            geom = shapely.from_wkt(wkt)
        except shapely.errors.ShapelyError:
            raise self.bad(f"'{node.val}' is not valid WKT (e.g. POINT(126.978 37.5665))") from None
        if geom is None or geom.is_empty:
            raise self.bad(f"'{node.val}' is an empty geometry")
        minx, miny, maxx, maxy = geom.bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            raise self.bad(f"'{node.val}' is outside longitude -180..180 / latitude -90..90 (x is longitude)")
        text = f"geography'{node.val}'"
        return _Val(GEOM, self.store.geometry_literal(shapely.to_wkt(geom)), text=text, py=geom)

    def visit_List(self, node: ast.List) -> _Val:
        raise self.bad("a list is only allowed after 'in'")

    def visit_CollectionLambda(self, node: ast.CollectionLambda) -> _Val:
        raise self.bad(
            "lambda operators (any/all) are not supported; a path through a to-many navigation "
            "already means 'any', e.g. Thing/Locations/name eq 'x'"
        )

    def visit_NamedParam(self, node: ast.NamedParam) -> _Val:
        raise self.bad("named function parameters are not supported", getattr(node.name, "pos", None))
