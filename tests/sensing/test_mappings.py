# SPDX-License-Identifier: Apache-2.0
"""A city's own sensors: a datastream whose ObservedProperty the catalogue does not know is read by no
rule, and the board lists it; an administrator maps its definition URI (or its name) to a catalogue key,
audited, and from then on the rules read it and the board no longer lists it. Wrong keys, a property the
catalogue already defines and a second mapping of the same property are refused with the field named."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from safecity.geo.importer import import_layer
from safecity.settings import Settings
from tests.audit.test_api import Ctx, _ctx
from tests.geo.data import MOIS_DISTRICTS

#: A rain gauge as another agency's SensorThings server describes it (a WMO code-list URI).
NERC = "http://codes.wmo.int/common/quantity-kind/precipitationAmount/10min"


def rain_gauge(definition: str = NERC, name: str = "Precipitation amount (10 min)") -> dict[str, Any]:
    return {
        "name": "Mapo rooftop gauge (city)",
        "description": "the city's own gauge",
        "Locations": [
            {
                "name": "Mapo-gu office roof",
                "description": "pier 3",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [126.9015, 37.5663]},
            }
        ],
        "Datastreams": [
            {
                "name": "Mapo rooftop rainfall",
                "description": "",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": {"name": "millimetre", "symbol": "mm", "definition": "ucum:mm"},
                "Sensor": {"name": "radar", "description": "", "encodingType": "text/plain", "metadata": "-"},
                "ObservedProperty": {"name": name, "definition": definition, "description": ""},
            }
        ],
    }


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Ctx]:
    for c in _ctx(settings):
        import_layer(c.platform, MOIS_DISTRICTS, "districts")  # the rainfall rules judge per district
        c.platform.situation.start(ticker=False)  # the shipped rule packs
        yield c


def _unread(ctx: Ctx) -> list[int]:
    ctx.platform.bus.drain()  # the entity events reach the rule engine
    ctx.platform.situation.replan()
    board = ctx.client.get("/situation", headers=ctx.headers["operator1"]).json()
    return [s["datastream"] for s in board["unreadStreams"]]


def test_an_unknown_property_is_listed_then_mapped_and_read(ctx: Ctx) -> None:
    op, admin = ctx.headers["operator1"], ctx.headers["admin1"]
    tid = ctx.client.post("/sta/v1.1/Things", json=rain_gauge(), headers=op).json()["@iot.id"]
    (ds,) = [
        d["@iot.id"]
        for d in ctx.client.get(f"/sta/v1.1/Things({tid})/Datastreams", headers=op).json()["value"]
    ]
    assert ds in _unread(ctx)

    catalogue = ctx.client.get("/sensing/catalogue").json()  # public: what the rules understand
    assert "rainfall_10min" in {c["key"] for c in catalogue}
    body = {"definition": NERC, "key": "rainfall_10min"}
    assert ctx.client.post("/sensing/catalogue/mappings", json=body, headers=op).status_code == 403
    r = ctx.client.post("/sensing/catalogue/mappings", json=body, headers=admin)
    assert r.status_code == 201, r.text
    mapping = r.json()
    assert (
        mapping["key"] == "rainfall_10min"
        and mapping["definition"] == NERC
        and mapping["createdBy"] == "admin1"
    )
    assert ds not in _unread(ctx)  # KMA's rainfall rules read it now
    assert ctx.client.get("/sensing/catalogue/mappings", headers=op).json() == [mapping]
    # who mapped what, in the audit log
    writes = [
        (e["action"], e["actor"], e["outcome"])
        for e in ctx.entries()
        if e["target"] == "/sensing/catalogue/mappings"
    ]
    assert writes == [("http.POST", "operator1", "403"), ("http.POST", "admin1", "201")]

    # removing it puts the stream back on the list
    gone = ctx.client.delete(f"/sensing/catalogue/mappings/{mapping['id']}", headers=admin)
    assert gone.status_code == 204
    assert ds in _unread(ctx)
    assert ctx.client.delete(f"/sensing/catalogue/mappings/{mapping['id']}", headers=admin).status_code == 404


def test_a_mapping_by_name_survives_a_restart_of_the_catalogue(ctx: Ctx) -> None:
    admin = ctx.headers["admin1"]
    r = ctx.client.post(
        "/sensing/catalogue/mappings", json={"name": "Pegel", "key": "water_level"}, headers=admin
    )
    assert r.status_code == 201, r.text
    from safecity.sensing import mappings
    from safecity.sensing.catalogue import load_catalogue

    fresh = load_catalogue()  # what a restarted platform builds, before the stored mappings
    assert fresh.match(None, "PEGEL ", "m") is None
    with ctx.platform.store.engine.connect() as conn:
        assert mappings.apply(conn, fresh) == 1
    found = fresh.match(None, "PEGEL ", "m")
    assert found is not None and found.key == "water_level"
    assert fresh.match(None, "Pegel", "mm") is None  # the unit must still be the catalogue's


def test_bad_mappings_name_the_field(ctx: Ctx) -> None:
    admin = ctx.headers["admin1"]

    def post(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        r = ctx.client.post("/sensing/catalogue/mappings", json=body, headers=admin)
        return r.status_code, r.json()

    status, body = post({"definition": NERC, "key": "rain_10"})
    assert status == 400 and body["where"] == "key" and "rainfall_10min" in body["message"]
    status, body = post(
        {"definition": "urn:safecity:def:observed-property:rainfall_10min", "key": "rainfall_10min"}
    )
    assert status == 400 and body["where"] == "definition"  # the catalogue's own: nothing to map
    status, body = post({"definition": NERC, "name": "x", "key": "rainfall_10min"})
    assert status == 400  # one of definition or name
    assert post({"definition": NERC, "key": "rainfall_10min"})[0] == 201
    status, body = post({"definition": NERC, "key": "rainfall_10min"})
    assert status == 409 and body["where"] == "definition"
