# SPDX-License-Identifier: Apache-2.0
"""What real trackers send, read into :class:`~safecity.care.model.Fix`.

* **OsmAnd / Traccar Client** (https://www.traccar.org/osmand/): query or form parameters ``id`` (or
  ``deviceid``), ``lat``, ``lon`` (or ``location=lat,lon``), ``timestamp`` (seconds or milliseconds since
  the epoch, ISO 8601, or ``yyyy-MM-dd HH:mm:ss``), ``speed`` (knots, Traccar's default unit),
  ``bearing``/``heading``, ``altitude`` (m), ``accuracy`` (m), ``batt`` (%), ``valid``; and, from Traccar
  Client 9, a JSON body ``{"location": {"timestamp", "coords": {...}, "battery": {"level": 0..1}},
  "device_id"}`` with speed in m/s. The device identifier is the key issued at registration, so the app
  works unchanged: type the key into its "Device identifier" field.
* **OwnTracks** (https://owntracks.org/booklet/tech/json/): ``_type: location`` with ``tst`` (epoch
  seconds), ``lat``, ``lon``, ``acc`` (m), ``alt`` (m), ``vel`` (km/h), ``cog`` (degrees), ``batt``
  (%), ``tid``. Other ``_type`` values (lwt, transition, waypoint, status...) carry no fix and are
  acknowledged and ignored. HTTP mode authenticates with Basic credentials: the password is the key.

Every error names the parameter and the value to fix; nothing of a bad request is stored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from safecity.care.model import Fix
from safecity.core.errors import BadRequest

#: Traccar's default speed unit for the OsmAnd protocol is the knot (traccar.org/osmand: "Units are
#: configurable with knots as a default"); we store m/s.
KNOT_MS = 0.514444
KMH_MS = 1 / 3.6


@dataclass(frozen=True)
class OsmAndMessage:
    key: str
    fixes: list[Fix]
    alarm: str | None = None  # Traccar's OsmAnd ``alarm`` parameter: "sos" is the SOS button


def _number(
    params: Mapping[str, Any], name: str, lo: float, hi: float, *, required: bool = False
) -> float | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise BadRequest(
                f"{name}: missing (a number from {lo:g} to {hi:g})",
                where=name,
                message_ko=f"{name}: 값이 없습니다",
            )
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise BadRequest(
            f"{name}: {raw!r} is not a number",
            where=name,
            message_ko=f"{name}: {raw!r}은(는) 숫자가 아닙니다",
        ) from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise BadRequest(
            f"{name}: {value:g} is outside {lo:g}..{hi:g}",
            where=name,
            message_ko=f"{name}: {value:g}은(는) {lo:g}..{hi:g} 범위 밖입니다",
        )
    return value


def parse_time(raw: Any, where: str, now: datetime) -> datetime:
    """Epoch seconds or milliseconds, ISO 8601 (UTC when no offset), or ``yyyy-MM-dd HH:mm:ss`` (UTC)."""
    if raw is None or raw == "":
        return now  # Traccar takes the server's time when the device sends none
    text = str(raw).strip()
    try:
        number = float(text)
    except ValueError:
        number = None
    try:
        if number is not None:
            if not math.isfinite(number):
                raise ValueError
            return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, UTC)
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise BadRequest(
            f"{where}: {text!r} is not a time (epoch seconds or milliseconds, or ISO 8601)",
            where=where,
            message_ko=f"{where}: {text!r}은(는) 시각 형식이 아닙니다",
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def osmand(params: Mapping[str, Any], now: datetime) -> OsmAndMessage:
    """One fix from OsmAnd query/form parameters (a ``valid=false`` fix is dropped, not stored)."""
    key = str(params.get("id") or params.get("deviceid") or "")
    if not key:
        raise BadRequest(
            "id: missing (the device identifier: the key issued for this tracker)",
            where="id",
            message_ko="id: 단말기 식별자(발급된 키)가 없습니다",
        )
    lat, lon = params.get("lat"), params.get("lon")
    if (lat is None or lon is None) and params.get("location"):
        parts = str(params["location"]).split(",")
        if len(parts) != 2:
            raise BadRequest("location: expected 'latitude,longitude'", where="location")
        lat, lon = parts
    coords = {"lat": lat, "lon": lon}
    fix = Fix(
        at=parse_time(params.get("timestamp"), "timestamp", now),
        lat=_number(coords, "lat", -90, 90, required=True) or 0.0,
        lon=_number(coords, "lon", -180, 180, required=True) or 0.0,
        accuracy_m=_number(params, "accuracy", 0, 1e6),
        speed_ms=_scaled(_number(params, "speed", 0, 1e4), KNOT_MS),
        bearing=_number(params, "bearing", 0, 360)
        if "bearing" in params
        else _number(params, "heading", 0, 360),
        altitude_m=_number(params, "altitude", -1e4, 1e5),
        battery=_number(params, "batt", 0, 100),
    )
    valid = str(params.get("valid", "true")).lower() not in ("false", "0")
    alarm = str(params["alarm"]).strip().lower() if params.get("alarm") else None
    return OsmAndMessage(key, [fix] if valid else [], alarm)


def traccar_json(body: Mapping[str, Any], now: datetime) -> OsmAndMessage:
    """Traccar Client 9's JSON body (one location or a list of them)."""
    key = str(body.get("device_id") or "")
    if not key:
        raise BadRequest("device_id: missing (the key issued for this tracker)", where="device_id")
    raw = body.get("location")
    items = raw if isinstance(raw, list) else [raw]
    fixes: list[Fix] = []
    for i, loc in enumerate(items):
        where = "location" if not isinstance(raw, list) else f"location/{i}"
        if not isinstance(loc, Mapping) or not isinstance(loc.get("coords"), Mapping):
            raise BadRequest(f"{where}/coords: missing", where=f"{where}/coords")
        c = loc["coords"]
        battery = loc.get("battery") if isinstance(loc.get("battery"), Mapping) else {}
        level = _number(battery, "level", -1, 1) if battery else None
        fixes.append(
            Fix(
                at=parse_time(loc.get("timestamp"), f"{where}/timestamp", now),
                lat=_number(c, "latitude", -90, 90, required=True) or 0.0,
                lon=_number(c, "longitude", -180, 180, required=True) or 0.0,
                accuracy_m=_positive(_number(c, "accuracy", -1, 1e6)),
                speed_ms=_positive(_number(c, "speed", -1, 1e4)),
                bearing=_positive(_number(c, "heading", -1, 360)),
                altitude_m=_number(c, "altitude", -1e4, 1e5),
                battery=None if level is None or level < 0 else round(level * 100, 1),
            )
        )
    return OsmAndMessage(key, fixes)


