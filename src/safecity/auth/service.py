# SPDX-License-Identifier: Apache-2.0
"""Users, passwords, access tokens and device keys.

Passwords are hashed with Argon2id (argon2-cffi), the current OWASP recommendation. Device API keys are
long random strings, so they are stored as SHA-256 digests (a slow hash adds nothing for 256 random
bits) and found by a short clear-text prefix.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import insert, select, update

from safecity.auth.model import Principal, Role
from safecity.auth.tables import api_keys, users
from safecity.core.errors import BadRequest, Conflict, NotFound, Unauthorized
from safecity.sensing.service import thing_exists
from safecity.store import Store

_HASHER = PasswordHasher()
_ALGORITHM = "HS256"
KEY_PREFIX_LEN = 12


class AuthService:
    def __init__(self, store: Store, jwt_secret: str, token_ttl: timedelta) -> None:
        self.store = store
        self._secret = jwt_secret
        self._ttl = token_ttl
        # Verified device keys, so a busy device does not cost a query per request. Revocation clears it.
        self._key_cache: dict[str, Principal] = {}

    # people -------------------------------------------------------------------------------------
    def create_user(self, username: str, password: str, roles: set[Role]) -> int:
        if (
            not username
            or len(username) > 64
            or not username.replace("-", "").replace("_", "").replace(".", "").isalnum()
        ):
            raise BadRequest("username: use 1-64 letters, digits, '.', '-' or '_'", where="username")
        if len(password) < 8:
            raise BadRequest("password: use at least 8 characters", where="password")
        with self.store.write() as conn:
            if conn.execute(select(users.c.id).where(users.c.username == username)).first():
                raise Conflict(f"user '{username}' already exists", where="username")
            return int(
                conn.execute(
                    insert(users)
                    .values(
                        username=username,
                        password_hash=_HASHER.hash(password),
                        roles=",".join(sorted(r.value for r in roles)),
                        active=True,
                        created_at=datetime.now(UTC),
                    )
                    .returning(users.c.id)
                ).scalar_one()
            )

    def authenticate_user(self, username: str, password: str) -> Principal:
        if "\x00" in username:
            # no user has one (create_user allows letters, digits, '.-_'), and PostgreSQL would refuse
            # the query itself: a 500 for what is just a wrong name
            raise Unauthorized("wrong username or password")
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(users.c.password_hash, users.c.roles, users.c.active).where(
                    users.c.username == username
                )
            ).first()
        if row is None or not row.active:
            raise Unauthorized("wrong username or password")
        try:
            _HASHER.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            raise Unauthorized("wrong username or password") from None
        return Principal(username, frozenset(Role(r) for r in row.roles.split(",") if r), "user")

    def issue_token(self, principal: Principal) -> tuple[str, int]:
        now = datetime.now(UTC)
        claims = {
            "sub": principal.name,
            "roles": sorted(r.value for r in principal.roles),
            "iat": int(now.timestamp()),
            "exp": int((now + self._ttl).timestamp()),
        }
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM), int(self._ttl.total_seconds())

    def current_user(self, username: str) -> Principal:
        """The user as the store has it now (roles may have changed since a token was issued); raises
        Unauthorized when the user is gone or deactivated, so a refresh cannot outlive an account."""
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(users.c.roles, users.c.active).where(users.c.username == username)
            ).first()
        if row is None or not row.active:
            raise Unauthorized(f"user {username} no longer exists or is deactivated: log in again")
        return Principal(username, frozenset(Role(r) for r in row.roles.split(",") if r), "user")

    def verify_token(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=[_ALGORITHM], options={"require": ["exp", "sub"]}
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("access token expired: request a new one at POST /auth/token") from None
        except jwt.InvalidTokenError:
            raise Unauthorized("access token invalid") from None
        roles = frozenset(Role(r) for r in claims.get("roles", []) if r in Role.__members__)
        return Principal(str(claims["sub"]), roles, "user")

    # devices ------------------------------------------------------------------------------------
    def create_api_key(self, thing_id: int, label: str | None = None) -> str:
        key = "sck_" + secrets.token_urlsafe(32)
        with self.store.write() as conn:
            if not thing_exists(conn, thing_id):
                raise NotFound(f"Thing {thing_id} does not exist; create it first", where="thing_id")
            conn.execute(
                insert(api_keys).values(
                    prefix=key[:KEY_PREFIX_LEN],
                    key_hash=hashlib.sha256(key.encode()).hexdigest(),
                    thing_id=thing_id,
                    label=label,
                    created_at=datetime.now(UTC),
                )
            )
        return key

    def revoke_api_keys(self, thing_id: int) -> int:
        with self.store.write() as conn:
            n = conn.execute(
                update(api_keys)
                .where(api_keys.c.thing_id == thing_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            ).rowcount
        self._key_cache.clear()
        return int(n)

    def authenticate_key(self, key: str) -> Principal:
        cached = self._key_cache.get(key)
        if cached is not None:
            return cached
        if "\x00" in key:  # never in a key we issued; PostgreSQL would refuse the lookup (a 500)
            raise Unauthorized("unknown or revoked API key")
        digest = hashlib.sha256(key.encode()).hexdigest()
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(api_keys.c.thing_id, api_keys.c.key_hash).where(
                    api_keys.c.prefix == key[:KEY_PREFIX_LEN], api_keys.c.revoked_at.is_(None)
                )
            ).all()
        for thing_id, key_hash in row:
            if secrets.compare_digest(key_hash, digest):
                principal = Principal(f"thing:{thing_id}", frozenset({Role.device}), "device", thing_id)
                self._key_cache[key] = principal
                return principal
        raise Unauthorized("unknown or revoked API key")
