# SPDX-License-Identifier: Apache-2.0
"""Tables of the sensing capability: the SensorThings Sensing data model.

Observations are the volume table. On PostgreSQL the migration creates it partitioned by month on
``phenomenon_time`` (so old months can be detached and dropped cheaply) with a BRIN index on time and a
B-tree on (datastream, time); on SQLite it is a plain table with the (datastream, time) index. The
unique (datastream, phenomenon_time) index makes ingest idempotent: a retried reading is stored once.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from safecity.store.metadata import metadata
from safecity.store.types import Geometry, IdType, JSONDoc, Timestamp

things = Table(
    "sta_things",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("name", String, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("properties", JSONDoc),
)

locations = Table(
    "sta_locations",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("name", String, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("encoding_type", String, nullable=False),
    Column("location", JSONDoc, nullable=False),
    Column("geom", Geometry),
    Column("properties", JSONDoc),
)

thing_locations = Table(
    "sta_thing_locations",
    metadata,
    Column("thing_id", IdType, ForeignKey("sta_things.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", IdType, ForeignKey("sta_locations.id", ondelete="CASCADE"), primary_key=True),
)

historical_locations = Table(
    "sta_historical_locations",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("time", Timestamp, nullable=False),
    Column("thing_id", IdType, ForeignKey("sta_things.id", ondelete="CASCADE"), nullable=False, index=True),
)

location_historical_locations = Table(
    "sta_location_historical_locations",
    metadata,
    Column("location_id", IdType, ForeignKey("sta_locations.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "historical_location_id",
        IdType,
        ForeignKey("sta_historical_locations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)

sensors = Table(
    "sta_sensors",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("name", String, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("encoding_type", String, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("properties", JSONDoc),
)

observed_properties = Table(
    "sta_observed_properties",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("name", String, nullable=False),
    Column("definition", String, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("properties", JSONDoc),
)

_stream_columns: Callable[[], list[Column[Any]]] = lambda: [  # noqa: E731 - shared column set of Datastreams and MultiDatastreams
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("name", String, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("observation_type", String, nullable=False),
    Column("observed_area", Geometry),
    Column("phenomenon_time_start", Timestamp),
    Column("phenomenon_time_end", Timestamp),
    Column("result_time_start", Timestamp),
    Column("result_time_end", Timestamp),
    Column("properties", JSONDoc),
    Column("thing_id", IdType, ForeignKey("sta_things.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("sensor_id", IdType, ForeignKey("sta_sensors.id", ondelete="CASCADE"), nullable=False, index=True),
    # Health bookkeeping, updated once per ingest batch: what the sensor last said and when it arrived.
    Column("last_result", Float),
    Column("last_received_at", Timestamp),
    Column("last_qc_flags", Integer),
    Column("expected_interval_s", Float),
]

datastreams = Table(
    "sta_datastreams",
    metadata,
    *_stream_columns(),
    Column("unit_of_measurement", JSONDoc, nullable=False),
    Column(
        "observed_property_id",
        IdType,
        ForeignKey("sta_observed_properties.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
)

multi_datastreams = Table(
    "sta_multi_datastreams",
    metadata,
    *_stream_columns(),
    Column("unit_of_measurements", JSONDoc, nullable=False),
    Column("multi_observation_data_types", JSONDoc, nullable=False),
)

multi_datastream_observed_properties = Table(
    "sta_multi_datastream_observed_properties",
    metadata,
    Column(
        "multi_datastream_id",
        IdType,
        ForeignKey("sta_multi_datastreams.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),
    Column(
        "observed_property_id",
        IdType,
        ForeignKey("sta_observed_properties.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
)

features_of_interest = Table(
    "sta_features_of_interest",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("name", String, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("encoding_type", String, nullable=False),
    Column("feature", JSONDoc, nullable=False),
    Column("geom", Geometry),
    Column("properties", JSONDoc),
    # Set when the server generated this feature from a Thing's Location, so later observations of
    # any datastream of that Thing reuse it instead of creating one per observation.
    Column("source_location_id", IdType, index=True),
)

observations = Table(
    "sta_observations",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("phenomenon_time", Timestamp, nullable=False),
    Column("phenomenon_time_end", Timestamp),
    Column("result_time", Timestamp),
    Column("valid_time_start", Timestamp),
    Column("valid_time_end", Timestamp),
    # A numeric result is kept in result_number so filters and aggregates are fast; any other JSON
    # result (text, boolean, object, the array of a MultiDatastream) is kept in result_json.
    Column("result_number", Float),
    Column("result_json", JSONDoc),
    Column("result_quality", JSONDoc),
    Column("qc_flags", Integer, nullable=False, server_default=text("0")),
    Column("parameters", JSONDoc),
    Column("datastream_id", IdType),
    Column("multi_datastream_id", IdType),
    Column("feature_of_interest_id", IdType, nullable=False),
    Column("received_at", Timestamp, nullable=False),
    Index(
        "uq_sta_observations_ds_time",
        "datastream_id",
        "phenomenon_time",
        unique=True,
        sqlite_where=text("datastream_id IS NOT NULL"),
    ),
    Index(
        "uq_sta_observations_mds_time",
        "multi_datastream_id",
        "phenomenon_time",
        unique=True,
        sqlite_where=text("multi_datastream_id IS NOT NULL"),
    ),
    Index("ix_sta_observations_foi", "feature_of_interest_id"),
)

#: A city's own ObservedProperties mapped to catalogue keys by an administrator (sensing/mappings.py).
property_mappings = Table(
    "sensing_property_mappings",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("match_kind", String, nullable=False),  # "definition" | "name"
    Column("match_value", String, nullable=False),  # normalised as the catalogue matches it
    Column("key", String, nullable=False),
    Column("created_by", String, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    CheckConstraint("match_kind IN ('definition', 'name')", name="kind"),
    UniqueConstraint("match_kind", "match_value"),
)
