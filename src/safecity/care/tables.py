# SPDX-License-Identifier: Apache-2.0
"""The care capability's tables (its own Alembic branch, ``care/migrations``)."""

from __future__ import annotations

import sqlalchemy as sa

from safecity.store.metadata import metadata
from safecity.store.types import Geometry, IdType, JSONDoc, Timestamp

people = sa.Table(
    "care_people",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # child | elderly_alone | dementia | other
    sa.Column("birth_date", sa.Date, nullable=True),
    sa.Column("ward", sa.Boolean, nullable=False, default=False),  # 피성년후견인 / severe disability (§26)
    sa.Column("home_lon", sa.Float, nullable=True),
    sa.Column("home_lat", sa.Float, nullable=True),
    sa.Column("notify_mode", sa.String(10), nullable=False, default="immediate"),  # §19: or batched
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("created_by", sa.String(120), nullable=False),
)

guardians = sa.Table(
    "care_guardians",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("person_id", sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
    sa.Column("username", sa.String(120), nullable=False),  # the platform user (role guardian)
    sa.Column("relation", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),  # guardian (sees positions) | carer (check-ins)
    sa.Column("legal", sa.Boolean, nullable=False),  # 보호의무자 / 법정대리인: may consent for the person
    sa.Column("phone", sa.String(40), nullable=True),
    # where alerts are sent (safecity.care.notify, through warning's delivery queue; care_0007)
    sa.Column("email", sa.String(200), nullable=True),
    sa.Column("webhook_url", sa.String(500), nullable=True),
    sa.Column("language", sa.String(5), nullable=False, server_default="ko"),
    sa.UniqueConstraint("person_id", "username", name="uq_care_guardians_person_user"),
)

consents = sa.Table(
    "care_consents",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("person_id", sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
    sa.Column("purpose", sa.String(20), nullable=False),  # location | diagnosis
    sa.Column("basis", sa.String(24), nullable=False),  # self | legal_representative | protector
    sa.Column("given_by", sa.String(120), nullable=False),
    sa.Column("written", sa.Boolean, nullable=False),
    sa.Column("document_ref", sa.String(200), nullable=True),
    sa.Column("given_at", Timestamp, nullable=False),
    sa.Column("recorded_by", sa.String(120), nullable=False),
    sa.Column("withdrawn_at", Timestamp, nullable=True),
    sa.Column("withdrawn_by", sa.String(120), nullable=True),
    # each batch of tracker fixes re-reads its people's location consents (care/pipeline.py)
    sa.Index("ix_care_consents_person", "person_id", "purpose"),
)

devices = sa.Table(
    "care_devices",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("person_id", sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
    sa.Column("protocol", sa.String(12), nullable=False),  # osmand | owntracks
    # OwnTracks over MQTT: "<user>/<device>" of its topic (the broker authenticated it)
    sa.Column("topic_id", sa.String(200), nullable=True, unique=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),  # sha256 of the issued key
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", Timestamp, nullable=False),
)

positions = sa.Table(
    "care_positions",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("person_id", sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
    sa.Column("device_id", sa.ForeignKey("care_devices.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", Timestamp, nullable=False),  # when the device fixed it
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("accuracy_m", sa.Float, nullable=True),
    sa.Column("speed_ms", sa.Float, nullable=True),
    sa.Column("bearing", sa.Float, nullable=True),
    sa.Column("altitude_m", sa.Float, nullable=True),
    sa.Column("battery", sa.Float, nullable=True),  # percent
    sa.Column("received_at", Timestamp, nullable=False),
    # a repeated fix (an app resending after a lost answer) is stored once
    sa.UniqueConstraint("device_id", "at", name="uq_care_positions_device_at"),
    sa.Index("ix_care_positions_person_at", "person_id", "at"),
)

access = sa.Table(
    "care_access",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("person_id", sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("action", sa.String(10), nullable=False),  # collect | use | provide
    sa.Column("actor", sa.String(120), nullable=False),
    sa.Column("recipient", sa.String(120), nullable=True),  # provide: who received it
    sa.Column("purpose", sa.String(300), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("first_at", Timestamp, nullable=True),
    sa.Column("last_at", Timestamp, nullable=True),
    sa.Column("notice_id", IdType, nullable=True),
    sa.Index("ix_care_access_person_at", "person_id", "at"),
)

notices = sa.Table(
    "care_notices",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("person_id", sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
    sa.Column("addressed_to", sa.String(120), nullable=False),  # the person, or the 보호의무자 who consented
    sa.Column("opened_at", Timestamp, nullable=False),
    sa.Column("sent_at", Timestamp, nullable=True),  # None: a batch still collecting
    sa.Column("provisions", sa.Integer, nullable=False),
    sa.Column("body", JSONDoc, nullable=False),  # ko/en text and the provisions listed
)

fences = sa.Table(
    "care_fences",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("person_id", sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("wkt", sa.Text, nullable=False),  # WGS84 polygon
    sa.Column("delay_s", sa.Float, nullable=False),
    sa.Column("dwell_s", sa.Float, nullable=True),
    sa.Column("rule", sa.String(10), nullable=False),  # watch | inside | outside
    sa.Column("schedule", JSONDoc, nullable=False),  # weekly windows, Asia/Seoul
    sa.Column("created_at", Timestamp, nullable=False),
)

fence_state = sa.Table(
    "care_fence_state",
    metadata,
    sa.Column("fence_id", sa.ForeignKey("care_fences.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("person_id", sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
    sa.Column("state", JSONDoc, nullable=False),  # safecity.care.fences.State
)

alerts = sa.Table(
    "care_alerts",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("person_id", sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
    sa.Column("fence_id", IdType, nullable=True),
    sa.Column("trip_id", IdType, nullable=True),  # safe return home (care_0003)
    sa.Column("kind", sa.String(12), nullable=False),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("lon", sa.Float, nullable=True),
    sa.Column("lat", sa.Float, nullable=True),
    sa.Column("raised_at", Timestamp, nullable=False),
    sa.Index("ix_care_alerts_person", "person_id", "id"),
)

trips = sa.Table(
    "care_trips",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("person_id", sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
    sa.Column("started_by", sa.String(120), nullable=False),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("origin_lon", sa.Float, nullable=False),
    sa.Column("origin_lat", sa.Float, nullable=False),
    sa.Column("dest_lon", sa.Float, nullable=False),
    sa.Column("dest_lat", sa.Float, nullable=False),
    sa.Column("dest_name", sa.String(80), nullable=False),
    sa.Column("route_wkt", sa.Text, nullable=True),  # the expected walking route; None: no road network
    sa.Column("distance_m", sa.Float, nullable=True),
    sa.Column("expected_s", sa.Float, nullable=False),
    sa.Column("due_at", Timestamp, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # active | arrived | ended
    sa.Column("ended_at", Timestamp, nullable=True),
    sa.Column("state", JSONDoc, nullable=False),  # safecity.care.trips.State
    sa.Index("ix_care_trips_person", "person_id", "id"),
)

checkins = sa.Table(
    "care_checkins",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("person_id", sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
    sa.Column("incident_id", IdType, nullable=False),  # the heat/cold incident (situation's id)
    sa.Column("hazard", sa.String(20), nullable=False),  # heat_wave | cold_wave
    sa.Column("areas", JSONDoc, nullable=False),  # the incident's district codes (where to escalate)
    sa.Column("opened_at", Timestamp, nullable=False),
    sa.Column("due_at", Timestamp, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # open | done | escalated
    sa.Column("attempts", sa.Integer, nullable=False),  # calls nobody answered
    sa.Column("outcome", sa.String(10), nullable=True),  # ok | need_help | no_answer (the last call)
    sa.Column("note", sa.String(500), nullable=True),
    sa.Column("answered_at", Timestamp, nullable=True),
    sa.Column("answered_by", sa.String(120), nullable=True),
    sa.Column("escalated_incident", IdType, nullable=True),
    # one task per person per incident: the bus delivers at least once
    sa.UniqueConstraint("person_id", "incident_id", name="uq_care_checkins_person_incident"),
)

safety_zones = sa.Table(
    "care_safety_zones",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # school_zone | crash_hotspot
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("source", sa.String(300), nullable=False),  # the file it came from (and its licence note)
    sa.Column("generated", sa.Boolean, nullable=False),  # a generated (not observed) area, labelled so
    sa.Column("geom", Geometry, nullable=False),  # WGS84 polygon
    sa.Column("imported_at", Timestamp, nullable=False),
)
