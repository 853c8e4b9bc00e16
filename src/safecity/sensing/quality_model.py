# SPDX-License-Identifier: Apache-2.0
"""Quality control's vocabulary: the flags, their SensorThings ``resultQuality`` names, and the
configuration per platform (:class:`QCConfig`) and per stream (:class:`StreamRules`). The checks
themselves are in :mod:`safecity.sensing.quality`."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from safecity.sensing.catalogue import PropertySpec


class QCFlag(enum.IntFlag):
    """Quality flags; a row's flags are their bitwise OR (0 = no finding)."""

    OUT_OF_RANGE = 1  # outside the plausible range of its observed property, or NaN/inf
    SPIKE = 2  # more than k robust standard deviations from the median of recent values
    FLATLINE = 4  # the same value repeated flatline_count times in a row (stuck sensor)
    FUTURE = 8  # phenomenonTime later than received time + future_tolerance_s
    LATE = 16  # arrived more than late_after_s after its phenomenonTime


# No NOT_NUMERIC flag: a non-numeric result is legitimate for OM_Observation / truth / category
# streams, and whether a stream must be numeric is known (and rejected) where the Datastream's
# observationType is, not here.

_NAMES: Final[tuple[tuple[int, str], ...]] = tuple((int(f), str(f.name).lower()) for f in QCFlag)
_BY_NAME: Final[dict[str, int]] = {name: bit for bit, name in _NAMES}
_ALL: Final[int] = sum(bit for bit, _ in _NAMES)


@dataclass(frozen=True, slots=True)
class QCConfig:
    """Global QC settings. Times in seconds, counts in observations.

    * ``future_tolerance_s`` (300): sensor clocks drift and NTP-less loggers are common; five minutes
      of lead is tolerated before FUTURE.
    * ``late_after_s`` (3600): an observation arriving more than an hour after it was made is too late
      for live warnings; LATE tells the rule engine so.
    * ``spike_window`` (30) / ``spike_min_history`` (10): the median and MAD come from up to 30 recent
      values (half an hour at 1-min reporting); with fewer than 10 they are too unstable to test.
    * ``spike_k`` (6.0): for Gaussian noise, |z| > 3 (the classic Hampel filter) occurs in 0.27 % of
      readings, i.e. ~270 false flags per second at 10^5 obs/s; |z| > 6 occurs with probability
      2e-9. Real sensor noise has heavier tails than Gaussian, and a false SPIKE on a genuine hazard
      signal costs more than a missed glitch, so we sit far out.
    * ``flatline_count`` (12): an hour at 5-min reporting or 12 minutes at 1-min reporting of exactly
      identical values; per-property overrides (StreamRules) raise it for quantities that hold still.
    * ``mad_floor`` (1e-9): the smallest MAD, so a perfectly flat history does not divide by zero
      (used when neither the stream's rules nor its range give a floor).
    * ``mad_floor_range_fraction`` (0.001): without a per-stream floor, the MAD floor is this fraction
      of the stream's valid range span (e.g. 0.35 mm for 0..350), so one sensor step after a flat
      history is not a spike.
    * ``stale_after_s`` (10800): after a gap of 3 h the recent values describe another situation
      (day vs night); the spike history is emptied and rebuilt.
    """

    future_tolerance_s: float = 300.0
    late_after_s: float = 3600.0
    spike_window: int = 30
    spike_k: float = 6.0
    spike_min_history: int = 10
    flatline_count: int = 12
    mad_floor: float = 1e-9
    mad_floor_range_fraction: float = 0.001
    stale_after_s: float = 3 * 3600.0

    def __post_init__(self) -> None:
        if self.spike_window < 3:
            raise ValueError(f"QCConfig.spike_window must be ≥ 3, got {self.spike_window}")
        if not 1 <= self.spike_min_history <= self.spike_window:
            raise ValueError(
                f"QCConfig.spike_min_history must be in 1..spike_window ({self.spike_window}), "
                f"got {self.spike_min_history}"
            )
        if not self.spike_k > 0:
            raise ValueError(f"QCConfig.spike_k must be > 0, got {self.spike_k}")
        if self.flatline_count < 0 or self.flatline_count == 1:
            raise ValueError(f"QCConfig.flatline_count must be 0 (off) or ≥ 2, got {self.flatline_count}")
        for name in ("future_tolerance_s", "late_after_s", "stale_after_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"QCConfig.{name} must be ≥ 0 seconds, got {getattr(self, name)}")
        if not (self.mad_floor > 0 and self.mad_floor_range_fraction >= 0):
            raise ValueError("QCConfig.mad_floor must be > 0 and mad_floor_range_fraction ≥ 0")


@dataclass(frozen=True, slots=True)
class StreamRules:
    """Per-datastream tuning beyond the range and the zero rule (usually from the property catalogue).

    ``spike``: run the spike test. ``mad_floor``: smallest MAD in the stream's unit (None: derive from
    the range span, see QCConfig). ``mad_floor_rel``: floor as a fraction of |window median|, for
    quantities whose scale varies by site. ``flatline_count``: None for the QCConfig default, 0 to never
    flag FLATLINE, else the run length.
    """

    spike: bool = True
    mad_floor: float | None = None
    mad_floor_rel: float = 0.0
    flatline_count: int | None = None

    @classmethod
    def from_spec(cls, spec: PropertySpec) -> StreamRules:
        """The rules the catalogue gives for ``spec``'s property."""
        return cls(
            spike=spec.qc.spike_check,
            mad_floor=spec.qc.spike_mad_floor,
            mad_floor_rel=spec.qc.spike_mad_floor_rel,
            flatline_count=spec.qc.flatline_count,
        )


@dataclass(frozen=True, slots=True)
class _Params:
    """Effective settings for one stream in one batch."""

    slot: int
    lo: float
    hi: float
    spike: bool
    floor_abs: float
    floor_rel: float
    flat_n: int
    zero_ok: bool


def flags_to_quality(flags: int) -> list[str] | None:
    """The SensorThings ``resultQuality`` for a flag mask: flag names in bit order, or None for 0.

    E.g. ``flags_to_quality(3) == ["out_of_range", "spike"]``. Unknown bits are ignored.
    """
    if not flags:
        return None
    names = [name for bit, name in _NAMES if flags & bit]
    return names or None


def quality_to_flags(quality: object) -> int:
    """The flag mask from a stored ``resultQuality``; tolerant of what other writers may have stored.

    Accepts None (0), an int mask, a name or a comma/space separated string of names, or a list/tuple/set
    of names and ints. Names are case-insensitive, ``-`` and spaces read as ``_``; unknown names and
    other types (e.g. a DQ_Element object from another system) contribute nothing.
    """
    if quality is None or isinstance(quality, bool):
        return 0
    if isinstance(quality, int):
        return quality & _ALL
    if isinstance(quality, str):
        return _names_to_flags(quality.replace(",", " ").split())
    if isinstance(quality, list | tuple | set | frozenset):
        mask = 0
        for item in quality:
            if isinstance(item, str):
                mask |= _names_to_flags([item])
            elif isinstance(item, int) and not isinstance(item, bool):
                mask |= item & _ALL
        return mask
    return 0


def _names_to_flags(names: Iterable[str]) -> int:
    mask = 0
    for name in names:
        key = name.strip().casefold().replace("-", "_").replace(" ", "_")
        key = key.removeprefix("qcflag.")
        mask |= _BY_NAME.get(key, 0)
    return mask
