# SPDX-License-Identifier: Apache-2.0
"""The event bus port and the registry that builds its adapter from settings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from safecity.settings import Settings
    from safecity.store import Store

#: A subscriber gets the events of one topic in order, in batches.
Handler = Callable[[Sequence[Any]], None]
#: Turns an outbox payload back into events; the capability that owns the topic provides it (an
#: outbox row may refer to rows of that capability's tables instead of copying them).
Decoder = Callable[[Connection, dict[str, Any]], list[Any]]


class Bus(Protocol):
    def subscribe(
        self, topic: str, handler: Handler, name: str, wants: Callable[[], bool] | None = None
    ) -> None:
        """Register a handler; ``name`` identifies it in logs and metrics. ``wants``, when given, says
        cheaply whether the handler cares right now (an MQTT notifier with no MQTT subscribers does
        not); events nobody wants are not even decoded."""

    def register_decoder(self, topic: str, decoder: Decoder) -> None:
        """How to read ``topic``'s payloads back into events (default: the payload is the event)."""

    def publish(self, conn: Connection, topic: str, payload: dict[str, Any]) -> None:
        """Write an event into the outbox inside the caller's transaction (delivered after commit)."""

    def notify(self) -> None:
        """Tell the dispatcher new events were committed (it also polls)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every committed event has been delivered; True if the outbox is empty."""

    def pending(self) -> int:
        """Events committed but not yet delivered (the outbox depth)."""


def open_bus(settings: Settings, store: Store) -> Bus:
    if settings.bus_url:
        raise NotImplementedError(
            f"SAFECITY_BUS_URL={settings.bus_url}: only the embedded bus exists yet; unset it"
        )
    from safecity.bus.inprocess import InProcessBus

    return InProcessBus(store)
