# SPDX-License-Identifier: Apache-2.0
"""The flood capability's settings: ``SAFECITY_FLOOD__<FIELD>`` or ``[flood]`` in ``SAFECITY_CONFIG``."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FloodSettings(BaseModel):
    forecast_interval_min: float = Field(
        5.0,
        gt=0,
        le=60,
        description="Minutes between forecast runs on the platform clock (SAFECITY_FLOOD__FORECAST_INTERVAL_MIN);"
        " 5, a radar nowcast's usual cycle.",
    )
    horizon_min: float = Field(
        60.0,
        ge=10,
        le=180,
        description="How far ahead a forecast runs, minutes (SAFECITY_FLOOD__HORIZON_MIN): the issue asks 10-60;"
        " extrapolated rain loses its skill beyond about an hour.",
    )
    cell_m: float = Field(
        100.0,
        ge=2,
        le=1000,
        description="Cell size of the forecast grid, metres (SAFECITY_FLOOD__CELL_M): 100 m keeps a city-wide"
        " run of an hour to seconds on two cores.",
    )
    poll_s: float = Field(
        10.0, gt=0, description="Wall-clock seconds between the worker's checks whether a run is due."
    )
    keep_runs: int = Field(
        24,
        ge=1,
        description="Forecast runs kept in the store (their places and depth areas); older ones are pruned.",
    )
    close_roads: bool = Field(
        True,
        description="Close underpasses and roads in evacuation routing when a forecast predicts 15 cm"
        " (SAFECITY_FLOOD__CLOSE_ROADS).",
    )
    target_warnings: bool = Field(
        True,
        description="Each forecast run drafts one warning aimed at the underpasses predicted to reach 15 cm and"
        " the semi-basement homes predicted at risk (circles around them, one CAP area per district; issued"
        " without an operator only where the warning policy makes 주의 heavy-rain alerts automatic), and"
        " cancels it when nothing is at risk (SAFECITY_FLOOD__TARGET_WARNINGS).",
    )
    catchment_districts: list[str] = Field(
        default_factory=list,
        description="5-digit district codes (SAFECITY_FLOOD__CATCHMENT_DISTRICTS='[\"11650\"]'): forecast from"
        " start-up on the catchment built from the imported DEM, roads, underpasses and semi-basement homes"
        " over these districts (safecity.flood.deploy); empty: no forecasts until the demo gives its city.",
    )
