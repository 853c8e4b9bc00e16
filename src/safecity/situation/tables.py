# SPDX-License-Identifier: Apache-2.0
"""Tables of the situation capability: incidents, their timeline and links, and stored rule versions.

Times: ``opened_at``, ``last_activity_at``, ``cleared_at`` and a timeline row's ``at`` are *event* times
(the observations' time a rule decided on, or the wall clock for an operator's action); ``created_at``,
``updated_at`` and ``recorded_at`` are wall-clock times of the write. A replay of a past storm therefore
has incidents dated on the storm, written today.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from safecity.store.metadata import metadata
from safecity.store.types import IdType, JSONDoc, Timestamp

incidents = Table(
    "situation_incidents",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("hazard", String, nullable=False),  # a key of safecity.situation.model.HAZARDS
    Column("level", Integer, nullable=False),  # Crisis: max(base_level, the conditions' current levels)
    # The level an operator declared on a manual incident (0 for rule incidents): conditions that join it
    # can raise the incident above it, never below, and such an incident is never closed automatically.
    Column("base_level", Integer, nullable=False, server_default=text("0")),
    # detected | acknowledged | responding | recovering | closed | dismissed
    Column("status", String, nullable=False),
    Column("title_ko", String, nullable=False),
    Column("title_en", String, nullable=False),
    Column("description", Text),
    Column("source", String, nullable=False),  # "rule" | "manual"
    Column("source_note", Text),  # manual: where the report came from (a phone call, a news item)
    Column("rule_id", String),  # rule incidents: the rule whose condition opened it
    Column("lon", Float),  # where it started (WGS84), when known
    Column("lat", Float),
    Column("opened_at", Timestamp, nullable=False),
    Column("opened_by", String, nullable=False),  # "system" or the operator's name
    Column("last_activity_at", Timestamp, nullable=False),  # event time of the latest condition change
    # Event time at which the last active condition cleared (null while any is active): tick() closes
    # the incident once this is close_after old.
    Column("cleared_at", Timestamp),
    Column("status_changed_at", Timestamp, nullable=False),
    Column("status_changed_by", String, nullable=False),
    Column("closed_at", Timestamp),  # closed or dismissed
    Column("closed_by", String),
    Column("dismissed_reason", Text),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    # The open incidents are loaded by status at start-up and listed by hazard and status.
    Index("ix_situation_incidents_status_hazard", "status", "hazard"),
    Index("ix_situation_incidents_hazard_opened", "hazard", "opened_at"),
    Index("ix_situation_incidents_rule_id", "rule_id"),
)

timeline = Table(
    "situation_incident_timeline",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("incident_id", IdType, ForeignKey("situation_incidents.id", ondelete="CASCADE"), nullable=False),
    Column("at", Timestamp, nullable=False),  # event time
    Column("recorded_at", Timestamp, nullable=False),  # wall clock of the write
    # opened | fired | lowered | cleared | level | area | status | attachment | note
    Column("kind", String, nullable=False),
    Column("actor", String, nullable=False),  # "system" or the operator's name
    Column("rule_id", String),  # condition entries: the rule (rule tuning statistics count these)
    Column("level", Integer),
    Column("detail_ko", Text, nullable=False),
    Column("detail_en", Text, nullable=False),
    Column("data", JSONDoc),
    Index("ix_situation_incident_timeline_incident", "incident_id", "id"),
    Index("ix_situation_incident_timeline_rule_kind", "rule_id", "kind"),
)

links = Table(
    "situation_incident_links",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("incident_id", IdType, ForeignKey("situation_incidents.id", ondelete="CASCADE"), nullable=False),
    # area (ref = district code) | datastream | thing | observation (ref = id) | link (ref = URL)
    # | condition (ref = "<rule id>|<subject>", with its current level and since when)
    Column("kind", String, nullable=False),
    Column("ref", String, nullable=False),
    Column("rule_id", String),  # conditions
    Column("level", Integer),  # conditions: current level (0 = cleared)
    Column("since", Timestamp),  # conditions: event time the current level was entered
    Column("data", JSONDoc),  # conditions: the latest change (stage names, districts, lon/lat, value)
    # conditions: true while this open incident holds the condition (false once the incident is closed
    # or dismissed, or the condition moved on to a newer incident); null for other kinds of link
    Column("holds", Boolean),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    UniqueConstraint("incident_id", "kind", "ref"),
    # "which incidents refer to datastream 12 / district 11590" (dashboards, the warning capability).
    Index("ix_situation_incident_links_kind_ref", "kind", "ref"),
    # One open incident per condition, whatever the number of processes running the rule engine: a
    # second process opening an incident for a condition another holds fails here, and joins it.
    Index(
        "uq_situation_incident_links_held_condition",
        "ref",
        unique=True,
        sqlite_where=text("holds"),
        postgresql_where=text("holds"),
    ),
)

rules = Table(
    "situation_rules",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("rule_id", String, nullable=False),
    Column("version", Integer, nullable=False),
    Column("body", JSONDoc, nullable=False),
    Column("source", String, nullable=False),  # "file:<path>" | "api"
    Column("created_by", String, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    UniqueConstraint("rule_id", "version"),
)

#: The official crisis alert level (위기경보: 관심/주의/경계/심각) as a person declared it, beside the risk
#: level the platform computes: append-only, the latest row per (hazard, area) is in force.
official_levels = Table(
    "situation_official_levels",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("hazard", String, nullable=False),  # a key of safecity.situation.model.HAZARDS
    Column("area", String, nullable=False, server_default=text("''")),  # district/dong code; "" = the city
    Column("level", Integer, nullable=False),  # Crisis; 0 lifts it
    Column("note", Text),  # the decision it follows (e.g. "중앙재난안전대책본부 2단계 가동")
    Column("set_by", String, nullable=False),
    Column("set_at", Timestamp, nullable=False),  # wall clock of the decision
    Index("ix_situation_official_levels_hazard_area", "hazard", "area", "id"),
)

#: The rule engine's state by ordering key of its observations (``district:<code>``, ``observations``),
#: so a restarted engine, or one that takes over districts, resumes from it and the events after
#: ``position`` instead of re-reading hours of history; and the conditions in force there, which any
#: process serves on the board (GET /situation), whichever engine evaluates them.
engine_state = Table(
    "situation_engine_state",
    metadata,
    Column("key", String, primary_key=True),
    # the last observation event (outbox id) the engine had handled when it took the state
    Column("position", BigInteger, nullable=False),
    Column("state", LargeBinary),  # zlib-compressed JSON (safecity.situation.snapshot); null: none yet
    Column("taken_at", Timestamp),  # wall clock of the state
    Column("conditions", JSONDoc, nullable=False),  # the conditions at a level there, as on the board
    Column("conditions_at", Timestamp, nullable=False),  # wall clock of the conditions
    Column("engine", String, nullable=False),  # which engine wrote it: its partition ("" for one engine)
)
