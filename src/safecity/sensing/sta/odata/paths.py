# SPDX-License-Identifier: Apache-2.0
"""Property paths: columns, JSON members and navigation (joined in the enclosing scope)."""

from __future__ import annotations

from typing import Any

from odata_query import ast
from sqlalchemy import and_
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FromClause

from safecity.sensing.sta.model import Entity, Kind
from safecity.sensing.sta.odata.values import ANY, BOOL, GEOM, JSONDOC, NUMBER, STRING, TIME, _article, _Val
from safecity.sensing.sta.odata.visitor import _Visitor
from safecity.sensing.sta.relations import related, target


class _Paths(_Visitor):
    # property paths -------------------------------------------------------------------------------
    def visit_Identifier(self, node: ast.Identifier) -> _Val:
        return self.resolve([node.full_name()], getattr(node, "pos", None))

    visit_Name = visit_Identifier

    def visit_Attribute(self, node: ast.Attribute) -> _Val:
        segments: list[str] = []
        owner: ast._Node = node
        while isinstance(owner, ast.Attribute):
            segments.append(owner.attr)
            owner = owner.owner
        if not isinstance(owner, ast.Identifier):
            raise self.bad("unsupported path expression")
        segments.append(owner.full_name())
        segments.reverse()
        return self.resolve(segments, getattr(owner, "pos", None))

    def resolve(self, segments: list[str], pos: int | None) -> _Val:
        entity, alias = self.entity, self.alias
        scope = self.scopes[-1]
        text = "/".join(segments)
        at = pos
        for i, seg in enumerate(segments):
            seg_pos = at
            if at is not None:
                at += len(seg) + 1
            rest = segments[i + 1 :]
            nav = entity.nav(seg)
            if nav is not None:
                if not rest:
                    raise self.bad(
                        f"{seg} is a navigation property; name one of its properties, e.g. {text}/id", seg_pos
                    )
                if rest == ["id"] and nav.local_fk:
                    col = alias.c[nav.local_fk]
                    return _Val(NUMBER, col, text=text, pos=pos, ident=True)
                key = tuple(segments[: i + 1])
                dst = scope.aliases.get(key)
                if dst is None:
                    dst = target(nav).table.alias()
                    scope.aliases[key] = dst
                    scope.froms.append(dst)
                    if nav.link is not None and nav.link_self and nav.link_target:
                        # Join the association table here rather than nesting related()'s EXISTS: that
                        # one auto-correlates only with the SELECT right around it (so the outer row
                        # would not be correlated), and SQLAlchemy's linter would warn of a cartesian
                        # product between its two sides.
                        link = nav.link.alias()
                        scope.froms.append(link)
                        scope.conds.append(link.c[nav.link_self] == alias.c.id)
                        scope.conds.append(link.c[nav.link_target] == dst.c.id)
                    else:
                        scope.conds.append(related(nav, alias, dst))
                    scope.many = scope.many or nav.many
                entity, alias = target(nav), dst
                continue
            prop = entity.prop(seg)
            if prop is None:
                raise self.bad(f"{entity.set_name} have no property '{seg}'", seg_pos)
            return self.property_value(entity, alias, prop.name, rest, text, pos, seg_pos)
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns

    def property_value(
        self,
        entity: Entity,
        alias: FromClause,
        name: str,
        rest: list[str],
        text: str,
        pos: int | None,
        seg_pos: int | None,
    ) -> _Val:
        prop = entity.prop(name)
        assert prop is not None
        col = alias.c[prop.column]
        if rest and prop.kind not in (Kind.JSON, Kind.RESULT, Kind.GEOJSON):
            raise self.bad(f"{name} is not a JSON property, so it has no member '{rest[0]}'", seg_pos)
        if prop.kind in (Kind.ID, Kind.TEXT):
            kind = NUMBER if prop.kind == Kind.ID else STRING
            return _Val(kind, col, text=text, pos=pos, ident=prop.kind == Kind.ID)
        if prop.kind in (Kind.TIME, Kind.INTERVAL):
            return _Val(TIME, col, text=text, pos=pos)
        if prop.kind == Kind.GEOJSON and not rest:
            assert prop.geom_column is not None
            geom = alias.c[prop.geom_column]
            return _Val(GEOM, geom, text=text, pos=pos, is_null=lambda: geom.is_(None))
        if prop.kind == Kind.GEOJSON and prop.column == prop.geom_column:
            raise self.bad(f"{name} has no JSON members to select", seg_pos)
        if prop.kind == Kind.RESULT:
            return self.result_value(alias, rest, text, pos)
        return self.json_value(col, rest, text, pos)

    def json_value(self, doc: ColumnElement[Any], path: list[str], text: str, pos: int | None) -> _Val:
        if not path:
            return _Val(JSONDOC, doc, text=text, pos=pos, is_null=lambda: self.sql.json_is_null(doc, []))

        def typed(kind: str, why: str) -> ColumnElement[Any]:
            if kind not in (NUMBER, STRING, BOOL):
                raise self.bad(
                    f"{text} {why} with {_article(kind)}, but a JSON value can only be "
                    "a number, a string or a boolean here",
                    pos,
                )
            return self.sql.json_value(doc, path, kind)

        return _Val(
            ANY, None, text=text, pos=pos, typed=typed, is_null=lambda: self.sql.json_is_null(doc, path)
        )

    def result_value(self, alias: FromClause, path: list[str], text: str, pos: int | None) -> _Val:
        doc = alias.c.result_json
        if path:
            return self.json_value(doc, path, text, pos)
        number = alias.c.result_number

        def typed(kind: str, why: str) -> ColumnElement[Any]:
            if kind == NUMBER:
                return number
            if kind in (STRING, BOOL):
                return self.sql.json_value(doc, [], kind)
            raise self.bad(
                f"{text} {why} with {_article(kind)}; results compare with numbers, strings and booleans", pos
            )

        def is_null() -> ColumnElement[bool]:
            return and_(number.is_(None), self.sql.json_is_null(doc, []))

        return _Val(ANY, None, text=text, pos=pos, typed=typed, is_null=is_null)
