# SPDX-License-Identifier: Apache-2.0
"""The event bus port and the registry that builds its adapter from settings.

Every adapter keeps the same promises, checked by ``tests/bus/test_contract.py``:

* an event is published inside the publisher's transaction and exists exactly when the data it
  announces does;
* each subscriber (by name) gets every event of its types at least once, in commit order (so per key);
* a subscriber that raises gets the same events again, after a backoff on the platform's clock, until
  it succeeds or has failed ``max_attempts`` times on one event, which then goes to the dead letters
  (an operator lists and replays them);
* a subscriber's position survives a restart: it resumes after the last event it handled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import Connection

from safecity.core.events import Envelope, Event
from safecity.core.worker import Worker

if TYPE_CHECKING:
    from safecity.core.clock import Clock
    from safecity.settings import Settings
    from safecity.store import Store

#: A subscriber gets the events of its types in order, in batches. It may be handed an event again
#: (after a failure, or a crash before its position was saved): it must tolerate a repeat, which it
#: can detect by the envelope's id.
Handler = Callable[[Sequence[Envelope]], None]
#: Reads an outbox payload of an older ``version`` into the current event class (an upcaster). It gets a
#: connection because a version 1 payload may name rows instead of carrying them.
Decoder = Callable[[Connection, dict[str, Any]], Event]


@dataclass(frozen=True, slots=True)
class SubscriberState:
    """Where one subscriber stands (``safecity bus status``, the health route)."""

    name: str
    types: tuple[str, ...]
    position: int
    lag: int  # events of its types after its position
    attempts: int  # failures of the current delivery (0: healthy)
    retry_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    subscriber: str
    event: Envelope
    error: str
    attempts: int
    failed_at: datetime
    replay_requested_at: datetime | None
    replay_requested_by: str | None
    replayed_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subscriber": self.subscriber,
            "event": self.event.to_json(),
            "error": self.error,
            "attempts": self.attempts,
            "failedAt": self.failed_at.isoformat(),
            "replayRequestedAt": _iso(self.replay_requested_at),
            "replayRequestedBy": self.replay_requested_by,
            "replayedAt": _iso(self.replayed_at),
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class HistoryGone(LookupError):
    """Events after a position were pruned from the outbox: they cannot be read again."""


class Bus(Protocol):
    #: the dispatcher's lifecycle (its health is shown by /health and /metrics)
    worker: Worker
    #: this process moves committed events to the broker (NATS: the role ``relay``; the embedded bus
    #: reads the outbox itself and ignores it)
    relay_enabled: bool
    #: processes with other subscribers follow the same outbox (``safecity worker --role``): an event
    #: counts as delivered once every subscriber's cursor in the store passed it, not only this process's
    shared: bool

    def subscribe(
        self,
        types: str | Iterable[str],
        handler: Handler,
        name: str,
        wants: Callable[[], bool] | None = None,
        keys: Iterable[str] | None = None,
    ) -> None:
        """Register a handler for one or more event types; ``name`` is the subscriber's identity (its
        cursor and dead letters are kept under it, so it must stay the same across restarts).
        ``wants``, when given, says cheaply whether the handler cares right now (an MQTT notifier
        with no MQTT subscribers does not); events it does not want are passed over, not decoded.
        ``keys``, when given, limits it to events of those ordering keys (one partition of the work,
        e.g. the rule engine's districts: another process subscribes under another name with the
        other keys)."""

    def position(self, name: str) -> int | None:
        """The stored position of a subscriber (the last event it handled), None if it never ran."""

    def history(
        self, types: Iterable[str], after: int, upto: int | None = None, keys: Iterable[str] | None = None
    ) -> Iterator[Envelope]:
        """The committed events of ``types`` (and ``keys``) after the position ``after`` up to ``upto``
        (the head when None), in commit order, read again from the outbox: a subscriber restoring a
        snapshot catches up from it. Raises :class:`HistoryGone` when events after ``after`` may have
        been pruned."""

    def register_decoder(self, type_: str, decoder: Decoder, version: int = 1) -> None:
        """How to read payloads of ``type_`` written in an older ``version`` (an upcaster)."""

    def publish(self, conn: Connection, event: Event | str, payload: dict[str, Any] | None = None) -> None:
        """Write an event into the outbox inside the caller's transaction (delivered after commit).

        ``publish(conn, SomeEvent(...))``; ``publish(conn, type, payload_dict)`` validates the dict
        against the class declared for the type (ValueError if it does not fit) and stores it as given.
        """

    def notify(self) -> None:
        """Tell the dispatcher new events were committed (it also polls)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def drain(self, timeout: float = 10.0) -> bool:
        """Deliver what is due now; True if every subscriber has every committed event."""

    def pending(self) -> int:
        """Events committed but not yet delivered to every subscriber (the outbox depth)."""

    def subscribers(self) -> list[SubscriberState]: ...

    def dead_letters(
        self, subscriber: str | None = None, include_replayed: bool = False
    ) -> list[DeadLetter]: ...

    def replay(self, dead_letter_id: int, actor: str) -> DeadLetter:
        """Ask for a dead letter to be delivered again to its subscriber (done by the dispatcher)."""

    def prune(self) -> int:
        """Delete events delivered to every subscriber before the retention period; returns how many."""


def open_bus(settings: Settings, store: Store, clock: Clock | None = None) -> Bus:
    if settings.bus_url:
        if not settings.bus_url.startswith(("nats://", "tls://")):
            raise ValueError(
                f"SAFECITY_BUS_URL={settings.bus_url}: not a NATS URL (nats://host:4222); "
                "unset it for the embedded bus"
            )
        # imported only when chosen: the embedded default does not need the NATS client
        from safecity.bus.jetstream import NatsBus

        return NatsBus(store, settings.bus_url, clock, settings=settings.bus)
    from safecity.bus.inprocess import InProcessBus

    return InProcessBus(store, clock, settings=settings.bus)
