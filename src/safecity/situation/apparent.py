# SPDX-License-Identifier: Apache-2.0
"""KMA summer apparent temperature (여름철 체감온도), the quantity behind heat-wave reports since 2020.

Source: Korea Meteorological Administration, 기상자료개방포털 "체감온도" (summer apparent temperature
formula, adopted for 폭염특보 from 15 May 2020): the wet-bulb temperature by Stull (2011), "Wet-Bulb
Temperature from Relative Humidity and Air Temperature", J. Appl. Meteor. Climatol. 50, 2267-2269, then

    체감온도 = -0.2442 + 0.55399 Tw + 0.45535 Ta - 0.0022 Tw² + 0.00278 Tw Ta + 3.0

with Ta the air temperature (°C) and RH the relative humidity (%). Stull's fit holds for RH 5-99 % and
Ta -20-50 °C; outside that the value is not computed rather than extrapolated.
"""

from __future__ import annotations

import math


def wet_bulb_stull(ta: float, rh: float) -> float:
    return float(
        ta * math.atan(0.151977 * math.sqrt(rh + 8.313659))
        + math.atan(ta + rh)
        - math.atan(rh - 1.67633)
        + 0.00391838 * rh**1.5 * math.atan(0.023101 * rh)
        - 4.686035
    )


def apparent_temperature(ta: float, rh: float) -> float | None:
    """°C, or None where the formula does not hold."""
    if not (5.0 <= rh <= 99.0 + 1e-9 or 99.0 < rh <= 100.0) or not -20.0 <= ta <= 50.0:
        return None
    rh = min(rh, 99.0)
    tw = wet_bulb_stull(ta, rh)
    return -0.2442 + 0.55399 * tw + 0.45535 * ta - 0.0022 * tw * tw + 0.00278 * tw * ta + 3.0
