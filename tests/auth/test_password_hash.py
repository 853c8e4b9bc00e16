# SPDX-License-Identifier: Apache-2.0
"""Passwords are hashed with Argon2id at argon2-cffi's default (RFC 9106 low-memory) parameters. The test
suite sets SAFECITY_AUTH__PASSWORD_HASH=cheapest (tests/conftest.py) because it creates and logs in
hundreds of users; these tests check what a deployment gets without it, that a hash keeps the parameters
it was made with, and that production mode refuses the cheap ones."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters, profiles
from sqlalchemy import select

from safecity.app import Platform, build_platform
from safecity.auth.model import Role
from safecity.auth.tables import users
from safecity.core.errors import ConfigError, Unauthorized
from safecity.settings import Settings

GOOD = "q8V2m0J7tZ1xW4bN6cR9yK3pL5sD8fG2hQ7wE1rT4yU"  # not a placeholder, 44 characters


def _hash_of(platform: Platform, username: str) -> str:
    with platform.store.engine.connect() as conn:
        return str(
            conn.execute(select(users.c.password_hash).where(users.c.username == username)).scalar_one()
        )


def test_a_deployment_hashes_with_the_rfc_9106_parameters_and_old_hashes_keep_theirs(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SAFECITY_AUTH__PASSWORD_HASH")
    strong = build_platform(settings)
    try:
        strong.auth.create_user("duty-officer", "duty-officer-password", {Role.operator})
        made = _hash_of(strong, "duty-officer")
        assert made.startswith("$argon2id$")
        assert extract_parameters(made) == profiles.RFC_9106_LOW_MEMORY
        assert strong.auth.authenticate_user("duty-officer", "duty-officer-password").name == "duty-officer"
    finally:
        strong.bus.stop()
        strong.store.close()
    # the same store under the cheap parameters: the stored hash still verifies (it carries its own
    # parameters), a new one is cheap, and a wrong password is still refused
    monkeypatch.setenv("SAFECITY_AUTH__PASSWORD_HASH", "cheapest")
    cheap = build_platform(settings)
    try:
        assert cheap.auth.authenticate_user("duty-officer", "duty-officer-password").name == "duty-officer"
        cheap.auth.create_user("analyst", "analyst-password", {Role.dispatcher})
        assert extract_parameters(_hash_of(cheap, "analyst")) == profiles.CHEAPEST
        with pytest.raises(Unauthorized):
            cheap.auth.authenticate_user("analyst", "not-the-password")
        with pytest.raises(Unauthorized):
            cheap.auth.authenticate_user("nobody", "analyst-password")  # against a decoy hash
    finally:
        cheap.bus.stop()
        cheap.store.close()


def test_production_refuses_the_cheap_parameters(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFECITY_AUTH__PASSWORD_HASH", "cheapest")
    production = Settings(
        data_dir=settings.data_dir,
        store_url=settings.store_url,
        mode="production",
        jwt_secret=GOOD,
        public_url="https://safecity.seoul.go.kr",
        mqtt=settings.mqtt,
    )
    with pytest.raises(ConfigError, match="SAFECITY_AUTH__PASSWORD_HASH=cheapest"):
        build_platform(production)


def test_an_unknown_parameter_set_is_named(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from safecity.capability import CapabilityError

    monkeypatch.setenv("SAFECITY_AUTH__PASSWORD_HASH", "md5")
    with pytest.raises(CapabilityError, match="SAFECITY_AUTH__PASSWORD_HASH"):
        build_platform(settings)
