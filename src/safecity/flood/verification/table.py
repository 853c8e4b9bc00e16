# SPDX-License-Identifier: Apache-2.0
"""The verification table: ``cases.csv`` read into rows, each case run once, each row judged.

``safecity flood verify`` and ``tests/flood/test_verification.py`` both go through :func:`run_cases`,
so the command and the tests can never disagree about a reference or a tolerance.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from safecity.flood.verification import cases, ea, swmm_cases
from safecity.flood.verification.cases import CaseSkipped, Measured
from safecity.flood.verification.tolerances import resolve

Check = Literal["max", "min", "abs", "rel", "report"]
Runner = Callable[[Path], dict[str, Measured]]

#: Case name → runner. A case in ``cases.csv`` without a runner here is an error, caught by a test.
RUNNERS: dict[str, Runner] = {
    "lake_at_rest": cases.lake_at_rest,
    "dambreak_dry": cases.dambreak_dry,
    "dambreak_wet": cases.dambreak_wet,
    "dambreak_weak": cases.dambreak_weak,
    "thacker_planar": cases.thacker_planar,
    "macdonald_norain": cases.macdonald_norain,
    "macdonald_rain": cases.macdonald_rain,
    "ea_test4": ea.ea_test4,
    "ea_test8a": ea.ea_test8a,
    "ea_test8b": ea.ea_test8b,
    **swmm_cases.RUNNERS,
}


@dataclass(frozen=True)
class Row:
    """One line of ``cases.csv``: what is measured, against what, within what."""

    case: str
    measure: str
    unit: str
    reference: float | None
    tolerance_name: str
    check: Check
    source: str

    @property
    def tolerance(self) -> float | None:
        return resolve(self.tolerance_name) if self.tolerance_name else None


@dataclass(frozen=True)
class Outcome:
    """A judged row. ``passed`` is None for reported rows and skipped cases."""

    row: Row
    value: float | None
    reference: float | None
    tolerance: float | None
    passed: bool | None
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "case": self.row.case,
            "measure": self.row.measure,
            "unit": self.row.unit,
            "value": self.value,
            "reference": self.reference,
            "tolerance": self.tolerance,
            "tolerance_name": self.row.tolerance_name or None,
            "check": self.row.check,
            "passed": self.passed,
            "source": self.row.source,
            "note": self.note or None,
        }


def load_rows() -> list[Row]:
    """Read ``cases.csv`` (shipped beside this module)."""
    text = resources.files("safecity.flood.verification").joinpath("cases.csv").read_text(encoding="utf-8")
    rows: list[Row] = []
    for n, rec in enumerate(csv.DictReader(text.splitlines()), start=2):
        check = rec["check"]
        if check not in ("max", "min", "abs", "rel", "report"):
            raise ValueError(f"cases.csv line {n}: check {check!r} is not one of max, min, abs, rel, report")
        rows.append(
            Row(
                case=rec["case"],
                measure=rec["measure"],
                unit=rec["unit"],
                reference=float(rec["reference"]) if rec["reference"] else None,
                tolerance_name=rec["tolerance"],
                check=check,  # type: ignore[arg-type]
                source=rec["source"],
            )
        )
    return rows


def judge(row: Row, measured: Measured) -> Outcome:
    """Compare one measured value with the row's reference and tolerance."""
    ref = measured.reference if measured.reference is not None else row.reference
    tol = row.tolerance
    v = measured.value
    if row.check == "report":
        return Outcome(row, v, ref, tol, None, "reported")
    if tol is None or math.isnan(v):
        return Outcome(row, v, ref, tol, False, "no value" if math.isnan(v) else "no tolerance")
    if row.check == "max":
        ok = v <= tol
    elif row.check == "min":
        ok = v >= tol
    else:
        if ref is None:
            return Outcome(row, v, ref, tol, False, "no reference")
        err = abs(v - ref) if row.check == "abs" else abs(v - ref) / max(abs(ref), 1e-300)
        ok = err <= tol
    return Outcome(row, v, ref, tol, ok)


def run_case(case: str, rows: Iterable[Row], data: Path) -> list[Outcome]:
    """Run one case and judge its rows; a skipped case gives rows with ``passed=None`` and the reason."""
    rows = [r for r in rows if r.case == case]
    try:
        measured = RUNNERS[case](data)
    except CaseSkipped as e:
        return [Outcome(r, None, r.reference, r.tolerance, None, f"skipped: {e}") for r in rows]
    out: list[Outcome] = []
    for r in rows:
        if r.measure not in measured:
            out.append(Outcome(r, None, r.reference, r.tolerance, False, "the case did not measure this"))
        else:
            out.append(judge(r, measured[r.measure]))
    return out


def run_cases(data: Path, only: Iterable[str] | None = None) -> list[Outcome]:
    """Run every case of the table (or those named in ``only``), in table order."""
    rows = load_rows()
    wanted = set(only) if only else None
    order: list[str] = []
    for r in rows:
        if r.case not in order and (wanted is None or r.case in wanted):
            order.append(r.case)
    outcomes: list[Outcome] = []
    for case in order:
        outcomes.extend(run_case(case, rows, data))
    return outcomes
