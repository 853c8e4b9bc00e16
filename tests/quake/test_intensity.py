# SPDX-License-Identifier: Apache-2.0
"""KMA intensity classes come from the earthquake rule pack (one table for rules and damage model)."""

from __future__ import annotations

import numpy as np
import pytest

from safecity.demo import fields
from safecity.quake import intensity
from safecity.situation.rules import load_rules


def test_classes_are_the_packs_thresholds() -> None:
    classes = intensity.kma_classes()
    assert [c.name for c in classes] == ["IV", "V", "VI", "VII"]
    assert [c.crisis for c in classes] == ["attention", "caution", "alert", "serious"]
    # the same numbers the rule engine loads from the shipped pack
    rule = load_rules().by_id()[intensity.RULE_ID].rule
    engine = [lv.all[0].above for lv in rule.level if lv.all]  # type: ignore[union-attr]
    assert [c.min_gal for c in classes] == engine == [7.45, 25.1, 67.3, 144.5]


def test_class_v_starts_above_25_gal() -> None:
    # readings in 0.1 gal: 25.0 gal is still IV, 25.1 gal (2.56 %g) is V, as in the rule engine (≥)
    assert intensity.kma_class_name(25.0 / intensity.GAL_PER_G) == "IV"
    assert intensity.kma_class_name(25.1 / intensity.GAL_PER_G) == "V"
    assert intensity.kma_class_name(0.001) == "below IV"
    assert intensity.kma_class_name(0.5) == "VII+"
    idx = intensity.kma_class_index(np.array([0.0, 0.01, 0.05, 0.1, 0.2]))
    assert idx.tolist() == [-1, 0, 1, 2, 3]


def test_demo_uses_the_same_conversion() -> None:
    assert fields.pga_gal is intensity.pga_gal
    assert fields.pga_from_mmi is intensity.pga_from_mmi
    # mmi_from_pga inverts pga_from_mmi on both branches of Worden et al. (2012)
    for mmi in (3.0, 4.0, 5.5, 7.0):
        assert intensity.mmi_from_pga(np.array([intensity.pga_from_mmi(mmi)]))[0] == pytest.approx(mmi)
