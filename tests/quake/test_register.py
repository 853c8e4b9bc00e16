# SPDX-License-Identifier: Apache-2.0
"""The building-register importer: Korean headers, both encodings, the Hazus mapping, and per-row errors
that name the line and column, with nothing imported when any row is bad."""

from __future__ import annotations

import pytest

from safecity.quake.register import RegisterImportError, read_register

HEADER = "관리건축물대장PK,시군구코드,법정동코드,구조코드,구조코드명,주용도코드,주용도코드명,지상층수,연면적(㎡),사용승인일,내진설계적용여부,경도,위도"
ROWS = [
    # old brick house, no seismic design
    "11680-1001,11680,1168010100,11,벽돌구조,01000,단독주택,2,165.3,19780512,0,127.0473,37.5172",
    # 15-storey RC apartment block, designed
    "11680-1002,11680,1168010100,21,철근콘크리트구조,02000,공동주택,15,9800,20080301,1,127.0491,37.5160",
    # RC neighbourhood building from 1995, not designed; code only, no names
    "11680-1003,11680,1168010100,21,,04000,,4,820.5,19950101,N,127.0500,37.5150",
    # light-steel workshop: name only
    "11680-1004,11680,1168010100,,경량철골구조,,공장,1,300,,,127.0510,37.5140",
]


def _csv(rows: list[str], encoding: str = "utf-8") -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode(encoding)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp949"])
def test_rows_map_to_hazus_types_and_levels(encoding: str) -> None:
    inv = read_register(_csv(ROWS, encoding))
    assert inv.ids.tolist() == ["11680-1001", "11680-1002", "11680-1003", "11680-1004"]
    assert inv.hazus_type.tolist() == ["URML", "C2H", "C3M", "S3"]
    # year unknown (blank 사용승인일) counts as pre-code: the conservative choice
    assert inv.code_level.tolist() == ["Pre", "Moderate", "Low", "Pre"]
    assert inv.occupancy.tolist() == ["RES1", "RES3", "COM4", "IND2"]
    assert inv.year.tolist() == [1978, 2008, 1995, 0]
    assert inv.seismic_design.tolist() == [False, True, False, False]
    assert not inv.generated
    # occupants: floor area / m² per person × the Hazus share present (residential at night: all)
    assert inv.occupants[1, 0] == pytest.approx(9800 / 30.0)
    assert inv.occupants[2, 1] == pytest.approx(820.5 / 20.0)  # commercial by day: all
    assert inv.fragility_rows().shape == (4,)


def test_every_bad_row_is_reported_and_nothing_imported() -> None:
    bad = [
        ROWS[0],
        "x1,11680,1168010100,77,알수없음,01000,단독주택,2,100,20000101,0,127.05,37.51",
        "x2,11680,1168010100,21,철근콘크리트구조,02000,공동주택,two,100,20000101,0,127.05,37.51",
        "x3,11680,1168010100,21,철근콘크리트구조,02000,공동주택,3,100,2000-13,maybe,127.05,37.51",
        "x4,11680,1168010100,21,철근콘크리트구조,02000,공동주택,3,100,20000101,1,200.0,37.51",
    ]
    with pytest.raises(RegisterImportError) as err:
        read_register(_csv(bad))
    details = err.value.details
    assert {(d["line"], d["column"]) for d in details} == {
        (3, "구조코드"),
        (4, "지상층수"),
        (5, "사용승인일"),
        (5, "내진설계적용여부"),
        (6, "경도"),
    }
    assert err.value.status == 400
    assert err.value.where == "line 3"
    assert "nothing imported" in err.value.message and err.value.message_ko


def test_missing_columns_are_named() -> None:
    with pytest.raises(RegisterImportError, match="경도, 위도"):
        read_register("구조코드,주용도코드,지상층수,연면적\n21,02000,3,100\n".encode())
    with pytest.raises(RegisterImportError, match="empty"):
        read_register(b"")
