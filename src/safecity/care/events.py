# SPDX-License-Identifier: Apache-2.0
"""Events the care capability publishes. Payloads never carry a position of a person who has not
consented, and never a diagnosis; they name the person by id."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import Field

from safecity.core.events import Event, IncidentReport

SEOUL = ZoneInfo("Asia/Seoul")


class ConsentWithdrawn(Event):
    """A consent was withdrawn; for ``location``, the person's positions and access records are gone."""

    type = "care.ConsentWithdrawn"
    person_id: int = Field(alias="personId")
    purpose: str
    positions_destroyed: int = Field(alias="positionsDestroyed")

    def ordering_key(self) -> str:
        return f"person:{self.person_id}"


class ProvisionNotified(Event):
    """A notice of provision (위치정보법 §19) went to the person or their 보호의무자."""

    type = "care.ProvisionNotified"
    person_id: int = Field(alias="personId")
    notice_id: int = Field(alias="noticeId")
    addressed_to: str = Field(alias="addressedTo")
    provisions: int

    def ordering_key(self) -> str:
        return f"person:{self.person_id}"


class FenceAlert(Event):
    """A fence decided something about a person: enter, exit, dwell, crossed, or a schedule violation
    (should be inside/outside). Carries the fix's position: its subscribers are the person's
    guardians and the operators, who are entitled to it."""

    type = "care.FenceAlert"
    person_id: int = Field(alias="personId")
    fence_id: int = Field(alias="fenceId")
    fence: str
    kind: str
    at: datetime
    lon: float | None = None
    lat: float | None = None

    def ordering_key(self) -> str:
        return f"person:{self.person_id}"


class WanderingSuspected(Event):
    """A person with dementia walks in a way their own history does not explain (loops, pacing, aimless
    in unfamiliar streets; safecity.care.wandering). Carries the last fix: for guardians and operators."""

    type = "care.WanderingSuspected"
    person_id: int = Field(alias="personId")
    at: datetime
    lon: float
    lat: float
    score: float
    loops: float

    def ordering_key(self) -> str:
        return f"person:{self.person_id}"

    def incident_report(self) -> IncidentReport:
        """The control room gets an incident at once (주의, level 2) besides the guardians' notice: a
        person with dementia found within the first hours is found alive far more often. Named by
        id only (no name, no diagnosis in the incident); the position is the last fix."""
        at = self.at.astimezone(SEOUL)
        return IncidentReport(
            ref=f"care:wandering:{self.person_id}:{self.at.isoformat()}",
            hazard="other",
            level=2,
            title_ko=f"배회 의심: 보호대상자 #{self.person_id} ({at:%H:%M})",
            title_en=f"Suspected wandering: protected person #{self.person_id} ({at:%H:%M})",
            lon=self.lon,
            lat=self.lat,
            note=f"care: 배회 감지 / wandering detection (score {self.score:.2f}); "
            f"보호자 페이지·/care/operator에서 확인 / see /care/operator",
        )


class TripAlert(Event):
    """Safe return home: a trip deviated from its route, stopped, is late, lost its signal, arrived,
    was escalated to the operators (``incidentId``: the incident opened), or the person pressed SOS
    (with or without a trip). Carries the last fix: for guardians and operators."""

    type = "care.TripAlert"
    person_id: int = Field(alias="personId")
    trip_id: int | None = Field(None, alias="tripId")
    kind: str
    at: datetime
    lon: float | None = None
    lat: float | None = None
    escalation: str = "guardian"  # guardian | operator
    incident_id: int | None = Field(None, alias="incidentId")

    def ordering_key(self) -> str:
        return f"person:{self.person_id}"


class CheckInsOpened(Event):
    """A heat-wave or cold-wave incident opened check-in tasks for elderly people living alone."""

    type = "care.CheckInsOpened"
    incident_id: int = Field(alias="incidentId")
    hazard: str
    tasks: int

    def ordering_key(self) -> str:
        return f"incident:{self.incident_id}"


class CheckInEscalated(Event):
    """A check-in went to the operators: the person needs help, nobody answered the calls, or nobody
    checked on them in time (``incidentId``: the incident opened, when one could be placed)."""

    type = "care.CheckInEscalated"
    person_id: int = Field(alias="personId")
    task_id: int = Field(alias="taskId")
    hazard: str
    reason: str  # need_help | no_answer | unanswered
    incident_id: int | None = Field(None, alias="incidentId")

    def ordering_key(self) -> str:
        return f"person:{self.person_id}"
