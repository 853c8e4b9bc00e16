# SPDX-License-Identifier: Apache-2.0
"""Table of who receives alerts: people, systems and anonymous citizens, with where and how.

A person's subscription holds personal data (a home or work location, an e-mail address): only admins and
the subscriber read it (see :mod:`safecity.warning.subscriptions`).
"""

from sqlalchemy import Boolean, Column, Float, Index, String, Table, text

from safecity.store.metadata import metadata
from safecity.store.types import Geometry, IdType, JSONDoc, Timestamp

subscriptions = Table(
    "warning_subscriptions",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("kind", String, nullable=False),  # person | system | anonymous
    Column("name", String),  # a person's or system's name; null for anonymous subscriptions
    Column("language", String, nullable=False),  # BCP 47 tag, e.g. "ko", "en", "zh-CN"
    Column(
        "audience", String, nullable=False
    ),  # general | elderly | children_parents | disability | foreigner
    # [{"channel": "email"|"webhook"|"sms"|"sse"|"mastodon", "address": ..., "secret": ...}]
    Column("channels", JSONDoc, nullable=False),
    # The areas as given: [{"kind": "district", "code"}, {"kind": "point", "lon", "lat", "radius_m"}, ...]
    Column("areas", JSONDoc, nullable=False),
    # The union of the areas in WGS84 (points as points, points with a radius as circles), for matching.
    Column("geom", Geometry),
    # The first point of a point subscription (home), for the in-memory target index.
    Column("lon", Float),
    Column("lat", Float),
    # MOIS district codes the areas touch (computed when written), for per-district counts.
    Column("districts", JSONDoc),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("token_hash", String, unique=True),  # sha256 hex of the self-service token (anonymous)
    Column("created_by", String),  # the operator who registered a person or system subscription
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Index("ix_warning_subscriptions_active_kind", "active", "kind"),
)
