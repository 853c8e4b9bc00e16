# SPDX-License-Identifier: Apache-2.0
"""OGC API – Features Part 1 (Core, GeoJSON, OpenAPI 3.0) at ``/ogcapi``, with Basic CQL2 filters.

Public layers only, no login: QGIS, OWSLib or any OGC API client adds them as layers. Paging is
``limit``/``offset`` with ``next``/``prev`` links; ``bbox`` is CRS84 ``minLon,minLat,maxLon,maxLat``;
any queryable property given as a query parameter filters by equality; ``filter`` takes CQL2 text.
Unknown query parameters are refused with 400, as the standard requires.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import Boolean, Float, Integer, String
from sqlalchemy.sql.elements import ColumnElement

from safecity.auth.deps import allow
from safecity.auth.model import Role
from safecity.capability import SettingsDep, StoreDep, provider
from safecity.core.errors import BadRequest, NotFound
from safecity.geo.collections import (
    Collection,
    Collections,
    attribution,
    coerce_for,
    columns,
    extent,
    one,
    query,
)
from safecity.geo.cql2 import parse_cql2_text
from safecity.geo.seoul import Attribution

router = APIRouter(prefix="/ogcapi", tags=["ogcapi"])

GEOJSON = "application/geo+json"
JSON = "application/json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
]
DEFAULT_LIMIT = 10
#: The largest page: big enough for all 425 dongs in one request, small enough to bound the response.
MAX_LIMIT = 1000
_SCHEMA_TYPES = ((Boolean, "boolean"), (Integer, "integer"), (Float, "number"), (String, "string"))
_COMMON_PARAMS = {"f", "bbox", "limit", "offset", "filter", "filter-lang", "filter-crs", "datetime"}


#: every collection served: geography's own and the other capabilities' layers
LayersDep = Annotated[Collections, Depends(provider(Collections))]


def _root(request: Request, settings: SettingsDep) -> str:
    """The server's public root: the configured public URL, not the request's Host header (which any
    client sets; links built from it pointed elsewhere, issue 13)."""
    return (settings.public_url or str(request.base_url)).rstrip("/")


Root = Annotated[str, Depends(_root)]


def _base(root: Root) -> str:
    return root + "/ogcapi"


Base = Annotated[str, Depends(_base)]


def _json(body: Any, media_type: str = JSON, status: int = 200) -> Response:
    return Response(orjson.dumps(body), media_type=media_type, status_code=status)


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


def _collection(
    c: Collection, base: str, bbox: list[float] | None, credit: Attribution | None = None
) -> dict[str, Any]:
    url = f"{base}/collections/{c.id}"
    body: dict[str, Any] = {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "keywords": list(c.keywords),
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "links": [
            _link(url, "self", JSON, c.title),
            _link(f"{url}/items", "items", GEOJSON, f"{c.title} as GeoJSON"),
            _link(
                f"{url}/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "application/schema+json",
                "Queryable properties",
            ),
        ],
    }
    if bbox is not None:
        body["extent"] = {"spatial": {"bbox": [bbox], "crs": CRS84}}
    if credit is not None:
        # OGC API – Common: "attribution" of a collection; the terms as links with the IANA rel "license"
        body["attribution"] = credit.text
        body["links"] += [_link(url, "license", "text/html", title) for title, url in credit.licences]
    return body


def _get(layers: Collections, collection_id: str) -> Collection:
    c = layers.get(collection_id)
    if c is None:
        raise NotFound(
            f"no collection '{collection_id}'; collections are {', '.join(layers.ids())}",
            where="collectionId",
        )
    return c


def parse_bbox(raw: str) -> tuple[float, float, float, float]:
    """``minLon,minLat,maxLon,maxLat`` in CRS84; raises BadRequest naming ``bbox``."""
    parts = raw.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise BadRequest(
            f"bbox: '{raw}' is not four numbers minLon,minLat,maxLon,maxLat (e.g. bbox=126.97,37.55,127.0,37.58)",
            where="bbox",
        )
    x0, y0, x1, y1 = values
    if not (-180 <= x0 <= 180 and -180 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise BadRequest(
            f"bbox: '{raw}' is outside lon -180..180 / lat -90..90 or has minLat > maxLat", where="bbox"
        )
    if x0 > x1:
        # Crossing the antimeridian is allowed by the standard but there is nothing of ours there.
        raise BadRequest(f"bbox: '{raw}' crosses the antimeridian, which is not supported", where="bbox")
    return x0, y0, x1, y1


@router.get("", dependencies=[allow(Role.public)], summary="OGC API – Features landing page")
def landing(base: Base, root: Root) -> Response:
    return _json(
        {
            "title": "safecity OGC API – Features",
            "description": "Administrative areas, facilities, shelters, hazard zones and sensors of safecity.",
            "links": [
                _link(base, "self", JSON, "This document"),
                _link(f"{root}/openapi.json", "service-desc", OPENAPI, "The API definition"),
                _link(f"{root}/docs", "service-doc", "text/html", "The API documentation"),
                _link(f"{base}/conformance", "conformance", JSON, "Conformance classes"),
                _link(
                    f"{base}/conformance",
                    "http://www.opengis.net/def/rel/ogc/1.0/conformance",
                    JSON,
                    "Conformance classes",
                ),
                _link(f"{base}/collections", "data", JSON, "Feature collections"),
                _link(
                    f"{base}/collections",
                    "http://www.opengis.net/def/rel/ogc/1.0/data",
                    JSON,
                    "Feature collections",
                ),
            ],
        }
    )


@router.get("/conformance", dependencies=[allow(Role.public)], summary="Conformance classes")
def conformance() -> Response:
    return _json({"conformsTo": CONFORMANCE})


@router.get("/collections", dependencies=[allow(Role.public)], summary="Feature collections")
def collections(base: Base, store: StoreDep, layers: LayersDep) -> Response:
    with store.engine.connect() as conn:
        bboxes = {c.id: extent(store, conn, c) for c in layers.all()}
        credits = {c.id: attribution(conn, c) for c in layers.all()}
    return _json(
        {
            "links": [_link(f"{base}/collections", "self", JSON, "Feature collections")],
            "collections": [_collection(c, base, bboxes[c.id], credits[c.id]) for c in layers.all()],
        }
    )


@router.get("/collections/{collectionId}", dependencies=[allow(Role.public)], summary="One collection")
def collection(
    collectionId: str,  # the standard's parameter names
    base: Base,
    store: StoreDep,
    layers: LayersDep,
) -> Response:
    c = _get(layers, collectionId)
    with store.engine.connect() as conn:
        bbox = extent(store, conn, c)
        credit = attribution(conn, c)
    return _json(_collection(c, base, bbox, credit))


@router.get(
    "/collections/{collectionId}/queryables",
    dependencies=[allow(Role.public)],
    summary="Queryable properties of a collection (JSON Schema)",
)
def queryables(collectionId: str, base: Base, layers: LayersDep) -> Response:
    c = _get(layers, collectionId)
    props: dict[str, Any] = {}
    for name, col in columns(c).items():
        kind = next((k for typ, k in _SCHEMA_TYPES if isinstance(col.type, typ)), None)
        props[name] = {"title": name} | ({"type": kind} if kind else {})
    return _json(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{base}/collections/{c.id}/queryables",
            "type": "object",
            "title": c.title,
            "properties": props,
            "additionalProperties": False,
        },
        media_type="application/schema+json",
    )


@router.get(
    "/collections/{collectionId}/items",
    dependencies=[allow(Role.public)],
    summary="Features of a collection (GeoJSON)",
)
def items(
    request: Request,
    collectionId: str,
    base: Base,
    store: StoreDep,
    layers: LayersDep,
    limit: Annotated[
        int, Query(ge=1, le=10_000, description=f"Features per page (pages hold at most {MAX_LIMIT})")
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, description="Features to skip")] = 0,
    bbox: Annotated[
        str | None, Query(description="CRS84 minLon,minLat,maxLon,maxLat, e.g. 126.97,37.55,127.0,37.58")
    ] = None,
    filter_: Annotated[
        str | None, Query(alias="filter", description="CQL2 text, e.g. name_ko = '명동'")
    ] = None,
    filter_lang: Annotated[str | None, Query(alias="filter-lang")] = None,
) -> Response:
    c = _get(layers, collectionId)
    # The standard's limit schema allows up to 10,000; a larger request than we serve gets our maximum.
    limit = min(limit, MAX_LIMIT)
    cols = columns(c)
    coerce = coerce_for(cols)
    conditions: list[ColumnElement[bool]] = []
    for name, value in request.query_params.multi_items():
        if name in _COMMON_PARAMS:
            continue
        if name not in cols:
            raise BadRequest(
                f"{name}: unknown query parameter; use bbox, limit, offset, filter or a queryable property "
                f"({', '.join(cols)})",
                where=name,
            )
        try:
            conditions.append(cols[name] == coerce(name, value))
        except ValueError:
            raise BadRequest(f"{name}: '{value}' is not a valid value", where=name) from None
    if filter_lang not in (None, "cql2-text"):
        raise BadRequest(f"filter-lang: '{filter_lang}' is not supported; use cql2-text", where="filter-lang")
    if filter_ is not None:
        conditions.append(parse_cql2_text(filter_, cols, coerce))
    box = parse_bbox(bbox) if bbox is not None else None
    with store.engine.connect() as conn:
        page = query(store, conn, c, bbox=box, conditions=conditions, limit=limit, offset=offset)
    url = f"{base}/collections/{c.id}/items"
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit")]

    def page_url(at: int) -> str:
        return f"{url}?{urlencode([*params, ('limit', str(limit)), ('offset', str(at))])}"

    links = [
        _link(page_url(offset), "self", GEOJSON, "This page"),
        _link(f"{base}/collections/{c.id}", "collection", JSON, c.title),
    ]
    if offset + len(page.features) < page.matched:
        links.append(_link(page_url(offset + limit), "next", GEOJSON, "Next page"))
    if offset > 0:
        links.append(_link(page_url(max(0, offset - limit)), "prev", GEOJSON, "Previous page"))
    return _json(
        {
            "type": "FeatureCollection",
            "features": page.features,
            "numberMatched": page.matched,
            "numberReturned": len(page.features),
            "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "links": links,
        },
        media_type=GEOJSON,
    )


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    dependencies=[allow(Role.public)],
    summary="One feature (GeoJSON)",
)
def item(collectionId: str, featureId: str, base: Base, store: StoreDep, layers: LayersDep) -> Response:
    c = _get(layers, collectionId)
    feature = None
    if featureId.isdigit() and len(featureId) < 19:
        with store.engine.connect() as conn:
            feature = one(conn, c, int(featureId))
    if feature is None:
        raise NotFound(f"no feature '{featureId}' in collection '{c.id}'", where="featureId")
    url = f"{base}/collections/{c.id}"
    feature["links"] = [
        _link(f"{url}/items/{featureId}", "self", GEOJSON, "This feature"),
        _link(url, "collection", JSON, c.title),
    ]
    return _json(feature, media_type=GEOJSON)
