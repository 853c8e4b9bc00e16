# SPDX-License-Identifier: Apache-2.0
"""``/subscriptions``: who receives alerts.

* ``POST /subscriptions`` — anyone may create an ``anonymous`` subscription (one point, sse/webhook: the
  citizen web page); ``person`` and ``system`` subscriptions are registered by operators. The answer
  carries the self-service ``token`` once.
* ``GET / PATCH / DELETE /subscriptions/{id}`` — the subscriber with ``X-Subscription-Token``, or an
  admin (every admin access to a person's or anonymous subscription is written to the audit log);
  operators may also manage ``system`` subscriptions, which hold no personal data.
* ``GET /subscriptions/stats`` — operators: counts by district, channel, language; no locations.

The token routes are declared ``allow(Role.public)`` and check the token or the caller's role in the
handler, because who may pass depends on the subscription's kind.

When the application state has a ``warning_targets`` :class:`~safecity.warning.targeting.TargetIndex`,
each change is applied to it at once, so the next alert reaches the new subscriber.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Request, Response
from sqlalchemy.engine import Connection

from safecity.audit.record import record
from safecity.auth.deps import allow, resolve_principal
from safecity.auth.model import Principal, Role
from safecity.capability import ClockDep, StoreDep, provider
from safecity.core.errors import MAX_ID, Forbidden, NotFound, Unauthorized
from safecity.core.logging import get_logger
from safecity.warning import subscriptions as subs
from safecity.warning.delivery import Delivery
from safecity.warning.subscriptions import Subscription, SubscriptionIn, SubscriptionKind, SubscriptionPatch
from safecity.warning.targeting import TargetIndex, target_of

router = APIRouter(tags=["warning"])
log = get_logger(__name__)

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Token = Annotated[str | None, Header(alias="X-Subscription-Token", max_length=200)]
OPERATORS = frozenset({Role.operator})


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _refresh(request: Request, sub: Subscription | None, removed: int | None = None) -> None:
    index: TargetIndex | None = getattr(request.app.state, "warning_targets", None)
    if index is None:
        return
    if removed is not None:
        index.remove(removed)
    if sub is not None:
        index.remove(sub.id)
        if sub.active:
            index.add(target_of(sub))


def _no_such(subscription_id: int) -> NotFound:
    """One answer for a missing subscription and a wrong token: a 403 for the one and a 404 for the
    other told a stranger which ids exist (issue 13)."""
    return NotFound(
        f"no subscription {subscription_id} with this X-Subscription-Token",
        where="X-Subscription-Token",
        message_ko=f"이 X-Subscription-Token에 해당하는 구독 {subscription_id}이(가) 없습니다",
    )


def _find(conn: Connection, subscription_id: int, token: str | None) -> Subscription:
    try:
        return subs.get_subscription(conn, subscription_id)
    except NotFound:
        if token is not None:
            raise _no_such(subscription_id) from None
        raise


def _authorise(request: Request, sub: Subscription, token: str | None, action: str) -> str:
    """The actor allowed to ``action`` the subscription, or raises 401/403."""
    if token is not None:
        if sub.token_matches(token):
            return "subscriber"
        raise _no_such(sub.id)
    principal: Principal = resolve_principal(request)
    if Role.admin in principal.roles:
        if sub.personal:
            # Audit: an admin looked at or changed someone's location or contact details. A change is
            # already a write the audit middleware records (it adds these details); recording it here
            # would wait on the write lock this handler's transaction holds.
            log.info(
                "subscription accessed",
                audit=True,
                actor=principal.name,
                action=action,
                subscription_id=sub.id,
                kind=sub.kind.value,
            )
            personal = {"personal": f"subscription:{sub.id}", "kind": sub.kind.value}
            if action == "read":
                record(
                    request,
                    "personal.read",
                    f"subscription:{sub.id}",
                    "allowed",
                    actor=principal,
                    details=personal,
                )
            else:
                request.state.audit_details = personal
        return principal.name
    if sub.kind is SubscriptionKind.system and principal.has_any(OPERATORS):
        return principal.name
    if not principal.authenticated:
        raise Unauthorized(
            "this needs the subscription's X-Subscription-Token, or an admin's credentials",
            details={"allowed_roles": ["admin"]},
        )
    raise Forbidden(
        f"{principal.name} may not {action} this subscription: it holds personal data "
        "(only an admin or the subscriber with its token)",
        details={"allowed_roles": ["admin"]},
    )


@router.get(
    "/subscriptions/push-key",
    dependencies=[allow(Role.public)],
    summary="The VAPID public key a browser subscribes to Web Push with (404 when Web Push is off)",
)
def push_key(delivery: Annotated[Delivery, Depends(provider(Delivery))]) -> Response:
    # the Web Push channel (warning.channels.webpush, imported only when enabled) carries the key
    key: str | None = getattr(delivery.channels.get("webpush"), "public_key", None)
    if key is None:
        raise NotFound(
            "Web Push is not enabled on this platform (SAFECITY_WARNING__WEBPUSH__ENABLED)",
            message_ko="이 플랫폼은 웹 푸시를 쓰지 않습니다 (SAFECITY_WARNING__WEBPUSH__ENABLED)",
        )
    return _json({"publicKey": key})


@router.get(
    "/subscriptions/stats",
    dependencies=[allow(Role.operator)],
    summary="Subscription counts by kind, district, channel, language and audience (no locations)",
)
def stats(store: StoreDep) -> Response:
    with store.engine.connect() as conn:
        return _json(subs.subscription_stats(conn))


@router.post(
    "/subscriptions",
    dependencies=[allow(Role.public)],
    status_code=201,
    summary="Subscribe to alerts (anonymous: anyone, one point; person and system: operators)",
)
def create(request: Request, store: StoreDep, clock: ClockDep, body: SubscriptionIn) -> Response:
    principal = resolve_principal(request)
    if body.kind is not SubscriptionKind.anonymous and not principal.has_any(OPERATORS):
        if not principal.authenticated:
            raise Unauthorized(
                f"kind: {body.kind.value} subscriptions are registered by an operator; "
                "citizens subscribe with kind anonymous",
                where="kind",
                details={"allowed_roles": ["operator"]},
            )
        raise Forbidden(
            f"kind: {principal.name} may not register {body.kind.value} subscriptions", where="kind"
        )
    created_by = principal.name if principal.authenticated else None
    with store.write() as conn:
        sub, token = subs.create_subscription(conn, body, clock.now(), created_by)
    _refresh(request, sub)
    return _json({**sub.to_dict(), "token": token}, 201)


@router.get(
    "/subscriptions/{subscription_id}",
    dependencies=[allow(Role.public)],
    summary="One subscription (the subscriber with X-Subscription-Token, or an admin)",
)
def read(request: Request, store: StoreDep, subscription_id: Id, token: Token = None) -> Response:
    _gate(request, token)
    with store.engine.connect() as conn:
        sub = _find(conn, subscription_id, token)
    _authorise(request, sub, token, "read")
    return _json(sub.to_dict())


@router.patch(
    "/subscriptions/{subscription_id}",
    dependencies=[allow(Role.public)],
    summary="Change a subscription (the subscriber with X-Subscription-Token, or an admin)",
)
def patch(
    request: Request,
    store: StoreDep,
    clock: ClockDep,
    subscription_id: Id,
    body: SubscriptionPatch,
    token: Token = None,
) -> Response:
    _gate(request, token)
    with store.write() as conn:
        _authorise(request, _find(conn, subscription_id, token), token, "update")
        sub = subs.update_subscription(conn, subscription_id, body, clock.now())
    _refresh(request, sub)
    return _json(sub.to_dict())


@router.delete(
    "/subscriptions/{subscription_id}",
    dependencies=[allow(Role.public)],
    status_code=204,
    summary="Unsubscribe (the subscriber with X-Subscription-Token, or an admin)",
)
def remove(request: Request, store: StoreDep, subscription_id: Id, token: Token = None) -> Response:
    _gate(request, token)
    with store.write() as conn:
        _authorise(request, _find(conn, subscription_id, token), token, "delete")
        subs.delete_subscription(conn, subscription_id)
    _refresh(request, None, removed=subscription_id)
    return Response(status_code=204)


def _gate(request: Request, token: str | None) -> None:
    # Without a token or credentials, refuse before looking the id up: a stranger learns nothing.
    if token is None and not resolve_principal(request).authenticated:
        raise Unauthorized(
            "this needs the subscription's X-Subscription-Token, or an admin's credentials",
            details={"allowed_roles": ["admin"]},
        )
