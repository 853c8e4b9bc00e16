# SPDX-License-Identifier: Apache-2.0
"""Subscriptions: who receives alerts, for which areas, in which language, through which channels.

Three kinds:

* ``person`` — someone registered by an operator (a 통장, a care worker, a resident who asked at the
  community centre), often with a home or work location: personal data.
* ``system`` — another system (a school's PA, a building management system) fed by webhook.
* ``anonymous`` — a citizen on the public web page: one point (where they are or live), a language, an
  audience and an SSE or webhook channel. They get a secret token once, to read, change or delete the
  subscription; only its SHA-256 hash is stored.

Areas are what the subscriber gave (kept as given) and resolved when written: district (5-digit MOIS
code, e.g. ``11590``) and dong (10-digit MOIS code) areas to their boundary in ``geo_areas``, points with
a radius to a circle, polygons checked as GeoJSON. The union of all is stored as the ``geom`` column
(WGS84), the first point as ``lon``/``lat``, and the districts touched as ``districts`` (for the
per-district counts operators see). A code not in ``geo_areas`` is refused, naming the area:
``areas[1].code: unknown district 11999``.

Who may see what (enforced by the router): person and anonymous subscriptions hold locations, so only an
admin or the subscriber (with the token) reads them, and every admin access is written to the audit log;
system subscriptions are also readable by operators. Operators see counts (:func:`subscription_stats`),
never locations.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import shapely
from pydantic import BaseModel, ConfigDict, Field, field_validator
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from safecity.core.errors import BadRequest, NotFound
from safecity.evacuation.geometry import parse_geojson_geometry, to_metric, to_wgs84
from safecity.geo.areas import area_at, area_by_code, area_by_id, areas_of, geometry_of
from safecity.hygiene.egress import EgressPolicy, EgressRefused
from safecity.warning.guides import AUDIENCES
from safecity.warning.subscription_tables import subscriptions as t

MAX_AREAS = 50
MAX_CHANNELS = 10
MAX_RADIUS_M = 50_000.0  # Seoul is ~40 km across; a larger circle is a unit error (km given as m)
MAX_POLYGON_VERTICES = 10_000
#: Vertices of the polygon approximating a circle (a 64-gon is within 0.12 % of the circle's radius).
CIRCLE_SEGMENTS = 16  # per quarter circle, shapely's ``quad_segs``


class SubscriptionKind(StrEnum):
    person = "person"
    system = "system"
    anonymous = "anonymous"


class Audience(StrEnum):
    general = "general"
    elderly = "elderly"
    children_parents = "children_parents"
    disability = "disability"
    foreigner = "foreigner"


assert tuple(a.value for a in Audience) == AUDIENCES  # the guides are written for exactly these


class Channel(StrEnum):
    email = "email"
    webhook = "webhook"
    sms = "sms"
    sse = "sse"
    mastodon = "mastodon"
    webpush = "webpush"  # the browser's push service (the citizen page's subscription, page closed or not)


#: Kinds whose rows hold personal data (a location or contact of a person).
PERSONAL = frozenset({SubscriptionKind.person, SubscriptionKind.anonymous})
#: Channels an anonymous subscriber may use: no address of a person is collected.
ANONYMOUS_CHANNELS = frozenset({Channel.sse, Channel.webhook, Channel.webpush})

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9]{8,15}$")
_MASTODON = re.compile(r"^@?[A-Za-z0-9_]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_LANG = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


# ---------------------------------------------------------------------------------------------- inputs


class ChannelIn(BaseModel):
    """One way to reach the subscriber. ``secret`` signs webhook payloads (HMAC); it is never returned."""

    model_config = ConfigDict(extra="forbid")
    channel: Channel
    address: str = Field(default="", max_length=2000)
    secret: str | None = Field(default=None, min_length=16, max_length=500)

    @field_validator("address")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()


class CodeArea(BaseModel):
    """A district (5-digit MOIS code, e.g. ``11590`` 동작구) or administrative dong (10-digit MOIS code)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["district", "dong"]
    code: str = Field(pattern=r"^[0-9]{5}$|^[0-9]{10}$")


