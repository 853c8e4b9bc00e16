# SPDX-License-Identifier: Apache-2.0
"""Receive updates: bus events become SensorThings MQTT notifications.

The JSON of a notification is what ``GET`` answers for the entity (rendered by the same ``Reader``,
from the stored row). Topics nobody subscribed to are skipped before anything is read or rendered, where
the transport can tell (the embedded broker can; an external one cannot).
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import select
from sqlalchemy.engine import Connection, Row

from safecity.core.logging import get_logger
from safecity.sensing.events import EntityChanged, ObservationAccepted
from safecity.sensing.mqtt_port import NOBODY, ROOT, Transport
from safecity.sensing.sta.model import ENTITIES, Entity, Nav
from safecity.sensing.sta.query import Reader

if TYPE_CHECKING:
    from safecity.app import Platform

log = get_logger(__name__)


def _parents() -> dict[str, list[tuple[Entity, Nav]]]:
    """For each entity type, the (parent type, to-many navigation) pairs that list it."""
    out: dict[str, list[tuple[Entity, Nav]]] = collections.defaultdict(list)
    for parent in ENTITIES.values():
        for nav in parent.navs:
            if nav.many:
                out[nav.target].append((parent, nav))
    return out


_PARENTS = _parents()


class Notifier:
    """Bus subscriber that publishes new and changed entities as SensorThings notifications."""

    def __init__(self, platform: Platform, transport: Transport, base: str) -> None:
        self.store = platform.store
        self.transport = transport
        self.reader = Reader(platform.store, base, 1)
        self.closed = False
        self.published = 0

    def on_observations(self, events: Sequence[Any]) -> None:
        if self.closed or not events:
            return
        listening = self.transport.listening()
        if listening is NOBODY:
            return  # the common case under heavy HTTP ingest: cost one snapshot per batch, nothing more
        wanted: dict[int, list[str]] = {}
        # Observations of a batch share few (stream, feature) pairs: decide the topics once per pair.
        per_pair: dict[tuple[int | None, int | None, int], list[str]] = {}
        for ev in events:
            if not isinstance(ev, ObservationAccepted):
                continue
            pair = (ev.datastream_id, ev.multi_datastream_id, ev.feature_of_interest_id)
            topics = per_pair.get(pair)
            if topics is None:
                if ev.datastream_id is not None:
                    stream = f"{ROOT}/Datastreams({ev.datastream_id})/Observations"
                else:
                    stream = f"{ROOT}/MultiDatastreams({ev.multi_datastream_id})/Observations"
                foi = f"{ROOT}/FeaturesOfInterest({ev.feature_of_interest_id})/Observations"
                topics = per_pair[pair] = [t for t in (f"{ROOT}/Observations", stream, foi) if listening(t)]
            if topics:
                wanted[ev.observation_id] = topics
        if not wanted:
            return
        entity = ENTITIES["Observation"]
        messages: list[tuple[str, bytes]] = []
        for row in self._rows(entity, list(wanted)):
            data = orjson.dumps(self.reader.render(entity, row, None))
            messages.extend((topic, data) for topic in wanted[row.id])
        self._publish(messages)

    def on_entities(self, events: Sequence[Any]) -> None:
        if self.closed:
            return
        listening = self.transport.listening()
        if listening is NOBODY:
            return
        created: dict[str, list[int]] = collections.defaultdict(list)
        updated: dict[str, list[int]] = collections.defaultdict(list)
        for ev in events:
            if not isinstance(ev, EntityChanged) or ev.entity not in ENTITIES:
                continue
            if ev.entity == "Observation" and ev.action == "created":
                continue  # announced from ObservationAccepted, which every ingest path emits
            entity = ENTITIES[ev.entity]
            if ev.action == "created":
                created[ev.entity].append(ev.entity_id)
            elif ev.action == "updated" and listening(f"{ROOT}/{entity.set_name}({ev.entity_id})"):
                updated[ev.entity].append(ev.entity_id)
        messages: list[tuple[str, bytes]] = []
        with self.store.engine.connect() as conn:
            for name, ids in updated.items():
                entity = ENTITIES[name]
                for row in self._rows(entity, ids, conn):
                    messages.append(
                        (
                            f"{ROOT}/{entity.set_name}({row.id})",
                            orjson.dumps(self.reader.render(entity, row, None)),
                        )
                    )
            for name, ids in created.items():
                entity = ENTITIES[name]
                for row in self._rows(entity, ids, conn):
                    topics = [f"{ROOT}/{entity.set_name}"]
                    topics += self._parent_topics(conn, entity, row)
                    topics = [t for t in topics if listening(t)]
                    if topics:
                        data = orjson.dumps(self.reader.render(entity, row, None))
                        messages.extend((t, data) for t in topics)
        self._publish(messages)

    def _parent_topics(self, conn: Connection, entity: Entity, row: Row[Any]) -> list[str]:
        topics: list[str] = []
        for parent, nav in _PARENTS.get(entity.name, []):
            if nav.remote_fk:
                pid = row._mapping[nav.remote_fk]
                pids = [pid] if pid is not None else []
            else:
                assert nav.link is not None and nav.link_self and nav.link_target
                pids = list(
                    conn.execute(
                        select(nav.link.c[nav.link_self]).where(nav.link.c[nav.link_target] == row.id)
                    ).scalars()
                )
            topics += [f"{ROOT}/{parent.set_name}({pid})/{nav.name}" for pid in pids]
        return topics

    def _rows(self, entity: Entity, ids: list[int], conn: Connection | None = None) -> list[Row[Any]]:
        """The stored rows, fetched in one query per 5,000 ids (SQLite allows 32,766 parameters)."""
        if conn is None:
            with self.store.engine.connect() as c:
                return self._rows(entity, ids, c)
        rows: list[Row[Any]] = []
        table = entity.table
        for i in range(0, len(ids), 5000):
            chunk = ids[i : i + 5000]
            rows += conn.execute(select(table).where(table.c.id.in_(chunk)).order_by(table.c.id)).all()
        return rows

    def _publish(self, messages: list[tuple[str, bytes]]) -> None:
        if not messages:
            return
        try:
            self.transport.publish_many(messages)
        except RuntimeError as e:
            log.warning("MQTT notifications not sent", count=len(messages), reason=str(e))
            return
        self.published += len(messages)
