# SPDX-License-Identifier: Apache-2.0
"""An incident's lifecycle: detected → acknowledged → responding → recovering → closed, or dismissed.

Steps may be skipped forward (an operator who starts responding at once goes detected → responding)
but never taken back, except recovering → responding when the situation escalates again. ``dismissed``
(a false alarm) is possible from any open status and needs a reason, which counts against the rules that
fed the incident. ``closed`` and ``dismissed`` are terminal: a new situation is a new incident.
"""

from __future__ import annotations

from enum import StrEnum

from safecity.core.errors import BadRequest, Conflict


class Status(StrEnum):
    detected = "detected"
    acknowledged = "acknowledged"
    responding = "responding"
    recovering = "recovering"
    closed = "closed"
    dismissed = "dismissed"

    @property
    def name_ko(self) -> str:
        return _STATUS_KO[self]

    @property
    def name_en(self) -> str:
        return _STATUS_EN[self]


_STATUS_KO = {
    "detected": "감지",
    "acknowledged": "확인",
    "responding": "대응 중",
    "recovering": "복구 중",
    "closed": "종료",
    "dismissed": "오경보 처리",
}
_STATUS_EN = {
    "detected": "Detected",
    "acknowledged": "Acknowledged",
    "responding": "Responding",
    "recovering": "Recovering",
    "closed": "Closed",
    "dismissed": "Dismissed",
}

#: The forward order of the normal path.
_ORDER = {
    Status.detected: 0,
    Status.acknowledged: 1,
    Status.responding: 2,
    Status.recovering: 3,
    Status.closed: 4,
}
TERMINAL = frozenset({Status.closed, Status.dismissed})
OPEN = frozenset(Status) - TERMINAL


def parse_status(value: str, where: str = "status") -> Status:
    try:
        return Status(value)
    except ValueError:
        raise BadRequest(
            f"{where}: unknown status '{value}'; use one of {', '.join(s.value for s in Status)}",
            where=where,
            message_ko=f"{where}: 알 수 없는 상태 '{value}'",
        ) from None


def check_transition(current: Status, target: Status) -> None:
    """Raise Conflict (naming both statuses) unless ``current`` → ``target`` is a legal step."""
    if current in TERMINAL:
        raise Conflict(
            f"status: the incident is {current.value}, which is final; open a new incident instead "
            f"(from {current.value} to {target.value} is not allowed)",
            where="status",
            message_ko=f"status: {current.name_ko} 상태의 사건은 변경할 수 없습니다",
            details={"from": current.value, "to": target.value},
        )
    if target is Status.dismissed:
        return
    if current is Status.recovering and target is Status.responding:
        return  # the situation escalated again
    if _ORDER[target] <= _ORDER[current]:
        raise Conflict(
            f"status: from {current.value} to {target.value} is not allowed; an incident moves forward "
            "(detected → acknowledged → responding → recovering → closed), steps may be skipped",
            where="status",
            message_ko=f"status: {current.name_ko}에서 {target.name_ko}(으)로 되돌릴 수 없습니다",
            details={"from": current.value, "to": target.value},
        )
