# SPDX-License-Identifier: Apache-2.0
"""What every demo scenario tells people, judged minute by minute (:mod:`safecity.demo.judge`): alerts
issued, updates, cancels, the most people told to evacuate at once, how long after the hazard ended the
last warning was lifted, and the checks of issue 12 that failed.

    .venv/bin/python bench/scenarios.py [--scenario heavy_rain ...] [--tail 3h] [--json]

Every draft is issued (a duty officer approving all, the harshest case). "Hazard ended": the end of the
rain where there is rain, else the end of the last minute any district was at a level (the platform's own
view). Runs on SQLite in a temporary folder; minutes, not seconds: it simulates every minute.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta

from safecity.demo import scenario
from safecity.demo.city import build_city
from safecity.demo.judge import CHECKS, Report, judge
from safecity.situation.rules import parse_duration


def _row(r: Report, seconds: float) -> dict[str, object]:
    lift = r.lift_after_hazard
    return {
        "scenario": r.scenario,
        "minutes": r.minutes,
        "alerts": r.issued,
        "updates": r.updates,
        "cancels": r.cancels,
        "mostEvacuating": r.most_evacuating,
        "hazardEnd": (r.rain_end or r.hazard_end).isoformat() if (r.rain_end or r.hazard_end) else None,
        "liftedAfterHazardMin": None if lift is None else round(lift.total_seconds() / 60),
        "stillInForceAtEnd": r.still_in_force,
        # issue 19: an earthquake incident's damage served, seconds after its readings were posted
        "quakeDamageAfterS": None if r.quake_damage_after_s is None else round(r.quake_damage_after_s, 2),
        "quakeInspections": r.quake_inspections,
        "quakeCells": r.quake_cells,
        "quakeOutdoorSites": r.quake_outdoor_sites,
        "failed": {c: len(r.failed(c)) for c in CHECKS if r.failed(c)},
        "firstFailures": [f"{v.check} {v.at.isoformat()}: {v.detail}" for v in r.violations[:3]],
        "seconds": round(seconds),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", action="append", choices=scenario.names(), help="default: every scenario")
    ap.add_argument("--tail", default="3h", help="simulated time after the scenario's last step (default 3h)")
    ap.add_argument("--json", action="store_true", help="one JSON object per scenario")
    args = ap.parse_args()
    city = build_city()
    for name in args.scenario or scenario.names():
        started = time.monotonic()
        report = judge(name, tail=timedelta(seconds=parse_duration(args.tail)), city=city)
        row = _row(report, time.monotonic() - started)
        if args.json:
            print(json.dumps(row, ensure_ascii=False), flush=True)
            continue
        lifted = row["liftedAfterHazardMin"]
        print(
            f"{name:18} alerts {row['alerts']:3}  updates {row['updates']:3}  cancels {row['cancels']:3}  "
            f"most evacuating {row['mostEvacuating']:>9,}  "
            f"lifted {'-' if lifted is None else f'{lifted} min'} after the hazard"
            f"{' (still in force at the end)' if row['stillInForceAtEnd'] else ''}  "
            f"failed {row['failed'] or 'none'}  ({row['seconds']} s)",
            flush=True,
        )
        if row["quakeDamageAfterS"] is not None:
            print(
                f"    earthquake damage served {row['quakeDamageAfterS']} s after its readings were posted: "
                f"{row['quakeCells']} map cells, {row['quakeInspections']} buildings to inspect, "
                f"{row['quakeOutdoorSites']} outdoor sites on the citizen page (SAFECITY_QUAKE__BUILDINGS "
                "sets the inventory's size)",
                flush=True,
            )
        for line in row["firstFailures"]:  # type: ignore[attr-defined]
            print(f"    {line}", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
