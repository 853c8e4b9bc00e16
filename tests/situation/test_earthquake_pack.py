# SPDX-License-Identifier: Apache-2.0
"""The earthquake pack: KMA intensity classes from peak ground acceleration, mapped to crisis levels, per
station and so per district; the class holds for the hour after the shaking, then clears.

The thresholds are KMA's PGA lower bounds of classes IV-VII in g (V confirmed, the others UNCONFIRMED, as the
pack says),
converted at 1 g = 980.665 gal.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from safecity.sensing.directory import StreamInfo
from safecity.situation.model import HAZARDS, Crisis
from safecity.situation.replay import ReplayResult, replay
from safecity.situation.rules import PACKS_DIR, LoadedRule, load_paths

G_GAL = 980.665
#: KMA's lower PGA bound of each class (g) and the crisis level the pack maps it to.
CLASSES = (
    (0.0076, Crisis.attention),
    (0.0256, Crisis.caution),  # 2.56 %g = 25.1 gal (KMA; issue 12's research notes)
    (0.0686, Crisis.alert),
    (0.1473, Crisis.serious),
)
T0 = datetime(2026, 5, 14, 1, 0, tzinfo=UTC)
STEP_S = 30.0


@pytest.fixture(scope="module")
def rules() -> list[LoadedRule]:
    loaded = load_paths([PACKS_DIR / "earthquake.toml"])
    assert loaded.errors == []
    return list(loaded.rules)


def _stream(ds: int, district: str) -> StreamInfo:
    return StreamInfo(
        datastream_id=ds,
        name=f"accelerometer {ds}: peak_ground_acceleration",
        property="peak_ground_acceleration",
        thing_id=ds,
        thing_name=f"accelerometer {ds}",
        thing_properties={"_district": district},
        properties={},
        lon=127.0,
        lat=37.5,
        expected_interval_s=STEP_S,
    )


def _shake(
    rules: list[LoadedRule], peaks: dict[int, float], minutes: int = 100
) -> tuple[dict[int, int], dict[int, int], ReplayResult]:
    """Each station reads 0.3 gal, except one step at 5 min with its peak; the highest level per station."""
    rows = []
    for i in range(int(minutes * 60 / STEP_S) + 1):
        t = T0 + timedelta(seconds=STEP_S * i)
        for ds, peak in peaks.items():
            rows.append((t.timestamp(), ds, peak if i == 10 else 0.3, i))
    infos = [_stream(ds, f"1{ds:04d}") for ds in peaks]
    result = replay(rules, infos, sorted(rows), tick_s=STEP_S)
    top: dict[int, int] = {ds: 0 for ds in peaks}
    last: dict[int, int] = {}
    for c in result.changes:
        for ds in c.datastream_ids:
            top[ds] = max(top[ds], int(c.level))
            last[ds] = int(c.level)
    return top, last, result


def test_the_pack_uses_kma_classes_and_a_known_hazard(rules: list[LoadedRule]) -> None:
    assert "earthquake" in HAZARDS and HAZARDS["earthquake"].name_ko == "지진"
    (rule,) = [r.rule for r in rules]
    assert rule.id == "kma.earthquake_intensity" and rule.hazard == "earthquake"
    got = [(lv.crisis, getattr((lv.all or ())[0], "above", None)) for lv in rule.level]
    want = [(c.name, round(g * G_GAL, 2 if g < 0.01 else 1)) for g, c in CLASSES]
    assert got == want


def test_levels_follow_the_intensity_class(rules: list[LoadedRule]) -> None:
    # just below and above each bound, one station each
    peaks = {1: 5.0, 2: 7.5, 3: 24.9, 4: 25.1, 5: 67.0, 6: 67.5, 7: 144.0, 8: 145.0, 9: 400.0}
    top, last, _ = _shake(rules, peaks)
    assert top == {1: 0, 2: 1, 3: 1, 4: 2, 5: 2, 6: 3, 7: 3, 8: 4, 9: 4}
    # 100 minutes later the shaking has left the 1 h window and clear_after (10 min) has passed
    assert all(last[ds] == 0 for ds in top if top[ds] > 0)


def test_the_class_holds_for_the_hour_after_the_shaking(rules: list[LoadedRule]) -> None:
    top, last, result = _shake(rules, {1: 100.0}, minutes=60)
    assert top[1] == 3 and last[1] == 3  # still 경계 55 min after the S wave
    cleared = [c for c in result.changes if c.level == Crisis.none]
    assert cleared == []
