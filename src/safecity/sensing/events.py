# SPDX-License-Identifier: Apache-2.0
"""The sensing capability's events on the bus.

An ingest batch writes one outbox row that names the observations it created by id ranges, in the same
transaction as the observations; the bus turns it back into ``ObservationAccepted`` events by reading
those rows when (and only when) a subscriber wants them. Copying every value into the outbox would
cost the ingest path a second serialisation of every observation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection

from safecity.core.events import ObservationAccepted
from safecity.sensing import tables as t


def id_ranges(ids: Sequence[int]) -> list[list[int]]:
    """Sorted runs of consecutive ids as [first, last] pairs (a batch is usually one run)."""
    runs: list[list[int]] = []
    for i in sorted(ids):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return runs


def decode_observations(conn: Connection, payload: dict[str, Any]) -> list[ObservationAccepted]:
    o = t.observations
    ranges = payload.get("ranges") or []
    if not ranges:
        return []
    rows = conn.execute(
        select(
            o.c.id,
            o.c.datastream_id,
            o.c.multi_datastream_id,
            o.c.feature_of_interest_id,
            o.c.phenomenon_time,
            o.c.phenomenon_time_end,
            o.c.result_time,
            o.c.result_number,
            o.c.result_json,
            o.c.qc_flags,
        )
        .where(or_(*(and_(o.c.id >= a, o.c.id <= b) for a, b in ranges)))
        .order_by(o.c.id)
    ).all()
    return [
        ObservationAccepted(
            r.id,
            r.datastream_id,
            r.multi_datastream_id,
            r.feature_of_interest_id,
            r.phenomenon_time,
            r.phenomenon_time_end,
            r.result_time,
            r.result_number if r.result_number is not None else r.result_json,
            r.qc_flags,
        )
        for r in rows
    ]
