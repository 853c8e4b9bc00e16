# SPDX-License-Identifier: Apache-2.0
"""Which districts a rule engine takes (issue 15): several processes of the role ``rules`` split the city.

Observations are published under their Thing's district (``district:<code>``, or ``observations`` for a
sensor outside every district). A partitioned engine plans only the streams of its districts and its
bus subscriber takes only their keys, so each condition is evaluated by exactly one engine. The share of
a district is ``crc32(code) mod n`` (stable whatever districts are loaded, and the same in every
process); share 1 also takes the sensors outside every district. ``SAFECITY_SITUATION__DISTRICTS``
names the districts instead (``none``: the sensors outside every district).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from safecity.geo import areas
from safecity.sensing.events import OBSERVATIONS_KEY
from safecity.settings.nested import SituationSettings

#: In ``SAFECITY_SITUATION__DISTRICTS``: the sensors outside every district.
OUTSIDE = "none"


@dataclass(frozen=True)
class Partition:
    share: int = 1  # 1-based
    shares: int = 1
    districts: frozenset[str] | None = None  # named districts instead of a share
    #: the end of this engine's subscriber names and of its leadership (''; '.p1of2')
    tag: str = ""

    @classmethod
    def of(cls, settings: SituationSettings) -> Partition:
        tag = settings.partition_tag
        if settings.districts:
            return cls(districts=frozenset(settings.districts), tag=tag)
        if settings.partition:
            i, n = (int(x) for x in settings.partition.split("/"))
            return cls(i, n, tag=tag)
        return cls()

    @property
    def whole(self) -> bool:
        """One engine for the whole city."""
        return self.districts is None and self.shares == 1

    def owns(self, district: str | None) -> bool:
        """Whether streams in this district (None: outside every district) are this engine's."""
        if self.districts is not None:
            return (district or OUTSIDE) in self.districts
        if self.shares == 1:
            return True
        if district is None:
            return self.share == 1
        return zlib.crc32(district.encode()) % self.shares + 1 == self.share

    def keys(self, conn: Connection) -> list[str] | None:
        """The ordering keys of this engine's observation events (None: every key)."""
        if self.whole:
            return None
        if self.districts is not None:
            codes = sorted(d for d in self.districts if d != OUTSIDE)
        else:
            codes = [a.code for a in areas.areas_of(conn, "district") if self.owns(a.code)]
        out = [f"district:{c}" for c in codes]
        if self.owns(None):
            out.append(OBSERVATIONS_KEY)
        return out

    def key_of(self, district: str | None) -> str:
        """The ordering key of a stream's observations (its district's)."""
        return f"district:{district}" if district else OBSERVATIONS_KEY
