# SPDX-License-Identifier: Apache-2.0
"""A 1D sewer network in EPA SWMM 5 (the real engine, through pyswmm), coupled to the surface at manholes.

pyswmm steps the compiled SWMM engine (swmm-toolkit) from Python, so the pipes are routed by the same
dynamic-wave code engineers use, not a re-implementation. At each coupling interval the exchange flow
between a street cell and its manhole follows the weir/orifice equations (Chen et al. 2007; Rubinato
et al. 2017; as itzi and LISFLOOD-FP's urban couplings use them), with ``Q > 0`` from the street into
the sewer:

* manhole head below the rim — free weir while the ponding is shallow, ``Q = C_w·P·h·√(2·g·h)``, and
  orifice once it covers the grate, ``Q = C_o·A·√(2·g·h)`` (the smaller of the two);
* head between the rim and the street surface — submerged orifice, ``Q = C_o·A·√(2·g·(η − H))``;
* head above the street surface (surcharge) — the orifice reversed, ``Q = −C_o·A·√(2·g·(H − η))``: the
  sewer spills onto the street.

A coupled node's surcharge depth is raised so that SWMM never loses its overflow as "flooding": the
water comes back onto the street through the orifice, where the surface model carries it. Any flooding
SWMM still reports (an uncoupled node) is put on the street cell of a coupled one if it has one, else
it leaves the system and is booked as lost.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from safecity.flood.model import FloodModel

#: Flow units SWMM may use → m³/s.
FLOW_TO_M3S = {
    "CMS": 1.0,
    "LPS": 1e-3,
    "MLD": 1e3 / 86400.0,
    "CFS": 0.3048**3,
    "GPM": 6.30901964e-5,
    "MGD": 0.0438126364,
}
#: SWMM lengths → m (US customary models are in feet).
LENGTH_TO_M = {"US": 0.3048, "SI": 1.0}
#: Surcharge depth given to coupled manholes, m: high enough that SWMM never overflows them itself.
COUPLED_SURCHARGE_M = 100.0


class SwmmError(ValueError):
    """A coupling request does not fit the network; the message names the node and the fix."""


@dataclass(frozen=True)
class Manhole:
    """A SWMM node coupled to a street cell.

    ``area`` (m²) and ``perimeter`` (m) are the inlet's (grate or manhole cover); the coefficients are
    dimensionless. Defaults: a 1 m² inlet of 4 m perimeter, ``C_w`` 0.54 and ``C_o`` 0.167 (Rubinato
    et al. 2017's calibrated values for a manhole under a grate, the defaults itzi uses).
    """

    node: str
    cell: tuple[int, int]
    area: float = 1.0
    perimeter: float = 4.0
    weir_coefficient: float = 0.54
    orifice_coefficient: float = 0.167


def exchange_flow(h_surface: float, z_rim: float, head: float, m: Manhole, g: float = 9.81) -> float:
    """Flow from the street into the manhole, m³/s (negative: the sewer spills onto the street).

    ``h_surface`` is the ponded depth over the rim (m), ``z_rim`` the street/rim elevation (m) and
    ``head`` the manhole's hydraulic head (m), all in the same datum.
    """
    eta = z_rim + h_surface
    if head > eta:
        return -m.orifice_coefficient * m.area * math.sqrt(2.0 * g * (head - eta))
    if h_surface <= 0.0:
        return 0.0
    if head <= z_rim:
        weir = m.weir_coefficient * m.perimeter * h_surface * math.sqrt(2.0 * g * h_surface)
        orifice = m.orifice_coefficient * m.area * math.sqrt(2.0 * g * h_surface)
        return min(weir, orifice)
    return m.orifice_coefficient * m.area * math.sqrt(2.0 * g * (eta - head))


@dataclass
class SewerLedger:
    """Volumes (m³) between the sewer and the street since the start: into the sewer, out of it, lost."""

    into_sewer: float = 0.0
    onto_street: float = 0.0
    flooding_lost: float = 0.0
    mismatch: float = 0.0
    per_node: dict[str, float] = field(default_factory=dict)


class SewerNetwork:
    """A SWMM model run step by step; optionally coupled to a :class:`FloodModel` at manholes.

    The ``.inp`` is copied into a private folder (with any file beside it that it names, such as rain
    data), so the original stays untouched and its report/output files land there. Use as a context
    manager; SWMM allows one open model per process.
    """

    def __init__(self, inp: Path, manholes: Iterable[Manhole] = ()) -> None:
        from pyswmm import Nodes, Simulation  # type: ignore[import-untyped]  # only sewer runs need the engine

        self._dir = Path(tempfile.mkdtemp(prefix="safecity-swmm-"))
        for sibling in inp.parent.iterdir():
            if sibling.is_file() and sibling.suffix.lower() not in (".out", ".rpt"):
                shutil.copy2(sibling, self._dir / sibling.name)
        self.inp = self._dir / inp.name
        # SWMM resolves relative file names (LID reports, rain files) against the working directory, and
        # EPA's examples write Windows-style ".\\name": point those into the private folder, or a run
        # would litter whatever directory the process happens to be in.
        text = self.inp.read_text(errors="replace")
        if ".\\" in text:
            self.inp.write_text(text.replace(".\\", f"{self._dir}/"))
        self.report = self.inp.with_suffix(".rpt")
        self.output = self.inp.with_suffix(".out")
        self.sim = Simulation(str(self.inp), str(self.report), str(self.output))
        self.sim.__enter__()  # we manage its lifetime ourselves (close()); this says so to pyswmm
        self.nodes = Nodes(self.sim)
        self.manholes = tuple(manholes)
        known = {n.nodeid for n in self.nodes}
        unknown = [mh.node for mh in self.manholes if mh.node not in known]
        if unknown:
            # SWMM allows one open model per process: release it before refusing.
            self.close()
            self.cleanup()
            raise SwmmError(
                f"manhole {unknown[0]!r} is not a node of {inp.name}; nodes: {', '.join(sorted(known))}"
            )
        self.q_unit = FLOW_TO_M3S[self.sim.flow_units]
        self.l_unit = LENGTH_TO_M[self.sim.system_units]
        self.ledger = SewerLedger(per_node={mh.node: 0.0 for mh in self.manholes})
        self.t = 0.0
        self.finished = False
        self._last_flow: dict[str, float] = {mh.node: 0.0 for mh in self.manholes}

    def __enter__(self) -> SewerNetwork:
        # Node parameters can be set only before SWMM starts.
        for mh in self.manholes:
            self.nodes[mh.node].surcharge_depth = COUPLED_SURCHARGE_M / self.l_unit
        self.sim.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """End the SWMM run (writes its report and output) and release the engine."""
        self.sim.__exit__()

    def cleanup(self) -> None:
        """Delete the private folder (after :meth:`close`, once its report and output are no longer read)."""
        shutil.rmtree(self._dir, ignore_errors=True)

    @property
    def duration(self) -> float:
        """Simulated duration of the model, s (END − START in the ``.inp``)."""
        return float((self.sim.end_time - self.sim.start_time).total_seconds())

    def rim_elevation(self, node: str) -> float:
        """The node's rim (invert + full depth), m."""
        n = self.nodes[node]
        return float(n.invert_elevation + n.full_depth) * self.l_unit

    def head(self, node: str) -> float:
        """The node's hydraulic head now, m."""
        return float(self.nodes[node].head) * self.l_unit

    def last_flow(self, node: str) -> float:
        """The exchange flow of the last interval at ``node``, m³/s (positive into the sewer)."""
        return self._last_flow[node]

    def advance(self, t_end: float) -> None:
        """Run SWMM alone to ``t_end`` (s from its start), or to its end."""
        while not self.finished and self.t < t_end - 1e-9:
            self._stride(t_end - self.t)

    def _stride(self, seconds: float) -> float:
        self.sim.step_advance(max(1, round(seconds)))
        try:
            next(self.sim)
        except StopIteration:
            self.finished = True
        self.t = float((self.sim.current_time - self.sim.start_time).total_seconds())
        return self.t

    def couple(self, surface: FloodModel, t_end: float, interval: float = 1.0) -> None:
        """Advance SWMM and the surface together to at least ``t_end`` (s), exchanging every ``interval`` s.

        Each interval: exchange flows from the current depths and heads (inflow limited to the water the
        street cell holds), set as SWMM inflows; SWMM advanced (its routing steps may carry it a little
        past the interval); the same volumes moved on the surface over SWMM's actual span; the surface
        advanced to SWMM's time. Volumes SWMM took that the street could not give are booked in
        ``ledger.mismatch`` (0 unless the interval is long against the filling of the cell).
        """
        area = surface.domain.grid.cell_area
        while surface.t < t_end - 1e-9:
            flows: dict[str, float] = {}
            for mh in self.manholes:
                r, c = mh.cell
                q = 0.0
                if not self.finished:
                    q = exchange_flow(
                        float(surface.h[r, c]), float(surface.fields.z[r, c]), self.head(mh.node), mh
                    )
                    q = min(q, float(surface.h[r, c]) * area / interval)
                flows[mh.node] = q
                self.nodes[mh.node].generated_inflow(q / self.q_unit)
            flooding = 0.0
            if self.finished:
                target = min(surface.t + interval, t_end)
            else:
                t_before = self.t
                self._stride(interval)
                target = max(self.t, surface.t + 1e-6)
                flooding = sum(float(n.flooding) for n in self.nodes) * self.q_unit * (self.t - t_before)
            span = target - surface.t
            for mh in self.manholes:
                wanted = flows[mh.node] * span
                moved = -surface.exchange(mh.cell, -wanted)
                self.ledger.mismatch += wanted - moved
                self._last_flow[mh.node] = moved / span
                self.ledger.per_node[mh.node] += moved
                if moved >= 0:
                    self.ledger.into_sewer += moved
                else:
                    self.ledger.onto_street -= moved
            if flooding > 0.0:
                if self.manholes:
                    surface.exchange(self.manholes[0].cell, flooding)
                    self.ledger.onto_street += flooding
                else:
                    self.ledger.flooding_lost += flooding
            surface.advance(target)

    def continuity(self) -> dict[str, float]:
        """SWMM's continuity errors (%) from its report, by table; read after :meth:`close`."""
        return read_continuity(self.report)


def read_continuity(report: Path) -> dict[str, float]:
    """The ``Continuity Error (%)`` of each continuity table in a SWMM ``.rpt``.

    Keys are the tables' titles as SWMM prints them (``Runoff Quantity Continuity``, ``Flow Routing
    Continuity``, ...); quality tables are skipped.
    """
    out: dict[str, float] = {}
    title = ""
    for line in report.read_text(errors="replace").splitlines():
        s = line.strip()
        if s.endswith("Continuity") or " Continuity " in s:
            title = s.split("  ")[0].strip()
        elif s.startswith("Continuity Error (%)") and title and "Quality" not in title:
            out.setdefault(title, float(s.split()[-1]))
    return out
