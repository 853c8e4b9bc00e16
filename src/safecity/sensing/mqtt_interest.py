# SPDX-License-Identifier: Apache-2.0
"""Who wants notifications from a server behind an external MQTT broker: the interest registry.

An MQTT broker never tells its clients who subscribed to what, so a server behind one (``SAFECITY_MQTT__URL``)
would have to read back, render and publish the notifications of every new observation on three topics
whether anyone listens or not: that cost more than storing the observation and halved single-message
ingest (docs/scaling.md). Instead a subscriber says what it wants, as a *retained* message on
``safecity/interest/<its client id>`` whose payload is the JSON array of the topic filters it subscribed
to (``["v1.1/Datastreams(7)/Observations", "v1.1/Things"]``; wildcards allowed). An empty payload (or
``[]``) withdraws it. Give the connection a will that publishes the empty retained message on the same
topic, so a subscriber that vanishes withdraws too. Every server of the broker reads every registration
(retained, so a server that starts later learns the earlier ones) and publishes only on topics some
registration matches; with none at all it reads and renders nothing.

``notify=all`` in ``SAFECITY_MQTT__URL`` publishes everything regardless (clients that cannot register),
``notify=off`` nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import orjson
from paho.mqtt.matcher import MQTTMatcher

from safecity.core.errors import BadRequest
from safecity.sensing.mqtt_port import NOBODY

#: Registrations are retained messages on ``INTEREST_ROOT/<client id>``.
INTEREST_ROOT = "safecity/interest"
INTEREST_FILTER = f"{INTEREST_ROOT}/+"
#: A registration lists at most this many filters (a client with more subscribes to a wildcard).
MAX_FILTERS = 1000
#: Topics whose answer a predicate remembers; beyond this it forgets and starts again (memory bound).
MAX_CACHED = 100_000


def parse_filters(payload: bytes) -> frozenset[str]:
    """The filters of one registration. Raises BadRequest naming what is wrong with it."""
    if not payload.strip():
        return frozenset()
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"payload: malformed JSON: {e}", where="payload") from None
    if not isinstance(body, list) or not all(isinstance(f, str) for f in body):
        raise BadRequest(
            'payload: expected a JSON array of topic filters, e.g. ["v1.1/Datastreams(1)/Observations"]',
            where="payload",
        )
    if len(body) > MAX_FILTERS:
        raise BadRequest(
            f"payload: {len(body)} filters is over {MAX_FILTERS}; use a wildcard", where="payload"
        )
    for n, f in enumerate(body):
        levels = f.split("/")
        bad = (
            not f
            or "\0" in f
            or any(("+" in level and level != "+") or ("#" in level and level != "#") for level in levels)
            or "#" in levels[:-1]
        )
        if bad:
            raise BadRequest(
                f"payload[{n}]: {f!r} is not an MQTT topic filter ('+' and '#' stand alone in a level, "
                "'#' only last)",
                where=f"payload[{n}]",
            )
    return frozenset(body)


class _Matches:
    """``Transport.listening``'s predicate for one state of the registry: exact topics are a set lookup,
    wildcard filters go through paho's matcher once per topic, then the answer is remembered."""

    def __init__(self, filters: frozenset[str]) -> None:
        self.exact = frozenset(f for f in filters if "+" not in f and "#" not in f)
        self.matcher: MQTTMatcher | None = None
        wild = [f for f in filters if f not in self.exact]
        if wild:
            self.matcher = MQTTMatcher()  # type: ignore[no-untyped-call]
            for f in wild:
                self.matcher[f] = True
        self.cache: dict[str, bool] = {}

    def __call__(self, topic: str) -> bool:
        if topic in self.exact:
            return True
        if self.matcher is None:
            return False
        known = self.cache.get(topic)
        if known is None:
            found = self.matcher.iter_match(topic)  # type: ignore[no-untyped-call]
            known = next(iter(found), None) is not None
            if len(self.cache) >= MAX_CACHED:
                self.cache = {}
            self.cache[topic] = known
        return known


class Interest:
    """The registrations a server has read, by client id; safe to update and read from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_client: dict[str, frozenset[str]] = {}
        self._listening: Callable[[str], bool] = NOBODY

    def update(self, topic: str, payload: bytes) -> None:
        """Apply the registration retained on ``topic``. Raises BadRequest when it is malformed (the
        client's earlier registration is then withdrawn: what it wants is unknown)."""
        client = topic[len(INTEREST_ROOT) + 1 :]
        try:
            filters = parse_filters(payload)
        except BadRequest:
            self._set(client, frozenset())
            raise
        self._set(client, filters)

    def clear(self) -> None:
        """Forget every registration (a new connection: the broker sends the retained ones again)."""
        with self._lock:
            self._by_client = {}
            self._listening = NOBODY

    def _set(self, client: str, filters: frozenset[str]) -> None:
        with self._lock:
            if filters:
                self._by_client[client] = filters
            else:
                self._by_client.pop(client, None)
            union = frozenset().union(*self._by_client.values())
            self._listening = _Matches(union) if union else NOBODY

    def listening(self) -> Callable[[str], bool]:
        """A snapshot predicate; ``NOBODY`` itself when no one registered anything."""
        return self._listening

    def registered(self, client: str) -> frozenset[str]:
        """The filters ``client`` registered (empty: none)."""
        return self._by_client.get(client, frozenset())
