# SPDX-License-Identifier: Apache-2.0
"""Judge a demo scenario the way issue 12 judges warnings: the right message, to the right people, at the
right time, and no other.

:func:`judge` plays a scenario into a real platform (SQLite, the demo network registered as devices, the
shipped rule packs, the warning service) on a simulated clock, issues every alert the platform drafts (a
duty officer who approves everything: the harshest case), and at every simulated minute checks what is
in force:

* ``own_level``: every area an alert in force targets is at least at the alert's level for its hazard
  (the board's district level; a dong's is its district's);
* ``point_2km``: no alert of a point incident (fire, gas, facility) reaches a place 2 km from it;
* ``evacuate_after_rain``: no evacuation (CAP responseType ``Evacuate``) is in force two hours after the
  rain has stopped;
* ``no_emergency``: no alert goes out as 위급재난문자 (the platform's own sensors never justify it).
* ``flood_predicted_first`` (storm scenarios, issue 18): every underpass whose gauge reads 15 cm was
  predicted to reach it by a flood forecast run before the reading;
* ``closed_from_prediction``: from that prediction until the water was observed, evacuation routing had
  the underpass closed (an active road closure covering it) at every minute. Underpasses predicted but
  never flooded are counted as ``false_alarms``, not failed;
* ``routed_around``: the same, by routing itself on the demo's road network (the graph the live demo
  imports): a drive between the underpass's road two vertices either side of it, which without closures
  goes through the underpass (``Report.through_routes``: the check is not empty), keeps more than
  :data:`AROUND_M` from it with the platform's active closures and hazard zones (evacuation's
  ``avoided_geometries``, what ``GET /evacuation/route`` avoids) at every minute from the first prediction
  until the water was observed and while the gauge reads 15 cm;
* ``warned_before_flooding``: every underpass whose gauge reads 15 cm was inside an alert in force (the
  forecast's targeted warning, or any other) before the reading.

In a storm scenario the flood capability forecasts on the demo city's catchment
(:func:`safecity.demo.floodmodel.demo_catchment`) once per step, after the step's readings, from the rain
gauges and the demo's generated radar frames (the true field smoothed to 1 km; ``radar=False``: the 25
gauges alone); the underpass gauges read the same model under the scenario's true rain field.

"In force" is CAP's own meaning, independent of how the warning side threads its messages: an issued
Alert or Update, sent, not expired, not referenced by a later issued message, and no Cancel.

It also counts what people received: alerts issued, updates, cancels, the most people told to evacuate at
once (the demo city's population inside the evacuation targets), and how long after the hazard ended the
last warning was lifted. ``bench/scenarios.py`` prints these; ``tests/demo/test_judged_scenarios.py``
asserts the checks.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from safecity.demo import scenario
from safecity.demo.city import DemoCity, build_city
from safecity.demo.judge_flood import _M_PER_DEG_LAT, AROUND_M, CLOSE_DEPTH_M, FloodChecks
from safecity.demo.load import write_places
from safecity.demo.network import build_network
from safecity.demo.sample import Player
from safecity.geo import seoul
from safecity.geo.importer import import_layer
from safecity.settings import MqttSettings, Settings, load_settings
from safecity.warning import korea
from safecity.warning.cap.json import from_json
from safecity.warning.cap.model import Alert, parse_references
from safecity.warning.model import AlertSummary
from safecity.warning.recipients import alert_area

CHECKS = (
    "own_level",
    "point_2km",
    "evacuate_after_rain",
    "no_emergency",
    "flood_predicted_first",
    "closed_from_prediction",
    "routed_around",
    "warned_before_flooding",
)
#: Hazards whose incidents are a point (situation.correlate's point policies that carry a cordon).
POINT_HAZARDS = frozenset({"fire", "gas", "facility"})
#: How far a point incident's alert may never reach (issue 12).
POINT_LIMIT_M = 2000.0
#: No evacuation in force this long after the rain stopped (issue 12).
EVACUATE_AFTER_RAIN = timedelta(hours=2)
#: Minutes simulated after a scenario's last step (the readings go on as the scenario defines them), so
#: that what a scenario started can end within the run.
DEFAULT_TAIL = timedelta(hours=3)
#: Where the judge stands on the citizen page after an earthquake: Seoul City Hall (lon, lat).
CITY_HALL = (126.9780, 37.5665)
JUDGE_USER, JUDGE_PASSWORD = "judge-duty-officer", "judge-duty-officer-password"


@dataclass(frozen=True)
class Violation:
    check: str
    at: datetime
    detail: str


@dataclass
class Report:
    """What one scenario did to people, and what went wrong (empty ``violations`` = all checks hold)."""

    scenario: str
    minutes: int = 0
    issued: int = 0  # Alert messages
    updates: int = 0
    cancels: int = 0
    most_evacuating: int = 0  # people inside the targets of the evacuation alerts in force at once
    hazard_end: datetime | None = None
    rain_end: datetime | None = None
    last_in_force: datetime | None = None  # the last minute any alert was in force
    still_in_force: bool = False  # an alert was in force at the end of the run
    #: storm scenarios: underpass code -> the first forecast run predicting 15 cm there / the first
    #: reading of 15 cm there / the most minutes it was closed ahead of that reading
    predicted: dict[str, datetime] = field(default_factory=dict)
    observed: dict[str, datetime] = field(default_factory=dict)
    radar: bool = True  # the forecast gets the demo's generated radar frames, not the gauges alone
    forecast_runs: int = 0
    #: underpass code -> whether a drive through it exists on the road network (routed_around's baseline)
    through_routes: dict[str, bool] = field(default_factory=dict)
    #: underpass code -> the first minute an alert in force covered it
    warned: dict[str, datetime] = field(default_factory=dict)
    targeted: int = 0  # targeted alerts issued (circles around the places at risk, no incident)
    forecast_seconds: float = 0.0  # wall-clock time of all forecast runs
    violations: list[Violation] = field(default_factory=list)
    #: an earthquake incident's expected damage as the operator and citizens see it (issue 19): wall-clock
    #: seconds from the step's readings being posted to the damage summary being served, and what was served
    quake_damage_after_s: float | None = None
    quake_inspections: int = 0
    quake_cells: int = 0
    quake_cordons: int = 0
    quake_outdoor_sites: int = 0  # nearest outdoor earthquake sites the citizen page lists at City Hall

    @property
    def lift_after_hazard(self) -> timedelta | None:
        """How long after the hazard ended the last warning was lifted (None: never warned, or the
        hazard never ended within the run)."""
        end = self.rain_end or self.hazard_end
        if end is None or self.last_in_force is None:
            return None
        return max(timedelta(0), self.last_in_force + timedelta(minutes=1) - end)

    @property
    def false_alarms(self) -> list[str]:
        """Underpasses a forecast closed that never read 15 cm."""
        return sorted(set(self.predicted) - set(self.observed))

    def failed(self, check: str) -> list[Violation]:
        return [v for v in self.violations if v.check == check]


@dataclass(frozen=True)
class _Issued:
    identifier: str
    msg_type: str
    sent: datetime
    incident_id: int | None
    hazard: str
    level: int
    alert: Alert
    references: frozenset[str]
    codes: tuple[str, ...]
    shape: BaseGeometry | None  # polygons and circles, WGS84
    evacuate: bool
    emergency: bool

    def expires(self) -> datetime | None:
        return min((i.expires for i in self.alert.infos if i.expires), default=None)


@contextmanager
def _settings(data_dir: Path | None) -> Iterator[Settings]:
    if data_dir is not None:
        yield load_settings(data_dir=data_dir, store_url=None, mqtt=MqttSettings(enabled=False))
        return
    with tempfile.TemporaryDirectory(prefix="safecity-judge-") as tmp:
        yield load_settings(data_dir=Path(tmp), store_url=None, mqtt=MqttSettings(enabled=False))


def judge(
    name: str,
    *,
    tail: timedelta = DEFAULT_TAIL,
    data_dir: Path | None = None,
    city: DemoCity | None = None,
    radar: bool = True,
) -> Report:
    """Play scenario ``name`` through a platform on its own clock and check every minute (see module)."""
    from fastapi.testclient import TestClient

    from safecity.app import build_platform, create_app
    from safecity.auth.model import Role
    from safecity.core.clock import ManualClock

    sc = scenario.load(name)
    city = city or build_city()
    network = build_network(city)
    feed = sc.feed(network)
    report = Report(name, radar=radar)
    steps = sc.steps + int(tail.total_seconds() // sc.step_s)
    step = timedelta(seconds=sc.step_s)
    report.rain_end = _rain_end(sc, feed, steps)
    with _settings(data_dir) as settings:
        clock = ManualClock(sc.start)
        platform = build_platform(settings, clock)
        try:
            for kind, file in (("districts", seoul.DISTRICTS_FILE), ("dongs", seoul.DONGS_FILE)):
                with seoul.boundary_file(file) as path:
                    import_layer(platform, path, kind)
            if any(f.get("kind") == "earthquake" for f in sc.fields):
                # the citizen page's nearest outdoor earthquake sites come from the shelter registry (the
                # live demo loads it for every scenario; here only where the judgement looks at it, so
                # that the other scenarios' judgement stays what it was)
                places = write_places(network.shelters, settings.data_dir / "demo_shelters.geojson")
                import_layer(platform, places, "shelters")
            app = create_app(settings, platform, start_services=False)
            platform.situation.start(ticker=False)
            platform.warnings.start()
            player = Player(platform, settings, sc, feed)
            player.register()
            flood = _use_flood_model(platform, sc, city, network, radar)
            if flood is not None:
                # the demo's road network, as the live demo imports it: routing is judged on it
                from safecity.demo.load import write_osm
                from safecity.geo.roads.graph import graph_path
                from safecity.geo.roads.osm import read_osm

                osm = write_osm(city, settings.data_dir / "demo_roads.osm")
                read_osm(osm, strict=True).graph.save(graph_path(settings.data_dir))
            platform.auth.create_user(JUDGE_USER, JUDGE_PASSWORD, {Role.operator})
            judge_run = _Run(platform, city, report)
            with TestClient(app) as client:
                r = client.post("/auth/token", data={"username": JUDGE_USER, "password": JUDGE_PASSWORD})
                headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
                for i in range(steps + 1):
                    at = sc.start + step * i
                    clock.set(at)
                    posted = time.monotonic()
                    _post_step(client, headers, player, sc, i)
                    if flood is not None:
                        judge_run.forecast(flood, player, sc, i, at)
                    judge_run.settle(at)
                    judge_run.look_at_quake(client, headers, posted)
                    judge_run.check(at)
                    minutes = max(1, int(sc.step_s // 60))
                    for m in range(1, minutes):
                        now = at + timedelta(minutes=m)
                        clock.set(now)
                        judge_run.settle(now)
                        judge_run.check(now)
            report.still_in_force = judge_run.in_force_now
        finally:
            platform.situation.stop()
            platform.bus.stop()
            platform.store.close()
    return report


def _post_step(client: Any, headers: dict[str, str], player: Player, sc: scenario.Scenario, i: int) -> None:
    """Step ``i``'s readings of every station in one SensorThings Data Array post (as an operator: the
    stations' own keys and transports are the live demo's business, not the judgement's)."""
    at = sc.start + timedelta(seconds=sc.step_s * i)
    elapsed = sc.step_s * i
    body = [
        {
            "Datastream": {"@iot.id": ds},
            "components": ["phenomenonTime", "result"],
            "dataArray": [[at.isoformat(), stream.value(elapsed, at)]],
        }
        for _, streams, _ in player.keys
        for stream, ds in streams
    ]
    r = client.post("/sta/v1.1/CreateObservations", json=body, headers=headers)
    if r.status_code != 201:
        raise RuntimeError(f"the platform refused step {i} ({r.status_code}): {r.text[:300]}")


