# SPDX-License-Identifier: Apache-2.0
"""Wandering detection, verified on a GENERATED labelled set (safecity.care.wandering_data: the
calibration set is seed 1, the verification set seed 2), and watched online for a person with
dementia from their own stored history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pytest

from safecity.care.model import Actor, ConsentIn, Device, DeviceIn, Fix, Person, PersonIn, PersonKind, Purpose
from safecity.care.service import Care
from safecity.care.wandering import EARTH_M, THRESHOLD, auc
from safecity.care.wandering_data import _circle, _route, _walk, calibrate, verify
from tests.care.conftest import START, CareEnv

#: the issue's bar (issue 17: "wandering AUC >= 0.95 with <= 5 % false alarms on the labelled set")
AUC_MIN = 0.95
FALSE_ALARMS_MAX = 0.05


def test_auc_is_the_mann_whitney_statistic() -> None:
    assert auc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert auc([0.1, 0.9], [True, False]) == 0.0
    assert auc([0.5, 0.5], [True, False]) == 0.5
    with pytest.raises(ValueError):
        auc([0.5], [True])


def test_the_threshold_is_the_calibration_sets() -> None:
    assert calibrate(seed=1) == pytest.approx(THRESHOLD, abs=0.002)


def test_verification_table_meets_the_issues_bar() -> None:
    v = verify(seed=2)
    assert v.windows == 460 and v.wandering == 120
    assert v.auc >= AUC_MIN, v
    assert v.false_alarm_rate <= FALSE_ALARMS_MAX, v
    # the known loops in a usual place (the park) are mostly not alarms; circling elsewhere is
    park_n, park_alarms = v.by_kind["exercise loops in the usual park"]
    circling_n, circling_alarms = v.by_kind["circling in unused streets"]
    assert park_alarms / park_n < 0.25 and circling_alarms / circling_n > 0.9


def _lonlat(pts: np.ndarray, origin: tuple[float, float]) -> list[tuple[float, float]]:
    k = np.pi / 180 * EARTH_M
    return [(origin[0] + x / (k * np.cos(np.radians(origin[1]))), origin[1] + y / k) for x, y in pts]


HOME = (127.0276, 37.4979)
MARKET = np.array([600.0, 300.0])  # m east and north of home


@dataclass
class Walker:
    """A person with dementia watched for wandering, their tracker, and their fixes sent one at a time (as
    trackers send them) on the test's clock: from START, 8 days before now."""

    care: Care
    person: Person
    device: Device
    rng: np.random.Generator

    @classmethod
    def watched(cls, env: CareEnv, guardian: Callable[[int], None] | None = None) -> Walker:
        """Registered with consent (``guardian``: adds theirs before the tracker), with a week of the same
        walk to the market and back behind them: their usual places."""
        care = env.care
        env.clock.set(START + timedelta(days=8))  # the history below is in the past
        op = Actor("op", "user", frozenset({"operator"}))
        person = care.add_person(
            PersonIn(
                name="박순자",
                kind=PersonKind.dementia,
                birth_date=START.date().replace(year=1941),
                home_lon=HOME[0],
                home_lat=HOME[1],
                diagnosis_consent=ConsentIn(given_by="self", written=True),
            ),
            op,
        )
        care.give_consent(person.id, Purpose.location, ConsentIn(given_by="self"), op)
        if guardian is not None:
            guardian(person.id)
        device, _ = care.add_device(person.id, DeviceIn(protocol="osmand"), op)
        walker = cls(care, person, device, np.random.default_rng(5))
        for day in range(7):
            walker.send(_walk(_route(np.zeros(2), MARKET, True), 60, walker.rng), day * 86400)
            walker.send(_walk(_route(MARKET, np.zeros(2), False), 60, walker.rng), day * 86400 + 3600)
        return walker

    def send(self, pts: np.ndarray, start: int) -> None:
        """Fixes every 30 s along ``pts`` (m from home), from ``start`` seconds after START."""
        for i, (lon, lat) in enumerate(_lonlat(pts, HOME)):
            fix = Fix(at=START + timedelta(seconds=start + 30 * i), lon=lon, lat=lat, accuracy_m=8.0)
            self.care.ingest(self.device, [fix])

    def wander(self) -> None:
        """On day 8: circling in streets never used."""
        self.send(_circle(np.array([-900.0, -700.0]), 70, 2.5, 60, self.rng, np.zeros(2)), 7 * 86400 + 7200)


def test_a_person_with_dementia_is_watched_online(care_env: CareEnv) -> None:
    env = care_env
    care = env.care
    walker = Walker.watched(env)
    # the usual walk raises nothing; circling in streets never used does
    walker.send(_walk(_route(np.zeros(2), MARKET, True), 60, walker.rng), 7 * 86400)
    assert care.fences.alerts_of(walker.person.id) == []
    walker.wander()
    person = walker.person
    kinds = [a["kind"] for a in care.fences.alerts_of(person.id)]
    assert kinds == ["wandering"]  # once, not once per fix
