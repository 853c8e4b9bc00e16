# SPDX-License-Identifier: Apache-2.0
"""Event bus: typed events between capabilities, durable through the store's outbox."""

from safecity.bus.port import Bus, Decoder, Handler, HistoryGone, open_bus

__all__ = ["Bus", "Decoder", "Handler", "HistoryGone", "open_bus"]
