# SPDX-License-Identifier: Apache-2.0
"""The earthquake-damage chain in three calls, whichever way the earthquake is known:

* :func:`assess_scenario`: a rupture (scenario, or from a message) → shaking → damage → summary;
* :func:`assess_cap`: a CAP earthquake message (KMA's or any agency's) → the same;
* :func:`assess_readings`: accelerometer peaks alone → a fitted source, conditioned on them → the same.

Station readings, when given, condition the shaking in all three (ShakeMap-style, :mod:`.shakemap`).
The result keeps the per-building arrays (for a damage map) and the operator's summary.
"""

from __future__ import annotations

from dataclasses import dataclass

from safecity.quake.capmsg import QuakeMessage, quake_from_cap
from safecity.quake.damage import Damage, assess
from safecity.quake.inventory import Inventory, TimeOfDay
from safecity.quake.shakemap import Rupture, Shaking, Stations, fit_source, shake
from safecity.quake.summary import DamageSummary, summarise


@dataclass(frozen=True)
class Assessment:
    """One earthquake's assessment: the shaking and damage at every building, and the summary."""

    rupture: Rupture
    shaking: Shaking
    damage: Damage
    summary: DamageSummary
    message: QuakeMessage | None = None


def assess_scenario(
    rupture: Rupture,
    inventory: Inventory,
    *,
    stations: Stations | None = None,
    time_of_day: TimeOfDay = TimeOfDay.DAY,
    top: int = 20,
    by: str = "district",
    method: str = "pga",
) -> Assessment:
    """Shaking at every building of ``inventory`` (conditioned on ``stations``), its damage and summary;
    ``method``: the damage method (``pga``, or ``csm`` where a building has a capacity curve)."""
    shaking = shake(rupture, inventory.lon, inventory.lat, inventory.vs30, stations=stations)
    motion = shaking.motion
    damage = assess(
        inventory,
        motion.pga_g,
        time_of_day=time_of_day,
        method=method,
        spectra=(motion.sa_g[0.3], motion.sa_g[1.0]) if method == "csm" else None,
        magnitude=rupture.magnitude,
    )
    summary = summarise(inventory, damage, by=by, top=top)
    return Assessment(rupture, shaking, damage, summary)


def assess_cap(
    data: bytes,
    inventory: Inventory,
    *,
    stations: Stations | None = None,
    time_of_day: TimeOfDay = TimeOfDay.DAY,
    top: int = 20,
    method: str = "pga",
) -> Assessment:
    """From a CAP earthquake message (untrusted bytes) to the damage summary."""
    message = quake_from_cap(data)
    result = assess_scenario(
        message.rupture, inventory, stations=stations, time_of_day=time_of_day, top=top, method=method
    )
    return Assessment(result.rupture, result.shaking, result.damage, result.summary, message)


def assess_readings(
    stations: Stations,
    inventory: Inventory,
    *,
    time_of_day: TimeOfDay = TimeOfDay.DAY,
    top: int = 20,
    method: str = "pga",
) -> Assessment:
    """From accelerometer peaks alone: the best-fitting point source, conditioned on the same readings."""
    rupture = fit_source(stations)
    return assess_scenario(
        rupture, inventory, stations=stations, time_of_day=time_of_day, top=top, method=method
    )
