# SPDX-License-Identifier: Apache-2.0
"""Time parsing and the integer-microsecond representation used by the embedded store.

SensorThings times are ISO 8601 instants or intervals (``start/end``). Naive times are rejected rather
than guessed: a sensor that omits its offset would otherwise be off by nine hours in Seoul.
"""

from __future__ import annotations

from datetime import UTC, datetime

from safecity.core.errors import BadRequest

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_instant(text: object, where: str) -> datetime:
    """Parse an ISO 8601 instant with offset into an aware UTC datetime; BadRequest names ``where``."""
    if not isinstance(text, str):
        raise BadRequest(f"{where}: expected an ISO 8601 time string, got {type(text).__name__}", where=where)
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise BadRequest(
            f"{where}: '{text}' is not an ISO 8601 time (expected e.g. 2026-11-25T06:00:00+09:00)",
            where=where,
        ) from None
    if dt.tzinfo is None:
        raise BadRequest(
            f"{where}: '{text}' has no time zone; add Z or an offset such as +09:00", where=where
        )
    try:
        return dt.astimezone(UTC)
    except OverflowError:
        raise BadRequest(f"{where}: '{text}' is outside the years 1 to 9999 in UTC", where=where) from None


def parse_time_or_interval(text: object, where: str) -> tuple[datetime, datetime | None]:
    """Parse an instant or an ``start/end`` interval; returns (start, end or None)."""
    if isinstance(text, str) and "/" in text:
        a, b = text.split("/", 1)
        start, end = parse_instant(a, where), parse_instant(b, where)
        if end < start:
            raise BadRequest(f"{where}: interval end {b} is before its start {a}", where=where)
        return start, end
    return parse_instant(text, where), None


def to_micros(dt: datetime) -> int:
    """Aware datetime to integer microseconds since the Unix epoch (exact, no float rounding)."""
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(us: int) -> datetime:
    return datetime.fromtimestamp(us // 1_000_000, UTC).replace(microsecond=us % 1_000_000)


def iso(dt: datetime | None) -> str | None:
    """Render UTC as SensorThings does: ``2026-11-25T06:00:00Z`` (milliseconds only when present)."""
    if dt is None:
        return None
    dt = dt.astimezone(UTC)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_interval(start: datetime | None, end: datetime | None) -> str | None:
    if start is None:
        return None
    if end is None or end == start:
        return iso(start)
    return f"{iso(start)}/{iso(end)}"
