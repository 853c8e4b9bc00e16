# SPDX-License-Identifier: Apache-2.0
"""Damage, casualties, displacement and the summary on a small register, checked by hand from the Hazus
tables (URML pre-code at 0.3 g: P(DS ≥ ds) from verification/hazus_hand.csv)."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import box

from safecity.quake.damage import SHELTER_SHARE, assess
from safecity.quake.inventory import TimeOfDay, with_areas
from safecity.quake.register import read_register
from safecity.quake.summary import summarise

HEADER = "관리건축물대장PK,시군구코드,구조코드명,주용도코드명,지상층수,연면적,사용승인일,내진설계적용여부,경도,위도"
CSV = "\n".join(
    [
        HEADER,
        "a,11110,벽돌구조,단독주택,1,200,19700101,0,126.98,37.57",  # URML Pre
        "b,11110,철근콘크리트구조,공동주택,5,3000,20100101,1,126.99,37.57",  # C2M Moderate
        "c,11140,철근콘크리트구조,업무시설,10,12000,19900101,0,126.97,37.56",  # C3H Low
    ]
).encode()


def test_urml_at_03g_by_hand() -> None:
    inv = read_register(CSV)
    dmg = assess(inv, np.array([0.3, 0.3, 0.3]), time_of_day=TimeOfDay.DAY)
    # P(DS >= ds) 0.9043 0.8126 0.5885 0.3716 (hand table) → P(DS = ds)
    p = [1 - 0.9043, 0.9043 - 0.8126, 0.8126 - 0.5885, 0.5885 - 0.3716, 0.3716]
    assert dmg.probabilities[0] == pytest.approx(p, abs=1e-4)
    # Hazus 6.1 URML: collapse given complete 0.15 (Table 12-8); killed per occupant: moderate 1e-5,
    # extensive 2e-5, complete without collapse 2e-4, collapse 0.1 (Tables 12-4 to 12-7)
    assert dmg.collapse[0] == pytest.approx(0.3716 * 0.15, abs=1e-4)
    killed_rate = p[2] * 1e-5 + p[3] * 2e-5 + p[4] * (0.15 * 0.1 + 0.85 * 2e-4)
    day = 200 / 40.0 * 0.53  # 200 m² / 40 m² per person, 53 % of residents at home by day
    assert dmg.casualties[0, 3] == pytest.approx(killed_rate * day, rel=1e-3)
    # slight injuries: 0.05 % slight, 0.35 % moderate, 2 % extensive, complete 0.15·40 % + 0.85·10 %
    minor = p[1] * 5e-4 + p[2] * 0.0035 + p[3] * 0.02 + p[4] * (0.15 * 0.4 + 0.85 * 0.1)
    assert dmg.casualties[0, 0] == pytest.approx(minor * day, rel=1e-3)
    # displaced: single family, complete only (w_C = 1), residents at night
    assert dmg.displaced[0] == pytest.approx(p[4] * 200 / 40.0, rel=1e-3)
    assert dmg.shelter[0] == pytest.approx(dmg.displaced[0] * SHELTER_SHARE)
    # the office is not a dwelling: nobody displaced
    assert dmg.displaced[2] == 0.0


def test_designed_apartments_fare_better_and_probabilities_sum_to_one() -> None:
    inv = read_register(CSV)
    dmg = assess(inv, np.array([0.4, 0.4, 0.4]))
    assert dmg.probabilities.sum(axis=1) == pytest.approx(np.ones(3))
    assert dmg.probabilities[1, 4] < dmg.probabilities[0, 4]
    quiet = assess(inv, np.zeros(3))
    assert quiet.probabilities[:, 0] == pytest.approx(np.ones(3))
    assert quiet.casualties.sum() == 0.0


def test_summary_adds_up_and_ranks_inspections() -> None:
    inv = read_register(CSV)
    dmg = assess(inv, np.array([0.5, 0.2, 0.45]), time_of_day=TimeOfDay.DAY)
    s = summarise(inv, dmg, top=2)
    assert [a.code for a in s.areas] == ["11110", "11140"]
    assert sum(a.buildings for a in s.areas) == 3 == s.total.buildings
    for state in ("none", "slight", "moderate", "extensive", "complete"):
        assert sum(a.by_state[state] for a in s.areas) == pytest.approx(s.total.by_state[state])
    assert sum(a.casualties["killed"] for a in s.areas) == pytest.approx(s.total.casualties["killed"])
    assert s.areas[0].pga_max_g == 0.5 and s.areas[0].kma_intensity == "VII+"
    priority = dmg.collapse * inv.occupants[:, TimeOfDay.DAY]
    assert [i.id for i in s.inspect_first] == [str(inv.ids[k]) for k in np.argsort(-priority)[:2]]
    d = s.to_dict()
    assert d["total"]["buildings"] == 3
    # the pack's names and crisis level travel with the class (Korean and English)
    assert d["areas"][0]["kma_intensity_ko"] == "진도 VII 이상" and d["areas"][0]["crisis_level"] == "serious"
    assert d["areas"][0]["kma_intensity_en"] == "Intensity VII or more"


def test_summary_per_dong() -> None:
    inv = with_areas(
        read_register(CSV),
        [
            ("1111051500", box(126.975, 37.565, 126.985, 37.575)),
            ("1111053000", box(126.985, 37.565, 126.995, 37.575)),
        ],
    )
    assert inv.dong.tolist() == ["1111051500", "1111053000", ""]  # the third lies outside both
    dmg = assess(inv, np.array([0.5, 0.5, 0.5]))
    s = summarise(inv, dmg, by="dong")
    assert [a.code for a in s.areas] == ["", "1111051500", "1111053000"]
    assert s.areas[1].displaced == pytest.approx(dmg.displaced[0])
