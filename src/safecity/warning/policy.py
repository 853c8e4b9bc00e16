# SPDX-License-Identifier: Apache-2.0
"""The warning policy per hazard (``policy.toml``, with its sources): the 재난문자 category of an alert,
how long it stays valid (CAP ``<expires>``), a point hazard's reach and the English key terms."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from safecity.core.errors import ConfigError
from safecity.situation.model import Crisis
from safecity.warning.korea import KoreanCategory

POLICY_FILE = Path(__file__).with_name("policy.toml")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(m|h|d)$")
_UNITS = {"m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class HazardPolicy:
    hazard: str
    urgent_from: Crisis | None
    expires_after: timedelta
    radius_km: float | None
    key_en: str
    guide_phase: str = "during"  # the guide's steps an alert in force gives (see Guide.active_lines)


@dataclass(frozen=True)
class Policy:
    hazards: dict[str, HazardPolicy]
    action_en: dict[str, str]
    emergency_allowed: bool

    def of(self, hazard: str) -> HazardPolicy:
        return self.hazards.get(hazard) or self.hazards["other"]

    def category(self, hazard: str, level: Crisis, response: str) -> KoreanCategory:
        """The 재난문자 category of a platform alert: 긴급 for an evacuation order and from the hazard's
        ``urgent_from`` level up, else 안전안내; never 위급 (``emergency_allowed`` is false: the platform's
        own sensors do not send 위급재난문자)."""
        p = self.of(hazard)
        if response == "Evacuate" or (p.urgent_from is not None and level >= p.urgent_from):
            return KoreanCategory.URGENT
        return KoreanCategory.SAFETY


def _duration(value: Any, where: str) -> timedelta:
    m = _DURATION.match(str(value))
    if not m:
        raise ConfigError(f"{where}: a duration like '3h', '30m' or '1d', not {value!r}", where=where)
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def _phase(value: Any, where: str) -> str:
    if value not in ("during", "after"):
        raise ConfigError(f"{where}: 'during' or 'after', not {value!r}", where=where)
    return str(value)


def load_policy(path: Path = POLICY_FILE) -> Policy:
    where = str(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{where}: cannot read the warning policy: {e}", where=where) from None
    hazards = {}
    for key, h in (doc.get("hazard") or {}).items():
        at = f"{where}: hazard.{key}"
        urgent = h.get("urgent_from")
        if urgent is not None and urgent not in Crisis.__members__:
            raise ConfigError(f"{at}.urgent_from: caution, alert or serious, not {urgent!r}", where=at)
        if not isinstance(h.get("key_en"), str):
            raise ConfigError(f"{at}.key_en: the English key term is required", where=at)
        hazards[key] = HazardPolicy(
            key,
            Crisis[urgent] if urgent else None,
            _duration(h.get("expires_after"), f"{at}.expires_after"),
            float(h["radius_km"]) if h.get("radius_km") is not None else None,
            h["key_en"],
            _phase(h.get("guide_phase", "during"), f"{at}.guide_phase"),
        )
    if "other" not in hazards:
        raise ConfigError(f"{where}: [hazard.other] is required (the fallback)", where=where)
    platform = doc.get("platform") or {}
    return Policy(hazards, dict(doc.get("action_en") or {}), bool(platform.get("emergency_allowed", False)))


@cache
def default_policy() -> Policy:
    return load_policy()
