# SPDX-License-Identifier: Apache-2.0
"""Earthquake damage: how fast a new scenario is assessed over a city's buildings (issue 19).

1. **Damage for 600,000 buildings from a new scenario** (ground motion at every building with BSSA14 +
   Hazus damage states + casualties + displacement; target <= 3 s on this 2-core machine). The inventory
   is the generated Seoul one (``safecity.quake.generate``) stretched to 600,000 buildings over the demo
   city's districts; it is loaded before the clock starts, as in a running platform. Printed with the
   ratio to a per-building Python loop (pygmm's scalar BSSA14, the Hazus lognormal with ``math.erf``,
   the casualty sum) measured on a sample in the same run and scaled to the same number of buildings.
2. **The chain from a KMA CAP earthquake message to the damage summary** (parse the message, shaking
   conditioned on the 25 district accelerometers' readings, damage, per-district summary with buildings
   by damage state, casualties, displaced, shelter demand and the buildings to inspect, as JSON; target
   <= 10 s).
3. **The same in a running platform** (``POST /quake/messages`` → the incident with its damage map, inspection
   list, cordons and walks, shelter demand, event and note → ``GET /quake/incidents/{id}``; target <= 10 s),
   printed with its ratio to the target and to the model-only chain of 2, measured in the same run.

The machine is shared: the load average is printed with the figures.

    .venv/bin/python bench/quake.py [--buildings 600000] [--sample 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time

import numpy as np

from safecity.demo.city import build_city
from safecity.quake.capmsg import quake_from_cap
from safecity.quake.damage import assess, casualty_model
from safecity.quake.fragility import hazus_pga
from safecity.quake.generate import DistrictArea, generate_seoul
from safecity.quake.gmm import Mechanism, import_pygmm, quiet_pygmm
from safecity.quake.intensity import GAL_PER_G
from safecity.quake.inventory import Inventory, TimeOfDay
from safecity.quake.service import assess_cap, assess_scenario
from safecity.quake.shakemap import Rupture, Stations, shake

#: New scenarios: (magnitude, lon, lat, depth km, mechanism) around and under the city.
SCENARIOS = (
    (6.0, 127.00, 37.33, 10.0, Mechanism.STRIKE_SLIP),
    (6.5, 126.95, 37.52, 12.0, Mechanism.REVERSE),
    (5.5, 127.10, 37.60, 8.0, Mechanism.UNSPECIFIED),
    (7.0, 126.70, 37.20, 15.0, Mechanism.STRIKE_SLIP),
)

CAP_MESSAGE = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>KMA-EQK-BENCH-1</identifier>
  <sender>kma.go.kr</sender>
  <sent>2026-05-14T10:05:12+09:00</sent>
  <status>Exercise</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>ko-KR</language>
    <category>Geo</category>
    <event>지진</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <headline>[기상청] 05-14 10:05 경기 의왕시 부근 규모6.2 지진발생 (가상)</headline>
    <parameter><valueName>mt</valueName><value>6.2</value></parameter>
    <parameter><valueName>lat</valueName><value>37.33</value></parameter>
    <parameter><valueName>lon</valueName><value>127.00</value></parameter>
    <parameter><valueName>dep</valueName><value>10</value></parameter>
    <parameter><valueName>tmEqk</valueName><value>20260514100500</value></parameter>
    <area><areaDesc>경기 의왕시 부근</areaDesc><circle>37.33,127.00 0</circle></area>
  </info>
</alert>""".encode()


def load() -> str:
    try:
        return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "load average n/a"


