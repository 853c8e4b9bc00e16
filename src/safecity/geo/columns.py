# SPDX-License-Identifier: Apache-2.0
"""Which attribute column holds the code, the Korean and the English name, for the common Korean datasets.

Two code systems number the same places differently, and a file says which one only through its column
names:

* MOIS (행정안전부) codes: 5-digit sigungu ``SIG_CD`` (``11110`` 종로구) in the juso.go.kr boundaries,
  10-digit administrative dong ``adm_cd2`` (``1111053000`` 사직동) in vuski/admdongkor, 8-digit legal
  dong ``EMD_CD`` (법정동, not administrative dongs).
* KOSTAT (통계청) census codes: ``code`` in southkorea/seoul-maps ``kostat/`` files (5-digit ``11010``
  종로구, 7-digit dong ``1101053``) and ``adm_cd`` in vuski/admdongkor (7-digit, KOSTAT style).

Both systems start a dong's code with its district's 5-digit code, which is how a dong finds its parent.
"""

from __future__ import annotations

from dataclasses import dataclass

MOIS = "mois"
MOIS_LEGAL = "mois_legal"  # 법정동 codes: a different set of places from administrative dongs
KOSTAT = "kostat"
CUSTOM = "custom"

#: The code system a dong's district code is in (legal dongs hang under MOIS districts).
PARENT_SYSTEM = {MOIS: MOIS, MOIS_LEGAL: MOIS, KOSTAT: KOSTAT, CUSTOM: CUSTOM}


@dataclass(frozen=True)
class ColumnMap:
    """Where the area attributes are. ``name_is_full`` marks names like "서울특별시 종로구 사직동"."""

    code: str
    code_system: str
    name: str | None
    name_en: str | None
    profile: str
    name_is_full: bool = False


@dataclass(frozen=True)
class _Profile:
    name: str
    code: str
    code_system: str
    name_field: str | None
    name_en_field: str | None
    name_is_full: bool = False


# Order matters: vuski files carry both adm_cd2 (MOIS) and adm_cd (KOSTAT); the MOIS code wins.
_PROFILES = (
    _Profile("juso sigungu (MOIS)", "SIG_CD", MOIS, "SIG_KOR_NM", "SIG_ENG_NM"),
    _Profile("vuski admdong (MOIS adm_cd2)", "adm_cd2", MOIS, "adm_nm", None, name_is_full=True),
    _Profile("juso legal dong (MOIS 법정동)", "EMD_CD", MOIS_LEGAL, "EMD_KOR_NM", "EMD_ENG_NM"),
    _Profile("vuski admdong (KOSTAT adm_cd)", "adm_cd", KOSTAT, "adm_nm", None, name_is_full=True),
    _Profile("southkorea-maps KOSTAT", "code", KOSTAT, "name", "name_eng"),
)

#: Name columns tried when no profile matches or for feature layers, in order.
NAME_FIELDS = ("name_ko", "name", "NAME", "nm", "시설명", "대피소명", "명칭")
NAME_EN_FIELDS = ("name_en", "name_eng", "NAME_EN", "name_english")
CODE_FIELDS = ("code", "id", "ID", "CODE", "fid", "관리번호")


def _find(fields: list[str], wanted: str | None) -> str | None:
    if wanted is None:
        return None
    if wanted in fields:
        return wanted
    lower = {f.lower(): f for f in fields}
    return lower.get(wanted.lower())


def detect_area_columns(
    fields: list[str],
    *,
    code_field: str | None = None,
    name_field: str | None = None,
    name_en_field: str | None = None,
    code_system: str | None = None,
) -> ColumnMap | None:
    """The column map of an area layer, or None when no code column is known or given.

    An explicit field that is not in the file still comes back (the importer reports it by name). A
    code field given by hand takes its code system from a known profile with that column, else
    ``code_system`` or :data:`CUSTOM`.
    """
    profile: _Profile | None = None
    for p in _PROFILES:
        if code_field is None and _find(fields, p.code) is not None:
            profile = p
            break
        if code_field is not None and p.code.lower() == code_field.lower():
            profile = p
            break
    if code_field is None and profile is None:
        return None
    code = code_field if code_field is not None else _find(fields, profile.code if profile else None)
    assert code is not None
    name = name_field or (_find(fields, profile.name_field) if profile else None)
    if name is None:
        name = next((f for f in (_find(fields, n) for n in NAME_FIELDS) if f), None)
    name_en = name_en_field or (_find(fields, profile.name_en_field) if profile else None)
    if name_en is None and name_en_field is None:
        name_en = next((f for f in (_find(fields, n) for n in NAME_EN_FIELDS) if f), None)
    system = code_system or (profile.code_system if profile else CUSTOM)
    return ColumnMap(
        code=code,
        code_system=system,
        name=name,
        name_en=name_en,
        profile=profile.name if profile else "given by options",
        name_is_full=bool(profile and profile.name_is_full and name_field is None),
    )


def short_name(full: str) -> str:
    """The last part of a full administrative name: "서울특별시 종로구 사직동" → "사직동"."""
    return full.split()[-1] if full.split() else full


def first_field(fields: list[str], candidates: tuple[str, ...], given: str | None = None) -> str | None:
    """``given`` if set, else the first of ``candidates`` present in ``fields`` (case-insensitive)."""
    if given is not None:
        return given
    return next((f for f in (_find(fields, n) for n in candidates) if f), None)
