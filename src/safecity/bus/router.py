# SPDX-License-Identifier: Apache-2.0
"""``/bus``: administrators see each subscriber's position and the dead letters, and replay them.

The bus sits below authentication in the layers, so the application hands in the guard (the admin
role) and the audit recorder; a replay is also announced on the bus (``bus.ReplayRequested``), which
the audit capability records whichever process took the request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response

from safecity.bus.port import Bus
from safecity.core.errors import MAX_ID

#: ``record(request, action, target, outcome, details=...)``: the audit capability's recorder.
Recorder = Callable[..., None]


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def bus_router(bus: Bus, guard: Sequence[Any], record: Recorder | None = None) -> APIRouter:
    router = APIRouter(tags=["ops"], dependencies=list(guard))

    @router.get(
        "/bus/subscribers",
        summary="Each bus subscriber's position, lag and retry state / 버스 구독자별 처리 위치와 재시도 상태",
    )
    def subscribers() -> Response:
        return _json(
            {
                "subscribers": [
                    {
                        "name": s.name,
                        "types": list(s.types),
                        "position": s.position,
                        "lag": s.lag,
                        "attempts": s.attempts,
                        "retryAt": s.retry_at.isoformat() if s.retry_at else None,
                        "lastError": s.last_error,
                    }
                    for s in bus.subscribers()
                ],
                "pending": bus.pending(),
            }
        )

    @router.get(
        "/bus/dead-letters",
        summary="Events a subscriber gave up on / 구독자가 처리하지 못한 이벤트",
    )
    def dead_letters(
        request: Request,
        subscriber: Annotated[str | None, Query(max_length=200, description="only this subscriber's")] = None,
        replayed: Annotated[bool, Query(description="also those already replayed")] = False,
    ) -> Response:
        letters = bus.dead_letters(subscriber, include_replayed=replayed)
        if record is not None:  # dead letters may carry what an event said about people: reads are audited
            record(
                request, "bus.dead_letters.read", "/bus/dead-letters", "200", details={"count": len(letters)}
            )
        return _json({"deadLetters": [d.to_json() for d in letters]})

    @router.post(
        "/bus/dead-letters/{dead_letter_id}/replay",
        summary="Deliver a dead letter to its subscriber again / 실패 이벤트 재전달",
    )
    def replay(request: Request, dead_letter_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
        principal = getattr(request.state, "principal", None)
        letter = bus.replay(dead_letter_id, principal.name if principal else "anonymous")
        return _json(letter.to_json())

    return router
