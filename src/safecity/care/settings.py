# SPDX-License-Identifier: Apache-2.0
"""The care capability's settings (``SAFECITY_CARE__<FIELD>`` or ``[care]`` in SAFECITY_CONFIG)."""

from __future__ import annotations

from pydantic import BaseModel, Field

#: 위치정보법 §16②: the records of collection, use and provision are kept; the Enforcement Decree asks
#: for at least six months (see data/law.toml, LIA-16). A setting cannot go below it.
ACCESS_RETENTION_MIN_DAYS = 183


class CareSettings(BaseModel):
    position_retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Positions older than this are purged (a city's choice: 30 days covers a month of "
        "usual places for wandering detection; the law asks to destroy data once its purpose is met).",
    )
    access_retention_days: int = Field(
        ACCESS_RETENTION_MIN_DAYS,
        ge=ACCESS_RETENTION_MIN_DAYS,
        description="How long the access records (위치정보법 §16②) are kept: at least six months.",
    )
    operator_reason_min_chars: int = Field(
        4, ge=1, description="An operator reading a person's positions states a reason at least this long."
    )
    max_future_s: float = Field(
        300.0, ge=0, description="A fix stamped further than this in the future is refused (clock skew)."
    )
    mqtt_url: str | None = Field(
        None,
        description="Broker carrying OwnTracks' owntracks/<user>/<device> topics, e.g. "
        "mqtt://127.0.0.1:1883. Empty: the platform's SAFECITY_MQTT_URL; both empty: OwnTracks over "
        "MQTT is off (HTTP still works).",
    )
    mqtt_topic: str = Field("owntracks/+/+", description="The OwnTracks location topic filter.")
    fence_tick_s: float = Field(
        5.0, gt=0, description="How often fences check delays, dwell and schedules without a new fix."
    )
    housekeeping_interval_s: float = Field(
        60.0, gt=0, description="How often retention purges and batched notices run."
    )
