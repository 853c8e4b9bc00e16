# SPDX-License-Identifier: Apache-2.0
"""Condition changes as the rule engine makes them, and helpers to look at what the store holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select

from safecity.app import Platform
from safecity.bus.tables import outbox
from safecity.core.timeutil import to_micros
from safecity.sensing import tables as st
from safecity.situation import events as ev
from safecity.situation import tables as t
from safecity.situation.model import ConditionChange, Crisis, Site

#: 8 August 2022, 21:00 KST: the hour 동작구 recorded 141.5 mm (the storm the demo replays).
T0 = datetime(2022, 8, 8, 12, 0, tzinfo=UTC)

#: MOIS district codes.
DONGJAK, GWANAK, YEONGDEUNGPO, GANGNAM, NOWON, YONGSAN = "11590", "11620", "11560", "11680", "11350", "11170"


def change(
    *,
    rule: str = "kma.heavy_rain",
    subject: str = "ds:1",
    level: Crisis = Crisis.alert,
    previous: Crisis = Crisis.none,
    hazard: str = "heavy_rain",
    at: datetime = T0,
    districts: tuple[str, ...] = (DONGJAK,),
    stage_ko: str | None = None,
    stage_en: str | None = None,
    value: float | None = 92.5,
    lon: float | None = None,
    lat: float | None = None,
    things: tuple[int, ...] = (),
    datastreams: tuple[int, ...] = (1,),
    observations: tuple[int, ...] = (),
    official: bool = False,
    site: Site | None = None,
    lift_within_s: float | None = None,
) -> ConditionChange:
    names = {
        Crisis.none: ("", ""),
        Crisis.attention: ("호우 관심", "Heavy rain attention"),
        Crisis.caution: ("호우주의보", "Heavy rain advisory"),
        Crisis.alert: ("호우경보", "Heavy rain warning"),
        Crisis.serious: ("호우 심각", "Heavy rain serious"),
    }[level]
    return ConditionChange(
        rule_id=rule,
        rule_version=1,
        hazard=hazard,
        subject=subject,
        level=level,
        previous=previous,
        stage_ko=names[0] if stage_ko is None else stage_ko,
        stage_en=names[1] if stage_en is None else stage_en,
        at=at,
        value=value if level else None,
        signal="sum 3h",
        datastream_ids=datastreams,
        thing_ids=things,
        observation_ids=observations,
        district_codes=districts,
        lon=lon,
        lat=lat,
        detail={"signal_ko": "3시간 누적", "signal_en": "3-h sum", "unit": "mm"},
        official=official,
        site=site,
        lift_within_s=lift_within_s,
    )


#: The situation events that are not about incidents (the stream's condition and rules frames).
NOT_INCIDENTS = (ev.CONDITION_CHANGED, ev.RULES_RELOADED)


def counts(platform: Platform) -> dict[str, int]:
    """Rows in each incident table and incident events in the outbox."""
    with platform.store.engine.connect() as conn:
        out = {
            name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in (("incidents", t.incidents), ("timeline", t.timeline), ("links", t.links))
        }
        out["events"] = int(
            conn.execute(
                select(func.count()).where(
                    outbox.c.topic.like("situation.%"), outbox.c.topic.not_in(NOT_INCIDENTS)
                )
            ).scalar_one()
        )
    return out


def outbox_events(platform: Platform) -> list[tuple[str, dict[str, Any]]]:
    with platform.store.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.topic, outbox.c.payload)
            .where(outbox.c.topic.like("situation.%"), outbox.c.topic.not_in(NOT_INCIDENTS))
            .order_by(outbox.c.id)
        ).all()
    return [(r.topic, r.payload) for r in rows]


def sensing_ids(platform: Platform) -> dict[str, int]:
    """A Thing with one Datastream and one Observation, written straight into the sensing tables."""
    with platform.store.write() as conn:
        thing = conn.execute(
            insert(st.things).values(name="Dongjak AWS", description="").returning(st.things.c.id)
        ).scalar_one()
        sensor = conn.execute(
            insert(st.sensors)
            .values(name="s", description="", encoding_type="x", metadata="")
            .returning(st.sensors.c.id)
        ).scalar_one()
        prop = conn.execute(
            insert(st.observed_properties)
            .values(name="rainfall_10min", definition="urn:r", description="")
            .returning(st.observed_properties.c.id)
        ).scalar_one()
        ds = conn.execute(
            insert(st.datastreams)
            .values(
                name="d",
                description="",
                observation_type="x",
                unit_of_measurement={"symbol": "mm"},
                thing_id=thing,
                sensor_id=sensor,
                observed_property_id=prop,
            )
            .returning(st.datastreams.c.id)
        ).scalar_one()
        foi = conn.execute(
            insert(st.features_of_interest)
            .values(
                name="f",
                description="",
                encoding_type="application/geo+json",
                feature={"type": "Point", "coordinates": [126.94, 37.51]},
            )
            .returning(st.features_of_interest.c.id)
        ).scalar_one()
    obs_id, _created = _insert_observation(platform, int(ds), int(foi))
    return {"thing": int(thing), "datastream": int(ds), "observation": int(obs_id)}


def _insert_observation(platform: Platform, ds: int, foi: int) -> tuple[int, bool]:
    # OBSERVATION_COLUMNS order; times in microseconds as sensing's writer takes them.
    row: list[Any] = [None, to_micros(T0), None, None, None, None, 12.5, None, None, 0, None, ds, None, foi]
    row.append(to_micros(T0))
    with platform.store.write() as conn:
        return platform.sensing.ingest.writer.insert(conn, [row])[0]
