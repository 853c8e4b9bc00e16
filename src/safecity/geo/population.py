# SPDX-License-Identifier: Apache-2.0
"""Resident population per dong and district (``safecity import population``), from the Seoul Open Data
table 주민등록인구 (동별)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy import select, update

from safecity.core.errors import BadRequest
from safecity.geo import areas as area_index
from safecity.geo import tables as t
from safecity.store import Store


class _HasStore(Protocol):
    store: Store


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
    st: Store = store.store if hasattr(store, "store") else store
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