def per_building_loop(inv: Inventory, rupture: Rupture, sample: np.ndarray) -> float:
    """Seconds per building for the plain way: one pygmm scenario per building, the Hazus lognormal with
    math.erf, the casualty sum, in a Python loop."""
    pygmm = import_pygmm()
    frag = hazus_pga()
    rows = inv.fragility_rows(frag)
    model = casualty_model()
    pos = {t: i for i, t in enumerate(model.types)}
    rjb = rupture.rjb_km(inv.lon[sample], inv.lat[sample])
    t0 = time.perf_counter()
    with quiet_pygmm():
        total_killed = 0.0
        for k, i in enumerate(sample):
            gm = pygmm.BooreStewartSeyhanAtkinson2014(
                pygmm.Scenario(
                    mag=rupture.magnitude,
                    dist_jb=float(rjb[k]),
                    v_s30=float(inv.vs30[i]),
                    mechanism=str(rupture.mechanism),
                )
            )
            pga = float(gm.pga)
            r = rows[i]
            exceed = [
                0.5 * math.erfc(-math.log(pga / frag.median[r, s]) / frag.beta[r, s] / math.sqrt(2))
                for s in range(4)
            ]
            probs = [exceed[0] - exceed[1], exceed[1] - exceed[2], exceed[2] - exceed[3], exceed[3]]
            t = pos[str(inv.hazus_type[i])]
            killed = sum(probs[s] * model.rates[t, s, 3] for s in range(4))
            total_killed += killed * inv.occupants[i, TimeOfDay.DAY]
    return (time.perf_counter() - t0) / len(sample)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--buildings", type=int, default=600_000)
    ap.add_argument("--sample", type=int, default=2000, help="buildings in the per-building loop baseline")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    print(f"machine: {os.cpu_count()} cores, {load()}")
    t0 = time.perf_counter()
    city = build_city()
    districts = [DistrictArea(d.code, d.polygon, d.population) for d in city.districts]
    inv = generate_seoul(districts, total=args.buildings)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    inv.fragility_rows()
    assess(inv, np.full(len(inv), 0.01))  # fills the per-inventory caches (types → rows, casualty rates)
    t_prep = time.perf_counter() - t0
    print(
        f"inventory: {len(inv):,} generated buildings in {t_gen:.1f} s; per-inventory tables {t_prep:.2f} s (once)"
    )

    # 1. new scenarios: ground motion + damage + casualties (+ the district summary)
    times = []
    for i in range(args.repeat):
        m, lon, lat, depth, mech = SCENARIOS[i % len(SCENARIOS)]
        rupture = Rupture(m, lon, lat, depth, mech)
        t0 = time.perf_counter()
        result = assess_scenario(rupture, inv, time_of_day=TimeOfDay.DAY)
        times.append(time.perf_counter() - t0)
        tot = result.summary.total
        print(
            f"  scenario M{m} at ({lon}, {lat}): {times[-1]:.2f} s — complete {tot.by_state['complete']:,.0f}, "
            f"killed {tot.casualties['killed']:,.0f}, displaced {tot.displaced:,.0f}, max PGA {tot.pga_max_g:.3f} g"
        )
    # the same scenarios by the capacity-spectrum method (SAFECITY_QUAKE__DAMAGE_METHOD=csm), interleaved
    csm_times = []
    for i in range(args.repeat):
        m, lon, lat, depth, mech = SCENARIOS[i % len(SCENARIOS)]
        rupture = Rupture(m, lon, lat, depth, mech)
        t0 = time.perf_counter()
        r_csm = assess_scenario(rupture, inv, time_of_day=TimeOfDay.DAY, method="csm")
        csm_times.append(time.perf_counter() - t0)
        tot = r_csm.summary.total
        print(
            f"  csm, M{m} at ({lon}, {lat}): {csm_times[-1]:.2f} s — {r_csm.damage.csm_buildings:,} buildings by "
            f"their capacity curve, complete {tot.by_state['complete']:,.0f}, killed {tot.casualties['killed']:,.0f}"
        )
    print(
        f"capacity-spectrum damage for {len(inv):,} buildings: median {statistics.median(csm_times):.2f} s, "
        f"{statistics.median(csm_times) / statistics.median(times):.2f}x the PGA method's median in the same run"
    )
    rng = np.random.default_rng(1)
    sample = rng.choice(len(inv), size=min(args.sample, len(inv)), replace=False)
    per = per_building_loop(inv, Rupture(*SCENARIOS[0]), sample)
    loop_total = per * len(inv)
    best, med = min(times), statistics.median(times)
    print(
        f"damage for {len(inv):,} buildings from a new scenario: best {best:.2f} s, median {med:.2f} s "
        f"(target <= 3 s); per-building Python loop ({len(sample):,} sampled, {per * 1e3:.2f} ms each) "
        f"would take {loop_total:,.0f} s: ratio {loop_total / med:,.0f}x"
    )

    # 2. the chain from a CAP message, conditioned on the district accelerometers
    q = quake_from_cap(CAP_MESSAGE)
    lon = np.array([d.office.x for d in city.districts])
    lat = np.array([d.office.y for d in city.districts])
    vs = np.full(len(lon), 360.0)
    # what the accelerometers recorded: a hotter event than the model's median, with scatter
    at_st = shake(q.rupture, lon, lat, vs).motion.pga_g
    stations = Stations(lon, lat, vs, {"PGA": at_st * np.exp(rng.normal(0.2, 0.3, len(lon)))})
    chain = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = assess_cap(CAP_MESSAGE, inv, stations=stations, top=20)
        body = json.dumps(result.summary.to_dict(), ensure_ascii=False)
        chain.append(time.perf_counter() - t0)
    s = result.summary
    print(
        f"CAP message → damage summary ({len(s.areas)} districts, {len(s.inspect_first)} buildings to inspect, "
        f"{len(body):,} bytes of JSON), conditioned on {len(lon)} stations: best {min(chain):.2f} s, "
        f"median {statistics.median(chain):.2f} s (target <= 10 s)"
    )
    worst = max(s.areas, key=lambda a: a.by_state["complete"])
    print(
        f"  worst district {worst.code}: KMA {worst.kma_intensity} (max {worst.pga_max_g * GAL_PER_G:.0f} gal), "
        f"complete {worst.by_state['complete']:,.0f}, killed {worst.casualties['killed']:,.0f}, "
        f"shelter demand {worst.shelter_demand:,.0f}; first to inspect {s.inspect_first[0].id} "
        f"(P(collapse) {s.inspect_first[0].collapse_probability:.2f} × {s.inspect_first[0].occupants:.0f} people)"
    )
    platform_chain(args, statistics.median(chain))
    print(f"machine after: {load()}")


