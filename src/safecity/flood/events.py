# SPDX-License-Identifier: Apache-2.0
"""The flood capability's events.

``flood.ForecastIssued`` (:class:`ForecastIssued`): a forecast run finished. It carries what others act
on, self-contained: the underpasses and roads predicted to reach closure depth (15 cm) within the horizon,
with when and the evacuation road closure opened for each (dispatch and routing use these), and the
semi-basement buildings at risk, per district. Subscribers never read the flood tables.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from safecity.core.events import Event

FORECAST_ISSUED = "flood.ForecastIssued"


class PredictedClosure(BaseModel):
    """A road or underpass predicted to reach closure depth."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    code: str
    kind: str  # underpass | road
    name_ko: str = Field(alias="nameKo")
    name_en: str = Field(alias="nameEn")
    district: str | None = None
    lon: float
    lat: float
    crosses_at: datetime = Field(alias="crossesAt")
    depth_max_m: float = Field(alias="depthMaxM")
    closure_id: int | None = Field(default=None, alias="closureId")  # evacuation road closure, if opened


class DistrictRisk(BaseModel):
    """Semi-basement buildings at risk in one district (counts of buildings and of homes)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    district: str
    buildings_high: int = Field(alias="buildingsHigh")
    homes_high: int = Field(alias="homesHigh")
    buildings_watch: int = Field(alias="buildingsWatch")


class ForecastIssued(Event):
    type = FORECAST_ISSUED
    version = 1

    run_id: int = Field(alias="runId")
    issued_at: datetime = Field(alias="issuedAt")
    valid_until: datetime = Field(alias="validUntil")
    rain_max_mm_h: float = Field(alias="rainMaxMmH")
    motion: str
    closures: list[PredictedClosure]
    semi_basements: list[DistrictRisk] = Field(alias="semiBasements")

    def ordering_key(self) -> str:
        return "forecast"
