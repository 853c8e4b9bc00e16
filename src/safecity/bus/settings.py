# SPDX-License-Identifier: Apache-2.0
"""The bus's settings (``SAFECITY_BUS__<FIELD>``, or a ``[bus]`` table in the TOML file)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class BusSettings(BaseModel):
    max_attempts: int = Field(
        default=8,
        ge=1,
        description="Deliveries of one event to one subscriber before it goes to the dead letters. With "
        "the default backoff, 8 attempts span about 2 minutes: long enough to ride out a restarting "
        "dependency, short enough that one bad event does not hold a subscriber back for long.",
    )
    retry_base_s: float = Field(
        default=1.0, gt=0, description="Wait before the first retry; it doubles with every further failure."
    )
    retry_max_s: float = Field(default=300.0, gt=0, description="The longest wait between two retries.")
    retention_hours: float = Field(
        default=168.0,
        gt=0,
        description="Events delivered to every subscriber are pruned from the outbox this long after "
        "they were published (a week: time to investigate an incident's events before they go).",
    )
    prune_every_s: float = Field(
        default=600.0, gt=0, description="How often the dispatcher prunes the outbox."
    )
