# SPDX-License-Identifier: Apache-2.0
"""The real Seoul data files the geo tests read in place (see each folder's PROVENANCE.md)."""

from __future__ import annotations

from tests.conftest import SHARED

BOUNDARIES = SHARED / "data" / "boundaries"
#: 25 districts, MOIS SIG_CD codes (juso.go.kr 2015).
MOIS_DISTRICTS = BOUNDARIES / "seoulmaps_juso_2015_seoul_municipalities_geo.geojson"
#: 25 districts, KOSTAT census codes (2013, simplified).
KOSTAT_DISTRICTS = BOUNDARIES / "seoulmaps_kostat_2013_seoul_municipalities_geo_simple.geojson"
#: 423 administrative dongs, KOSTAT 7-digit codes (2013, simplified).
KOSTAT_DONGS = BOUNDARIES / "seoulmaps_kostat_2013_seoul_submunicipalities_geo_simple.geojson"
#: 425 administrative dongs (April 2021), MOIS adm_cd2 10-digit codes and KOSTAT-style adm_cd.
DONGS_2021 = BOUNDARIES / "admdong_seoul_2021-04_vuski-via-raqoon886.geojson"
#: 500 civil-defence shelter points in central Seoul.
SHELTERS = SHARED / "data" / "facilities" / "shelters_central_seoul_500.geojson"
#: Resident registration population by administrative dong, 2021 Q2.
POPULATION = SHARED / "data" / "population" / "seoul_population_by_admdong_2021Q2.tsv"
#: Seoul's registered residents in 2021 Q2, the 합계 row of POPULATION.
SEOUL_POPULATION_2021Q2 = 9_795_426
#: Seoul City Hall (서울특별시 중구 세종대로 110, 태평로1가): in 명동 administrative dong, 중구.
CITY_HALL = (126.9780, 37.5665)
