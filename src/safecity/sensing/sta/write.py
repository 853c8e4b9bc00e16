# SPDX-License-Identifier: Apache-2.0
"""Creating (with deep insert), updating and deleting SensorThings entities.

Everything one request asks for happens in one transaction: if any part is wrong, nothing is written
and the error names the JSON path of the part (``Datastreams[0]/Sensor/encodingType``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from safecity.core.errors import BadRequest, Conflict, NotFound, is_id
from safecity.core.timeutil import parse_instant, parse_time_or_interval
from safecity.sensing import tables as t
from safecity.sensing.ingest import DATASTREAM, MULTI_DATASTREAM, Ingest, ObservationIn
from safecity.sensing.sta.model import ENTITIES, Entity, Kind, Nav

COMPLEX_OBSERVATION = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation"
GEOJSON_ENCODINGS = ("application/geo+json", "application/vnd.geo+json")


def _path(where: str, name: str) -> str:
    return f"{where}/{name}" if where else name


def parse_geojson(value: Any, where: str) -> BaseGeometry:
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict) or "type" not in value:
        raise BadRequest(
            f"{where}: expected a GeoJSON geometry object with 'type' and 'coordinates'", where=where
        )
    try:
        geom = shape(value)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, shapely.errors.GEOSException) as e:
        raise BadRequest(f"{where}: not a valid GeoJSON geometry ({e})", where=where) from None
    if geom.is_empty:
        raise BadRequest(f"{where}: the geometry is empty", where=where)
    bounds = geom.bounds
    if (
        not all(math.isfinite(b) for b in bounds)
        or not (-180 <= bounds[0] <= bounds[2] <= 180)
        or not (-90 <= bounds[1] <= bounds[3] <= 90)
    ):
        raise BadRequest(f"{where}: coordinates must be WGS84 longitude, latitude", where=where)
    return geom


class Writer:
    def __init__(self, ingest: Ingest, now: Callable[[], datetime]) -> None:
        self.ingest = ingest
        self.now = now
        #: (entity name, id, action) of every change of the current request, announced after commit.
        self.changes: list[tuple[str, int, str]] = []

    # values -------------------------------------------------------------------------------------
    def _columns(self, entity: Entity, body: dict[str, Any], where: str, partial: bool) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, value in body.items():
            if key in ("@iot.id", "@iot.selfLink") or key.endswith("@iot.navigationLink"):
                continue
            prop = entity.prop(key)
            if prop is None:
                if entity.nav(key) is not None:
                    continue
                raise BadRequest(
                    f"{_path(where, key)}: {entity.set_name} have no property '{key}' "
                    f"(have: {', '.join(p.name for p in entity.props if p.name != 'id')})",
                    where=_path(where, key),
                )
            if not prop.writable:
                continue
            p = _path(where, key)
            if prop.kind is Kind.TEXT:
                if not isinstance(value, str):
                    raise BadRequest(f"{p}: expected a string, got {_json_type(value)}", where=p)
                values[prop.column] = value
            elif prop.kind is Kind.JSON:
                if (
                    key in ("properties", "parameters", "unitOfMeasurement")
                    and value is not None
                    and not isinstance(value, dict)
                ):
                    raise BadRequest(f"{p}: expected a JSON object, got {_json_type(value)}", where=p)
                if key in ("unitOfMeasurements", "multiObservationDataTypes") and not isinstance(value, list):
                    raise BadRequest(f"{p}: expected a JSON array, got {_json_type(value)}", where=p)
                _check_finite(value, p)
                values[prop.column] = value
            elif prop.kind is Kind.GEOJSON:
                geom = parse_geojson(value, p)
                values[prop.column] = value
                if prop.geom_column:
                    values[prop.geom_column] = geom
            elif prop.kind is Kind.TIME:
                values[prop.column] = parse_instant(value, p)
            elif prop.kind is Kind.INTERVAL:
                start, end = parse_time_or_interval(value, p)
                values[prop.column] = start
                if prop.end_column:
                    values[prop.end_column] = end
        if not partial:
            for prop in entity.props:
                if prop.required and prop.kind is not Kind.RESULT and prop.name not in body:
                    if prop.name == "description":
                        values.setdefault("description", "")
                        continue
                    p = _path(where, prop.name)
                    raise BadRequest(f"{p}: required for a new {entity.name}", where=p)
        enc = values.get("encoding_type")
        if (
            entity.name in ("Location", "FeatureOfInterest")
            and enc is not None
            and enc not in GEOJSON_ENCODINGS
        ):
            p = _path(where, "encodingType")
            raise BadRequest(f"{p}: only {GEOJSON_ENCODINGS[0]} is supported for {entity.set_name}", where=p)
        return values

    # create -------------------------------------------------------------------------------------
    def create(
        self,
        conn: Connection,
        entity: Entity,
        body: Any,
        where: str = "",
        parent: tuple[Nav, int] | None = None,
    ) -> int:
        """Create ``entity`` from ``body`` (deep insert). ``parent`` is the navigation this entity was
        reached through (``Things(1)/Datastreams``) and the parent id, which links the new entity."""
        if not isinstance(body, dict):
            raise BadRequest(
                f"{where or 'body'}: expected a JSON object, got {_json_type(body)}", where=where or "body"
            )
        if entity.name == "Observation":
            return self._create_observation(conn, body, where, parent)
        if "@iot.id" in body:
            # A nested object carrying @iot.id refers to an existing entity; clients (FROST's among
            # them) often send the whole entity, so its other fields are ignored, not re-created.
            return self._existing(conn, entity, body["@iot.id"], where)
        values = self._columns(entity, body, where, partial=False)
        # To-one links first (this entity holds their id).
        back_link: dict[str, int] = {}
        if parent is not None:
            pnav, pid = parent
            reverse = _reverse(pnav)
            if reverse is not None and reverse.local_fk:
                back_link[reverse.name] = pid
        for nav in entity.navs:
            if nav.many or not nav.local_fk:
                continue
            p = _path(where, nav.name)
            if nav.name in back_link:
                if nav.name in body:
                    raise BadRequest(f"{p}: given by the URL already; remove it from the body", where=p)
                values[nav.local_fk] = back_link[nav.name]
            elif nav.name in body:
                values[nav.local_fk] = self.create(conn, ENTITIES[nav.target], body[nav.name], p)
            elif nav.required:
                raise BadRequest(
                    f'{p}: required for a new {entity.name} (an object, or {{"@iot.id": n}})', where=p
                )
        if entity.name == "MultiDatastream":
            _check_multi(body, values, where)
        if entity.name == "Datastream" and values.get("observation_type") == COMPLEX_OBSERVATION:
            p = _path(where, "observationType")
            raise BadRequest(f"{p}: OM_ComplexObservation belongs to MultiDatastreams", where=p)
        new_id = int(
            conn.execute(insert(entity.table).values(**values).returning(entity.table.c.id)).scalar_one()
        )
        self.changes.append((entity.name, new_id, "created"))
        # To-many and link navigations (they point back at the new id).
        for nav in entity.navs:
            if not nav.many or nav.name not in body:
                continue
            p = _path(where, nav.name)
            items = body[nav.name]
            if not isinstance(items, list):
                raise BadRequest(f"{p}: expected a JSON array", where=p)
            if nav.name == "Observations":
                kind = (
                    DATASTREAM
                    if entity.name == "Datastream"
                    else MULTI_DATASTREAM
                    if entity.name == "MultiDatastream"
                    else None
                )
                for i, item in enumerate(items):
                    if not isinstance(item, dict):
                        raise BadRequest(f"{p}[{i}]: expected a JSON object", where=f"{p}[{i}]")
                    if kind is not None:
                        self._create_observation(conn, {**item, kind: {"@iot.id": new_id}}, f"{p}[{i}]", None)
                    else:  # FeatureOfInterest/Observations
                        self._create_observation(
                            conn, {**item, "FeatureOfInterest": {"@iot.id": new_id}}, f"{p}[{i}]", None
                        )
                continue
            for i, item in enumerate(items):
                self._create_linked(conn, entity, new_id, nav, item, f"{p}[{i}]", position=i)
        if parent is not None:
            pnav, pid = parent
            if pnav.link is not None:
                self._link(conn, pnav, pid, new_id)
        if entity.name == "MultiDatastream":
            n = conn.execute(
                select(t.multi_datastream_observed_properties.c.position).where(
                    t.multi_datastream_observed_properties.c.multi_datastream_id == new_id
                )
            ).all()
            if len(n) != len(values["unit_of_measurements"]):
                p = _path(where, "ObservedProperties")
                raise BadRequest(
                    f"{p}: a MultiDatastream needs one ObservedProperty per unitOfMeasurements entry "
                    f"({len(values['unit_of_measurements'])}), got {len(n)}",
                    where=p,
                )
        if entity.name == "Thing" and body.get("Locations"):
            self._historical_location(conn, new_id)
        if entity.name == "Location" and parent is not None and parent[0].name == "Locations":
            self._historical_location(conn, parent[1])
        return new_id

    def _create_linked(
        self, conn: Connection, entity: Entity, new_id: int, nav: Nav, item: Any, where: str, position: int
    ) -> None:
        target = ENTITIES[nav.target]
        if nav.remote_fk:
            if isinstance(item, dict) and "@iot.id" in item:
                child = self._existing(conn, target, item["@iot.id"], where)
                conn.execute(
                    update(target.table).where(target.table.c.id == child).values({nav.remote_fk: new_id})
                )
            else:
                self.create(conn, target, item, where, parent=(nav, new_id))
            return
        child = self.create(conn, target, item, where)
        assert nav.link is not None and nav.link_self and nav.link_target
        values = {nav.link_self: new_id, nav.link_target: child}
        if nav.link is t.multi_datastream_observed_properties:
            values["position"] = position
        conn.execute(insert(nav.link).values(**values))

    def _existing(self, conn: Connection, entity: Entity, entity_id: Any, where: str) -> int:
        p = _path(where, "@iot.id")
        if not is_id(entity_id):
            raise BadRequest(f"{p}: expected an integer id, got {entity_id!r}", where=p)
        if conn.execute(select(entity.table.c.id).where(entity.table.c.id == entity_id)).first() is None:
            raise NotFound(f"{where or entity.name}: {entity.set_name}({entity_id}) does not exist", where=p)
        return entity_id

    def _create_observation(
        self, conn: Connection, body: dict[str, Any], where: str, parent: tuple[Nav, int] | None
    ) -> int:
        entity = ENTITIES["Observation"]
        allowed = (
            {p.name for p in entity.props} | {n.name for n in entity.navs} | {"@iot.id", "@iot.selfLink"}
        )
        for key in body:
            if key not in allowed and not key.endswith("@iot.navigationLink"):
                p = _path(where, key)
                raise BadRequest(f"{p}: Observations have no property '{key}'", where=p)
        stream_kind, stream_id = None, None
        if parent is not None:
            pnav, pid = parent
            if pnav.name == "Observations" and pnav.remote_fk == "datastream_id":
                stream_kind, stream_id = DATASTREAM, pid
            elif pnav.name == "Observations" and pnav.remote_fk == "multi_datastream_id":
                stream_kind, stream_id = MULTI_DATASTREAM, pid
            elif pnav.remote_fk == "feature_of_interest_id":
                body = {**body, "FeatureOfInterest": {"@iot.id": pid}}
        for kind in (DATASTREAM, MULTI_DATASTREAM):
            if kind in body:
                if stream_kind is not None:
                    p = _path(where, kind)
                    raise BadRequest(
                        f"{p}: an Observation belongs to one Datastream or MultiDatastream", where=p
                    )
                ref = body[kind]
                p = _path(where, kind)
                if isinstance(ref, dict) and "@iot.id" in ref:
                    stream_id = ref["@iot.id"]
                elif isinstance(ref, dict):
                    stream_id = self.create(conn, ENTITIES[kind], ref, p)
                else:
                    raise BadRequest(f'{p}: expected {{"@iot.id": n}} or a new {kind}', where=p)
                stream_kind = kind
        if stream_kind is None:
            p = _path(where, "Datastream")
            raise BadRequest(
                f"{p}: required (the Datastream or MultiDatastream this Observation belongs to)", where=p
            )
        foi_id = None
        if "FeatureOfInterest" in body:
            ref = body["FeatureOfInterest"]
            p = _path(where, "FeatureOfInterest")
            if isinstance(ref, dict) and "@iot.id" in ref:
                foi_id = ref["@iot.id"]
            elif isinstance(ref, dict):
                foi_id = self.create(conn, ENTITIES["FeatureOfInterest"], ref, p)
            else:
                raise BadRequest(f'{p}: expected {{"@iot.id": n}} or a new FeatureOfInterest', where=p)
        item = ObservationIn.from_json(body, stream_kind, stream_id, foi_id, f"{where}/" if where else "")
        result = self.ingest.ingest([item], conn=conn)
        if result.errors:
            raise BadRequest(result.errors[0].message, where=where or None)
        oid = result.ids[0]
        assert oid is not None
        return oid

    def _historical_location(self, conn: Connection, thing_id: int) -> None:
        hid = conn.execute(
            insert(t.historical_locations)
            .values(thing_id=thing_id, time=self.now())
            .returning(t.historical_locations.c.id)
        ).scalar_one()
        locs = conn.execute(
            select(t.thing_locations.c.location_id).where(t.thing_locations.c.thing_id == thing_id)
        ).scalars()
        for loc in locs:
            conn.execute(
                insert(t.location_historical_locations).values(location_id=loc, historical_location_id=hid)
            )
        self.changes.append(("HistoricalLocation", int(hid), "created"))

    # links --------------------------------------------------------------------------------------
    def _link(self, conn: Connection, nav: Nav, self_id: int, target_id: int) -> None:
        assert nav.link is not None and nav.link_self and nav.link_target
        exists = conn.execute(
            select(nav.link.c[nav.link_self]).where(
                nav.link.c[nav.link_self] == self_id, nav.link.c[nav.link_target] == target_id
            )
        ).first()
        if exists is None:
            if nav.name == "Locations" and nav.link is t.thing_locations:
                # A Thing has one current location set: linking a Location replaces the previous ones
                # (SensorThings 1.1 §8.2.2), and the move is recorded as a HistoricalLocation.
                conn.execute(delete(t.thing_locations).where(t.thing_locations.c.thing_id == self_id))
            values = {nav.link_self: self_id, nav.link_target: target_id}
            if nav.link is t.multi_datastream_observed_properties:
                raise BadRequest("the ObservedProperties of a MultiDatastream are fixed when it is created")
            conn.execute(insert(nav.link).values(**values))

    def add_ref(self, conn: Connection, entity: Entity, entity_id: int, nav: Nav, body: Any) -> None:
        target = ENTITIES[nav.target]
        if not isinstance(body, dict) or "@iot.id" not in body:
            raise BadRequest('body: expected {"@iot.id": n}', where="@iot.id")
        target_id = self._existing(conn, target, body["@iot.id"], "")
        if nav.link is not None:
            self._link(conn, nav, entity_id, target_id)
            if nav.link is t.thing_locations:
                self._historical_location(conn, entity_id)
        elif nav.local_fk:
            conn.execute(
                update(entity.table).where(entity.table.c.id == entity_id).values({nav.local_fk: target_id})
            )
        else:
            assert nav.remote_fk
            conn.execute(
                update(target.table).where(target.table.c.id == target_id).values({nav.remote_fk: entity_id})
            )
        self.changes.append((entity.name, entity_id, "updated"))

    def remove_ref(self, conn: Connection, entity: Entity, entity_id: int, nav: Nav, target_id: int) -> None:
        if nav.link is None:
            raise BadRequest(
                f"{entity.name}/{nav.name} is required and cannot be unlinked; link another one instead"
            )
        assert nav.link_self and nav.link_target
        conn.execute(
            delete(nav.link).where(
                nav.link.c[nav.link_self] == entity_id, nav.link.c[nav.link_target] == target_id
            )
        )
        self.changes.append((entity.name, entity_id, "updated"))

    # update -------------------------------------------------------------------------------------
    def patch(self, conn: Connection, entity: Entity, entity_id: int, body: Any) -> None:
        if not isinstance(body, dict):
            raise BadRequest(f"body: expected a JSON object, got {_json_type(body)}", where="body")
        if entity.name == "Observation":
            self._patch_observation(conn, entity_id, body)
            return
        values = self._columns(entity, body, "", partial=True)
        for nav in entity.navs:
            if nav.name not in body:
                continue
            if nav.many:
                self._replace_links(conn, entity, entity_id, nav, body[nav.name])
                continue
            assert nav.local_fk
            ref = body[nav.name]
            if not isinstance(ref, dict) or "@iot.id" not in ref:
                raise BadRequest(f'{nav.name}: expected {{"@iot.id": n}}', where=nav.name)
            values[nav.local_fk] = self._existing(conn, ENTITIES[nav.target], ref["@iot.id"], nav.name)
        if values:
            conn.execute(update(entity.table).where(entity.table.c.id == entity_id).values(**values))
        self.changes.append((entity.name, entity_id, "updated"))

    def _replace_links(self, conn: Connection, entity: Entity, entity_id: int, nav: Nav, items: Any) -> None:
        """PATCH with a to-many navigation: the given entities (existing by @iot.id, or new) become the
        linked set. Moving a Thing this way records a HistoricalLocation, as linking does."""
        if nav.link is None or nav.link is t.multi_datastream_observed_properties:
            raise BadRequest(
                f"{nav.name}: cannot be replaced by PATCH; create the entities under "
                f"{entity.set_name}({entity_id})/{nav.name} instead",
                where=nav.name,
            )
        if not isinstance(items, list):
            raise BadRequest(f"{nav.name}: expected a JSON array", where=nav.name)
        assert nav.link_self and nav.link_target
        conn.execute(delete(nav.link).where(nav.link.c[nav.link_self] == entity_id))
        for i, item in enumerate(items):
            target_id = self.create(conn, ENTITIES[nav.target], item, f"{nav.name}[{i}]")
            conn.execute(insert(nav.link).values({nav.link_self: entity_id, nav.link_target: target_id}))
        if nav.link is t.thing_locations:
            self._historical_location(conn, entity_id)

    def _patch_observation(self, conn: Connection, entity_id: int, body: dict[str, Any]) -> None:
        entity = ENTITIES["Observation"]
        values: dict[str, Any] = {}
        for key, value in body.items():
            prop = entity.prop(key)
            if prop is None:
                if key == "FeatureOfInterest" and isinstance(value, dict) and "@iot.id" in value:
                    values["feature_of_interest_id"] = self._existing(
                        conn, ENTITIES["FeatureOfInterest"], value["@iot.id"], key
                    )
                    continue
                raise BadRequest(f"{key}: Observations have no patchable property '{key}'", where=key)
            if key == "result":
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    if not math.isfinite(value):
                        raise BadRequest("result: not a finite number", where="result")
                    values.update(result_number=float(value), result_json=None)
                else:
                    values.update(result_number=None, result_json=value)
            elif prop.kind is Kind.TIME:
                values[prop.column] = parse_instant(value, key) if value is not None else None
            elif prop.kind is Kind.INTERVAL:
                start, end = parse_time_or_interval(value, key)
                values[prop.column] = start
                values[prop.end_column or ""] = end
            elif prop.kind is Kind.JSON:
                values[prop.column] = value
        if values:
            try:
                with conn.begin_nested():
                    conn.execute(
                        update(t.observations).where(t.observations.c.id == entity_id).values(**values)
                    )
            except IntegrityError:
                raise Conflict(
                    "phenomenonTime: the Datastream already has an Observation at that time"
                ) from None
        self.changes.append(("Observation", entity_id, "updated"))

    # delete -------------------------------------------------------------------------------------
    def delete(self, conn: Connection, entity: Entity, entity_id: int) -> None:
        """Delete with the cascades SensorThings 1.1 §10.4 prescribes."""
        name = entity.name
        if name == "Thing":
            for sid in conn.execute(
                select(t.datastreams.c.id).where(t.datastreams.c.thing_id == entity_id)
            ).scalars():
                self.delete(conn, ENTITIES["Datastream"], sid)
            for sid in conn.execute(
                select(t.multi_datastreams.c.id).where(t.multi_datastreams.c.thing_id == entity_id)
            ).scalars():
                self.delete(conn, ENTITIES["MultiDatastream"], sid)
        elif name in ("Sensor", "ObservedProperty"):
            col = "sensor_id" if name == "Sensor" else "observed_property_id"
            for sid in conn.execute(
                select(t.datastreams.c.id).where(t.datastreams.c[col] == entity_id)
            ).scalars():
                self.delete(conn, ENTITIES["Datastream"], sid)
            if name == "Sensor":
                mds = select(t.multi_datastreams.c.id).where(t.multi_datastreams.c.sensor_id == entity_id)
            else:
                mds = select(t.multi_datastream_observed_properties.c.multi_datastream_id).where(
                    t.multi_datastream_observed_properties.c.observed_property_id == entity_id
                )
            for sid in conn.execute(mds).scalars().all():
                self.delete(conn, ENTITIES["MultiDatastream"], sid)
        elif name == "Datastream":
            conn.execute(delete(t.observations).where(t.observations.c.datastream_id == entity_id))
        elif name == "MultiDatastream":
            conn.execute(delete(t.observations).where(t.observations.c.multi_datastream_id == entity_id))
        elif name == "FeatureOfInterest":
            conn.execute(delete(t.observations).where(t.observations.c.feature_of_interest_id == entity_id))
        elif name == "Location":
            # A HistoricalLocation left with no Location means nothing any more.
            hls = (
                conn.execute(
                    select(t.location_historical_locations.c.historical_location_id).where(
                        t.location_historical_locations.c.location_id == entity_id
                    )
                )
                .scalars()
                .all()
            )
            conn.execute(
                delete(t.location_historical_locations).where(
                    t.location_historical_locations.c.location_id == entity_id
                )
            )
            for hl in hls:
                left = conn.execute(
                    select(t.location_historical_locations.c.location_id).where(
                        t.location_historical_locations.c.historical_location_id == hl
                    )
                ).first()
                if left is None:
                    conn.execute(delete(t.historical_locations).where(t.historical_locations.c.id == hl))
            conn.execute(
                update(t.features_of_interest)
                .where(t.features_of_interest.c.source_location_id == entity_id)
                .values(source_location_id=None)
            )
        conn.execute(delete(entity.table).where(entity.table.c.id == entity_id))
        self.changes.append((name, entity_id, "deleted"))


def _reverse(nav: Nav) -> Nav | None:
    """The navigation of the target that leads back (Things/Datastreams -> Datastream/Thing)."""
    target = ENTITIES[nav.target]
    for back in target.navs:
        if nav.remote_fk and back.local_fk == nav.remote_fk:
            return back
        if nav.link is not None and back.link is nav.link:
            return back
    return None


def _check_multi(body: dict[str, Any], values: dict[str, Any], where: str) -> None:
    units = values.get("unit_of_measurements")
    types = values.get("multi_observation_data_types")
    if values.get("observation_type") != COMPLEX_OBSERVATION:
        p = _path(where, "observationType")
        raise BadRequest(f"{p}: a MultiDatastream's observationType is {COMPLEX_OBSERVATION}", where=p)
    if not isinstance(units, list) or not isinstance(types, list) or len(units) != len(types):
        p = _path(where, "multiObservationDataTypes")
        raise BadRequest(f"{p}: needs one entry per unitOfMeasurements entry", where=p)
    if "ObservedProperties" not in body:
        p = _path(where, "ObservedProperties")
        raise BadRequest(f"{p}: required for a new MultiDatastream", where=p)


def _check_finite(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRequest(f"{where}: {value} is not a finite number", where=where)
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, f"{where}/{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_finite(v, f"{where}[{i}]")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
