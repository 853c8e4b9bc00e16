# SPDX-License-Identifier: Apache-2.0
"""``POST /auth/refresh``: the dashboard keeps an operator signed in through an event by exchanging its
token for a fresh one before it runs out; an expired token, a device or a deactivated user gets none."""

from __future__ import annotations

from datetime import timedelta

import jwt
from sqlalchemy import update

from safecity.auth.service import AuthService
from safecity.auth.tables import users
from tests.conftest import Api


def test_a_valid_token_is_exchanged_for_a_fresh_one_with_the_current_roles(api: Api) -> None:
    r = api.client.post("/auth/refresh", headers=api.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    fresh = {"Authorization": f"Bearer {body['access_token']}"}
    assert api.client.get("/situation", headers=fresh).status_code == 200  # an operator's route
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "operator1" and claims["roles"] == ["operator"]


def test_a_deactivated_user_gets_no_new_token(api: Api) -> None:
    with api.platform.store.engine.begin() as conn:
        conn.execute(update(users).where(users.c.username == "operator1").values(active=False))
    r = api.client.post("/auth/refresh", headers=api.headers)
    assert r.status_code == 401 and "log in again" in r.json()["message"]


def test_no_token_or_an_expired_one_is_refused(api: Api) -> None:
    assert api.client.post("/auth/refresh").status_code == 401
    store = api.platform.store
    secret = api.platform.settings.jwt_secret.get_secret_value()
    expired, _ = AuthService(store, secret, timedelta(seconds=-5)).issue_token(
        api.platform.auth.current_user("operator1")
    )
    r = api.client.post("/auth/refresh", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "expired" in r.json()["message"]