def _use_flood_model(platform: Any, sc: scenario.Scenario, city: DemoCity, network: Any, radar: bool) -> Any:
    """The flood forecasts on the demo catchment, for a scenario with a storm (None otherwise)."""
    if not any(f.get("kind") == "storm" for f in sc.fields):
        return None
    from safecity.demo.floodmodel import DemoFlood

    return DemoFlood.attach(platform, sc, city, network, radar=radar)


def _rain_end(sc: scenario.Scenario, feed: Any, steps: int) -> datetime | None:
    """The end of the last step with rain at any gauge (None: no rain in the run, or it never stops)."""
    last: datetime | None = None
    rained = False
    for i in range(steps + 1):
        when = sc.start + timedelta(seconds=sc.step_s * i)
        elapsed = sc.step_s * i
        wet = any(
            s.prop.startswith("rainfall") and s.value(elapsed, when) > 0 for st in feed for s in st.streams
        )
        if wet:
            rained, last = True, when
    if not rained or last is None or last >= sc.start + timedelta(seconds=sc.step_s * steps):
        return None
    return last


class _Run(FloodChecks):
    """The platform under judgement, the alerts it issued and the checks per minute."""

    def __init__(self, platform: Any, city: DemoCity, report: Report) -> None:
        self.platform = platform
        self.report = report
        self.issued: dict[str, _Issued] = {}
        self.in_force_now = False
        self.districts = {d.code: d.polygon for d in seoul.districts()}
        self.dongs = {d.code: d.polygon for d in seoul.dongs()}
        self.people = [(d.polygon, d.population) for d in city.dongs]
        self.people_index = shapely.STRtree([p for p, _ in self.people])
        self.locations: dict[int, tuple[float, float] | None] = {}
        self.underpass_at: dict[str, tuple[float, float]] = {}
        self.city = city
        self.wet: set[str] = set()  # underpasses reading 15 cm in the current step
        self.through: dict[str, tuple[Any, Any] | None] = {}

    # -- driving -----------------------------------------------------------------------------------
    def settle(self, now: datetime) -> None:
        """Deliver what is pending, let time pass, and issue every draft (a duty officer approving all)."""
        p = self.platform
        for _ in range(20):
            while p.bus.pending():
                p.bus.drain()
            p.situation.tick(now)
            while p.bus.pending():
                p.bus.drain()
            drafts = p.warnings.list(state="draft", limit=1000)
            if not drafts:
                break
            for d in sorted(drafts, key=lambda a: a.identifier):
                p.warnings.issue(d.identifier, "judge-duty-officer")
        for row in p.warnings.list(state="issued", origin="platform", limit=200):
            if row.identifier not in self.issued:
                self._remember(row)

    def _remember(self, row: AlertSummary) -> None:
        full = self.platform.warnings.get(row.identifier)
        alert = from_json(full.cap)
        codes = sorted(
            {
                g.value
                for info in alert.infos
                for area in info.areas
                for g in area.geocodes
                if g.value.isdigit() and len(g.value) in (5, 10)
            }
        )
        texts = full.short_texts
        emergency = any(
            korea.KoreanCategory.EMERGENCY.value in t.category or "위급재난문자" in t.text
            for t in texts.values()
        )
        if not texts:
            # a warning side that does not name the category in its texts: CAP severity and urgency
            # (the platform never sends 위급 except for an earthquake, the rule warning applies)
            first = alert.infos[0] if alert.infos else None
            emergency = emergency or (
                first is not None
                and korea.category_for(first.severity, first.urgency) is korea.KoreanCategory.EMERGENCY
                and (row.hazard or "") == "earthquake"
            )
        issued = _Issued(
            identifier=row.identifier,
            msg_type=row.msg_type,
            sent=alert.sent,
            incident_id=row.incident_id,
            hazard=row.hazard or "",
            level=int(row.level or 0),
            alert=alert,
            references=frozenset(r.identifier for r in parse_references(alert.references or "")),
            codes=tuple(codes),
            shape=alert_area(alert),
            evacuate=any("Evacuate" in [r.value for r in i.response_types] for i in alert.infos),
            emergency=emergency,
        )
        self.issued[issued.identifier] = issued
        if issued.msg_type == "Alert" and issued.incident_id is None and not issued.codes:
            self.report.targeted += 1  # aimed at the places at risk (circles), not at an incident's areas
        if issued.msg_type == "Alert":
            self.report.issued += 1
        elif issued.msg_type == "Update":
            self.report.updates += 1
        elif issued.msg_type == "Cancel":
            self.report.cancels += 1
        if issued.emergency:
            self._violate("no_emergency", issued.sent, f"{issued.identifier} goes out as 위급재난문자")

    def look_at_quake(self, client: Any, headers: dict[str, str], posted: float) -> None:
        """Once an earthquake incident is open: what the dashboard and the citizen page get of its damage
        (the routes they call), and how long after the step's readings were posted it was there."""
        report = self.report
        if report.quake_damage_after_s is not None:
            return
        quakes = [i for i in self.platform.incidents.list() if i.hazard == "earthquake"]
        if not quakes:
            return
        r = client.get(f"/quake/incidents/{quakes[0].id}", headers=headers)
        if r.status_code != 200:
            return
        report.quake_damage_after_s = time.monotonic() - posted
        damage = r.json()
        report.quake_inspections = len(damage["inspections"])
        report.quake_cordons = len(damage["cordons"])
        cells = client.get(f"/ogcapi/collections/quake-damage/items?incident_id={quakes[0].id}&limit=1")
        report.quake_cells = int(cells.json()["numberMatched"])
        after = client.get(f"/quake/after-shaking?near={CITY_HALL[0]},{CITY_HALL[1]}").json()
        report.quake_outdoor_sites = len(after["sites"]) if after["earthquake"]["active"] else 0

    # -- checking ----------------------------------------------------------------------------------
    def in_force(self, now: datetime) -> list[_Issued]:
        sent = [a for a in self.issued.values() if a.sent <= now]
        replaced = {r for a in sent for r in a.references}
        return [
            a
            for a in sent
            if a.msg_type in ("Alert", "Update")
            and a.identifier not in replaced
            and ((exp := a.expires()) is None or exp > now)
        ]

    def check(self, now: datetime) -> None:
        report = self.report
        report.minutes += 1
        levels: dict[tuple[str, str], int] = {
            (lv.district, lv.hazard): int(lv.level) for lv in self.platform.incidents.levels()
        }
        if any(lv > 0 and hazard != "sensor" for (_, hazard), lv in levels.items()):
            report.hazard_end = now + timedelta(minutes=1)
        force = self.in_force(now)
        self.in_force_now = bool(force)
        if force:
            report.last_in_force = now
        for a in force:
            for code in a.codes:
                own = levels.get((code[:5], a.hazard), 0)
                if own < a.level:
                    self._violate(
                        "own_level",
                        now,
                        f"{a.identifier} ({a.hazard} level {a.level}) targets {code}, whose level is {own}",
                    )
            if a.hazard in POINT_HAZARDS and a.incident_id is not None:
                far = self._reach_m(a)
                if far is not None and far >= POINT_LIMIT_M:
                    self._violate(
                        "point_2km", now, f"{a.identifier} ({a.hazard}) reaches {far:.0f} m from its incident"
                    )
            rain_end = report.rain_end
            if a.evacuate and rain_end is not None and now >= rain_end + EVACUATE_AFTER_RAIN:
                self._violate(
                    "evacuate_after_rain",
                    now,
                    f"{a.identifier} tells people to evacuate {now - rain_end} after the rain stopped",
                )
        evacuating = [a for a in force if a.evacuate]
        if evacuating:
            report.most_evacuating = max(report.most_evacuating, self._people_in(evacuating))
        if report.predicted or report.observed:
            for code in {*report.predicted, *report.observed} - set(report.warned):
                at = self.underpass_at.get(code) or self._underpass(code)
                if at is not None and any(
                    a.shape is not None and a.shape.covers(shapely.Point(*at)) for a in force
                ):
                    report.warned[code] = now
            self._check_flood(now)

    def _target(self, a: _Issued) -> BaseGeometry | None:
        parts = [a.shape] if a.shape is not None else []
        for code in a.codes:
            poly = self.districts.get(code) or self.dongs.get(code)
            if poly is not None:
                parts.append(poly)
        return shapely.union_all(parts) if parts else None

    def _reach_m(self, a: _Issued) -> float | None:
        """The farthest point of the alert's target from its incident's location, in metres."""
        assert a.incident_id is not None
        if a.incident_id not in self.locations:
            loc = self.platform.incidents.get(a.incident_id).location
            self.locations[a.incident_id] = (loc.lon, loc.lat) if loc else None
        centre = self.locations[a.incident_id]
        target = self._target(a)
        if centre is None or target is None:
            return None
        lon0, lat0 = centre
        kx = _M_PER_DEG_LAT * math.cos(math.radians(lat0))
        far = 0.0
        for x, y in shapely.get_coordinates(shapely.boundary(target)):
            far = max(far, math.hypot((x - lon0) * kx, (y - lat0) * _M_PER_DEG_LAT))
        return far

    def _people_in(self, alerts: list[_Issued]) -> int:
        shapes = [s for s in (self._target(a) for a in alerts) if s is not None]
        if not shapes:
            return 0
        target = shapely.union_all(shapes)
        total = 0.0
        for i in self.people_index.query(target, predicate="intersects"):
            poly, pop = self.people[int(i)]
            total += pop * shapely.area(shapely.intersection(poly, target)) / poly.area
        return round(total)

    def _violate(self, check: str, at: datetime, detail: str) -> None:
        # the same fault minute after minute is one finding
        if not any(v.check == check and v.detail == detail for v in self.report.violations):
            self.report.violations.append(Violation(check, at, detail))


__all__ = ["AROUND_M", "CHECKS", "CLOSE_DEPTH_M", "Report", "Violation", "judge"]
