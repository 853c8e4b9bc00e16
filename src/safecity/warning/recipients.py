# SPDX-License-Identifier: Apache-2.0
"""Who receives an alert: the subscribers whose places lie in the alert's area (its polygons and
circles) or who subscribed to one of its districts, one :class:`Recipient` per channel they chose."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import shapely
from shapely import affinity
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select

from safecity.store import Store
from safecity.warning import subscription_tables as st
from safecity.warning.cap.model import Alert, parse_circle, polygon_points
from safecity.warning.message import Recipient
from safecity.warning.targeting import TargetIndex


def alert_area(alert: Alert) -> BaseGeometry | None:
    """The union of an alert's polygons and circles (WGS84 lon/lat), or None when it has only codes."""
    shapes: list[BaseGeometry] = []
    for info in alert.infos:
        for area in info.areas:
            for text in area.polygons:
                shapes.append(shapely.Polygon([(lon, lat) for lat, lon in polygon_points(text)]))
            for text in area.circles:
                c = parse_circle(text)
                # a circle in kilometres on the ground: an ellipse in degrees at this latitude
                disk = shapely.Point(c.lon, c.lat).buffer(c.radius_km / 111.32, quad_segs=32)
                shapes.append(affinity.scale(disk, xfact=1 / math.cos(math.radians(c.lat)), yfact=1.0))
        if shapes:
            break  # every info block describes the same area; the first with shapes is enough
    if not shapes:
        return None
    return shapely.union_all([s.buffer(0) if not s.is_valid else s for s in shapes])


class RecipientFinder:
    """Targets an alert against the subscriptions in the store. The index is rebuilt when the
    subscriptions changed since the last alert (cheap next to an alert's deliveries)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._index: TargetIndex | None = None
        self._version: tuple[int, object] | None = None
        self._lock = threading.Lock()

    def _current(self) -> TargetIndex:
        from sqlalchemy import func

        s = st.subscriptions
        with self.store.engine.connect() as conn:
            version = tuple(conn.execute(select(func.count(), func.max(s.c.updated_at))).one())
            with self._lock:
                if self._index is None or version != self._version:
                    self._index = TargetIndex.from_store(conn)
                    self._version = (int(version[0]), version[1])
                return self._index

    def __call__(self, alert: Alert, district_codes: Sequence[str]) -> list[Recipient]:
        ids = self._current().recipients(alert_area(alert), district_codes)
        if len(ids) == 0:
            return []
        s = st.subscriptions
        out: list[Recipient] = []
        with self.store.engine.connect() as conn:
            chunk = 10_000
            id_list = [int(i) for i in ids]
            for k in range(0, len(id_list), chunk):
                rows = conn.execute(
                    select(s.c.id, s.c.language, s.c.audience, s.c.channels).where(
                        s.c.id.in_(id_list[k : k + chunk]), s.c.active.is_(True)
                    )
                ).all()
                for r in rows:
                    for ch in r.channels or []:
                        if ch.get("channel") in ("sse", "mastodon"):
                            continue  # broadcast channels reach everyone once, not per subscriber
                        out.append(
                            Recipient(
                                subscription_id=int(r.id),
                                channel=str(ch["channel"]),
                                address=str(ch.get("address") or ""),
                                language=str(r.language or "ko").split("-")[0],
                                audience=str(r.audience or "general"),
                                secret=ch.get("secret"),
                            )
                        )
        return out
