# SPDX-License-Identifier: Apache-2.0
"""One open incident per condition, whatever the number of processes: the store refuses a second open
holder (a partial unique index), and a rule engine that meets it joins the incident the other opened."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from safecity.app import Platform
from safecity.core.clock import ManualClock
from safecity.situation.incidents import Incidents
from safecity.situation.lifecycle import OPEN
from safecity.situation.model import Crisis
from safecity.situation.tables import incidents as t_incidents
from safecity.situation.tables import links as t_links
from tests.situation.incident_data import T0, change

M = timedelta(minutes=1)


def open_incidents(platform: Platform) -> list[int]:
    with platform.store.engine.connect() as conn:
        q = select(t_incidents.c.id).where(t_incidents.c.status.in_([s.value for s in OPEN]))
        return [int(i) for i in conn.execute(q).scalars()]


def holders(platform: Platform, key: str) -> list[int]:
    with platform.store.engine.connect() as conn:
        q = select(t_links.c.incident_id).where(t_links.c.ref == key, t_links.c.holds.is_(True))
        return [int(i) for i in conn.execute(q).scalars()]


def test_a_second_engine_joins_the_incident_the_first_opened(platform: Platform) -> None:
    clock = ManualClock(T0 + 5 * M)
    # two registers on one store, as two processes: each loaded the (empty) open incidents at start
    first = Incidents(platform.store, platform.bus, clock)
    second = Incidents(platform.store, platform.bus, clock)
    opened = first.apply([change(level=Crisis.caution)])
    [incident_id] = open_incidents(platform)
    assert any(e["topic"] == "situation.IncidentOpened" for e in opened)
    # the second has not seen it and tries to open its own: refused by the store, it joins
    joined = second.apply([change(level=Crisis.alert, previous=Crisis.caution, at=T0 + M)])
    assert open_incidents(platform) == [incident_id]
    assert not any(e["topic"] == "situation.IncidentOpened" for e in joined)
    assert {e.get("incidentId") for e in joined if "incidentId" in e} == {incident_id}
    assert holders(platform, "kma.heavy_rain|ds:1") == [incident_id]
    assert second.get(incident_id).level == Crisis.alert


def test_the_store_refuses_a_second_open_holder_of_a_condition(platform: Platform) -> None:
    clock = ManualClock(T0 + 5 * M)
    Incidents(platform.store, platform.bus, clock).apply([change()])
    [incident_id] = open_incidents(platform)
    now = clock.now()
    with platform.store.write() as conn:  # another open incident, as a second process would write it
        other = conn.execute(
            insert(t_incidents)
            .values(
                hazard="heavy_rain",
                level=2,
                status="detected",
                title_ko="호우",
                title_en="Heavy rain",
                source="rule",
                opened_at=now,
                opened_by="system",
                last_activity_at=now,
                status_changed_at=now,
                status_changed_by="system",
                created_at=now,
                updated_at=now,
            )
            .returning(t_incidents.c.id)
        ).scalar_one()
    assert other != incident_id
    link = {"kind": "condition", "ref": "kma.heavy_rain|ds:1", "created_at": now, "updated_at": now}
    with pytest.raises(IntegrityError, match="situation_incident_links"), platform.store.write() as conn:
        conn.execute(insert(t_links).values(incident_id=other, holds=True, **link))
    with platform.store.write() as conn:  # a record of it that does not hold it is fine
        conn.execute(insert(t_links).values(incident_id=other, holds=False, **link))
    assert holders(platform, "kma.heavy_rain|ds:1") == [incident_id]


def test_a_closed_incident_releases_its_conditions(platform: Platform) -> None:
    clock = ManualClock(T0 + 5 * M)
    incidents = Incidents(platform.store, platform.bus, clock)
    incidents.apply([change()])
    [first] = open_incidents(platform)
    incidents.transition(first, "dismissed", "op1", reason="test")
    assert holders(platform, "kma.heavy_rain|ds:1") == []
    incidents.apply([change(at=T0 + 10 * M)])
    [second] = open_incidents(platform)
    assert second != first and holders(platform, "kma.heavy_rain|ds:1") == [second]
    with platform.store.engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(t_links).where(t_links.c.kind == "condition"))
        assert n.scalar_one() == 2  # the dismissed one keeps its record of the condition


def test_an_engine_whose_index_is_stale_reloads_and_records_the_condition(platform: Platform) -> None:
    """A standby's index is as old as its start: the holder it replaces may have added a condition to
    an incident since. Recording that condition again meets the store's record of it (unique per
    incident, kind and ref): the engine reloads and updates it (the fault test's survivor once failed
    to take the rule engine over on this)."""
    clock = ManualClock(T0 + 5 * M)
    first = Incidents(platform.store, platform.bus, clock)
    first.apply([change()])
    [incident_id] = open_incidents(platform)
    second = Incidents(platform.store, platform.bus, clock)  # a standby: loaded the incident with ds:1
    first.apply([change(subject="ds:2", datastreams=(2,), at=T0 + M)])  # the holder adds ds:2
    assert holders(platform, "kma.heavy_rain|ds:2") == [incident_id]
    second.apply([change(subject="ds:2", datastreams=(2,), level=Crisis.serious, at=T0 + 2 * M)])
    assert open_incidents(platform) == [incident_id]
    assert holders(platform, "kma.heavy_rain|ds:2") == [incident_id]
    with platform.store.engine.connect() as conn:
        level = conn.execute(
            select(t_links.c.level).where(
                t_links.c.ref == "kma.heavy_rain|ds:2", t_links.c.kind == "condition"
            )
        ).scalar_one()
    assert level == int(Crisis.serious)
