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
        "mqtt://127.0.0.1:1883. Empty: the platform's SAFECITY_MQTT__URL; both empty: OwnTracks over "
        "MQTT is off (HTTP still works).",
    )
    mqtt_topic: str = Field("owntracks/+/+", description="The OwnTracks location topic filter.")
    osmand_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="A port of its own for OsmAnd/Traccar Client, whose server URL defaults to port 5055: "
        "GET/POST / there is /tracking/osmand, and nothing else is served on it (open it to devices "
        "without exposing the API). Empty: only /tracking/osmand on the platform's port.",
    )
    fence_tick_s: float = Field(
        5.0, gt=0, description="How often fences check delays, dwell and schedules without a new fix."
    )
    housekeeping_interval_s: float = Field(
        60.0, gt=0, description="How often retention purges and batched notices run."
    )

    # -- safe return home (safecity.care.trips). Our choices, not official figures: each says why.
    trip_deviation_m: float = Field(
        60.0,
        gt=0,
        description="A fix farther than this from the expected walking route is off it (a phone's fix "
        "between tall buildings is often 20-40 m off; a parallel street is about 80-100 m away).",
    )
    trip_deviation_fixes: int = Field(
        3, ge=1, description="This many off-route fixes in a row raise 'deviation' (one is GPS noise)."
    )
    trip_stop_radius_m: float = Field(
        30.0, gt=0, description="Fixes within this of one point count as standing still."
    )
    trip_stop_s: float = Field(
        300.0, gt=0, description="Standing still this long before the destination raises 'stopped'."
    )
    trip_arrive_m: float = Field(
        40.0, gt=0, description="A fix this close to the destination ends the trip as arrived."
    )
    trip_late_factor: float = Field(
        1.5, ge=1, description="Due time: the route's walking time times this, plus the margin."
    )
    trip_late_margin_s: float = Field(600.0, ge=0, description="Added to the due time (a stop at a shop).")
    trip_signal_lost_s: float = Field(
        180.0,
        gt=0,
        description="No fix for this long during a trip raises 'signal_lost' (trackers report every "
        "10-60 s while moving).",
    )
    trip_escalate_after_s: float = Field(
        300.0,
        gt=0,
        description="An alert no guardian acknowledged in this time goes to the operators (an incident).",
    )
    trip_tick_s: float = Field(5.0, gt=0, description="How often trips check due times and lost signals.")
