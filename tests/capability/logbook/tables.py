# SPDX-License-Identifier: Apache-2.0
from __future__ import annotations

import sqlalchemy as sa

from safecity.store.metadata import metadata
from safecity.store.types import Timestamp

entries = sa.Table(
    "logbook_entries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("shift", sa.String(40), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("author", sa.String(120), nullable=False),
    sa.Column("incident_id", sa.Integer, nullable=True, unique=True),  # one entry per incident opened
    sa.Column("at", Timestamp, nullable=False),
)
