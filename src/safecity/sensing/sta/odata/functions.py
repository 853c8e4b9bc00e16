# SPDX-License-Identifier: Apache-2.0
"""Function calls: string, date-time, math and spatial functions (see ``FUNCTIONS``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from odata_query import ast
from sqlalchemy import BigInteger, Boolean, Float, Integer, String, and_, cast, func, literal, type_coerce

from safecity.sensing.sta.odata.grammar import FUNCTIONS
from safecity.sensing.sta.odata.values import BOOL, DATE, NUMBER, STRING, TIMEOFDAY, _Val
from safecity.sensing.sta.odata.visitor import _Visitor

_MIN_TIME = datetime(1, 1, 1, tzinfo=UTC)
_MAX_TIME = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
_DATE_PARTS = ("year", "month", "day", "hour", "minute", "second", "fractionalseconds")
_STRING_FUNCTIONS = ("substringof", "contains", "startswith", "endswith", "length", "indexof", "substring")


class _Functions(_Visitor):
    # functions ------------------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> _Val:
        name: str = node.func.full_name()
        pos = getattr(node.func, "pos", None)
        if name not in FUNCTIONS:  # a tree not made by parse_filter
            raise self.bad(f"unknown function '{name}'", pos)
        lo, hi = FUNCTIONS[name]
        if not lo <= len(node.args) <= hi:
            raise self.bad(f"{name}() takes {lo}-{hi} arguments, got {len(node.args)}", pos)
        if name == "now":
            return self.time_const(self.now, "now()")
        if name == "mindatetime":
            return self.time_const(_MIN_TIME, "mindatetime()")
        if name == "maxdatetime":
            return self.time_const(_MAX_TIME, "maxdatetime()")
        args = [self.visit(a) for a in node.args]
        text = f"{name}({', '.join(a.text for a in args)})"
        if name in _STRING_FUNCTIONS or name in ("tolower", "toupper", "trim", "concat"):
            return self.string_function(name, args, text, pos)
        if name in _DATE_PARTS or name in ("date", "time", "totaloffsetminutes"):
            return self.date_function(name, args, text, pos)
        if name in ("round", "floor", "ceiling"):
            x = self.number(args[0], f"is passed to {name}()")
            if x.const:
                rounders: dict[str, Callable[[float], float]] = {
                    "round": _round_half_away,
                    "floor": math.floor,
                    "ceiling": math.ceil,
                }
                fn = rounders[name]
                return self.number_const(fn(x.py), text)
            sql = {"round": self.sql.round, "floor": self.sql.floor, "ceiling": self.sql.ceiling}[name](x.sql)
            return _Val(NUMBER, sql, text=text, pos=pos)
        return self.spatial_function(name, args, text, pos)

    def string_function(self, name: str, args: list[_Val], text: str, pos: int | None) -> _Val:
        why = f"is passed to {name}()"
        if name == "substring":
            s = self.string(args[0], why)
            start = self.number(args[1], why)
            sargs = [s.sql, cast(start.sql, Integer()) + 1]
            if len(args) == 3:
                sargs.append(cast(self.number(args[2], why).sql, Integer()))
            return _Val(STRING, func.substr(*sargs, type_=String()), text=text, pos=pos)
        if name in ("length", "tolower", "toupper", "trim"):
            s = self.string(args[0], why)
            if name == "length":
                return _Val(NUMBER, func.length(s.sql, type_=Integer()), text=text, pos=pos)
            fn = {"tolower": func.lower, "toupper": func.upper, "trim": func.trim}[name]
            return _Val(STRING, fn(s.sql, type_=String()), text=text, pos=pos)
        a, b = self.string(args[0], why).sql, self.string(args[1], why).sql
        if name == "concat":
            return _Val(STRING, a.concat(b), text=text, pos=pos)
        if name == "indexof":
            return _Val(NUMBER, self.sql.strpos(a, b) - 1, text=text, pos=pos)
        if name == "substringof":  # SensorThings 1.0 / OData 3: substringof(needle, haystack)
            a, b = b, a
        if name in ("contains", "substringof"):
            cond = self.sql.strpos(a, b) > 0
        elif name == "startswith":
            cond = func.substr(a, 1, func.length(b)) == b
        else:  # endswith
            cond = and_(
                func.length(a) >= func.length(b),
                func.substr(a, func.length(a) - func.length(b) + 1) == b,
            )
        return _Val(BOOL, cond, text=text, pos=pos)

    def date_function(self, name: str, args: list[_Val], text: str, pos: int | None) -> _Val:
        t = self.timestamp(args[0], f"is passed to {name}()")
        if t.const:
            value: datetime = t.py
            if name == "date":
                return _Val(DATE, None, text=text, pos=pos, py=value.date())
            if name == "time":
                s = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
                return _Val(TIMEOFDAY, literal(s, Float()), text=text, pos=pos, py=s)
            if name == "totaloffsetminutes":
                offset = value.utcoffset() or timedelta(0)
                return self.number_const(int(offset.total_seconds() // 60), text)
            if name == "fractionalseconds":
                return self.number_const(value.microsecond / 1e6, text)
            return self.number_const(getattr(value, name), text)
        if name == "totaloffsetminutes":  # stored times are UTC
            return self.number_const(0, text)
        if name == "date":
            return _Val(DATE, None, text=text, pos=pos, time_sql=t.sql)
        # SQLite's date_part does arithmetic on the column; as a plain integer (its storage) the
        # arithmetic's constants are not run through the Timestamp type. No effect on PostgreSQL's SQL.
        col = type_coerce(t.sql, BigInteger())
        fraction = self.store.date_part("fractionalseconds", col)
        if name == "fractionalseconds":
            return _Val(NUMBER, type_coerce(fraction, Float()), text=text, pos=pos)
        if name == "time":
            h, m, sec = (self.store.date_part(p, col) for p in ("hour", "minute", "second"))
            seconds = h * 3600 + m * 60 + sec + fraction
            return _Val(TIMEOFDAY, type_coerce(seconds, Float()), text=text, pos=pos)
        return _Val(NUMBER, type_coerce(self.store.date_part(name, col), Float()), text=text, pos=pos)

    def spatial_function(self, name: str, args: list[_Val], text: str, pos: int | None) -> _Val:
        geoms = [self.geometry(a, name) for a in args[:2]]
        sql_args = [g.sql for g in geoms]
        if name == "geo.distance":
            return _Val(NUMBER, type_coerce(self.store.spatial(name, sql_args), Float()), text=text, pos=pos)
        if name == "geo.length":
            return _Val(NUMBER, type_coerce(self.store.spatial(name, sql_args), Float()), text=text, pos=pos)
        if name == "st_relate":
            pattern = args[2]
            if pattern.kind != STRING or not pattern.const:
                raise self.bad("st_relate() needs a DE-9IM pattern string such as 'T*F**F***'", pos)
            if len(pattern.py) != 9 or set(pattern.py.upper()) - set("TF*012"):
                raise self.bad(
                    f"{pattern.text} is not a DE-9IM pattern (9 characters of T, F, *, 0, 1, 2)", pos
                )
            sql_args.append(literal(pattern.py.upper(), String()))
        # geo.intersects is st_intersects (SensorThings lists both; the SQLite store knows the latter).
        fname = "st_intersects" if name == "geo.intersects" else name
        return _Val(BOOL, type_coerce(self.store.spatial(fname, sql_args), Boolean()), text=text, pos=pos)


def _round_half_away(x: float) -> float:
    return float(math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1))
