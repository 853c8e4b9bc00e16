# SPDX-License-Identifier: Apache-2.0
"""The OwnTracks listener inside the platform's one worker lifecycle (start, stop, health)."""

from __future__ import annotations

from typing import Protocol

from safecity.core.worker import Worker


class Listener(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


class ListenerWorker(Worker):
    """Starts the listener on its first step; stopping the worker stops the listener."""

    def __init__(self, name: str, listener: Listener | None) -> None:
        self.listener = listener
        self._started = False
        super().__init__(name, self._step, interval_s=60.0)

    def _step(self) -> int:
        if self.listener is not None and not self._started:
            self.listener.start()
            self._started = True
        return 0

    def stop(self, timeout: float = 10.0) -> None:
        if self.listener is not None and self._started:
            self.listener.stop()
            self._started = False
        super().stop(timeout)
