# SPDX-License-Identifier: Apache-2.0
"""Users, passwords, access tokens and device keys.

Passwords are hashed with Argon2id (argon2-cffi), the current OWASP recommendation. Device API keys are
long random strings, so they are stored as SHA-256 digests (a slow hash adds nothing for 256 random
bits) and found by a short clear-text prefix.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.engine import Connection

from safecity.auth.guard import LoginGuard
from safecity.auth.model import Principal, Role
from safecity.auth.tables import api_keys, users
from safecity.core.errors import BadRequest, Conflict, NotFound, Unauthorized
from safecity.store import Store

_ALGORITHM = "HS256"
KEY_PREFIX_LEN = 12
#: Seconds a verified device key (or a user's active state) is trusted before it is looked up again:
#: how long a revocation or a disabled account made in another process takes to stop one here.
KEY_RECHECK_S = 2.0

#: Whether a Thing exists (asked before a device key is made for it). The sensing capability, above auth
#: in the layers, answers it: it sets :attr:`AuthService.thing_exists` when it is built.
ThingExists = Callable[[Connection, int], bool]
MAX_CACHED_KEYS = 100_000


class AuthService:
    def __init__(
        self,
        store: Store,
        jwt_secret: str,
        token_ttl: timedelta,
        guard: LoginGuard | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        hasher: PasswordHasher | None = None,
    ) -> None:
        """``hasher``: Argon2id with argon2-cffi's default parameters unless given (AuthSettings)."""
        self.store = store
        self._hasher = hasher or PasswordHasher()
        self._secret = jwt_secret
        self._ttl = token_ttl
        self.guard = guard or LoginGuard()
        self.thing_exists: ThingExists | None = None
        # Verified device keys, so a busy device does not cost a query per request; each is looked up
        # again after KEY_RECHECK_S, so a key revoked by another process stops here too. Revocation
        # in this process clears them at once.
        self._key_cache: dict[str, tuple[Principal, float]] = {}
        self._key_live: dict[int, tuple[bool, float]] = {}
        self._users: dict[str, tuple[Principal, float]] = {}
        self.monotonic = monotonic

    @functools.cached_property
    def _decoy(self) -> str:
        return self._hasher.hash(secrets.token_urlsafe(16))

    def _decoy_hash(self) -> str:
        """A hash to verify against when the user does not exist, so unknown and known names take the
        same time (the answer must not tell which accounts exist); made with this service's parameters."""
        return self._decoy

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
                        password_hash=self._hasher.hash(password),
                        roles=",".join(sorted(r.value for r in roles)),
                        active=True,
                        created_at=datetime.now(UTC),
                    )
                    .returning(users.c.id)
                ).scalar_one()
            )

    def authenticate_user(self, username: str, password: str, client: str | None = None) -> Principal:
        """The user whose password this is. Raises Unauthorized (wrong name or password, alike),
        TooManyRequests (this account or ``client``, an address, failed too often lately: no hash runs)
        or ServerBusy (no hash slot in time). See :mod:`safecity.auth.guard`."""
        if self.guard.remembered(username, password) is not None:
            return self._still_there(username)
        account = username[:65]  # no real name is longer (create_user), and the key stays small
        self.guard.check(account, client)
        row = None
        # no user has a NUL (create_user allows letters, digits, '.-_'), and PostgreSQL would refuse
        # the query itself: a 500 for what is just a wrong name
        if "\x00" not in username:
            with self.store.engine.connect() as conn:
                row = conn.execute(
                    select(users.c.password_hash, users.c.roles, users.c.active).where(
                        users.c.username == username
                    )
                ).first()
        known = row is not None and bool(row.active)
        with self.guard.hash_slot():
            try:
                self._hasher.verify(
                    row.password_hash if known and row is not None else self._decoy_hash(), password
                )
                ok = known
            except (VerificationError, InvalidHashError):
                ok = False
        if not ok or row is None:
            self.guard.failed(account, client)
            raise Unauthorized(
                "wrong username or password", message_ko="사용자 이름 또는 비밀번호가 틀립니다"
            )
        self.guard.succeeded(account)
        principal = Principal(username, frozenset(Role(r) for r in row.roles.split(",") if r), "user")
        self.guard.remember(username, password, principal)
        return principal

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
        return self._still_there(str(claims["sub"]))

    def _still_there(self, name: str) -> Principal:
        """The user as the store has it now (issue 13): a deleted or deactivated user's token or
        remembered Basic password stops working (within KEY_RECHECK_S in every process), and lost
        roles are lost. Raises Unauthorized."""
        now = self.monotonic()
        cached = self._users.get(name)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            current = self.current_user(name)
        except Unauthorized:
            self.guard.forget(name)
            raise
        if len(self._users) >= MAX_CACHED_KEYS:
            self._users.clear()
        self._users[name] = (current, now + KEY_RECHECK_S)
        return current

    # devices ------------------------------------------------------------------------------------
    def create_api_key(self, thing_id: int, label: str | None = None) -> str:
        key = "sck_" + secrets.token_urlsafe(32)
        with self.store.write() as conn:
            if self.thing_exists is not None and not self.thing_exists(conn, thing_id):
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
        """Revoke every key of a Thing; returns how many were live."""
        return self._revoke(api_keys.c.thing_id == thing_id)

    def revoke_api_key(self, key_or_prefix: str) -> int:
        """Revoke one key, named by the key itself or its first 12 characters (as ``apikey list``
        shows them); returns how many were live (0 or 1). Other processes stop accepting it within
        KEY_RECHECK_S; this one at once."""
        if "\x00" in key_or_prefix or len(key_or_prefix) < KEY_PREFIX_LEN:
            raise BadRequest(
                f"key: give the key or its first {KEY_PREFIX_LEN} characters (sck_...)",
                where="key",
                message_ko=f"키 전체 또는 앞 {KEY_PREFIX_LEN}자(sck_...)를 입력하세요",
            )
        return self._revoke(api_keys.c.prefix == key_or_prefix[:KEY_PREFIX_LEN])

    def _revoke(self, which: ColumnElement[bool]) -> int:
        with self.store.write() as conn:
            n = conn.execute(
                update(api_keys)
                .where(which, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            ).rowcount
        self._key_cache.clear()
        self._key_live.clear()
        return int(n)

    def key_active(self, key_id: int) -> bool:
        """Whether a key is still live: asked for each publish batch of a device connected over MQTT,
        so a key revoked in any process stops its live connections too (cached KEY_RECHECK_S)."""
        now = self.monotonic()
        cached = self._key_live.get(key_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        with self.store.engine.connect() as conn:
            live = (
                conn.execute(
                    select(api_keys.c.id).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                ).first()
                is not None
            )
        self._key_live[key_id] = (live, now + KEY_RECHECK_S)
        return live

    def authenticate_key(self, key: str) -> Principal:
        now = self.monotonic()
        cached = self._key_cache.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        if "\x00" in key:  # never in a key we issued; PostgreSQL would refuse the lookup (a 500)
            raise Unauthorized("unknown or revoked API key")
        digest = hashlib.sha256(key.encode()).hexdigest()
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(api_keys.c.id, api_keys.c.thing_id, api_keys.c.key_hash).where(
                    api_keys.c.prefix == key[:KEY_PREFIX_LEN], api_keys.c.revoked_at.is_(None)
                )
            ).all()
        for key_id, thing_id, key_hash in row:
            if secrets.compare_digest(key_hash, digest):
                principal = Principal(
                    f"thing:{thing_id}", frozenset({Role.device}), "device", thing_id, key_id=key_id
                )
                if len(self._key_cache) >= MAX_CACHED_KEYS:
                    self._key_cache.clear()
                self._key_cache[key] = (principal, now + KEY_RECHECK_S)
                return principal
        self._key_cache.pop(key, None)
        raise Unauthorized("unknown or revoked API key")
