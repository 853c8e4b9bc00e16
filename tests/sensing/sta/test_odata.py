# SPDX-License-Identifier: Apache-2.0
"""$filter and $orderby translated to SQL, checked by running them on SQLite and PostgreSQL+PostGIS.

The same small Seoul dataset is loaded into both stores; every case asserts the ids the database
returns, so a translation that compiles but means something else on one store fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import shapely
from odata_query import ast
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.exc import OperationalError

from safecity.core.errors import BadRequest
from safecity.sensing import tables as t
from safecity.sensing.observation_writes import ObservationWriter
from safecity.sensing.sta.model import ENTITIES
from safecity.sensing.sta.odata import filter_clause, order_clauses, parse_filter, parse_orderby
from tests.migrating import migrate_all

PG_ADMIN_URL = os.environ.get("SAFECITY_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1/postgres")
PG_STORE_URL = "postgresql://postgres@127.0.0.1/{db}"

NOW = datetime(2026, 2, 16, tzinfo=UTC)
KST = timezone(timedelta(hours=9))

CITY_HALL = "POINT(126.9780 37.5665)"
GANGNAM = "POINT(127.0276 37.4979)"
JAMSU = "POINT(126.9960 37.5170)"
# A rectangle around Jung-gu (Seoul City Hall is inside, Gangnam and the Han river are not).
JUNGGU = "POLYGON((126.965 37.545, 127.025 37.545, 127.025 37.572, 126.965 37.572, 126.965 37.545))"
# A square around City Hall, and two squares relative to it: one sharing its east edge, one overlapping.
SQUARE = "POLYGON((126.97 37.56, 126.99 37.56, 126.99 37.57, 126.97 37.57, 126.97 37.56))"
TOUCHING = "POLYGON((126.99 37.56, 127.0 37.56, 127.0 37.57, 126.99 37.57, 126.99 37.56))"
OVERLAPPING = "POLYGON((126.98 37.565, 127.0 37.565, 127.0 37.58, 126.98 37.58, 126.98 37.565))"
FROM_CITY_HALL = f"geo.distance(location, geography'{CITY_HALL}')"


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def _load(store: Any) -> None:
    """Insert the shared dataset with plain Core inserts."""

    def loc(i: int, name: str, wkt: str) -> dict[str, Any]:
        geom = shapely.from_wkt(wkt)
        return {
            "id": i,
            "name": name,
            "description": f"{name} location",
            "encoding_type": "application/geo+json",
            "location": shapely.geometry.mapping(geom),
            "geom": geom,
            "properties": None,
        }

    things = [
        {
            "id": 1,
            "name": "Cheonggyecheon gauge",
            "description": "Water level gauge at Cheonggyecheon",
            "properties": {"owner": "seoul", "depth": 3.5, "active": True, "district": "Jung-gu"},
        },
        {
            "id": 2,
            "name": "Han River gauge",
            "description": "Gauge at Jamsu bridge",
            "properties": {"owner": "kwater", "depth": 12, "active": False},
        },
        {
            "id": 3,
            "name": "Gangnam rain gauge",
            "description": "Rain gauge near Gangnam station",
            "properties": {"owner": "Seoul", "depth": "deep"},
        },
        {"id": 4, "name": "  Spare  ", "description": "", "properties": None},
    ]
    locations = [
        loc(1, "City Hall", CITY_HALL),
        loc(2, "Gangnam Station", GANGNAM),
        loc(3, "Jamsu Bridge", JAMSU),
        loc(4, "Cheonggyecheon line", "LINESTRING(126.9770 37.5695, 127.0100 37.5690)"),
        loc(5, "Crossing line", "LINESTRING(126.95 37.56, 126.99 37.56)"),
        loc(6, "City Hall square", SQUARE),
    ]
    thing_locations = [
        {"thing_id": 1, "location_id": 1},
        {"thing_id": 1, "location_id": 4},
        {"thing_id": 2, "location_id": 3},
        {"thing_id": 3, "location_id": 2},
    ]
    sensors = [{"id": 1, "name": "Radar", "description": "", "encoding_type": "text/html", "metadata": "-"}]
    observed_properties = [
        {"id": 1, "name": "Water level", "definition": "urn:water-level", "description": ""},
        {"id": 2, "name": "Rainfall", "definition": "urn:rainfall", "description": ""},
    ]

    def ds(i: int, name: str, thing: int, op: int, unit: dict[str, str], props: Any) -> dict[str, Any]:
        return {
            "id": i,
            "name": name,
            "description": "",
            "observation_type": "OM_Measurement",
            "thing_id": thing,
            "sensor_id": 1,
            "observed_property_id": op,
            "unit_of_measurement": unit,
            "properties": props,
            "phenomenon_time_start": _utc(2026, 1, 1) if i == 1 else None,
        }

    metre = {"name": "metre", "symbol": "m"}
    datastreams = [
        ds(1, "Cheonggyecheon level", 1, 1, metre, {"threshold": 2.0}),
        ds(2, "Han River level", 2, 1, metre, {"allowed": 1, "a.b": 2}),
        ds(3, "Gangnam rainfall", 3, 2, {"name": "millimetre", "symbol": "mm"}, {"threshold": "high"}),
    ]
    features = [
        {
            "id": i,
            "name": name,
            "description": "",
            "encoding_type": "application/geo+json",
            "feature": shapely.geometry.mapping(shapely.from_wkt(wkt)),
            "geom": shapely.from_wkt(wkt),
        }
        for i, name, wkt in ((1, "City Hall plaza", CITY_HALL), (2, "Gangnam Station exit", GANGNAM))
    ]

    def obs(
        i: int, stream: int, when: datetime, number: float | None, js: Any, foi: int, params: Any = None
    ) -> dict[str, Any]:
        return {
            "id": i,
            "datastream_id": stream,
            "phenomenon_time": when,
            "phenomenon_time_end": when + timedelta(hours=1) if i == 2 else None,
            "result_number": number,
            "result_json": js,
            "feature_of_interest_id": foi,
            "parameters": params,
            "received_at": when,
        }

    observations = [
        obs(1, 1, _utc(2026, 1, 1, 0), 1.5, None, 1, {"quality": "good"}),
        obs(2, 1, _utc(2026, 1, 1, 6), 2.5, None, 1),
        obs(3, 1, _utc(2026, 1, 2, 0), 3.25, None, 1, {"quality": "suspect", "depth": 0.5}),
        obs(4, 2, _utc(2026, 1, 1, 12), 10.0, None, 1),
        obs(5, 3, _utc(2026, 1, 1, 3), None, "heavy", 2),
        obs(6, 3, _utc(2026, 1, 1, 4), None, True, 2),
        obs(7, 3, datetime(2026, 2, 15, 10, 30, 15, 500000, tzinfo=UTC), 0.0, None, 2),
    ]
    ObservationWriter(store.engine).ensure_partitions([o["phenomenon_time"] for o in observations])
    with store.write() as conn:
        for table, rows in (
            (t.things, things),
            (t.locations, locations),
            (t.thing_locations, thing_locations),
            (t.sensors, sensors),
            (t.observed_properties, observed_properties),
            (t.datastreams, datastreams),
            (t.features_of_interest, features),
            (t.observations, observations),
        ):
            conn.execute(insert(table), rows)


def _sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from safecity.store.sqlite import SQLiteStore

    path = tmp_path_factory.mktemp("odata") / "t.db"
    store = SQLiteStore(f"sqlite:///{path}")
    migrate_all(store)
    _load(store)
    yield store
    store.close()


def _postgres_store() -> Iterator[Any]:
    from safecity.store.postgres import PostgresStore

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as e:
        admin.dispose()
        if os.environ.get("SAFECITY_REQUIRE_SERVICES") == "1":
            pytest.fail(f"PostgreSQL is required (SAFECITY_REQUIRE_SERVICES=1) but unreachable: {e}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {e.orig}")
    db = f"safecity_odata_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db}"'))
    store = PostgresStore(PG_STORE_URL.format(db=db))
    try:
        migrate_all(store)
        _load(store)
        yield store
    finally:
        store.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if request.param == "sqlite":
        yield from _sqlite_store(tmp_path_factory)
    else:
        yield from _postgres_store()


def ids(store: Any, entity_name: str, expr: str) -> list[int]:
    """Ids of ``entity_name`` rows matching ``$filter=expr`` (read through an alias, as the API will)."""
    entity = ENTITIES[entity_name]
    alias = entity.table.alias("root")
    query = select(alias.c.id).where(filter_clause(expr, entity, alias, store, now=NOW)).order_by(alias.c.id)
    with store.engine.connect() as conn:
        return [row[0] for row in conn.execute(query)]


def ordered(store: Any, entity_name: str, orderby: str) -> list[int]:
    entity = ENTITIES[entity_name]
    alias = entity.table.alias("root")
    query = select(alias.c.id).order_by(*order_clauses(orderby, entity, alias, store, now=NOW))
    with store.engine.connect() as conn:
        return [row[0] for row in conn.execute(query)]


def bad(store: Any, entity_name: str, expr: str) -> BadRequest:
    with pytest.raises(BadRequest) as info:
        ids(store, entity_name, expr)
    assert info.value.where == "$filter"
    return info.value


# --------------------------------------------------------------------------------------------------
# Comparison and logical operators
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("name eq 'Han River gauge'", [2]),
        ("name ne 'Han River gauge'", [1, 3, 4]),
        ("name gt 'Gb' and id le 3", [2]),
        ("name ge 'Han River gauge' and id le 3", [2]),
        ("name lt 'D' and id le 3", [1]),
        ("name le 'Gangnam rain gauge' and id le 3", [1, 3]),
        ("'Han River gauge' eq name", [2]),
        ("id eq 2", [2]),
        ("id eq '2'", [2]),
        ("id ne 2", [1, 3, 4]),
        ("id gt 2", [3, 4]),
        ("id ge 2", [2, 3, 4]),
        ("id lt 2", [1]),
        ("id le 2", [1, 2]),
        ("3 lt id", [4]),
        ("id in (1, 3)", [1, 3]),
        ("name in ('Han River gauge', 'Gangnam rain gauge')", [2, 3]),
        ("id gt 1 and id lt 4", [2, 3]),
        ("id eq 1 or id eq 4", [1, 4]),
        ("not (id eq 1)", [2, 3, 4]),
        ("not(id eq 1 or id eq 2)", [3, 4]),
        ("id eq 1 or id eq 2 and name eq 'nobody'", [1]),
        ("(id eq 1 or id eq 2) and name eq 'Han River gauge'", [2]),
        ("(id eq 1) eq true", [1]),
        ("true", [1, 2, 3, 4]),
        ("false", []),
        ("1 eq 1", [1, 2, 3, 4]),
        ("description eq ''", [4]),
        ("description eq null", []),
        ("description ne null", [1, 2, 3, 4]),
    ],
)
def test_comparison_and_logic(store: Any, expr: str, expected: list[int]) -> None:
    assert ids(store, "Thing", expr) == expected


# --------------------------------------------------------------------------------------------------
# Arithmetic and math functions (Observation results: 1.5, 2.5, 3.25, 10, 'heavy', true, 0)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("result gt 2", [2, 3, 4]),
        ("result eq 0", [7]),
        ("result ge 2.5", [2, 3, 4]),
        ("result add 1 gt 3", [2, 3, 4]),
        ("result sub 1 lt 1", [1, 7]),
        ("result mul 2 eq 5", [2]),
        ("result div 2 lt 1", [1, 7]),
        ("result mod 2 eq 1.25", [3]),
        ("result mod 2 eq 1.5", [1]),
        ("id mod 2 eq 0", [2, 4, 6]),
        ("id div 2 eq 1", [2, 3]),  # integer division, as OData says for integers
        ("id div 2.0 eq 1.5", [3]),
        ("-result lt -3", [3, 4]),
        ("round(result) eq 3", [2, 3]),  # half away from zero on both stores
        ("round(result) eq 2", [1]),
        ("floor(result) eq 1", [1]),
        ("floor(result) eq 0", [7]),
        ("ceiling(result) eq 4", [3]),
        ("ceiling(result) eq 10", [4]),
        ("round(2.5) eq 3 and id eq 1", [1]),
        ("1 add 2 mul 3 eq 7 and id eq 1", [1]),
    ],
)
def test_arithmetic_and_math(store: Any, expr: str, expected: list[int]) -> None:
    assert ids(store, "Observation", expr) == expected


def test_division_by_a_zero_column_is_null_not_an_error(store: Any) -> None:
    # result 0 is observation 7: 1 div result is NULL there, on both stores (PostgreSQL would raise).
    assert ids(store, "Observation", "1 div result gt 0.5") == [1]
    assert ids(store, "Observation", "id mod result eq 0 and id eq 7") == []


# --------------------------------------------------------------------------------------------------
# Results: numbers in result_number, anything else in result_json
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("result eq 'heavy'", [5]),
        ("result ne 'heavy'", [1, 2, 3, 4, 6, 7]),
        ("result eq true", [6]),
        ("result eq false", []),
        ("result", [6]),
        ("startswith(result, 'hea')", [5]),
        ("length(result) eq 5", [5]),
        ("result in (1.5, 'heavy')", [1, 5]),
        ("result eq null", []),
        ("result ne null", [1, 2, 3, 4, 5, 6, 7]),
    ],
)
def test_result(store: Any, expr: str, expected: list[int]) -> None:
    assert ids(store, "Observation", expr) == expected


# --------------------------------------------------------------------------------------------------
# String functions
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("substringof('gauge', name)", [1, 2, 3]),
        ("substringof('River', name) eq true", [2]),
        ("contains(name, 'River')", [2]),
        ("contains(name, 'river')", []),  # case-sensitive on both stores
        ("contains(name, '%')", []),  # no LIKE wildcards
        ("contains(description, 'station')", [3]),
        ("not contains(name, 'gauge')", [4]),
        ("startswith(name, 'Gang')", [3]),
        ("startswith(name, 'gauge')", []),
        ("endswith(name, 'gauge')", [1, 2, 3]),
        ("endswith(name, 'a much longer text than any name')", []),
        ("endswith(name, '')", [1, 2, 3, 4]),
        ("length(name) eq 15", [2]),
        ("length(description) eq 0", [4]),
        ("indexof(name, 'River') eq 4", [2]),
        ("indexof(name, 'zzz') eq -1", [1, 2, 3, 4]),
        ("indexof(name, 'C') eq 0", [1]),
        ("substring(name, 4) eq 'River gauge'", [2]),
        ("substring(name, 0, 3) eq 'Han'", [2]),
        ("substring(name, 1, 2) eq 'an' or substring(name, 1, 2) eq 'he'", [1, 2, 3]),
        ("tolower(name) eq 'han river gauge'", [2]),
        ("toupper(name) eq 'HAN RIVER GAUGE'", [2]),
        ("trim(name) eq 'Spare'", [4]),
        ("length(trim(name)) eq 5", [4]),
        ("concat(name, '!') eq 'Han River gauge!'", [2]),
        ("concat(concat(name, ' / '), description) eq 'Han River gauge / Gauge at Jamsu bridge'", [2]),
        ("name eq 'it''s'", []),
    ],
)
def test_string_functions(store: Any, expr: str, expected: list[int]) -> None:
    assert ids(store, "Thing", expr) == expected


# --------------------------------------------------------------------------------------------------
# Times (stored as integer microseconds on SQLite, timestamptz on PostgreSQL)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("phenomenonTime eq 2026-01-01T00:00:00Z", [1]),
        ("phenomenonTime eq 2026-01-01T09:00:00+09:00", [1]),
        ("phenomenonTime lt 2026-01-01T12:00:00+09:00", [1]),
        ("phenomenonTime le 2026-01-01T12:00:00+09:00", [1, 5]),
        ("phenomenonTime ge 2026-01-02T09:00:00+09:00", [3, 7]),
        ("phenomenonTime gt 2026-01-01T10:00:00-02:00", [3, 7]),
        ("phenomenonTime ne 2026-01-01T00:00:00Z", [2, 3, 4, 5, 6, 7]),
        ("phenomenonTime gt '2026-01-02T08:00:00+09:00'", [3, 7]),
        ("phenomenonTime eq 2026-02-15T10:30:15.5Z", [7]),
        ("phenomenonTime in (2026-01-01T00:00:00Z, 2026-01-01T15:00:00+09:00)", [1, 2]),
        ("resultTime eq null", [1, 2, 3, 4, 5, 6, 7]),
        ("phenomenonTime lt now()", [1, 2, 3, 4, 5, 6, 7]),
        ("phenomenonTime gt now() sub duration'P1D'", [7]),
        ("phenomenonTime gt now() sub duration'P31DT12H'", [7]),
        ("phenomenonTime lt 2026-01-01T00:00:00Z add duration'PT3H30M'", [1, 5]),
        ("phenomenonTime gt mindatetime() and phenomenonTime lt maxdatetime()", [1, 2, 3, 4, 5, 6, 7]),
        ("year(phenomenonTime) eq 2026", [1, 2, 3, 4, 5, 6, 7]),
        ("month(phenomenonTime) eq 2", [7]),
        ("day(phenomenonTime) eq 2", [3]),
        ("hour(phenomenonTime) eq 6", [2]),
        ("minute(phenomenonTime) eq 30", [7]),
        ("second(phenomenonTime) eq 15", [7]),
        ("fractionalseconds(phenomenonTime) eq 0.5", [7]),
        ("fractionalseconds(phenomenonTime) eq 0", [1, 2, 3, 4, 5, 6]),
        ("hour(phenomenonTime) add 9 eq 15", [2]),
        ("date(phenomenonTime) eq 2026-01-01", [1, 2, 4, 5, 6]),
        ("date(phenomenonTime) ne 2026-01-01", [3, 7]),
        ("date(phenomenonTime) gt 2026-01-01", [3, 7]),
        ("date(phenomenonTime) ge 2026-01-02", [3, 7]),
        ("date(phenomenonTime) lt 2026-01-02", [1, 2, 4, 5, 6]),
        ("date(phenomenonTime) le 2026-01-01", [1, 2, 4, 5, 6]),
        ("2026-01-02 eq date(phenomenonTime)", [3]),
        ("time(phenomenonTime) eq 06:00:00", [2]),
        ("time(phenomenonTime) gt 10:00:00", [4, 7]),
        ("time(phenomenonTime) eq 10:30:15.5", [7]),
        ("totaloffsetminutes(phenomenonTime) eq 0 and id eq 1", [1]),
        ("totaloffsetminutes(2026-01-01T00:00:00+09:00) eq 540 and id eq 1", [1]),
        ("year(2026-01-01T00:00:00+09:00) eq 2026 and id eq 1", [1]),
        ("date(now()) eq 2026-02-16 and id eq 1", [1]),
        ("date(phenomenonTime) le 9999-12-31", [1, 2, 3, 4, 5, 6, 7]),
        ("date(phenomenonTime) gt 9999-12-31", []),
    ],
)
def test_times(store: Any, expr: str, expected: list[int]) -> None:
    assert ids(store, "Observation", expr) == expected


def test_interval_properties_compare_their_start(store: Any) -> None:
    # Observation 2 is 06:00-07:00; phenomenonTime compares its start.
    assert ids(store, "Observation", "phenomenonTime eq 2026-01-01T06:00:00Z") == [2]
    assert ids(store, "Observation", "phenomenonTime eq 2026-01-01T06:30:00Z") == []
    assert ids(store, "Datastream", "phenomenonTime eq 2026-01-01T09:00:00+09:00") == [1]
    assert ids(store, "Datastream", "phenomenonTime eq null") == [2, 3]


# --------------------------------------------------------------------------------------------------
# JSON properties with a path
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "expr", "expected"),
    [
        ("Thing", "properties/owner eq 'seoul'", [1]),
        ("Thing", "properties/owner ne 'seoul'", [2, 3, 4]),
        ("Thing", "tolower(properties/owner) eq 'seoul'", [1, 3]),
        ("Thing", "properties/depth gt 3", [1, 2]),  # "deep" is a string: never a number, on both stores
        ("Thing", "properties/depth eq 12", [2]),
        ("Thing", "properties/depth eq 'deep'", [3]),
        ("Thing", "properties/depth add 1 gt 4", [1, 2]),
        ("Thing", "properties/depth eq '12'", []),
        ("Thing", "properties/active eq true", [1]),
        ("Thing", "properties/active eq false", [2]),
        ("Thing", "properties/active", [1]),
        ("Thing", "not properties/active", [2]),
        ("Thing", "properties/owner eq null", [4]),
        ("Thing", "properties/owner ne null", [1, 2, 3]),
        ("Thing", "properties/district eq 'Jung-gu'", [1]),
        ("Thing", "properties/nothing eq null", [1, 2, 3, 4]),
        ("Thing", "properties eq null", [4]),
        ("Thing", "properties ne null", [1, 2, 3]),
        ("Thing", "properties/owner in ('seoul', 'kwater')", [1, 2]),
        ("Thing", "properties/depth gt properties/nothing", []),
        ("Datastream", "unitOfMeasurement/symbol eq 'mm'", [3]),
        ("Datastream", "unitOfMeasurement/name eq 'metre'", [1, 2]),
        ("Datastream", "properties/threshold lt 3", [1]),
        ("Datastream", "properties/threshold eq 'high'", [3]),
        # Names that start like keywords, and keys with a dot.
        ("Datastream", "properties/allowed eq 1", [2]),
        ("Datastream", "properties/a.b eq 2", [2]),
        ("Observation", "parameters/quality eq 'suspect'", [3]),
        ("Observation", "parameters/depth gt 0", [3]),
        ("Observation", "parameters/quality ne 'good'", [2, 3, 4, 5, 6, 7]),
        ("Location", "location/type eq 'Point'", [1, 2, 3]),
    ],
)
def test_json_paths(store: Any, entity: str, expr: str, expected: list[int]) -> None:
    assert ids(store, entity, expr) == expected


# --------------------------------------------------------------------------------------------------
# Navigation paths
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "expr", "expected"),
    [
        ("Observation", "Datastream/id eq 1", [1, 2, 3]),
        ("Observation", "Datastream/id in (2, 3)", [4, 5, 6, 7]),
        ("Observation", "Datastream/name eq 'Han River level'", [4]),
        ("Observation", "Datastream/Thing/name eq 'Gangnam rain gauge'", [5, 6, 7]),
        ("Observation", "Datastream/Thing/id eq 3", [5, 6, 7]),
        ("Observation", "Datastream/ObservedProperty/name eq 'Water level'", [1, 2, 3, 4]),
        ("Observation", "Datastream/unitOfMeasurement/symbol eq 'm' and result gt 2", [2, 3, 4]),
        ("Observation", "Datastream/Thing/Locations/name eq 'City Hall'", [1, 2, 3]),
        ("Observation", "Datastream/Thing/properties/owner eq 'kwater'", [4]),
        ("Observation", "result gt Datastream/properties/threshold", [2, 3]),
        ("Observation", "FeatureOfInterest/name eq 'Gangnam Station exit'", [5, 6, 7]),
        ("Observation", "not (Datastream/Thing/name eq 'Gangnam rain gauge')", [1, 2, 3, 4]),
        ("Datastream", "Thing/Locations/name eq 'Jamsu Bridge'", [2]),
        ("Datastream", "Thing/name eq 'Cheonggyecheon gauge' or Sensor/name eq 'nobody'", [1]),
        ("Datastream", "Observations/result eq 'heavy'", [3]),
        ("Thing", "Datastreams/Observations/result gt 5", [2]),
        ("Thing", "Locations/name eq 'City Hall' and Datastreams/unitOfMeasurement/symbol eq 'm'", [1]),
        ("Thing", "Locations/name eq 'City Hall' and Locations/name eq 'Cheonggyecheon line'", [1]),
        ("Thing", "Datastreams/id eq 3", [3]),
        ("Location", "Things/name eq 'Cheonggyecheon gauge'", [1, 4]),
        ("Location", "Things/id eq 2", [3]),
        ("Sensor", "Datastreams/Thing/name eq 'Han River gauge'", [1]),
    ],
)
def test_navigation_paths(store: Any, entity: str, expr: str, expected: list[int]) -> None:
    assert ids(store, entity, expr) == expected


def test_local_foreign_key_id_is_a_plain_column_comparison(store: Any) -> None:
    entity = ENTITIES["Observation"]
    clause = filter_clause("Datastream/id eq 7", entity, entity.table, store)
    sql = str(clause.compile(store.engine))
    assert "EXISTS" not in sql.upper()
    assert "sta_observations.datastream_id" in sql
    deep = str(
        filter_clause("Datastream/Thing/name eq 'x'", entity, entity.table, store).compile(store.engine)
    )
    assert "EXISTS" in deep.upper()


# --------------------------------------------------------------------------------------------------
# Geospatial (real Seoul coordinates, WGS84 longitude first)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (f"st_within(location, geography'{JUNGGU}')", [1, 4, 6]),
        (f"st_intersects(location, geography'{JUNGGU}')", [1, 4, 5, 6]),
        (f"geo.intersects(location, geography'{JUNGGU}')", [1, 4, 5, 6]),
        (f"st_disjoint(location, geography'{JUNGGU}')", [2, 3]),
        (f"st_contains(geography'{JUNGGU}', location)", [1, 4, 6]),
        (f"st_contains(location, geography'{CITY_HALL}')", [1, 6]),
        (f"st_equals(location, geography'{CITY_HALL}')", [1]),
        (f"st_equals(location, geometry'{CITY_HALL}')", [1]),
        (f"st_equals(location, geography'SRID=4326;{CITY_HALL}')", [1]),
        # The square shares an edge with it; the crossing line ends on its corner.
        (f"st_touches(location, geography'{TOUCHING}')", [5, 6]),
        (f"st_overlaps(location, geography'{OVERLAPPING}')", [6]),
        (f"st_crosses(location, geography'{JUNGGU}')", [5]),
        (f"st_relate(location, geography'{JUNGGU}', 'T*F**F***')", [1, 4, 6]),
        (f"not st_within(location, geography'{JUNGGU}')", [2, 3, 5]),
        (f"st_within(location, geography'{JUNGGU}') eq false", [2, 3, 5]),
        (f"geo.distance(location, geography'{CITY_HALL}') lt 10", [1, 6]),
        (f"geo.distance(location, geography'{CITY_HALL}') lt 500", [1, 4, 6]),
        # City Hall to Gangnam station is about 8.8 km.
        (f"{FROM_CITY_HALL} gt 8000 and {FROM_CITY_HALL} lt 10000", [2]),
        (f"geo.distance(geography'{GANGNAM}', location) ge 5000", [1, 4, 5, 6]),
        ("geo.length(location) gt 1000 and id le 5", [4, 5]),
        ("geo.length(location) gt 3000 and id le 5", [5]),
        ("location eq null", []),
        ("location ne null", [1, 2, 3, 4, 5, 6]),
    ],
)
def test_spatial(store: Any, expr: str, expected: list[int]) -> None:
    assert ids(store, "Location", expr) == expected


@pytest.mark.parametrize(
    ("entity", "expr", "expected"),
    [
        ("Observation", f"st_within(FeatureOfInterest/feature, geography'{JUNGGU}')", [1, 2, 3, 4]),
        (
            "Observation",
            f"geo.distance(FeatureOfInterest/feature, geography'{CITY_HALL}') gt 5000",
            [5, 6, 7],
        ),
        ("Thing", f"st_within(Locations/location, geography'{JUNGGU}')", [1]),
        ("Thing", f"geo.distance(Locations/location, geography'{GANGNAM}') lt 100", [3]),
        ("FeatureOfInterest", f"st_intersects(feature, geography'{JUNGGU}')", [1]),
    ],
)
def test_spatial_through_paths(store: Any, entity: str, expr: str, expected: list[int]) -> None:
    assert ids(store, entity, expr) == expected


def test_geo_distance_is_in_metres(store: Any) -> None:
    # Geodesic distance City Hall - Gangnam station on the WGS84 ellipsoid: 8785.7 m.
    assert ids(store, "Location", f"{FROM_CITY_HALL} gt 8780 and {FROM_CITY_HALL} lt 8790") == [2]


# --------------------------------------------------------------------------------------------------
# $orderby
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "orderby", "expected"),
    [
        ("Observation", "phenomenonTime desc,id", [7, 3, 4, 2, 6, 5, 1]),
        ("Observation", "phenomenonTime", [1, 5, 6, 2, 4, 3, 7]),
        ("Observation", "phenomenonTime asc, id DESC", [1, 5, 6, 2, 4, 3, 7]),
        ("Observation", "result desc,id", [4, 3, 2, 1, 7, 5, 6]),
        ("Observation", "result,id", [6, 5, 7, 1, 2, 3, 4]),
        ("Observation", "Datastream/name asc,id desc", [3, 2, 1, 7, 6, 5, 4]),
        ("Observation", "Datastream/Thing/name desc,id", [4, 5, 6, 7, 1, 2, 3]),
        ("Observation", "hour(phenomenonTime) desc,id", [4, 7, 2, 6, 5, 1, 3]),
        ("Thing", "properties/depth desc,id", [2, 1, 3, 4]),
        ("Thing", "name", [4, 1, 3, 2]),
        ("Thing", "length(name) desc, id", [1, 3, 2, 4]),
        ("Location", f"geo.distance(location, geography'{CITY_HALL}'),id", [1, 6, 4, 5, 3, 2]),
        ("Location", f"geo.distance(location, geography'{CITY_HALL}') desc", [2, 3, 5, 4, 1, 6]),
        ("Datastream", "phenomenonTime desc, id", [1, 2, 3]),
        ("Datastream", "phenomenonTime, id", [2, 3, 1]),
    ],
)
def test_orderby(store: Any, entity: str, orderby: str, expected: list[int]) -> None:
    got = ordered(store, entity, orderby)
    if entity == "Location" and orderby.endswith("desc"):
        # City Hall and the square around it are both 0 m away: their order is not defined.
        assert got[:4] == expected[:4] and sorted(got[4:]) == [1, 6]
        return
    assert got == expected


@pytest.mark.parametrize(
    ("entity", "orderby", "message"),
    [
        ("Thing", "nmae", "$orderby: Things have no property 'nmae' (at position 1)"),
        ("Thing", "id desc,nmae asc", "$orderby: Things have no property 'nmae' (at position 9)"),
        ("Observation", "Datastream/nmae", "$orderby: Datastreams have no property 'nmae' (at position 12)"),
        ("Thing", "Locations/name", "to-many navigation"),
        ("Location", "location", "cannot sort by location"),
        ("Thing", "name sideways", "$orderby: syntax error at 'sideways' (at position 6)"),
        ("Thing", "id,,name", "$orderby: empty sort item (at position 4)"),
        ("Thing", "", "$orderby: empty sort item (at position 1)"),
    ],
)
def test_orderby_errors(store: Any, entity: str, orderby: str, message: str) -> None:
    with pytest.raises(BadRequest) as info:
        ordered(store, entity, orderby)
    assert message in info.value.message
    assert info.value.where == "$orderby"


def test_orderby_leaves_not_null_columns_index_friendly(store: Any) -> None:
    entity = ENTITIES["Observation"]
    clauses = order_clauses("phenomenonTime desc,id,result", entity, entity.table, store)
    sql = [str(c.compile(store.engine)) for c in clauses]
    assert sql[0] == "sta_observations.phenomenon_time DESC"
    assert sql[1] == "sta_observations.id ASC"
    assert sql[2] == "sta_observations.result_number ASC NULLS FIRST"


def test_parse_orderby_keeps_commas_inside_functions() -> None:
    items = parse_orderby(f"geo.distance(location, geography'{JUNGGU}') desc, name")
    assert [desc for _, desc in items] == [True, False]
    assert isinstance(items[0][0], ast.Call)


# --------------------------------------------------------------------------------------------------
# Parsing and errors
# --------------------------------------------------------------------------------------------------


def test_long_and_deep_expressions(store: Any) -> None:
    many = " or ".join(f"id eq {i}" for i in range(2, 500))
    assert ids(store, "Thing", many) == [2, 3, 4]
    assert "use 'in' for lists" in bad(store, "Thing", many + " or id eq 1 or id eq 0 or id eq -1").message
    assert ids(store, "Thing", f"id in ({', '.join(str(i) for i in range(2, 502))})") == [2, 3, 4]
    assert "limited to 500 values" in bad(store, "Thing", f"id in ({', '.join(['1'] * 501)})").message
    assert ids(store, "Thing", "(" * 500 + "id eq 1" + ")" * 500) == [1]
    assert "nested more than 100 levels" in bad(store, "Thing", "not " * 300 + "id eq 1").message
    assert "nested" in bad(store, "Thing", "/".join(["Locations/Things"] * 800) + "/id eq 1").message
    with pytest.raises(BadRequest, match="nested"):
        order_clauses("/".join(["a"] * 3000), ENTITIES["Thing"], t.things, store)


def test_parse_filter_accepts_sensorthings_functions() -> None:
    tree = parse_filter(f"st_within(FeatureOfInterest/feature, geography'{JUNGGU}')")
    assert isinstance(tree, ast.Call)
    assert tree.func.full_name() == "st_within"
    assert isinstance(tree.args[0], ast.Attribute) and tree.args[0].attr == "feature"
    assert isinstance(tree.args[1], ast.Geography) and tree.args[1].val == JUNGGU
    assert isinstance(parse_filter("substringof('a', name)"), ast.Call)
    assert isinstance(parse_filter("st_relate(location, geometry'POINT(1 2)', 'T********')"), ast.Call)
    # Keywords do not swallow the start of longer names.
    tree = parse_filter("properties/allowed eq true and nullable eq null and anything eq 1")
    assert isinstance(tree, ast.BoolOp)


@pytest.mark.parametrize(
    ("entity", "expr", "message"),
    [
        ("Thing", "nmae eq 'x'", "$filter: Things have no property 'nmae' (at position 1)"),
        ("Thing", "id eq 1 and nmae eq 'x'", "$filter: Things have no property 'nmae' (at position 13)"),
        (
            "Observation",
            "Datastream/Thing/nmae eq 'x'",
            "$filter: Things have no property 'nmae' (at position 18)",
        ),
        (
            "Observation",
            "Datastrem/id eq 1",
            "$filter: Observations have no property 'Datastrem' (at position 1)",
        ),
        ("Observation", "Datastream eq 1", "Datastream is a navigation property"),
        ("Thing", "name/first eq 'x'", "name is not a JSON property"),
        ("Thing", "foo(name) eq 1", "$filter: unknown function 'foo' (at position 1)"),
        (
            "Thing",
            "id eq 1 or matchesPattern(name, 'x')",
            "unknown function 'matchesPattern' (at position 12)",
        ),
        ("Thing", "contains(name)", "$filter: contains() takes 2 arguments, got 1 (at position 1)"),
        ("Thing", "substring(name) eq 'x'", "substring() takes 2 to 3 arguments, got 1"),
        ("Thing", "now(name) eq 1", "now() takes 0 arguments, got 1"),
        ("Location", "st_within(location)", "st_within() takes 2 arguments, got 1"),
        ("Thing", "name eq 'x' 'y'", "$filter: syntax error at \"'y'\" (at position 13)"),
        ("Thing", "name eq 'x' and", "$filter: syntax error at 'and' (at position 13)"),
        ("Thing", "(name eq 'x'", "$filter: the expression ends too early (at position 13)"),
        ("Thing", "name eq 'x' and (id eq 1", "$filter: the expression ends too early (at position 25)"),
        ("Thing", "name eq 'x", '$filter: cannot read "\'x" (at position 9)'),
        ("Thing", "id eq $1", "$filter: cannot read '$1' (at position 7)"),
        ("Thing", "", "$filter: the expression is empty"),
        ("Thing", "name eq 3", "cannot compare name (a string) with 3 (a number)"),
        ("Thing", "id eq 'abc'", "ids are numbers"),
        ("Thing", "name", "name is a string, not a condition"),
        ("Thing", "not id eq 1", "id is a number, not a condition"),
        ("Thing", "contains(id, 'x')", "id is passed to contains(), but it is a number, not a string"),
        ("Thing", "name add 1 eq 2", "name is used with 'add', but it is a string, not a number"),
        ("Thing", "properties/depth gt 2026-01-01T00:00:00Z", "a JSON value can only be"),
        ("Thing", "name gt null", "null can only be compared with eq or ne"),
        ("Observation", "phenomenonTime gt 2026-01-01T00:00:00", "has no time zone"),
        ("Observation", "phenomenonTime gt 'yesterday'", "is not an ISO 8601 time"),
        (
            "Observation",
            "phenomenonTime gt 5",
            "cannot compare phenomenonTime (a date-time) with 5 (a number)",
        ),
        ("Observation", "phenomenonTime gt 2026-02-30T00:00:00Z", "is not a valid date-time"),
        ("Observation", "phenomenonTime add duration'PT1H' gt now()", "only a constant date-time"),
        ("Observation", "phenomenonTime gt now() sub duration'P1M'", "years and months are not supported"),
        ("Observation", "date(phenomenonTime) eq 5", "compare date(<time property>) with a date"),
        ("Observation", "phenomenonTime gt mindatetime() sub duration'P1D'", "outside the years 1 to 9999"),
        ("Observation", "phenomenonTime lt now() add duration'P9999999999D'", "is too long"),
        ("Observation", "result gt 2026-01-01T00:00:00Z", "results compare with numbers"),
        ("Observation", "result div 0 gt 1", "division by zero"),
        ("Location", "location eq geography'POINT(1 2)'", "use st_equals()"),
        ("Location", "st_within(location, geography'POINT(1 2')", "is not valid WKT"),
        ("Location", "st_within(location, geography'POINT(37.5665 126.978)')", "outside longitude"),
        ("Location", "st_within(location, geography'SRID=3857;POINT(1 2)')", "only WGS84"),
        ("Location", "st_within(name, geography'POINT(1 2)')", "st_within() needs geometries"),
        ("Location", "st_relate(location, location, 'nope')", "is not a DE-9IM pattern"),
        ("Location", "st_relate(location, location, name)", "needs a DE-9IM pattern string"),
        ("Thing", "Locations/any(l: l/name eq 'x')", "lambda operators (any/all) are not supported"),
        ("Thing", "id in 3", "syntax error"),
        ("Thing", "id eq 99999999999999999999", "out of range"),
        ("Thing", "contains(name, 'a') gt true", "booleans can only be compared with eq or ne"),
    ],
)
def test_errors(store: Any, entity: str, expr: str, message: str) -> None:
    error = bad(store, entity, expr)
    assert message in error.message, error.message


@pytest.mark.parametrize(
    "expr",
    [
        " ",
        "(",
        ")",
        "eq",
        "name eq",
        "'",
        "geography'x'",
        "id in (1)",
        "id in ()",
        "not",
        "name eq 'a' or or name eq 'b'",
        "concat(1, 2) eq '12'",
        "year(name) eq 1",
        "round('x') eq 1",
        "geo.distance(location, location) lt 1",
        "f(a=1)",
        "contains(name, x=1)",
        "properties/a/b/c eq 1",
        "2026-01-01 eq 2026-01-01",
        "10:00:00 eq 10:00:00",
        "duration'P1D' eq duration'P1D'",
        "time(now()) gt 00:00:00",
        "date(now()) eq 2026-02-16",
        "Locations/Things/Datastreams/Observations/FeatureOfInterest/name eq 'x'",
        "1 eq 1.0",
        "-(id) eq -1",
        "-name eq 1",
        "12345678-1234-1234-1234-123456789abc eq name",
    ],
)
def test_odd_input_gives_bad_request_or_runs(store: Any, expr: str) -> None:
    """Whatever the client sends, the answer is rows or a BadRequest, never another exception."""
    try:
        ids(store, "Thing", expr)
    except BadRequest as e:
        assert e.where == "$filter"
