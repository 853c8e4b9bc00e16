# SPDX-License-Identifier: Apache-2.0
"""The SensorThings Data Array extension's request shape (``CreateObservations``), for HTTP and MQTT."""

from __future__ import annotations

from typing import Any

from safecity.core.errors import BadRequest
from safecity.sensing.ingest import DATASTREAM, MULTI_DATASTREAM, DataArrayGroup


def parse_data_array(body: Any) -> list[DataArrayGroup]:
    """Check the structure of a CreateObservations request; rows are checked by the ingest."""
    if not isinstance(body, list):
        raise BadRequest(
            "body: CreateObservations expects a JSON array of {Datastream, components, dataArray}"
        )
    groups: list[DataArrayGroup] = []
    allowed = {
        "phenomenonTime",
        "result",
        "resultTime",
        "FeatureOfInterest/id",
        "resultQuality",
        "validTime",
        "parameters",
    }
    for n, group in enumerate(body):
        where = f"[{n}]"
        if not isinstance(group, dict):
            raise BadRequest(f"{where}: expected an object", where=where)
        kinds = [k for k in (DATASTREAM, MULTI_DATASTREAM) if k in group]
        if len(kinds) != 1:
            raise BadRequest(f"{where}: give exactly one of Datastream or MultiDatastream", where=where)
        kind = kinds[0]
        ref = group[kind]
        if not isinstance(ref, dict) or "@iot.id" not in ref:
            raise BadRequest(f'{where}/{kind}: expected {{"@iot.id": n}}', where=f"{where}/{kind}")
        comps = group.get("components")
        if not isinstance(comps, list) or not all(isinstance(c, str) for c in comps):
            raise BadRequest(
                f"{where}/components: expected an array of component names", where=f"{where}/components"
            )
        for c in comps:
            if c not in allowed:
                raise BadRequest(
                    f"{where}/components: unknown component '{c}' (use {', '.join(sorted(allowed))})",
                    where=f"{where}/components",
                )
        if len(set(comps)) != len(comps):
            raise BadRequest(f"{where}/components: a component is repeated", where=f"{where}/components")
        if "result" not in comps:
            raise BadRequest(f"{where}/components: 'result' is required", where=f"{where}/components")
        rows = group.get("dataArray")
        if not isinstance(rows, list):
            raise BadRequest(f"{where}/dataArray: expected an array of rows", where=f"{where}/dataArray")
        groups.append(DataArrayGroup(kind, ref["@iot.id"], comps, rows, where))
    return groups
