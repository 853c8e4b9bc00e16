# SPDX-License-Identifier: Apache-2.0
"""The SensorThings 1.1 Sensing data model as data: entity types, their properties and navigation.

Everything that walks the model (URL paths, $filter paths, $expand, $select, deep insert, rendering)
reads these definitions, so adding a property means adding it here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from sqlalchemy import Table
from sqlalchemy.sql.elements import ColumnElement

from safecity.sensing import tables as t


class Kind(Enum):
    """How a property is stored and compared."""

    ID = "id"
    TEXT = "text"
    JSON = "json"  # arbitrary JSON document (properties, unitOfMeasurement...)
    GEOJSON = "geojson"  # GeoJSON in a JSON column, with a geometry column beside it for filters
    TIME = "time"  # instant
    INTERVAL = "interval"  # start and end columns; an instant when end is null
    RESULT = "result"  # Observation.result: number in result_number, anything else in result_json


@dataclass(frozen=True)
class Prop:
    name: str  # SensorThings name, e.g. "encodingType"
    kind: Kind
    column: str  # main column (for INTERVAL: the start column; for GEOJSON: the JSON column)
    end_column: str | None = None  # INTERVAL end
    geom_column: str | None = None  # GEOJSON: geometry column used by spatial functions
    required: bool = False
    writable: bool = True


@dataclass(frozen=True)
class Nav:
    """A navigation property from one entity type to another.

    Exactly one way of relating is set: ``local_fk`` (a column of this entity holding the target id),
    ``remote_fk`` (a column of the target holding this entity's id) or ``link`` (an association table
    with ``link_self`` / ``link_target`` columns).
    """

    name: str
    target: str  # entity type name
    many: bool
    local_fk: str | None = None
    remote_fk: str | None = None
    link: Table | None = None
    link_self: str | None = None
    link_target: str | None = None
    required: bool = False  # must be given on create (e.g. Datastream.Thing)


@dataclass(frozen=True)
class Entity:
    name: str  # "Thing"
    set_name: str  # "Things"
    table: Table
    props: tuple[Prop, ...]
    navs: tuple[Nav, ...] = field(default_factory=tuple)

    def prop(self, name: str) -> Prop | None:
        for p in self.props:
            if p.name == name:
                return p
        return None

    def nav(self, name: str) -> Nav | None:
        for n in self.navs:
            if n.name == name:
                return n
        return None

    def col(self, name: str) -> ColumnElement[object]:
        return self.table.c[name]


_ID = Prop("id", Kind.ID, "id", writable=False)
_NAME = Prop("name", Kind.TEXT, "name", required=True)
_DESC = Prop("description", Kind.TEXT, "description", required=True)
_PROPS = Prop("properties", Kind.JSON, "properties")
_ENC = Prop("encodingType", Kind.TEXT, "encoding_type", required=True)

THING = Entity(
    "Thing",
    "Things",
    t.things,
    (_ID, _NAME, _DESC, _PROPS),
    (
        Nav(
            "Locations",
            "Location",
            True,
            link=t.thing_locations,
            link_self="thing_id",
            link_target="location_id",
        ),
        Nav("HistoricalLocations", "HistoricalLocation", True, remote_fk="thing_id"),
        Nav("Datastreams", "Datastream", True, remote_fk="thing_id"),
        Nav("MultiDatastreams", "MultiDatastream", True, remote_fk="thing_id"),
    ),
)

LOCATION = Entity(
    "Location",
    "Locations",
    t.locations,
    (
        _ID,
        _NAME,
        _DESC,
        _ENC,
        Prop("location", Kind.GEOJSON, "location", geom_column="geom", required=True),
        _PROPS,
    ),
    (
        Nav("Things", "Thing", True, link=t.thing_locations, link_self="location_id", link_target="thing_id"),
        Nav(
            "HistoricalLocations",
            "HistoricalLocation",
            True,
            link=t.location_historical_locations,
            link_self="location_id",
            link_target="historical_location_id",
        ),
    ),
)

HISTORICAL_LOCATION = Entity(
    "HistoricalLocation",
    "HistoricalLocations",
    t.historical_locations,
    (_ID, Prop("time", Kind.TIME, "time", required=True)),
    (
        Nav("Thing", "Thing", False, local_fk="thing_id", required=True),
        Nav(
            "Locations",
            "Location",
            True,
            link=t.location_historical_locations,
            link_self="historical_location_id",
            link_target="location_id",
        ),
    ),
)

SENSOR = Entity(
    "Sensor",
    "Sensors",
    t.sensors,
    (_ID, _NAME, _DESC, _ENC, Prop("metadata", Kind.TEXT, "metadata", required=True), _PROPS),
    (
        Nav("Datastreams", "Datastream", True, remote_fk="sensor_id"),
        Nav("MultiDatastreams", "MultiDatastream", True, remote_fk="sensor_id"),
    ),
)

OBSERVED_PROPERTY = Entity(
    "ObservedProperty",
    "ObservedProperties",
    t.observed_properties,
    (_ID, _NAME, Prop("definition", Kind.TEXT, "definition", required=True), _DESC, _PROPS),
    (
        Nav("Datastreams", "Datastream", True, remote_fk="observed_property_id"),
        Nav(
            "MultiDatastreams",
            "MultiDatastream",
            True,
            link=t.multi_datastream_observed_properties,
            link_self="observed_property_id",
            link_target="multi_datastream_id",
        ),
    ),
)

_STREAM_PROPS = (
    _ID,
    _NAME,
    _DESC,
    Prop("observationType", Kind.TEXT, "observation_type", required=True),
    Prop("observedArea", Kind.GEOJSON, "observed_area", geom_column="observed_area", writable=False),
    Prop(
        "phenomenonTime",
        Kind.INTERVAL,
        "phenomenon_time_start",
        end_column="phenomenon_time_end",
        writable=False,
    ),
    Prop("resultTime", Kind.INTERVAL, "result_time_start", end_column="result_time_end", writable=False),
    _PROPS,
)

DATASTREAM = Entity(
    "Datastream",
    "Datastreams",
    t.datastreams,
    (*_STREAM_PROPS, Prop("unitOfMeasurement", Kind.JSON, "unit_of_measurement", required=True)),
    (
        Nav("Thing", "Thing", False, local_fk="thing_id", required=True),
        Nav("Sensor", "Sensor", False, local_fk="sensor_id", required=True),
        Nav("ObservedProperty", "ObservedProperty", False, local_fk="observed_property_id", required=True),
        Nav("Observations", "Observation", True, remote_fk="datastream_id"),
    ),
)

MULTI_DATASTREAM = Entity(
    "MultiDatastream",
    "MultiDatastreams",
    t.multi_datastreams,
    (
        *_STREAM_PROPS,
        Prop("unitOfMeasurements", Kind.JSON, "unit_of_measurements", required=True),
        Prop("multiObservationDataTypes", Kind.JSON, "multi_observation_data_types", required=True),
    ),
    (
        Nav("Thing", "Thing", False, local_fk="thing_id", required=True),
        Nav("Sensor", "Sensor", False, local_fk="sensor_id", required=True),
        Nav(
            "ObservedProperties",
            "ObservedProperty",
            True,
            link=t.multi_datastream_observed_properties,
            link_self="multi_datastream_id",
            link_target="observed_property_id",
            required=True,
        ),
        Nav("Observations", "Observation", True, remote_fk="multi_datastream_id"),
    ),
)

OBSERVATION = Entity(
    "Observation",
    "Observations",
    t.observations,
    (
        _ID,
        Prop("phenomenonTime", Kind.INTERVAL, "phenomenon_time", end_column="phenomenon_time_end"),
        Prop("resultTime", Kind.TIME, "result_time"),
        Prop("result", Kind.RESULT, "result_number", required=True),
        Prop("resultQuality", Kind.JSON, "result_quality"),
        Prop("validTime", Kind.INTERVAL, "valid_time_start", end_column="valid_time_end"),
        Prop("parameters", Kind.JSON, "parameters"),
    ),
    (
        Nav("Datastream", "Datastream", False, local_fk="datastream_id"),
        Nav("MultiDatastream", "MultiDatastream", False, local_fk="multi_datastream_id"),
        Nav("FeatureOfInterest", "FeatureOfInterest", False, local_fk="feature_of_interest_id"),
    ),
)

FEATURE_OF_INTEREST = Entity(
    "FeatureOfInterest",
    "FeaturesOfInterest",
    t.features_of_interest,
    (
        _ID,
        _NAME,
        _DESC,
        _ENC,
        Prop("feature", Kind.GEOJSON, "feature", geom_column="geom", required=True),
        _PROPS,
    ),
    (Nav("Observations", "Observation", True, remote_fk="feature_of_interest_id"),),
)

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        THING,
        LOCATION,
        HISTORICAL_LOCATION,
        SENSOR,
        OBSERVED_PROPERTY,
        DATASTREAM,
        MULTI_DATASTREAM,
        OBSERVATION,
        FEATURE_OF_INTEREST,
    )
}
BY_SET: dict[str, Entity] = {e.set_name: e for e in ENTITIES.values()}
