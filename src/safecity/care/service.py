# SPDX-License-Identifier: Apache-2.0
"""The care service: protected people, their guardians, consents, trackers and positions, with the
location-information law built in (``data/law.toml``; docs/care.md maps each article to the code).

* No position is stored without an active location consent (위치정보법 §15/§18); a child aged 8 or
  under or an adult ward is consented for by a 보호의무자, in writing (§26); a dementia diagnosis needs
  its own consent (PIPA §23).
* Every collection, use and provision is recorded in ``care_access`` in the same transaction as the
  act (§16②); each provision to a guardian is notified at once or in batches (§19, :mod:`.records`).
* Withdrawing the location consent destroys the positions and their records in the withdrawal's own
  transaction (§24): nothing is left to purge later.
* Every read of personal data is also written to the platform's hash-chained audit log.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from safecity.audit.model import AuditEvent
from safecity.audit.service import AuditLog
from safecity.bus.port import Bus
from safecity.care import consent, records
from safecity.care.checkins import CheckIns
from safecity.care.entitlement import entitled, is_operator, load_person, person_from_row
from safecity.care.events import ConsentWithdrawn
from safecity.care.fences import Fence, FenceIn, Fences
from safecity.care.law import cite
from safecity.care.model import (
    Actor,
    Consent,
    ConsentIn,
    Device,
    DeviceIn,
    Fix,
    GuardianIn,
    IngestResult,
    Person,
    PersonIn,
    PersonKind,
    Position,
    Purpose,
)
from safecity.care.pipeline import FixListener, FixPipeline
from safecity.care.settings import CareSettings
from safecity.care.tables import access, consents, devices, guardians, notices, people, positions
from safecity.care.trips import Trips
from safecity.care.wander_watch import WanderingWatch
from safecity.care.watching import Watching
from safecity.core.clock import Clock
from safecity.core.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from safecity.store import Store

KEY_PREFIX = "trk_"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Care(Watching):
    def __init__(
        self, store: Store, clock: Clock, bus: Bus, audit: AuditLog | None, settings: CareSettings
    ) -> None:
        self.store = store
        self.clock = clock
        self.bus = bus
        self.audit = audit
        self.settings = settings
        #: care's own modules that decide on each batch of stored fixes (fences, wandering, trips). An
        #: in-process hook inside one capability, not a side channel between capabilities: it runs in
        #: the fixes' request so a fence alert is decided before the tracker is answered (p99 < 100 ms
        #: fix -> alert at 3,300 fixes/s), and what it decides leaves care as bus events (FenceAlert,
        #: TripAlert, WanderingSuspected), which other capabilities subscribe to.
        self.listeners: list[FixListener] = []
        #: finds the platform's audit log when ``audit`` was not given (it is built after care)
        self.audit_lookup: Callable[[], AuditLog | None] | None = None
        #: called inside a location withdrawal's transaction with (conn, person_id): the other care
        #: tables that hold what the positions told (fence states, trips)
        self.on_withdraw: list[Callable[[Connection, int], None]] = []
        #: device key hash → device: the hot path of 3,300 fixes/s does not read the table per fix (dropped
        #: on any change). The consent is read once per batch, under the writer's lock (care.pipeline).
        self._devices: dict[str, Device] = {}
        self._insert: Any = None
        #: the OwnTracks MQTT listener when a broker is configured (safecity.care.mqtt)
        self.owntracks: Any = None
        #: server-side fences: they follow every stored fix and forget a person on withdrawal
        self.fences = Fences(store, clock, bus)
        self.listeners.append(self.fences.on_fixes)
        self.on_withdraw.append(self.fences.forget)
        #: people with dementia watched for wandering (their own history, safecity.care.wandering)
        self.wandering = WanderingWatch(store, clock, bus)
        self.listeners.append(self.wandering.on_fixes)
        #: safe return home: trips watched fix by fix and on the clock (safecity.care.trips)
        self.trips = Trips(store, clock, bus, settings)
        self.listeners.append(self.trips.on_fixes)
        self.on_withdraw.append(self.trips.forget)
        #: heat/cold check-ins of elderly people living alone (safecity.care.checkins)
        self.checkins = CheckIns(store, clock, bus)
        #: fixes of concurrent requests stored in one transaction (safecity.care.pipeline)
        self.pipeline = FixPipeline(store, clock, self.listeners, self._refused, self._insert_new)

    # -- people ----------------------------------------------------------------------------------
    def add_person(self, body: PersonIn, actor: Actor) -> Person:
        now = self.clock.now()
        if body.kind == PersonKind.dementia and body.diagnosis_consent is None:
            raise BadRequest(
                f"diagnosisConsent: a dementia diagnosis is health information; record its separate "
                f"consent ({cite('PIPA-23')})",
                where="diagnosisConsent",
                message_ko="diagnosisConsent: 치매 진단은 건강정보(민감정보)이므로 별도의 동의가 필요합니다 "
                "(개인정보 보호법 제23조)",
            )
        row = {
            "name": body.name,
            "kind": body.kind.value,
            "birth_date": body.birth_date,
            "ward": body.ward,
            "home_lon": body.home_lon,
            "home_lat": body.home_lat,
            "notify_mode": body.notify_mode.value,
            "created_at": now,
            "created_by": actor.name,
        }
        with self.store.write() as conn:
            pid = int(conn.execute(insert(people).values(**row).returning(people.c.id)).scalar_one())
            if body.diagnosis_consent is not None:
                consent.record(conn, pid, Purpose.diagnosis, body.diagnosis_consent, now, actor.name)
        self._audit(actor, "care.person_added", f"care:person:{pid}", {"kind": body.kind.value})
        return self.person(pid, actor)

    def person(self, person_id: int, actor: Actor) -> Person:
        with self.store.engine.connect() as conn:
            self._entitled(conn, person_id, actor, positions=False)
            return self._person(conn, person_id)

    def people_of(self, actor: Actor) -> list[Person]:
        """Operators see everyone (audited); a guardian or carer sees the people they look after."""
        q = select(people).order_by(people.c.id)
        if not is_operator(actor):
            mine = select(guardians.c.person_id).where(guardians.c.username == actor.name)
            q = q.where(people.c.id.in_(mine))
        with self.store.engine.connect() as conn:
            found = [person_from_row(r) for r in conn.execute(q).mappings()]
        self._audit(actor, "personal.read", "care:people", {"count": len(found), "reason": actor.reason})
        return found

    def _person(self, conn: Connection, person_id: int) -> Person:
        return load_person(conn, person_id)

    def add_guardian(self, person_id: int, body: GuardianIn, actor: Actor) -> dict[str, Any]:
        with self.store.write() as conn:
            self._person(conn, person_id)
            try:
                gid = conn.execute(
                    insert(guardians)
                    .values(person_id=person_id, **body.model_dump())
                    .returning(guardians.c.id)
                ).scalar_one()
            except IntegrityError:
                raise Conflict(
                    f"username: {body.username} already looks after person {person_id}", where="username"
                ) from None
        self._audit(actor, "care.guardian_added", f"care:person:{person_id}", {"guardian": body.username})
        return {"id": gid, "personId": person_id, **body.model_dump(by_alias=True, mode="json")}

    def guardians_of(self, person_id: int) -> list[dict[str, Any]]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(guardians).where(guardians.c.person_id == person_id)).mappings()
            return [dict(r) for r in rows]

    # -- consent ---------------------------------------------------------------------------------
    def give_consent(self, person_id: int, purpose: Purpose, body: ConsentIn, actor: Actor) -> Consent:
        now = self.clock.now()
        with self.store.write() as conn:
            person = self._person(conn, person_id)
            consent.check_basis(conn, person, purpose, body, now)
            active = consent.active(conn, person_id, purpose)
            if active is not None:
                raise Conflict(f"person {person_id} already has an active {purpose.value} consent")
            cid = consent.record(conn, person_id, purpose, body, now, actor.name)
            if purpose == Purpose.diagnosis and person.kind != PersonKind.dementia:
                conn.execute(update(people).where(people.c.id == person_id).values(kind="dementia"))
        self.wandering.forget(person_id)
        self._audit(actor, "care.consent_given", f"care:person:{person_id}", {"purpose": purpose.value})
        return self.consents_of(person_id, cid)[0]

    def consents_of(self, person_id: int, consent_id: int | None = None) -> list[Consent]:
        q = select(consents).where(consents.c.person_id == person_id).order_by(consents.c.id)
        if consent_id is not None:
            q = q.where(consents.c.id == consent_id)
        with self.store.engine.connect() as conn:
            return [consent.from_row(r) for r in conn.execute(q).mappings()]

    def withdraw(self, person_id: int, purpose: Purpose, actor: Actor) -> dict[str, int]:
        """Withdraw a consent (§24). For ``location``: the positions, fence states, access records and
        notices are destroyed in this transaction and the trackers stop being accepted; for
        ``diagnosis``: the diagnosis is erased (the person's kind becomes ``other``)."""
        now = self.clock.now()
        with self.store.write() as conn:
            self._entitled(conn, person_id, actor, positions=False, withdraw=True)
            active = consent.active(conn, person_id, purpose)
            if active is None:
                raise NotFound(f"person {person_id} has no active {purpose.value} consent", where="purpose")
            conn.execute(
                update(consents)
                .where(consents.c.id == active.id)
                .values(withdrawn_at=now, withdrawn_by=actor.name)
            )
            destroyed = {"positions": 0, "accessRecords": 0, "notices": 0}
            if purpose == Purpose.location:
                destroyed["positions"] = conn.execute(
                    delete(positions).where(positions.c.person_id == person_id)
                ).rowcount
                destroyed["accessRecords"] = conn.execute(
                    delete(access).where(access.c.person_id == person_id)
                ).rowcount
                destroyed["notices"] = conn.execute(
                    delete(notices).where(notices.c.person_id == person_id)
                ).rowcount
                conn.execute(update(devices).where(devices.c.person_id == person_id).values(active=False))
                for hook in self.on_withdraw:
                    hook(conn, person_id)
            else:
                conn.execute(
                    update(people).where(people.c.id == person_id).values(kind=PersonKind.other.value)
                )
            self.bus.publish(
                conn,
                ConsentWithdrawn(
                    person_id=person_id, purpose=purpose.value, positions_destroyed=destroyed["positions"]
                ),
            )
        self._devices.clear()
        self.wandering.forget(person_id)
        # the audit keeps that it happened and how much was destroyed, never a position
        self._audit(
            actor,
            "care.consent_withdrawn",
            f"care:person:{person_id}",
            {"purpose": purpose.value, **destroyed},
        )
        return destroyed

    # -- devices ---------------------------------------------------------------------------------
    def add_device(self, person_id: int, body: DeviceIn, actor: Actor) -> tuple[Device, str]:
        """Register a tracker; returns it with its key (shown once, stored only as a hash)."""
        key = KEY_PREFIX + secrets.token_urlsafe(18)
        with self.store.write() as conn:
            self._person(conn, person_id)
            if body.thing_id is not None:
                from safecity.sensing.service import thing_exists

                if not thing_exists(conn, body.thing_id):
                    raise BadRequest(f"thingId: there is no Thing {body.thing_id}", where="thingId")
            try:
                did = conn.execute(
                    insert(devices)
                    .values(
                        person_id=person_id,
                        protocol=body.protocol,
                        topic_id=body.topic(),
                        key_hash=key_hash(key),
                        active=True,
                        created_at=self.clock.now(),
                    )
                    .returning(devices.c.id)
                ).scalar_one()
            except IntegrityError:
                raise Conflict(
                    f"{'thingId' if body.thing_id else 'topicId'}: {body.topic()} is already registered",
                    where="thingId" if body.thing_id else "topicId",
                ) from None
        self._audit(actor, "care.device_added", f"care:person:{person_id}", {"device": did})
        return Device(did, person_id, body.protocol, body.topic()), key

    def device_by_key(self, key: str | None) -> Device:
        """The active device whose key this is; Unauthorized otherwise (the message never says which)."""
        if not key:
            raise Unauthorized("tracker key missing: use the key issued when the device was registered")
        h = key_hash(key)
        found = self._devices.get(h)
        if found is None:
            with self.store.engine.connect() as conn:
                row = (
                    conn.execute(select(devices).where(devices.c.key_hash == h, devices.c.active.is_(True)))
                    .mappings()
                    .first()
                )
            if row is None:
                raise Unauthorized(
                    "unknown or revoked tracker key", message_ko="등록되지 않았거나 폐기된 단말기 키입니다"
                )
            found = Device(row["id"], row["person_id"], row["protocol"], row["topic_id"])
            self._devices[h] = found
        return found

    def cached_device(self, key: str | None) -> Device | None:
        """The device of this key when it is known without reading the store (an event loop asks
        this first, and :meth:`device_by_key` on a thread otherwise)."""
        return self._devices.get(key_hash(key)) if key else None

    def device_by_topic(self, topic_id: str) -> Device | None:
        with self.store.engine.connect() as conn:
            row = (
                conn.execute(
                    select(devices).where(devices.c.topic_id == topic_id, devices.c.active.is_(True))
                )
                .mappings()
                .first()
            )
        return None if row is None else Device(row["id"], row["person_id"], row["protocol"], row["topic_id"])

    # -- positions -------------------------------------------------------------------------------
    def ingest(self, device: Device, fixes: Sequence[Fix]) -> IngestResult:
        """Store a device's fixes. Refused (403, nothing stored) without an active location consent;
        a fix repeated (same device and time) is stored once; late fixes are stored in their place in
        the history (listeners get them in time order and decide what a late fix means). Concurrent
        calls share one transaction (:mod:`safecity.care.pipeline`); each gets its own result."""
        if not self._admit(device, fixes):
            return IngestResult(0, 0)
        return self.pipeline.submit(device, fixes)

    async def ingest_async(self, device: Device, fixes: Sequence[Fix]) -> IngestResult:
        """:meth:`ingest` for an event loop (the HTTP trackers): the request waits without a thread
        of its own, and its loop's requests are answered together (:mod:`safecity.care.pipeline`)."""
        if not self._admit(device, fixes):
            return IngestResult(0, 0)
        return await self.pipeline.submit_async(device, fixes)

    def _admit(self, device: Device, fixes: Sequence[Fix]) -> bool:
        """Checks before the pipeline, without reading the store (the pipeline reads the consent
        under the writer's lock for each batch and refuses there); False: nothing to do."""
        if not fixes:
            return False
        now = self.clock.now()
        limit = now + timedelta(seconds=self.settings.max_future_s)
        for i, f in enumerate(fixes):
            if f.at > limit:
                raise BadRequest(
                    f"timestamp: fix {i} is {f.at.isoformat()}, in the future (device clock wrong?)",
                    where="timestamp",
                    message_ko=f"timestamp: {i}번째 위치의 시각 {f.at.isoformat()}이(가) 미래입니다 (단말기 시계 확인)",
                )
        return True

    @staticmethod
    def _refused(device: Device) -> Forbidden:
        return Forbidden(
            f"person {device.person_id} has no active location consent: nothing is stored ({cite('LIA-15')})",
            message_ko=f"위치정보 수집 동의가 없어 저장하지 않았습니다 ({cite('LIA-15')})",
        )

    def _insert_new(self) -> Any:
        """INSERT of positions that skips a repeated (device, time), built once per store."""
        if self._insert is None:
            from sqlalchemy.dialects import postgresql, sqlite

            dialect = postgresql if self.store.dialect == "postgresql" else sqlite
            self._insert = dialect.insert(positions).on_conflict_do_nothing(
                index_elements=["device_id", "at"]
            )
        return self._insert

    def positions(
        self,
        person_id: int,
        actor: Actor,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[Position]:
        """A person's positions, newest first, for an entitled reader: the read is recorded (§16②),
        notified when it is a provision to a guardian (§19) and written to the audit log."""
        q = select(positions).where(positions.c.person_id == person_id)
        if since is not None:
            q = q.where(positions.c.at >= since)
        if until is not None:
            q = q.where(positions.c.at <= until)
        q = q.order_by(positions.c.at.desc()).limit(limit)
        now = self.clock.now()
        with self.store.write() as conn:
            action = self._entitled(conn, person_id, actor, positions=True)
            found = [
                Position(
                    r["person_id"],
                    r["device_id"],
                    r["at"],
                    r["lon"],
                    r["lat"],
                    r["accuracy_m"],
                    r["speed_ms"],
                    r["battery"],
                )
                for r in conn.execute(q).mappings()
            ]
            purpose = actor.reason or "보호자 위치 확인 / guardian checks the position"
            notice = records.read(conn, self.bus, person_id, now, action, actor.name, purpose, found)
        self._audit(
            actor,
            "personal.read",
            f"care:person:{person_id}:positions",
            {"count": len(found), "reason": actor.reason, "access": action, "notice": notice},
        )
        return found

    def latest(self, person_id: int, actor: Actor) -> Position | None:
        found = self.positions(person_id, actor, limit=1)
        return found[0] if found else None

    def access_record(self, person_id: int, actor: Actor) -> list[dict[str, Any]]:
        """The person's access record (who collected, used or received their positions, when, why)."""
        with self.store.engine.connect() as conn:
            self._entitled(conn, person_id, actor, positions=False)
            rows = records.access_rows(conn, person_id)
        self._audit(
            actor,
            "personal.read",
            f"care:person:{person_id}:access",
            {"count": len(rows), "reason": actor.reason},
        )
        return rows

    def notices_of(self, person_id: int, actor: Actor) -> list[dict[str, Any]]:
        with self.store.engine.connect() as conn:
            self._entitled(conn, person_id, actor, positions=False)
            return records.notice_rows(conn, person_id)

    def housekeeping(self) -> dict[str, int]:
        """Retention purge and the batched notices that are due (run by the capability's worker)."""
        now = self.clock.now()
        with self.store.write() as conn:
            done = records.purge(
                conn, now, self.settings.position_retention_days, self.settings.access_retention_days
            )
            done["noticesSent"] = records.flush_due(conn, self.bus, now)
        return done

    # -- fences ----------------------------------------------------------------------------------
    def add_fence(self, person_id: int, body: FenceIn, actor: Actor) -> Fence:
        """A guardian draws fences for their own people; an operator for anyone."""
        with self.store.engine.connect() as conn:
            self._entitled(conn, person_id, actor, positions=False, withdraw=True)
        fence = self.fences.add(person_id, body)
        self._audit(
            actor, "care.fence_added", f"care:person:{person_id}", {"fence": fence.id, "rule": fence.rule}
        )
        return fence

    def fences_of(self, person_id: int, actor: Actor) -> list[Fence]:
        with self.store.engine.connect() as conn:
            self._entitled(conn, person_id, actor, positions=False)
        return self.fences.of(person_id)

    def remove_fence(self, person_id: int, fence_id: int, actor: Actor) -> None:
        with self.store.engine.connect() as conn:
            self._entitled(conn, person_id, actor, positions=False, withdraw=True)
        self.fences.remove(person_id, fence_id)
        self._audit(actor, "care.fence_removed", f"care:person:{person_id}", {"fence": fence_id})

    def alerts_of(self, person_id: int, actor: Actor) -> list[dict[str, Any]]:
        """The fence alerts (they hold positions: a read like :meth:`positions`, recorded and audited)."""
        now = self.clock.now()
        found = self.fences.alerts_of(person_id)
        with self.store.write() as conn:
            action = self._entitled(conn, person_id, actor, positions=True)
            purpose = actor.reason or "보호자 알림 확인 / guardian checks the alerts"
            records.read(conn, self.bus, person_id, now, action, actor.name, purpose, [])
        self._audit(
            actor,
            "personal.read",
            f"care:person:{person_id}:alerts",
            {"count": len(found), "reason": actor.reason},
        )
        return found

    # -- who may see what ------------------------------------------------------------------------
    def _entitled(
        self, conn: Connection, person_id: int, actor: Actor, *, positions: bool, withdraw: bool = False
    ) -> str:
        return entitled(
            conn,
            person_id,
            actor,
            self.settings.operator_reason_min_chars,
            positions=positions,
            withdraw=withdraw,
        )

    def _audit(self, actor: Actor, action: str, target: str, details: dict[str, Any]) -> None:
        if self.audit is None and self.audit_lookup is not None:
            self.audit = self.audit_lookup()
        if self.audit is None:
            return
        self.audit.record(
            AuditEvent(
                action=action,
                target=target,
                actor=actor.name,
                actor_kind=actor.kind,
                outcome="ok",
                client=actor.client,
                request_id=actor.request_id,
                details=details,
            )
        )

    def count_positions(self, person_id: int | None = None) -> int:
        q = select(func.count()).select_from(positions)
        if person_id is not None:
            q = q.where(positions.c.person_id == person_id)
        with self.store.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())


__all__ = ["Care", "FixListener", "key_hash"]
