# SPDX-License-Identifier: Apache-2.0
"""Typed models of the care capability: inputs (pydantic, camelCase JSON) and stored shapes
(frozen dataclasses). Coordinates are WGS84 degrees; times are UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel


class PersonKind(StrEnum):
    child = "child"
    elderly_alone = "elderly_alone"  # 독거노인
    dementia = "dementia"  # a health fact: PIPA §23 separate consent
    other = "other"


class Purpose(StrEnum):
    location = "location"  # 위치정보법 §15/§18
    diagnosis = "diagnosis"  # PIPA §23 (the dementia diagnosis)


class Basis(StrEnum):
    self_ = "self"  # the person (14 or older, not a ward)
    legal_representative = "legal_representative"  # §25: a child under 14
    protector = "protector"  # §26: a child aged 8 or under, an adult ward; written, with proof


class NotifyMode(StrEnum):
    immediate = "immediate"  # §19③: at once, each provision
    batched = "batched"  # §19④: every 30 days or 30 provisions, as the person chose


class GuardianKind(StrEnum):
    guardian = "guardian"  # sees the person's positions and alerts
    carer = "carer"  # does check-ins (heat/cold); sees no positions


class _In(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ConsentIn(_In):
    basis: Basis = Basis.self_
    given_by: str = Field(min_length=1, max_length=120, description="Who consented (a user name or 'self').")
    written: bool = False
    document_ref: str | None = Field(None, max_length=200, description="Reference of the signed form.")
    given_at: datetime | None = None


class PersonIn(_In):
    name: str = Field(min_length=1, max_length=120)
    kind: PersonKind
    birth_date: date | None = None
    ward: bool = Field(False, description="피성년후견인 or a severe mental disability (위치정보법 §26).")
    home_lon: float | None = Field(None, ge=-180, le=180)
    home_lat: float | None = Field(None, ge=-90, le=90)
    notify_mode: NotifyMode = NotifyMode.immediate
    diagnosis_consent: ConsentIn | None = Field(
        None, description="Required when kind is dementia: PIPA §23's separate consent."
    )


class GuardianIn(_In):
    username: str = Field(min_length=1, max_length=120)
    relation: str = Field(min_length=1, max_length=40)
    kind: GuardianKind = GuardianKind.guardian
    legal: bool = Field(False, description="보호의무자 / 법정대리인: may consent for the person.")
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(
        None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", description="Alerts by e-mail"
    )
    webhook_url: str | None = Field(
        None,
        max_length=500,
        pattern=r"^https?://\S+$",
        description="Alerts as JSON POSTs (warning's webhook)",
    )
    language: str = Field("ko", pattern="^(ko|en)$", description="The language alerts are written in first")


class DeviceIn(_In):
    protocol: str = Field(pattern="^(osmand|owntracks|sta)$")
    topic_id: str | None = Field(
        None,
        max_length=200,
        pattern=r"^[^/+#]+/[^/+#]+$",
        description="OwnTracks over MQTT: '<user>/<device>' of owntracks/<user>/<device>.",
    )
    thing_id: int | None = Field(
        None,
        ge=1,
        le=2**31 - 1,
        description="protocol 'sta': the SensorThings Thing whose Locations it reports",
    )

    @model_validator(mode="after")
    def _thing(self) -> DeviceIn:
        if (self.protocol == "sta") != (self.thing_id is not None):
            raise ValueError("thingId: given with protocol 'sta' (a SensorThings Thing), and only then")
        return self

    def topic(self) -> str | None:
        """The device's unique address: OwnTracks' topic, or ``sta:<Thing id>``."""
        return f"sta:{self.thing_id}" if self.thing_id is not None else self.topic_id


@dataclass(frozen=True)
class Actor:
    """Who asks: a platform user (with roles), a device, or the platform itself."""

    name: str
    kind: str  # user | device | system
    roles: frozenset[str]
    client: str | None = None
    request_id: str | None = None
    reason: str | None = None  # operators state why they read a person's data


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    kind: PersonKind
    birth_date: date | None
    ward: bool
    home_lon: float | None
    home_lat: float | None
    notify_mode: NotifyMode
    created_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind.value,
            "birthDate": self.birth_date.isoformat() if self.birth_date else None,
            "ward": self.ward,
            "home": None if self.home_lon is None else {"lon": self.home_lon, "lat": self.home_lat},
            "notifyMode": self.notify_mode.value,
        }


@dataclass(frozen=True)
class Consent:
    id: int
    person_id: int
    purpose: Purpose
    basis: Basis
    given_by: str
    written: bool
    document_ref: str | None
    given_at: datetime
    withdrawn_at: datetime | None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "personId": self.person_id,
            "purpose": self.purpose.value,
            "basis": self.basis.value,
            "givenBy": self.given_by,
            "written": self.written,
            "documentRef": self.document_ref,
            "givenAt": self.given_at.isoformat(),
            "withdrawnAt": self.withdrawn_at.isoformat() if self.withdrawn_at else None,
        }


@dataclass(frozen=True, slots=True)
class Fix:
    """One position as a tracker reported it (before it is tied to a person)."""

    at: datetime
    lon: float
    lat: float
    accuracy_m: float | None = None
    speed_ms: float | None = None
    bearing: float | None = None
    altitude_m: float | None = None
    battery: float | None = None  # percent


@dataclass(frozen=True, slots=True)
class Position:
    person_id: int
    device_id: int
    at: datetime
    lon: float
    lat: float
    accuracy_m: float | None
    speed_ms: float | None
    battery: float | None

    def public(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "lon": self.lon,
            "lat": self.lat,
            "accuracy": self.accuracy_m,
            "speed": self.speed_ms,
            "battery": self.battery,
        }


@dataclass(frozen=True)
class Device:
    id: int
    person_id: int
    protocol: str
    topic_id: str | None


@dataclass(frozen=True)
class IngestResult:
    stored: int
    duplicates: int
