# SPDX-License-Identifier: Apache-2.0
"""EPA's SWMM example models run through our coupling layer, against SWMM 5.1.012's published results.

Each model in ``shared/data/swmm`` (EPA examples and EXTRAN benchmarks) is stepped by
:class:`safecity.flood.swmm.SewerNetwork`, exactly as a coupled run steps it, then compared with the
5.1.012 report and binary output in ``epa_benchmark_swmm5112``: the continuity errors, and the inflow
series at the outfalls (what leaves the network, summed over outfalls), its peak and its Nash–Sutcliffe
efficiency. The engine here is SWMM 5.2 (swmm-toolkit), so the tolerances allow the small differences
between the two versions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from safecity.flood.swmm import SewerNetwork, read_continuity
from safecity.flood.verification.cases import CaseSkipped, Measured

F64 = npt.NDArray[np.float64]

#: Case name → (input path, reference stem), relative to ``shared/data/swmm``.
MODELS: dict[str, tuple[str, str]] = {
    **{
        f"swmm_example{i}": (f"epa_examples/Example{i}.inp", f"epa_benchmark_swmm5112/Example_{i}/Example{i}")
        for i in range(1, 7)
    },
    **{
        f"swmm_extran{k}": (f"epa_extran/extran{k}.inp", f"epa_benchmark_swmm5112/extran_{k}/extran{k}")
        for k in ("1", "2", "3", "4", "5", "6", "7", "8a", "8b", "9", "10")
    },
}


def outfalls(inp: Path) -> list[str]:
    """Names of the ``[OUTFALLS]`` nodes of a SWMM input file."""
    names: list[str] = []
    section = ""
    for line in inp.read_text(errors="replace").splitlines():
        s = line.strip()
        if s.startswith("["):
            section = s.upper()
            continue
        if section == "[OUTFALLS]" and s and not s.startswith(";"):
            names.append(s.split()[0])
    return names


def outfall_series(out: Path, nodes: list[str]) -> F64:
    """Total inflow (the model's flow units) summed over ``nodes``, one value per reporting step."""
    from pyswmm import NodeSeries, Output  # type: ignore[import-untyped]  # only sewer runs need it

    with Output(str(out)) as o:
        series = NodeSeries(o)
        total: F64 | None = None
        for n in nodes:
            v = np.array(list(series[n].total_inflow.values()), dtype=np.float64)
            total = v if total is None else total + v
    return total if total is not None else np.zeros(0)


def nse(model: F64, ref: F64) -> float:
    """Nash–Sutcliffe efficiency of ``model`` against ``ref`` (1 is perfect)."""
    var = float(np.sum((ref - ref.mean()) ** 2))
    return 1.0 - float(np.sum((model - ref) ** 2)) / var if var > 0 else math.nan


def run_model(data: Path, case: str) -> dict[str, Measured]:
    rel_inp, rel_ref = MODELS[case]
    root = data / "swmm"
    inp, ref = root / rel_inp, root / rel_ref
    if not inp.exists() or not ref.with_suffix(".out").exists():
        raise CaseSkipped(f"{inp} or its reference is missing (see shared/data/swmm/PROVENANCE.md)")
    net = SewerNetwork(inp)
    try:
        with net:
            net.advance(net.duration)
        ours = read_continuity(net.report)
        nodes = outfalls(inp)
        q_ours = outfall_series(net.output, nodes)
    finally:
        net.cleanup()
    theirs = read_continuity(ref.with_suffix(".rpt"))
    q_ref = outfall_series(ref.with_suffix(".out"), nodes)
    n = min(len(q_ours), len(q_ref))
    out = {
        "routing_continuity": Measured(ours["Flow Routing Continuity"], theirs["Flow Routing Continuity"]),
        "outfall_peak": Measured(float(q_ours.max()), float(q_ref.max())),
        "outfall_nse": Measured(nse(q_ours[:n], q_ref[:n])),
    }
    if "Runoff Quantity Continuity" in theirs:
        out["runoff_continuity"] = Measured(
            ours["Runoff Quantity Continuity"], theirs["Runoff Quantity Continuity"]
        )
    return out


def _runner(case: str) -> Callable[[Path], dict[str, Measured]]:
    def run(data: Path) -> dict[str, Measured]:
        return run_model(data, case)

    run.__doc__ = f"SWMM model {MODELS[case][0]} through the coupling layer, against SWMM 5.1.012."
    return run


RUNNERS: dict[str, Callable[[Path], dict[str, Measured]]] = {case: _runner(case) for case in MODELS}
