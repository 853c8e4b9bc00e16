# SPDX-License-Identifier: Apache-2.0
"""Import of the national building register's title sheets (건축물대장 표제부) as a CSV with Korean headers.

Columns read (header names as in the register's open-data exports; spaces and a unit suffix such as
``연면적(㎡)`` are tolerated):

=================== ======================================= ==========
column              meaning                                  required
=================== ======================================= ==========
관리건축물대장PK     building id (else 건물ID, else the row)   no
구조코드 / 구조코드명 structure code / name                     one of
주용도코드 / 주용도코드명 main-use code / name                    one of
지상층수             floors above ground                      yes
사용승인일           approval date, YYYYMMDD (blank: unknown) no
내진설계적용여부     seismic design applied: 1/0, Y/N, 적용/미적용, 예/아니오 no (blank: no)
연면적               total floor area, m²                     yes
경도 / 위도          WGS84 longitude / latitude               yes
시군구코드           district code (5 digits)                 no
법정동코드           legal dong code                          no
=================== ======================================= ==========

The register carries an address, not coordinates: geocode it first (e.g. with the juso.go.kr address
coordinates) and add 경도/위도. Every row is checked; if any row is wrong nothing is imported and the error
lists each bad row with its line number, column and what to fix (never a partial import).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np

from safecity.core.errors import BadRequest
from safecity.quake.inventory import Inventory, build, catalogue

#: How many row errors the message lists (all of them are in ``details``).
MAX_LISTED = 5

_YES = {"1", "y", "yes", "예", "적용", "o", "true"}
_NO = {"0", "n", "no", "아니오", "미적용", "x", "false", ""}


class RegisterImportError(BadRequest):
    """The register file has bad rows; ``details`` lists ``{"line", "column", "message"}`` per problem."""

    code = "quake_register_invalid"


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"line": self.line, "column": self.column, "message": self.message}


def _norm(header: str) -> str:
    h = header.strip().replace(" ", "").lstrip("\ufeff")
    return h.split("(")[0]


def _decode(data: bytes) -> str:
    # open-data exports of the register come in UTF-8 (with or without BOM) or in CP949 (EUC-KR)
    for enc in ("utf-8-sig", "cp949"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise RegisterImportError(
        "the file is neither UTF-8 nor CP949 (EUC-KR) text: save it as CSV in UTF-8",
        message_ko="파일이 UTF-8 또는 CP949(EUC-KR) 텍스트가 아닙니다. UTF-8 CSV로 저장하세요.",
    )


def read_register(
    data: bytes,
    *,
    vs30: float = 360.0,
    source: str = "건축물대장 표제부",
) -> Inventory:
    """Parse a register CSV into an :class:`Inventory` (``vs30``: the sites' Vs30, m/s, until a site map
    is given). Raises :class:`RegisterImportError` listing every bad row."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise RegisterImportError("the file is empty: give the register's header row and rows") from None
    cols = {_norm(h): i for i, h in enumerate(header)}
    missing = [c for c in ("지상층수", "연면적", "경도", "위도") if c not in cols]
    if not ({"구조코드", "구조코드명"} & cols.keys()):
        missing.append("구조코드 or 구조코드명")
    if not ({"주용도코드", "주용도코드명"} & cols.keys()):
        missing.append("주용도코드 or 주용도코드명")
    if missing:
        raise RegisterImportError(
            f"line 1: missing column(s) {', '.join(missing)}; the header has {', '.join(header)}",
            where="line 1",
            message_ko=f"1행: 필요한 열이 없습니다: {', '.join(missing)}",
        )
    cat = catalogue()
    errors: list[RowError] = []
    out: dict[str, list[object]] = {
        k: []
        for k in (
            "id",
            "lon",
            "lat",
            "district",
            "dong",
            "structure",
            "use",
            "floors",
            "year",
            "design",
            "area",
        )
    }

    def cell(row: list[str], name: str) -> str:
        i = cols.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    for line, row in enumerate(reader, start=2):
        if not any(v.strip() for v in row):
            continue
        n_err = len(errors)
        structure = cat.structure_from(cell(row, "구조코드"), cell(row, "구조코드명"))
        if structure is None:
            errors.append(
                RowError(
                    line,
                    "구조코드",
                    f"unknown structure {cell(row, '구조코드')!r}/{cell(row, '구조코드명')!r}",
                )
            )
        use = cat.use_from(cell(row, "주용도코드"), cell(row, "주용도코드명"))
        if use is None:
            errors.append(
                RowError(
                    line,
                    "주용도코드",
                    f"unknown main use {cell(row, '주용도코드')!r}/{cell(row, '주용도코드명')!r}",
                )
            )
        floors = _number(cell(row, "지상층수"), line, "지상층수", errors, integer=True, low=1, high=200)
        area = _number(cell(row, "연면적"), line, "연면적", errors, low=1.0, high=5e6)
        lon = _number(cell(row, "경도"), line, "경도", errors, low=124.0, high=132.0)
        lat = _number(cell(row, "위도"), line, "위도", errors, low=33.0, high=39.0)
        approval = cell(row, "사용승인일")
        year = 0
        if approval:
            digits = approval.replace("-", "").replace(".", "")
            if len(digits) == 8 and digits.isdigit() and 1900 <= int(digits[:4]) <= 2100:
                year = int(digits[:4])
            else:
                errors.append(RowError(line, "사용승인일", f"{approval!r} is not a date YYYYMMDD"))
        flag = cell(row, "내진설계적용여부").lower()
        if flag not in _YES | _NO:
            errors.append(RowError(line, "내진설계적용여부", f"{flag!r}: use 1/0, Y/N, 적용/미적용"))
        if len(errors) > n_err:
            continue
        assert use is not None and structure is not None
        out["id"].append(cell(row, "관리건축물대장PK") or cell(row, "건물ID") or f"row-{line}")
        out["lon"].append(lon)
        out["lat"].append(lat)
        out["district"].append(cell(row, "시군구코드"))
        out["dong"].append(cell(row, "법정동코드"))
        out["structure"].append(structure)
        out["use"].append(use.number)
        out["floors"].append(floors)
        out["year"].append(year)
        out["design"].append(flag in _YES)
        out["area"].append(area)
    if errors:
        listed = "; ".join(f"line {e.line} {e.column}: {e.message}" for e in errors[:MAX_LISTED])
        more = f" (and {len(errors) - MAX_LISTED} more)" if len(errors) > MAX_LISTED else ""
        raise RegisterImportError(
            f"{len(errors)} bad value(s), nothing imported: {listed}{more}",
            where=f"line {errors[0].line}",
            message_ko=f"잘못된 값 {len(errors)}개가 있어 아무것도 가져오지 않았습니다: {listed}{more}",
            details=[e.to_dict() for e in errors],
        )
    if not out["id"]:
        raise RegisterImportError("the file has a header but no building rows")
    n = len(out["id"])
    return build(
        ids=np.array(out["id"], dtype=str),
        lon=np.array(out["lon"], dtype=np.float64),
        lat=np.array(out["lat"], dtype=np.float64),
        district=np.array(out["district"], dtype=str),
        dong=np.array(out["dong"], dtype=str),
        structure=np.array(out["structure"], dtype=str),
        use=np.array(out["use"], dtype=np.int64),
        floors=np.array(out["floors"], dtype=np.int64),
        year=np.array(out["year"], dtype=np.int64),
        seismic_design=np.array(out["design"], dtype=bool),
        floor_area_m2=np.array(out["area"], dtype=np.float64),
        vs30=np.full(n, vs30),
        source=source,
    )


def _number(
    text: str,
    line: int,
    column: str,
    errors: list[RowError],
    *,
    low: float,
    high: float,
    integer: bool = False,
) -> float:
    if not text:
        errors.append(RowError(line, column, "empty: a value is required"))
        return 0.0
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        errors.append(RowError(line, column, f"{text!r} is not a number"))
        return 0.0
    if integer and value != int(value):
        errors.append(RowError(line, column, f"{text!r} is not a whole number"))
    if not low <= value <= high:
        errors.append(RowError(line, column, f"{text} is outside {low:g}-{high:g}"))
    return int(value) if integer else value