def platform_chain(args: argparse.Namespace, model_median: float) -> None:
    """3. The whole chain in a running platform (SQLite, the in-process bus, the Seoul districts, dongs and
    the demo's shelters): ``POST /quake/messages`` with the CAP message → the incident opened → shaking,
    damage, damage-map cells, inspection list, cordons with the walk out of each, shelter demand per dong,
    the event, the note on the incident → ``GET /quake/incidents/{id}`` answers with the summary. The
    inventory is built when the platform starts (the warm-up worker), before the clock starts."""
    import tempfile
    from pathlib import Path

    from fastapi.testclient import TestClient

    from safecity.app import build_platform, create_app
    from safecity.auth.model import Role
    from safecity.demo.load import write_places
    from safecity.demo.network import build_network
    from safecity.geo import seoul
    from safecity.geo.importer import import_layer
    from safecity.quake.chain import QuakeChain
    from safecity.settings import MqttSettings, load_settings

    os.environ["SAFECITY_QUAKE__BUILDINGS"] = str(args.buildings)
    os.environ["SAFECITY_QUAKE__WARM_UP"] = "false"  # warmed below, before the clock starts
    with tempfile.TemporaryDirectory(prefix="safecity-bench-quake-") as tmp:
        settings = load_settings(data_dir=Path(tmp), store_url=None, mqtt=MqttSettings(enabled=False))
        platform = build_platform(settings)
        try:
            for kind, file in (("districts", seoul.DISTRICTS_FILE), ("dongs", seoul.DONGS_FILE)):
                with seoul.boundary_file(file) as path:
                    import_layer(platform, path, kind)
            network = build_network(build_city())
            import_layer(platform, write_places(network.shelters, Path(tmp) / "shelters.geojson"), "shelters")
            t0 = time.perf_counter()
            platform.services.get(QuakeChain).warm_up()
            print(
                f"platform: inventory of {args.buildings:,} buildings built at start-up in {time.perf_counter() - t0:.1f} s"
            )
            platform.auth.create_user("bench", "bench-password-123", {Role.operator})
            app = create_app(settings, platform, start_services=False)
            times = []
            with TestClient(app) as client:
                token = client.post(
                    "/auth/token", data={"username": "bench", "password": "bench-password-123"}
                )
                headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
                for i in range(args.repeat):
                    message = CAP_MESSAGE.replace(b"KMA-EQK-BENCH-1", f"KMA-EQK-BENCH-P{i}".encode())
                    t0 = time.perf_counter()
                    r = client.post(
                        "/quake/messages",
                        content=message,
                        headers={**headers, "Content-Type": "application/cap+xml"},
                    )
                    incident = r.json()["incidentId"]
                    summary = client.get(f"/quake/incidents/{incident}", headers=headers).json()
                    times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            print(
                f"CAP message → incident with its damage in a running platform ({summary['map']['cells']} map cells, "
                f"{len(summary['inspections'])} buildings to inspect, {len(summary['cordons'])} cordons, "
                f"{len(summary['shelterDemand'])} dongs' shelter demand): best {min(times):.2f} s, median {med:.2f} s "
                f"(target <= 10 s: {med / 10:.2f} of it); {med / model_median:.2f}x the model-only chain above"
            )
        finally:
            platform.bus.stop()
            platform.store.close()


if __name__ == "__main__":
    main()
