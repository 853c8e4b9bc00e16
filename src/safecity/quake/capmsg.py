# SPDX-License-Identifier: Apache-2.0
"""The earthquake in a CAP message: magnitude, epicentre, depth and origin time.

The message is read with the warning capability's safe CAP 1.2 reader (no entities, no DTD, no network;
:func:`safecity.warning.cap.from_xml`). No KMA CAP earthquake message was available to copy (see
``../shared/data/cap/PROVENANCE.md``), so the fields are looked for where the known producers put them,
most specific first:

1. ``<parameter>`` pairs, names compared without case, spaces or underscores: magnitude ``Magnitude``,
   ``MAG``, ``mt``, ``규모``; depth ``Depth``, ``dep``, ``깊이``, ``진원깊이`` (a number, optional ``km``);
   latitude ``Latitude``, ``lat``, ``위도``; longitude ``Longitude``, ``lon``, ``경도``; origin time
   ``EventTime``, ``OriginTime``, ``tmEqk``, ``발생시각`` (``mt``, ``dep``, ``lat``, ``lon``, ``tmEqk``
   are the field names of KMA's earthquake-information open API; ``Magnitude``, ``Depth``, ``EventTime``
   those of USGS's CAP feed);
2. the epicentre from the first ``<area><circle>`` centre (USGS puts it there);
3. KMA's text: ``규모 5.8`` / ``M5.8`` and ``위도 35.76 N, 경도 129.19 E`` (or ``35.76N 129.19E``) in the
   headline or description (the wording of KMA's 지진정보 messages as the author knows them: UNCONFIRMED).

A message that is not about an earthquake, or lacks the magnitude or the epicentre, is refused with an
error naming what is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from safecity.core.errors import BadRequest
from safecity.quake.gmm import Mechanism
from safecity.quake.shakemap import Rupture
from safecity.warning.cap import Alert, Info, from_xml, parse_cap_datetime

#: Depth assumed when the message gives none, km (judgement: Korean earthquakes are shallow crustal,
#: mostly 5-20 km deep; the 2016 Gyeongju and 2017 Pohang main shocks were about 11-15 and 4-7 km).
DEFAULT_DEPTH_KM = 10.0

_NAMES = {
    "magnitude": {"magnitude", "mag", "mt", "규모", "ml", "mw"},
    "depth": {"depth", "dep", "깊이", "진원깊이"},
    "lat": {"latitude", "lat", "위도"},
    "lon": {"longitude", "lon", "경도"},
    "time": {"eventtime", "origintime", "tmeqk", "발생시각", "발생시간"},
}
_EARTHQUAKE_WORDS = ("earthquake", "지진", "eqw")
_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"


class CapQuakeError(BadRequest):
    """The CAP message is not an earthquake message we can read; the message says what is missing."""

    code = "quake_cap_unreadable"


@dataclass(frozen=True)
class QuakeMessage:
    """An earthquake as a message reports it."""

    identifier: str
    sender: str
    rupture: Rupture
    origin_time: datetime | None
    depth_given: bool


def _key(name: str) -> str:
    return name.strip().lower().replace(" ", "").replace("_", "")


def _number(text: str) -> float | None:
    m = re.search(r"-?" + _NUMBER, text.replace(",", "."))
    return float(m.group(0)) if m else None


def _is_earthquake(info: Info) -> bool:
    texts = [info.event, *(c.value for c in info.event_codes), info.headline or ""]
    return any(w in t.lower() for t in texts for w in _EARTHQUAKE_WORDS)


def _from_text(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    m = re.search(r"(?:규모|magnitude|\bM)\s*" + _NUMBER, text, flags=re.IGNORECASE)
    if m:
        out["magnitude"] = float(m.group(1))
    m = re.search(r"위도\s*" + _NUMBER + r"\s*°?\s*([NS])?", text)
    n = re.search(r"경도\s*" + _NUMBER + r"\s*°?\s*([EW])?", text)
    if m and n:
        out["lat"] = float(m.group(1)) * (-1 if m.group(2) == "S" else 1)
        out["lon"] = float(n.group(1)) * (-1 if n.group(2) == "W" else 1)
    else:
        m = re.search(_NUMBER + r"\s*°?\s*([NS])[\s,/]+" + _NUMBER + r"\s*°?\s*([EW])", text)
        if m:
            out["lat"] = float(m.group(1)) * (-1 if m.group(2) == "S" else 1)
            out["lon"] = float(m.group(3)) * (-1 if m.group(4) == "W" else 1)
    m = re.search(r"(?:깊이|depth)\s*" + _NUMBER + r"\s*km", text, flags=re.IGNORECASE)
    if m:
        out["depth"] = float(m.group(1))
    return out


def quake_from_alert(alert: Alert) -> QuakeMessage:
    """The earthquake of a parsed CAP alert (module doc for where each field is looked for)."""
    info = next((i for i in alert.infos if _is_earthquake(i)), None)
    if info is None:
        raise CapQuakeError(
            f"alert {alert.identifier}: no <info> is about an earthquake (event, eventCode or headline "
            "with 'earthquake'/'지진'/EQW)",
            where="/alert/info/event",
            message_ko=f"경보 {alert.identifier}: 지진에 관한 <info>가 없습니다",
        )
    found: dict[str, float] = {}
    origin: datetime | None = None
    for p in info.parameters:
        k = _key(p.value_name)
        for field, names in _NAMES.items():
            if k in names and field not in found:
                if field == "time":
                    try:
                        origin = origin or parse_cap_datetime(p.value.strip())
                    except ValueError:
                        origin = origin or _kma_time(p.value)
                else:
                    v = _number(p.value)
                    if v is not None:
                        found[field] = v
    if "lat" not in found or "lon" not in found:
        for area in info.areas:
            circles = area.circle_values()
            if circles:
                found.setdefault("lat", circles[0].lat)
                found.setdefault("lon", circles[0].lon)
                break
    text_found = _from_text(" ".join(t for t in (info.headline, info.description) if t))
    for k, v in text_found.items():
        found.setdefault(k, v)
    missing = [name for name in ("magnitude", "lat", "lon") if name not in found]
    if missing:
        raise CapQuakeError(
            f"alert {alert.identifier}: the earthquake's {', '.join(missing)} is not in the message (looked in "
            "<parameter> Magnitude/규모, Latitude/위도, Longitude/경도, the <area><circle> centre and the text)",
            where="/alert/info/parameter",
            message_ko=f"경보 {alert.identifier}: 지진의 {', '.join(missing)} 값을 메시지에서 찾을 수 없습니다",
        )
    try:
        rupture = Rupture(
            found["magnitude"],
            found["lon"],
            found["lat"],
            found.get("depth", DEFAULT_DEPTH_KM),
            Mechanism.UNSPECIFIED,
        )
    except ValueError as e:
        raise CapQuakeError(f"alert {alert.identifier}: {e}", where="/alert/info/parameter") from None
    return QuakeMessage(alert.identifier, alert.sender, rupture, origin, "depth" in found)


def _kma_time(text: str) -> datetime | None:
    """KMA API times are ``YYYYMMDDHHMMSS`` in KST."""
    digits = re.sub(r"\D", "", text)
    if len(digits) < 12:
        return None
    kst = timezone(timedelta(hours=9))
    return datetime.strptime(digits[:14].ljust(14, "0"), "%Y%m%d%H%M%S").replace(tzinfo=kst)


def quake_from_cap(data: bytes) -> QuakeMessage:
    """Read a CAP 1.2 document (untrusted bytes) and return its earthquake. Raises the CAP reader's
    errors for bad XML and :class:`CapQuakeError` when the earthquake cannot be read."""
    return quake_from_alert(from_xml(data))
