# SPDX-License-Identifier: Apache-2.0
"""SWMM example models run through the coupling layer (filled in with the drainage module)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from safecity.flood.verification.cases import Measured

RUNNERS: dict[str, Callable[[Path], dict[str, Measured]]] = {}
