# SPDX-License-Identifier: Apache-2.0
"""Verification cases of the capacity-spectrum method over an inventory (``safecity quake verify``):

* ``capacity-crosscheck``: the shipped capacity curves and κ (``data/hazus_capacity_curves.csv``,
  SimCenter's transcription of the Hazus tables) against a second, independent transcription (Rts,
  ``verification/capacity_rts.csv``), worst difference per design level and quantity;
* ``csm-elastic``: a building shaken below its yield point, where the performance point is known in closed
  form: on the demand plateau Sa = SAS / R_A(β_E) and Sd = dy · Sa / ay (the elastic branch);
* ``csm-vectorised``: :func:`~safecity.quake.csm.performance_sd` (arrays, used by the damage chain) against
  the scalar :func:`~safecity.quake.csm.performance_point` (checked by hand in ``csm-hand``), for every
  shipped curve at three demands, light to beyond the ultimate point.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from safecity.quake.csm import (
    CURVE_LEVELS,
    INCH,
    duration,
    hazus_capacity,
    performance_point,
    performance_sd,
    reductions,
    sd_key,
)
from safecity.quake.verify import CSM_REL_TOL, Row, _table

#: The second transcription prints displacements to two decimals: half a unit of the second decimal,
#: plus the first's own three-decimal rounding (e.g. W1 moderate du 6.475 vs 6.48 in).
TRANSCRIPTION_TOL = 0.0051
#: Demands (SAS, SA1 in g) of the vectorised-against-scalar case: light, strong, very strong.
DEMANDS = ((0.15, 0.06), (0.8, 0.35), (2.0, 1.2))
#: The magnitude of those demands (moderate duration).
MAGNITUDE = 6.5


def case_capacity_crosscheck(_: Path | None) -> list[Row]:
    curves = hazus_capacity()
    inches = {"dy_in": curves.dy / INCH, "du_in": curves.du / INCH}
    worst: dict[tuple[str, str], float] = {}
    count: dict[str, int] = {}
    for r in _table("capacity_rts.csv"):
        i = curves.index(sd_key(r["building_type"], r["design_level"]))
        level = r["design_level"]
        count[level] = count.get(level, 0) + 1
        ours = {
            "dy_in": inches["dy_in"][i],
            "ay_g": curves.ay[i],
            "du_in": inches["du_in"][i],
            "au_g": curves.au[i],
            "kappa_short": curves.kappa[i, 0],
            "kappa_moderate": curves.kappa[i, 1],
            "kappa_long": curves.kappa[i, 2],
        }
        for name, value in ours.items():
            if r[name] == "":
                continue
            key = (level, name)
            worst[key] = max(worst.get(key, 0.0), abs(float(value) - float(r[name])))
    return [
        Row(
            "capacity-crosscheck",
            f"{level} code, {name}: worst |SimCenter - Rts| over {count[level]} types",
            diff,
            0.0,
            TRANSCRIPTION_TOL,
        )
        for (level, name), diff in sorted(
            worst.items(), key=lambda kv: (CURVE_LEVELS.index(kv[0][0]), kv[0][1])
        )
    ]


def case_csm_elastic(_: Path | None) -> list[Row]:
    curves = hazus_capacity()
    rows = []
    for key in ("W1/high", "C2L/moderate", "S1L/low"):
        i = curves.index(key)
        dy, ay, elastic = float(curves.dy[i]), float(curves.ay[i]), float(curves.elastic_pct[i])
        r_a, r_v = reductions(elastic)
        t0 = 2 * math.pi * math.sqrt(dy / (ay * 9.80665))
        sas = 0.1 * ay  # well below yield
        sa1 = 2 * t0 * sas  # T_AV = 2 T0 R_A/R_V > T0: the building is on the plateau
        assert t0 <= sa1 / sas * r_a / r_v
        want = dy * (sas / r_a) / ay
        got = performance_sd(curves, np.array([i]), np.array([sas]), np.array([sa1]), duration(MAGNITUDE))[0]
        rows.append(
            Row("csm-elastic", f"{key} Sd m (closed form {want:.6g})", float(got), want, CSM_REL_TOL, True)
        )
    return rows


def case_csm_vectorised(_: Path | None) -> list[Row]:
    curves = hazus_capacity()
    column = duration(MAGNITUDE)
    rows = []
    for sas, sa1 in DEMANDS:
        idx = np.arange(len(curves.keys))
        got = performance_sd(curves, idx, np.full(len(idx), sas), np.full(len(idx), sa1), column)
        worst, beyond_agree = 0.0, 0
        for i in idx:
            try:
                point = performance_point(
                    curves.curve(curves.keys[i]),
                    sas,
                    sa1,
                    kappa=float(curves.kappa[i, column]),
                    elastic_pct=float(curves.elastic_pct[i]),
                )
            except ValueError:  # beyond the curve: the vectorised one must say so too
                beyond_agree += int(math.isinf(got[i]))
                worst = max(worst, 0.0 if math.isinf(got[i]) else 1.0)
                continue
            worst = max(worst, abs(float(got[i]) - point.sd) / point.sd)
        rows.append(
            Row(
                "csm-vectorised",
                f"SAS {sas} g, SA1 {sa1} g: worst relative Sd difference over {len(idx)} curves"
                f" ({beyond_agree} beyond the curve in both)",
                worst,
                0.0,
                CSM_REL_TOL,
            )
        )
    return rows