class PointArea(BaseModel):
    """A place (home, work) in WGS84. Without ``radius_m`` it receives alerts whose area contains it; with
    it, alerts whose area comes within ``radius_m`` metres."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["point"]
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    radius_m: float | None = Field(default=None, ge=0, le=MAX_RADIUS_M)


class PolygonArea(BaseModel):
    """A GeoJSON Polygon's ``coordinates`` (rings of [lon, lat], WGS84)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["polygon"]
    coordinates: list[list[tuple[float, float]]] = Field(min_length=1)


AreaIn = Annotated[CodeArea | PointArea | PolygonArea, Field(discriminator="kind")]


class SubscriptionIn(BaseModel):
    """A new subscription. ``anonymous`` ones hold exactly one point and sse/webhook channels."""

    model_config = ConfigDict(extra="forbid")
    kind: SubscriptionKind
    name: str | None = Field(default=None, min_length=1, max_length=200)
    language: str = Field(default="ko", pattern=_LANG, max_length=35)
    audience: Audience = Audience.general
    channels: list[ChannelIn] = Field(min_length=1, max_length=MAX_CHANNELS)
    areas: list[AreaIn] = Field(min_length=1, max_length=MAX_AREAS)
    active: bool = True


class SubscriptionPatch(BaseModel):
    """Fields a subscriber or admin changes; lists replace the old ones whole."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    language: str | None = Field(default=None, pattern=_LANG, max_length=35)
    audience: Audience | None = None
    channels: list[ChannelIn] | None = Field(default=None, min_length=1, max_length=MAX_CHANNELS)
    areas: list[AreaIn] | None = Field(default=None, min_length=1, max_length=MAX_AREAS)
    active: bool | None = None


# ---------------------------------------------------------------------------------------------- stored


@dataclass(frozen=True)
class Subscription:
    id: int
    kind: SubscriptionKind
    name: str | None
    language: str
    audience: Audience
    channels: tuple[dict[str, Any], ...]
    areas: tuple[dict[str, Any], ...]
    geom: BaseGeometry | None
    lon: float | None
    lat: float | None
    districts: tuple[str, ...]
    active: bool
    token_hash: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def personal(self) -> bool:
        return self.kind in PERSONAL

    def token_matches(self, token: str) -> bool:
        """True when ``token`` is this subscription's self-service token (constant-time comparison)."""
        return self.token_hash is not None and hmac.compare_digest(self.token_hash, hash_token(token))

    def to_dict(self) -> dict[str, Any]:
        """The subscription as its subscriber or an admin sees it: webhook secrets are never shown."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "name": self.name,
            "language": self.language,
            "audience": self.audience.value,
            "channels": [
                {"channel": c["channel"], "address": c["address"], "secret_set": bool(c.get("secret"))}
                for c in self.channels
            ],
            "areas": list(self.areas),
            "districts": list(self.districts),
            "active": self.active,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def hash_token(token: str) -> str:
    # The token is 256 random bits, so a plain SHA-256 (no salt, no stretching) cannot be brute-forced,
    # and it lets the hash be looked up.
    return hashlib.sha256(token.encode()).hexdigest()


def _subscription(row: RowMapping) -> Subscription:
    return Subscription(
        id=int(row["id"]),
        kind=SubscriptionKind(row["kind"]),
        name=row["name"],
        language=row["language"],
        audience=Audience(row["audience"]),
        channels=tuple(row["channels"] or ()),
        areas=tuple(row["areas"] or ()),
        geom=row["geom"],
        lon=row["lon"],
        lat=row["lat"],
        districts=tuple(row["districts"] or ()),
        active=bool(row["active"]),
        token_hash=row["token_hash"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


# ---------------------------------------------------------------------------------------------- checks


def _check_channels(kind: SubscriptionKind, channels: Sequence[ChannelIn]) -> list[dict[str, Any]]:
    out = []
    for i, c in enumerate(channels):
        where = f"channels[{i}].address"
        addr = c.address
        if kind is SubscriptionKind.anonymous and c.channel not in ANONYMOUS_CHANNELS:
            raise BadRequest(
                f"channels[{i}].channel: an anonymous subscription uses sse, webhook or webpush; "
                "e-mail, SMS and Mastodon are registered by an operator",
                where=f"channels[{i}].channel",
            )
        if c.channel is Channel.email and not _EMAIL.match(addr):
            raise BadRequest(f"{where}: needs an e-mail address such as name@example.org", where=where)
        if c.channel is Channel.sms:
            addr = re.sub(r"[\s-]", "", addr)
            if not _PHONE.match(addr):
                raise BadRequest(f"{where}: needs a phone number such as 010-1234-5678", where=where)
        if c.channel is Channel.mastodon and not _MASTODON.match(addr):
            raise BadRequest(f"{where}: needs a Mastodon account such as @user@example.social", where=where)
        if c.channel is Channel.webhook:
            _check_webhook(addr, where, public=kind is SubscriptionKind.anonymous)
        if c.channel is Channel.webpush:
            _check_webpush(addr, where)
        if c.channel is Channel.sse and addr:
            raise BadRequest(f"{where}: leave empty: SSE is read from the platform's stream", where=where)
        if c.secret is not None and c.channel is not Channel.webhook:
            raise BadRequest(
                f"channels[{i}].secret: only webhooks take a secret", where=f"channels[{i}].secret"
            )
        entry: dict[str, Any] = {"channel": c.channel.value, "address": addr}
        if c.secret is not None:
            entry["secret"] = c.secret
        out.append(entry)
    return out


def _check_webpush(address: str, where: str) -> None:
    from safecity.warning.channels.webpush import parse_subscription

    try:
        sub = parse_subscription(address)
    except ValueError as e:
        raise BadRequest(f"{where}: {e}", where=where) from None
    # the endpoint comes from whoever subscribes: the same guard as a public webhook (https, public host)
    _check_webhook(sub.endpoint, where, public=True)


def _check_webhook(url: str, where: str, *, public: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise BadRequest(f"{where}: needs an http(s) URL such as https://example.org/alerts", where=where)
    if not public:
        return
    # A URL from an anonymous caller must not make the platform call into its own network (SSRF).
    if parts.scheme != "https":
        raise BadRequest(f"{where}: a public webhook must use https", where=where)
    host = parts.hostname
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise BadRequest(f"{where}: a public webhook must point to a public host", where=where)
    # Every spelling of an address (127.1, 2130706433, 0x7f000001, IPv6 forms) and names resolving to
    # one; a name that does not resolve now is checked again at delivery (safecity.hygiene.egress).
    # No allow-list here: a city's internal receivers are not for anonymous subscribers.
    try:
        EgressPolicy().check_url(url)
    except EgressRefused as e:
        if not e.unresolved:
            raise BadRequest(
                f"{where}: a public webhook must point to a public address: {e}", where=where
            ) from None


def circle(lon: float, lat: float, radius_m: float) -> BaseGeometry:
    """A circle of ``radius_m`` metres round a WGS84 point, as a WGS84 polygon (buffered in EPSG:5186)."""
    return to_wgs84(to_metric(Point(lon, lat)).buffer(radius_m, quad_segs=CIRCLE_SEGMENTS))


@dataclass(frozen=True)
class Resolved:
    """Areas resolved against the boundaries: what the row stores besides the areas as given."""

    areas: list[dict[str, Any]]
    geom: BaseGeometry
    lon: float | None
    lat: float | None
    districts: list[str]


def resolve_areas(
    conn: Connection, kind: SubscriptionKind, areas: Sequence[CodeArea | PointArea | PolygonArea]
) -> Resolved:
    """Check and resolve areas; raises BadRequest naming ``areas[i].field``."""
    if kind is SubscriptionKind.anonymous and (len(areas) != 1 or not isinstance(areas[0], PointArea)):
        raise BadRequest(
            "areas: an anonymous subscription has exactly one area, a point "
            '({"kind": "point", "lon": ..., "lat": ..., "radius_m": ...})',
            where="areas",
        )
    have_districts = bool(areas_of(conn, "district"))
    parts: list[BaseGeometry] = []
    districts: dict[str, None] = {}
    given: list[dict[str, Any]] = []
    first_point: tuple[float, float] | None = None
    for i, area in enumerate(areas):
        if isinstance(area, CodeArea):
            ref = area_by_code(conn, area.code, kind=area.kind)
            if ref is None:
                hint = "" if have_districts else " (no boundaries are imported yet: safecity geo import)"
                raise BadRequest(
                    f"areas[{i}].code: unknown {area.kind} {area.code}{hint}",
                    where=f"areas[{i}].code",
                    message_ko=f"areas[{i}].code: 알 수 없는 {'자치구' if area.kind == 'district' else '행정동'} 코드 {area.code}",
                )
            geom = geometry_of(conn, ref.id)
            assert geom is not None
            parts.append(geom)
            if area.kind == "district":
                districts[ref.code] = None
            else:
                parent = area_by_id(conn, ref.parent_id) if ref.parent_id is not None else None
                districts[parent.code if parent is not None else ref.code[:5]] = None
            given.append({"kind": area.kind, "code": area.code})
        elif isinstance(area, PointArea):
            ref = area_at(conn, area.lon, area.lat, kind="district")
            if ref is None and have_districts:
                raise BadRequest(
                    f"areas[{i}]: the point ({area.lon}, {area.lat}) is outside every district; "
                    "give [longitude, latitude] of a place in the city",
                    where=f"areas[{i}]",
                )
            if ref is not None:
                districts[ref.code] = None
            radius = area.radius_m or 0.0
            parts.append(circle(area.lon, area.lat, radius) if radius > 0 else Point(area.lon, area.lat))
            if first_point is None:
                first_point = (area.lon, area.lat)
            given.append({"kind": "point", "lon": area.lon, "lat": area.lat, "radius_m": area.radius_m})
        else:
            where = f"areas[{i}].coordinates"
            if sum(len(r) for r in area.coordinates) > MAX_POLYGON_VERTICES:
                raise BadRequest(f"{where}: at most {MAX_POLYGON_VERTICES} vertices", where=where)
            geom = parse_geojson_geometry(
                {"type": "Polygon", "coordinates": area.coordinates}, where, ("Polygon",)
            )
            parts.append(geom)
            for ref in areas_of(conn, "district"):
                dgeom = geometry_of(conn, ref.id)
                if dgeom is not None and dgeom.intersects(geom) and not dgeom.touches(geom):
                    districts[ref.code] = None
            given.append({"kind": "polygon", "coordinates": [[list(p) for p in r] for r in area.coordinates]})
    union = shapely.union_all(parts)
    lon, lat = first_point if first_point is not None else (None, None)
    return Resolved(given, union, lon, lat, sorted(districts))


# ---------------------------------------------------------------------------------------------- CRUD


def create_subscription(
    conn: Connection, body: SubscriptionIn, now: datetime, created_by: str | None = None
) -> tuple[Subscription, str]:
    """Store a subscription; returns it and its self-service token (shown once, only its hash is kept)."""
    channels = _check_channels(body.kind, body.channels)
    resolved = resolve_areas(conn, body.kind, body.areas)
    token = "sct_" + secrets.token_urlsafe(32)
    new_id = conn.execute(
        insert(t)
        .values(
            kind=body.kind.value,
            name=body.name,
            language=body.language,
            audience=body.audience.value,
            channels=channels,
            areas=resolved.areas,
            geom=resolved.geom,
            lon=resolved.lon,
            lat=resolved.lat,
            districts=resolved.districts,
            active=body.active,
            token_hash=hash_token(token),
            created_by=created_by,
            created_at=now,
            updated_at=now,
        )
        .returning(t.c.id)
    ).scalar_one()
    return get_subscription(conn, int(new_id)), token


def get_subscription(conn: Connection, subscription_id: int) -> Subscription:
    row = conn.execute(select(t).where(t.c.id == subscription_id)).mappings().first()
    if row is None:
        raise NotFound(f"subscription {subscription_id} does not exist", where="id")
    return _subscription(row)


def update_subscription(
    conn: Connection, subscription_id: int, patch: SubscriptionPatch, now: datetime
) -> Subscription:
    sub = get_subscription(conn, subscription_id)
    values: dict[str, Any] = {"updated_at": now}
    given = patch.model_dump(exclude_unset=True)
    for key in ("name", "language", "active"):
        if key in given:
            if given[key] is None and key != "name":
                raise BadRequest(f"{key}: cannot be null", where=key)
            values[key] = given[key]
    if "audience" in given:
        if patch.audience is None:
            raise BadRequest("audience: cannot be null", where="audience")
        values["audience"] = patch.audience.value
    if "channels" in given:
        if patch.channels is None:
            raise BadRequest("channels: cannot be null", where="channels")
        values["channels"] = _check_channels(sub.kind, patch.channels)
    if "areas" in given:
        if patch.areas is None:
            raise BadRequest("areas: cannot be null", where="areas")
        resolved = resolve_areas(conn, sub.kind, patch.areas)
        values.update(
            areas=resolved.areas,
            geom=resolved.geom,
            lon=resolved.lon,
            lat=resolved.lat,
            districts=resolved.districts,
        )
    conn.execute(update(t).where(t.c.id == subscription_id).values(**values))
    return get_subscription(conn, subscription_id)


def delete_subscription(conn: Connection, subscription_id: int) -> None:
    """Delete the row (the personal data goes with it, not just a flag)."""
    if conn.execute(delete(t).where(t.c.id == subscription_id)).rowcount == 0:
        raise NotFound(f"subscription {subscription_id} does not exist", where="id")


def active_subscriptions(conn: Connection) -> list[Subscription]:
    """Every active subscription (for building the target index and rendering deliveries)."""
    rows = conn.execute(select(t).where(t.c.active.is_(True)).order_by(t.c.id)).mappings()
    return [_subscription(r) for r in rows]


def subscriptions_by_ids(conn: Connection, ids: Sequence[int], chunk: int = 10_000) -> list[Subscription]:
    """The active subscriptions among ``ids`` (e.g. :meth:`TargetIndex.recipients`), in id order; read in
    chunks of ``chunk`` ids so a city-wide alert does not build one huge IN list."""
    out: list[Subscription] = []
    wanted = sorted({int(i) for i in ids})
    for k in range(0, len(wanted), chunk):
        part = wanted[k : k + chunk]
        rows = conn.execute(
            select(t).where(t.c.id.in_(part), t.c.active.is_(True)).order_by(t.c.id)
        ).mappings()
        out.extend(_subscription(r) for r in rows)
    return out


def subscription_stats(conn: Connection) -> dict[str, Any]:
    """Counts for operators: by kind, district, channel, language and audience; no locations, names or
    addresses. A subscription touching several districts counts once in each."""
    kinds: Counter[str] = Counter()
    by_district: Counter[str] = Counter()
    by_channel: Counter[str] = Counter()
    by_language: Counter[str] = Counter()
    by_audience: Counter[str] = Counter()
    total = active = 0
    query = select(t.c.kind, t.c.active, t.c.districts, t.c.channels, t.c.language, t.c.audience)
    for row in conn.execute(query):
        total += 1
        if not row.active:
            continue
        active += 1
        kinds[row.kind] += 1
        by_district.update(row.districts or ())
        by_channel.update({c["channel"] for c in row.channels or ()})
        by_language[row.language] += 1
        by_audience[row.audience] += 1
    return {
        "total": total,
        "active": active,
        "by_kind": dict(sorted(kinds.items())),
        "by_district": dict(sorted(by_district.items())),
        "by_channel": dict(sorted(by_channel.items())),
        "by_language": dict(sorted(by_language.items())),
        "by_audience": dict(sorted(by_audience.items())),
    }