def owntracks(body: Any, now: datetime) -> list[Fix]:
    """The fixes of one OwnTracks message (or a list of them, as the app sends after being offline)."""
    items = body if isinstance(body, list) else [body]
    fixes: list[Fix] = []
    for i, m in enumerate(items):
        if not isinstance(m, Mapping):
            raise BadRequest(f"{i}: an OwnTracks message is a JSON object", where=str(i))
        if m.get("_type") != "location":
            continue  # lwt, transition, waypoint, status, card...: no fix, acknowledged
        if m.get("tst") is None:
            raise BadRequest("tst: missing (epoch seconds of the fix)", where="tst")
        fixes.append(
            Fix(
                at=parse_time(m.get("tst"), "tst", now),
                lat=_number(m, "lat", -90, 90, required=True) or 0.0,
                lon=_number(m, "lon", -180, 180, required=True) or 0.0,
                accuracy_m=_number(m, "acc", 0, 1e6),
                speed_ms=_scaled(_number(m, "vel", 0, 1e4), KMH_MS),
                bearing=_number(m, "cog", 0, 360),
                altitude_m=_number(m, "alt", -1e4, 1e5),
                battery=_number(m, "batt", 0, 100),
            )
        )
    return fixes


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else round(value * factor, 3)


def _positive(value: float | None) -> float | None:
    """The location SDK reports -1 for 'unknown'."""
    return None if value is None or value < 0 else value
