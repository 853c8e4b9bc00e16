# SPDX-License-Identifier: Apache-2.0
"""Defences against password guessing (issue 13): 300 guesses once went through at 244/s, unaudited,
each running the memory-hard hash, and pushed an operator's latency to 650 ms and memory to 1.15 GB.

* Failed password checks are counted per account and per client address over a sliding window; past
  the limit, further checks are refused with 429 and ``Retry-After`` *before* any hash runs.
* At most ``hash_slots`` password hashes run at once (each Argon2id verify takes 64 MiB); a request that
  cannot get a slot in time is answered 503, not queued without end.
* A verified username and password is remembered for ``cache_ttl_s`` (as a SHA-256 digest, never the
  password), so a client sending HTTP Basic on every request (the FROST client does) pays the hash once.

All times come from ``clock`` (monotonic seconds), so tests move time instead of sleeping.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from safecity.auth.model import Principal
from safecity.core.errors import SafecityError

#: Failed checks of one account within WINDOW_S before its checks are refused (a person mistypes a few).
PER_ACCOUNT = 10
#: Failed checks from one client address within WINDOW_S (an office behind one NAT address types more).
PER_CLIENT = 30
WINDOW_S = 300.0
#: Concurrent password hashes: with Argon2id's 64 MiB each, two cores and 128 MiB at most.
HASH_SLOTS = 2
#: Longest wait for a hash slot before the request is answered 503.
HASH_WAIT_S = 5.0
#: How long a verified Basic username and password is remembered (a changed or disabled user clears it).
CACHE_TTL_S = 60.0
#: Remembered credentials and tracked accounts/clients at most (oldest forgotten first).
MAX_ENTRIES = 50_000


class TooManyRequests(SafecityError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: float, *, message_ko: str | None = None) -> None:
        super().__init__(message, message_ko=message_ko)
        self.retry_after = max(1, math.ceil(retry_after))


class ServerBusy(SafecityError):
    status = 503
    code = "unavailable"


class LoginGuard:
    """Failure counting, the hash semaphore and the verified-credential cache (thread-safe)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        per_account: int = PER_ACCOUNT,
        per_client: int = PER_CLIENT,
        window_s: float = WINDOW_S,
        hash_slots: int = HASH_SLOTS,
        hash_wait_s: float = HASH_WAIT_S,
        cache_ttl_s: float = CACHE_TTL_S,
    ) -> None:
        self.clock = clock
        self.per_account = per_account
        self.per_client = per_client
        self.window_s = window_s
        self.hash_wait_s = hash_wait_s
        self.cache_ttl_s = cache_ttl_s
        self._lock = threading.Lock()
        self._accounts: OrderedDict[str, deque[float]] = OrderedDict()
        self._clients: OrderedDict[str, deque[float]] = OrderedDict()
        self._verified: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()
        self._slots = threading.BoundedSemaphore(hash_slots)
        #: Password hashes run so far (a metric, and how tests see that a check was skipped).
        self.hashes = 0

    # throttling -----------------------------------------------------------------------------------
    def check(self, account: str, client: str | None) -> None:
        """Raise TooManyRequests when the account or the client failed too often lately."""
        now = self.clock()
        with self._lock:
            wait = self._wait(self._accounts, account, self.per_account, now)
            kind = "account"
            if client is not None:
                client_wait = self._wait(self._clients, client, self.per_client, now)
                if client_wait > wait:
                    wait, kind = client_wait, "client"
        if wait > 0:
            if kind == "account":
                raise TooManyRequests(
                    f"too many failed logins for this account; try again in {math.ceil(wait)} s",
                    wait,
                    message_ko=f"이 계정의 로그인 실패가 너무 많습니다. {math.ceil(wait)}초 후에 다시 시도하세요",
                )
            raise TooManyRequests(
                f"too many failed logins from this address; try again in {math.ceil(wait)} s",
                wait,
                message_ko=f"이 주소에서 로그인 실패가 너무 많습니다. {math.ceil(wait)}초 후에 다시 시도하세요",
            )

    def failed(self, account: str, client: str | None) -> None:
        now = self.clock()
        with self._lock:
            self._add(self._accounts, account, now)
            if client is not None:
                self._add(self._clients, client, now)

    def succeeded(self, account: str) -> None:
        with self._lock:
            self._accounts.pop(account, None)

    def _wait(self, table: OrderedDict[str, deque[float]], key: str, limit: int, now: float) -> float:
        times = table.get(key)
        if times is None:
            return 0.0
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) < limit:
            return 0.0
        # refused until enough of the failures have left the window
        return times[len(times) - limit] + self.window_s - now

    def _add(self, table: OrderedDict[str, deque[float]], key: str, now: float) -> None:
        times = table.get(key)
        if times is None:
            times = table[key] = deque(maxlen=max(self.per_account, self.per_client))
            if len(table) > MAX_ENTRIES:
                table.popitem(last=False)
        else:
            table.move_to_end(key)
        times.append(now)

    # the hash -------------------------------------------------------------------------------------
    @contextmanager
    def hash_slot(self) -> Iterator[None]:
        """Hold one of the hash slots while a password hash runs."""
        if not self._slots.acquire(timeout=self.hash_wait_s):
            raise ServerBusy(
                "too many logins at once; try again in a moment",
                message_ko="로그인 요청이 몰려 있습니다. 잠시 후 다시 시도하세요",
            )
        try:
            with self._lock:
                self.hashes += 1
            yield
        finally:
            self._slots.release()

    # verified credentials -------------------------------------------------------------------------
    @staticmethod
    def _key(username: str, password: str) -> bytes:
        return hashlib.sha256(f"{username}\x00{password}".encode("utf-8", "surrogatepass")).digest()

    def remembered(self, username: str, password: str) -> Principal | None:
        key = self._key(username, password)
        now = self.clock()
        with self._lock:
            found = self._verified.get(key)
            if found is None:
                return None
            if found[1] <= now:
                del self._verified[key]
                return None
            return found[0]

    def remember(self, username: str, password: str, principal: Principal) -> None:
        key = self._key(username, password)
        with self._lock:
            self._verified[key] = (principal, self.clock() + self.cache_ttl_s)
            self._verified.move_to_end(key)
            if len(self._verified) > MAX_ENTRIES:
                self._verified.popitem(last=False)

    def forget(self, username: str | None = None) -> None:
        """Forget remembered credentials: of one user (changed, disabled, deleted), or all."""
        with self._lock:
            if username is None:
                self._verified.clear()
                return
            for key in [k for k, (p, _) in self._verified.items() if p.name == username]:
                del self._verified[key]
