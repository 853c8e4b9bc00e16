# SPDX-License-Identifier: Apache-2.0
"""``/situation`` over HTTP on both stores: the board, the rules (list, versions, edit as JSON or TOML,
switch off, reload from the city's folder), roles, and that a bad rule neither writes anything nor stops
the others.

The platform runs without its service threads: the situation engine is started without its timer and the
bus is delivered by hand (what the dispatcher does in production), so every step is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from safecity.app import Platform, build_platform, create_app
from safecity.auth.model import Role
from safecity.core.clock import ManualClock
from safecity.geo.importer import import_layer
from safecity.settings import Settings
from safecity.situation import tables
from safecity.situation.binding import Binding
from tests.conftest import weather_station
from tests.geo.data import MOIS_DISTRICTS
from tests.situation.test_heavy_rain import deliver

#: 2025-07-01 09:00 KST
T0 = datetime(2025, 7, 1, tzinfo=UTC)
#: Gangnam AWS (the default of weather_station) lies in 강남구.
GANGNAM = "11680"


def burst_rule(threshold: float = 20.0, **extra: Any) -> dict[str, Any]:
    """A rule as the API takes it: caution when one 10-minute total reaches ``threshold`` mm."""
    return {
        "hazard": "heavy_rain",
        "name_ko": "10분 집중호우",
        "name_en": "10-minute rain burst",
        "select": {"properties": ["rainfall_10min"]},
        "signals": {"x": {"fn": "last"}},
        "level": [
            {
                "crisis": "caution",
                "name_ko": "집중호우",
                "name_en": "Rain burst",
                "any": [{"signal": "x", "above": threshold}],
            }
        ],
        **extra,
    }


def city_toml(rule_id: str, version: int, threshold: float, hazard: str = "heavy_rain") -> str:
    return f"""
pack = "city"

[[rule]]
id = "{rule_id}"
version = {version}
hazard = "{hazard}"
name_ko = "시 자체 기준"
name_en = "City rule"

[rule.select]
properties = ["rainfall_10min"]

[rule.signals]
x = {{ fn = "last" }}

[[rule.level]]
crisis = "caution"
name_ko = "주의"
name_en = "Caution"
any = [{{ signal = "x", above = {threshold} }}]
"""


@dataclass
class Ctx:
    platform: Platform
    client: TestClient
    clock: ManualClock
    admin: dict[str, str]
    operator: dict[str, str]
    rules_dir: Path

    def station(self, name: str = "Gangnam AWS", lon: float = 127.0473, lat: float = 37.5172) -> int:
        r = self.client.post("/sta/v1.1/Things", json=weather_station(name, lon, lat), headers=self.operator)
        assert r.status_code == 201, r.text
        tid = r.json()["@iot.id"]
        r = self.client.get(f"/sta/v1.1/Things({tid})/Datastreams", headers=self.operator)
        deliver(self.platform)
        return int(r.json()["value"][0]["@iot.id"])

    def rain(self, ds: int, minutes: int, value: float) -> None:
        """One 10-minute total ending ``minutes`` after T0, posted when it is measured."""
        when = T0 + timedelta(minutes=minutes)
        self.clock.set(when)
        r = self.client.post(
            f"/sta/v1.1/Datastreams({ds})/Observations",
            json={"phenomenonTime": when.isoformat(), "result": value},
            headers=self.operator,
        )
        assert r.status_code == 201, r.text
        deliver(self.platform)

    def board(self) -> dict[str, Any]:
        r = self.client.get("/situation", headers=self.operator)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def conditions(self, rule_id: str) -> list[dict[str, Any]]:
        return [c for c in self.board()["conditions"] if c["rule"] == rule_id]

    def rules(self) -> dict[str, Any]:
        r = self.client.get("/situation/rules", headers=self.operator)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def running(self) -> dict[str, dict[str, Any]]:
        return {r["id"]: r for r in self.rules()["rules"]}

    def saved_rows(self) -> int:
        with self.platform.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(tables.rules)).scalar_one())

    def put(self, rule_id: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        return self.client.put(f"/situation/rules/{rule_id}", json=body, headers=headers or self.admin)


@pytest.fixture
def ctx(settings: Settings, tmp_path: Path) -> Iterator[Ctx]:
    rules_dir = tmp_path / "city-rules"
    rules_dir.mkdir()
    settings = settings.model_copy(update={"rules_dir": rules_dir})
    clock = ManualClock(T0)
    platform = build_platform(settings, clock)
    app = create_app(settings, platform, start_services=False)
    platform.auth.create_user("admin1", "admin-password-1", {Role.admin})
    platform.auth.create_user("operator1", "operator-password", {Role.operator})
    platform.situation.start(ticker=False)
    try:
        with TestClient(app) as client:
            headers = {}
            for user, pw in (("admin1", "admin-password-1"), ("operator1", "operator-password")):
                r = client.post("/auth/token", data={"username": user, "password": pw})
                assert r.status_code == 200, r.text
                headers[user] = {"Authorization": f"Bearer {r.json()['access_token']}"}
            yield Ctx(platform, client, clock, headers["admin1"], headers["operator1"], rules_dir)
    finally:
        platform.situation.stop()
        platform.bus.stop()
        platform.store.close()


# -- listing -------------------------------------------------------------------------------------------


def test_rules_lists_the_shipped_packs_for_operators(ctx: Ctx) -> None:
    summary = ctx.rules()
    assert summary["errors"] == []
    assert summary["loadedAt"] == T0.isoformat()
    running = {r["id"]: r for r in summary["rules"]}
    heavy = running["kma.heavy_rain"]
    assert heavy["version"] == 1
    assert heavy["hazard"] == "heavy_rain"
    assert heavy["enabled"] is True and heavy["error"] is None
    assert heavy["source"].startswith("file:") and heavy["source"].endswith("kma_weather.toml")
    assert heavy["nameKo"] and heavy["nameEn"]
    assert all(r["source"].startswith("file:") for r in summary["rules"])  # nothing saved yet

    r = ctx.client.get("/situation/rules/kma.heavy_rain", headers=ctx.operator)
    assert r.status_code == 200, r.text
    one = r.json()
    assert one["id"] == "kma.heavy_rain"
    assert one["active"]["id"] == "kma.heavy_rain" and one["active"]["version"] == 1
    assert one["versions"] == []  # shipped, never saved through the API
    assert one["error"] is None

    r = ctx.client.get("/situation/rules/no.such.rule", headers=ctx.operator)
    assert r.status_code == 404, r.text
    assert r.json()["where"] == "id"


# -- saving ---------------------------------------------------------------------------------------------


def test_put_rule_runs_at_once_and_keeps_every_version(ctx: Ctx) -> None:
    ds = ctx.station()
    ctx.rain(ds, 10, 12.0)
    assert ctx.conditions("city.burst") == []

    r = ctx.put("city.burst", burst_rule(20.0))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rule"]["id"] == "city.burst"
    assert body["rule"]["source"] == "api"
    assert body["rule"]["subjects"] == 1  # the gauge registered before the rule
    assert [(v["version"], v["active"], v["createdBy"]) for v in body["rule"]["versions"]] == [
        (1, True, "admin1")
    ]
    assert body["rule"]["versions"][0]["createdAt"] == (T0 + timedelta(minutes=10)).isoformat()
    assert {x["id"]: x["version"] for x in body["rules"]["rules"]}["city.burst"] == 1
    assert "kma.heavy_rain" in {x["id"] for x in body["rules"]["rules"]}
    assert ctx.saved_rows() == 1

    # it runs without a restart: the next reading that meets it is a condition on the board
    ctx.rain(ds, 20, 25.0)
    (cond,) = ctx.conditions("city.burst")
    assert cond["level"] == 2
    assert cond["hazard"] == "heavy_rain"
    assert cond["district"] is None  # no districts imported in this test
    assert ctx.conditions("kma.heavy_rain") == []  # 37 mm in 3 h: the shipped rule stays quiet

    # the same id again without a version: the next version, running at once with the new threshold
    r = ctx.put("city.burst", burst_rule(30.0))
    assert r.status_code == 200, r.text
    assert [v["version"] for v in r.json()["rule"]["versions"]] == [1, 2]
    assert r.json()["rule"]["active"]["version"] == 2
    assert ctx.running()["city.burst"]["version"] == 2
    assert ctx.conditions("city.burst") == []  # 25 < 30: the changed rule no longer holds
    ctx.rain(ds, 30, 31.0)
    assert [c["ruleVersion"] for c in ctx.conditions("city.burst")] == [2]

    r = ctx.client.get("/situation/rules/city.burst", headers=ctx.operator)
    assert r.status_code == 200
    versions = r.json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["body"]["level"][0]["any"][0]["above"] == 20.0
    assert versions[1]["body"]["level"][0]["any"][0]["above"] == 30.0
    assert ctx.saved_rows() == 2

    # a version that is not newer is a conflict naming the version, and writes nothing
    for stale in (1, 2):
        r = ctx.put("city.burst", burst_rule(40.0, version=stale))
        assert r.status_code == 409, r.text
        assert r.json()["where"] == "version"
        assert "version 3" in r.json()["message"]
    assert ctx.saved_rows() == 2
    # an explicit newer version is taken as given
    r = ctx.put("city.burst", burst_rule(30.0, version=7))
    assert r.status_code == 200, r.text
    assert [v["version"] for v in r.json()["rule"]["versions"]] == [1, 2, 7]

    # a body naming another id is refused
    r = ctx.put("city.burst", burst_rule(30.0, id="city.other"))
    assert r.status_code == 400 and r.json()["where"] == "id"
    assert ctx.saved_rows() == 3


def test_put_over_a_shipped_rule_takes_the_next_version_after_the_file(ctx: Ctx) -> None:
    r = ctx.client.get("/situation/rules/kma.heavy_rain", headers=ctx.operator)
    shipped = r.json()["active"]
    changed = {**shipped, "level": shipped["level"][:1]}
    del changed["version"]
    r = ctx.put("kma.heavy_rain", changed)
    assert r.status_code == 200, r.text
    assert r.json()["rule"]["source"] == "api"
    assert [v["version"] for v in r.json()["rule"]["versions"]] == [2]  # the file holds version 1
    assert ctx.running()["kma.heavy_rain"]["version"] == 2
    r = ctx.put("kma.heavy_rain", {**changed, "version": 1})
    assert r.status_code == 409 and r.json()["where"] == "version"


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda b: b["level"][0]["any"][0].update(signal="nope"), "level[0].any[0].signal"),
        (lambda b: b["level"][0].update(crisis="dire"), "level[0].crisis"),
        (lambda b: b.update(hazard="meteor"), "hazard"),
        (lambda b: b["signals"]["x"].update(fn="sum"), "signals.x"),
    ],
    ids=["unknown-signal", "bad-crisis", "bad-hazard", "sum-without-window"],
)
def test_put_invalid_rule_is_400_naming_the_field_and_writes_nothing(
    ctx: Ctx, mutate: Any, path: str
) -> None:
    body = burst_rule()
    mutate(body)
    r = ctx.put("city.burst", body)
    assert r.status_code == 400, r.text
    err = r.json()
    assert err["code"] == "bad_request"
    assert path in (err.get("where") or "") + " " + err["message"], err
    assert path in err["message_ko"]
    assert err["details"] and all({"where", "message"} <= set(d) for d in err["details"])
    assert ctx.saved_rows() == 0
    assert "city.burst" not in ctx.running()
    assert ctx.client.get("/situation/rules/city.burst", headers=ctx.operator).status_code == 404


def test_put_invalid_crisis_names_the_field_in_where(ctx: Ctx) -> None:
    body = burst_rule()
    body["level"][0]["crisis"] = "dire"
    r = ctx.put("city.burst", body)
    assert r.status_code == 400
    assert r.json()["where"] == "level[0].crisis"


def test_put_bodies_that_are_not_rules(ctx: Ctx) -> None:
    c = ctx.client
    for content, ctype in (
        (b"", "application/json"),
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"x = = 1", "application/toml"),
    ):
        r = c.put(
            "/situation/rules/city.burst", content=content, headers={**ctx.admin, "Content-Type": ctype}
        )
        assert r.status_code == 400, (content, r.text)
        assert r.json()["where"] == "body"
    two = city_toml("city.burst", 1, 20.0) + city_toml("city.burst", 2, 20.0).replace('pack = "city"', "")
    r = c.put(
        "/situation/rules/city.burst",
        content=two.encode(),
        headers={**ctx.admin, "Content-Type": "application/toml"},
    )
    assert r.status_code == 400 and r.json()["where"] == "rule"
    assert ctx.saved_rows() == 0


def test_put_toml(ctx: Ctx) -> None:
    ds = ctx.station()
    text = city_toml("city.burst", 3, 20.0)
    r = ctx.client.put(
        "/situation/rules/city.burst",
        content=text.encode(),
        headers={**ctx.admin, "Content-Type": "application/toml"},
    )
    assert r.status_code == 200, r.text
    assert [v["version"] for v in r.json()["rule"]["versions"]] == [3]
    assert r.json()["rule"]["active"]["name_en"] == "City rule"
    assert ctx.running()["city.burst"]["source"] == "api"
    # a bare table (no [[rule]]) is one rule as well
    bare = text.replace("[[rule]]\n", "").replace("[rule.", "[").replace('pack = "city"', "")
    bare = bare.replace("version = 3", "version = 4")
    r = ctx.client.put(
        "/situation/rules/city.burst",
        content=bare.encode(),
        headers={**ctx.admin, "Content-Type": "application/toml; charset=utf-8"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["rule"]["active"]["version"] == 4
    ctx.rain(ds, 10, 22.0)
    assert [c["level"] for c in ctx.conditions("city.burst")] == [2]


# -- the city's folder ----------------------------------------------------------------------------------


def test_reload_picks_up_an_edited_file_without_a_restart(ctx: Ctx) -> None:
    ds = ctx.station()
    f = ctx.rules_dir / "city.toml"
    f.write_text(city_toml("city.burst", 1, 50.0), encoding="utf-8")
    r = ctx.client.post("/situation/rules/reload", headers=ctx.admin)
    assert r.status_code == 200, r.text
    assert {x["id"]: x["version"] for x in r.json()["rules"]}["city.burst"] == 1
    assert ctx.running()["city.burst"]["source"] == f"file:{f}"
    ctx.rain(ds, 10, 30.0)
    assert ctx.conditions("city.burst") == []

    f.write_text(city_toml("city.burst", 2, 25.0), encoding="utf-8")
    assert ctx.running()["city.burst"]["version"] == 1  # nothing changes until asked
    r = ctx.client.post("/situation/rules/reload", headers=ctx.admin)
    assert r.status_code == 200, r.text
    assert {x["id"]: x["version"] for x in r.json()["rules"]}["city.burst"] == 2
    # the new version is evaluated on the data the engine holds: 30 >= 25 holds already
    assert [(c["level"], c["ruleVersion"]) for c in ctx.conditions("city.burst")] == [(2, 2)]
    ctx.rain(ds, 20, 26.0)
    assert [(c["level"], c["ruleVersion"]) for c in ctx.conditions("city.burst")] == [(2, 2)]

    # the city's file now takes a shipped rule's id: the city's rule replaces the shipped one
    f.write_text(city_toml("kma.heavy_rain", 1, 1000.0), encoding="utf-8")
    r = ctx.client.post("/situation/rules/reload", headers=ctx.admin)
    running = {x["id"]: x for x in r.json()["rules"]}
    assert running["kma.heavy_rain"]["source"] == f"file:{f}"
    assert "city.burst" not in running  # gone from the folder, gone from the engine
    assert ctx.conditions("city.burst") == []


def test_an_invalid_file_is_reported_and_the_other_rules_keep_running(ctx: Ctx) -> None:
    ds = ctx.station()
    (ctx.rules_dir / "a_good.toml").write_text(city_toml("city.good", 1, 20.0), encoding="utf-8")
    bad = ctx.rules_dir / "b_bad.toml"
    # one bad rule next to a good one in the same file, and a file that is not TOML at all
    bad.write_text(
        city_toml("city.bad", 1, 20.0, hazard="meteor")
        + city_toml("city.also_good", 1, 20.0).replace('pack = "city"', ""),
        encoding="utf-8",
    )
    broken = ctx.rules_dir / "c_broken.toml"
    broken.write_text("[[rule]\nid = ", encoding="utf-8")
    r = ctx.client.post("/situation/rules/reload", headers=ctx.admin)
    assert r.status_code == 200, r.text
    errors = r.json()["errors"]
    by_source = {e["source"]: e for e in errors}
    assert set(by_source) == {str(bad), str(broken)}, errors
    assert by_source[str(bad)]["rule"] == "city.bad"
    assert by_source[str(bad)]["where"] == "hazard"
    assert "meteor" in by_source[str(bad)]["message"]
    assert "TOML" in by_source[str(broken)]["message"]
    running = ctx.running()
    assert {"city.good", "city.also_good", "kma.heavy_rain"} <= set(running)
    assert "city.bad" not in running
    board = ctx.board()
    assert board["rules"]["errors"] == errors
    # the rules that loaded work
    ctx.rain(ds, 10, 22.0)
    assert {c["rule"] for c in ctx.board()["conditions"]} == {"city.good", "city.also_good"}


def test_a_rule_failing_at_evaluation_does_not_stop_the_others(
    ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = ctx.station()
    assert ctx.put("city.boom", burst_rule(5.0)).status_code == 200
    assert ctx.put("city.burst", burst_rule(20.0)).status_code == 200
    step = Binding.step

    def exploding(self: Binding, t: float) -> Any:
        if self.rule.id == "city.boom":
            raise RuntimeError("boom")
        return step(self, t)

    monkeypatch.setattr(Binding, "step", exploding)
    ctx.rain(ds, 10, 25.0)
    assert {c["rule"] for c in ctx.board()["conditions"]} == {"city.burst"}
    running = ctx.running()
    assert running["city.boom"]["error"] == "RuntimeError: boom"
    assert running["city.burst"]["error"] is None
    board = ctx.board()
    assert board["rules"]["failed"] == ["city.boom"]
    r = ctx.client.get("/situation/rules/city.boom", headers=ctx.operator)
    assert r.json()["error"] == "RuntimeError: boom"
    # a reload (the fix deployed) runs it again
    monkeypatch.setattr(Binding, "step", step)
    r = ctx.client.post("/situation/rules/reload", headers=ctx.admin)
    assert {x["id"]: x["error"] for x in r.json()["rules"]}["city.boom"] is None
    ctx.rain(ds, 20, 26.0)
    assert {c["rule"] for c in ctx.board()["conditions"]} == {"city.burst", "city.boom"}


# -- switching off --------------------------------------------------------------------------------------


def test_delete_switches_a_shipped_rule_off(ctx: Ctx) -> None:
    ds = ctx.station()
    r = ctx.client.delete("/situation/rules/kma.heavy_rain", headers=ctx.admin)
    assert r.status_code == 200, r.text
    assert "kma.heavy_rain" not in {x["id"] for x in r.json()["rules"]}
    assert "kma.heavy_rain" not in ctx.running()
    assert {"kma.heat_wave", "kma.strong_wind"} <= set(ctx.running())  # only that one went
    assert ctx.saved_rows() == 1
    r = ctx.client.get("/situation/rules/kma.heavy_rain", headers=ctx.operator)
    assert r.status_code == 200
    one = r.json()
    assert one["active"] is None
    assert [(v["version"], v["active"], v["createdBy"]) for v in one["versions"]] == [(2, False, "admin1")]
    # 75 mm in 10 minutes would be a heavy-rain advisory; the rule is off (Seoul's own 침수 예보 at 55 mm
    # in the hour is another rule, and still on)
    ctx.rain(ds, 10, 75.0)
    assert [c["rule"] for c in ctx.board()["conditions"]] == ["seoul.inundation_forecast"]
    # it stays off across a reload (the switch is stored, not held in memory)
    ctx.client.post("/situation/rules/reload", headers=ctx.admin)
    assert "kma.heavy_rain" not in ctx.running()

    r = ctx.client.delete("/situation/rules/no.such.rule", headers=ctx.admin)
    assert r.status_code == 404, r.text
    assert ctx.saved_rows() == 1

    # saving it again switches it back on, as a newer version
    r = ctx.put("kma.heavy_rain", {**_shipped_heavy_rain(), "version": None})
    assert r.status_code == 200, r.text
    assert [(v["version"], v["active"]) for v in r.json()["rule"]["versions"]] == [(2, False), (3, True)]
    assert ctx.running()["kma.heavy_rain"]["version"] == 3


def test_delete_a_rule_saved_through_the_api(ctx: Ctx) -> None:
    ds = ctx.station()
    assert ctx.put("city.burst", burst_rule(20.0)).status_code == 200
    ctx.rain(ds, 10, 25.0)
    assert len(ctx.conditions("city.burst")) == 1
    r = ctx.client.delete("/situation/rules/city.burst", headers=ctx.admin)
    assert r.status_code == 200, r.text
    assert "city.burst" not in ctx.running()
    assert ctx.conditions("city.burst") == []  # its condition is cleared with it
    versions = ctx.client.get("/situation/rules/city.burst", headers=ctx.operator).json()["versions"]
    assert [(v["version"], v["active"]) for v in versions] == [(1, True), (2, False)]
    # a switched-off id is no longer running: deleting it again is "not found"
    assert ctx.client.delete("/situation/rules/city.burst", headers=ctx.admin).status_code == 404


def _shipped_heavy_rain() -> dict[str, Any]:
    from safecity.situation.rules import PACKS_DIR, load_paths

    return dict(load_paths([PACKS_DIR]).by_id()["kma.heavy_rain"].body)


# -- roles ----------------------------------------------------------------------------------------------


def test_roles(ctx: Ctx) -> None:
    c = ctx.client
    writes: list[tuple[str, str, Any]] = [
        ("PUT", "/situation/rules/city.burst", burst_rule()),
        ("DELETE", "/situation/rules/kma.heavy_rain", None),
        ("POST", "/situation/rules/reload", None),
    ]
    reads = ["/situation", "/situation/derived", "/situation/rules", "/situation/rules/kma.heavy_rain"]
    for method, path, body in writes:
        r = c.request(method, path, json=body)
        assert r.status_code == 401, (path, r.text)
        r = c.request(method, path, json=body, headers=ctx.operator)
        assert r.status_code == 403, (path, r.text)
    for path in [*reads, "/situation/stream"]:
        assert c.get(path).status_code == 401, path
    for path in reads:
        assert c.get(path, headers=ctx.operator).status_code == 200, path
        assert c.get(path, headers=ctx.admin).status_code == 200, path
    assert c.get("/situation", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    assert ctx.saved_rows() == 0
    assert "kma.heavy_rain" in ctx.running()


# -- the board ------------------------------------------------------------------------------------------


def test_board_has_every_district_quiet(ctx: Ctx) -> None:
    import_layer(ctx.platform, MOIS_DISTRICTS, "districts")
    board = ctx.board()
    districts = board["districts"]
    assert len(districts) == 25
    assert [d["code"] for d in districts] == sorted(d["code"] for d in districts)
    assert all(d["level"] == 0 and d["levels"] == {} for d in districts)
    assert all(d["code"].startswith("11") and d["nameKo"] and d["nameEn"] for d in districts)
    assert {d["code"]: d["nameKo"] for d in districts}[GANGNAM] == "강남구"
    assert board["level"]["level"] == 0 and board["level"]["nameKo"] == "평시"
    assert board["incidents"] == [] and board["conditions"] == []
    assert board["generatedAt"] == T0.isoformat()
    assert [c["level"] for c in board["crisisLevels"]] == [0, 1, 2, 3, 4]
    assert "heavy_rain" in {h["key"] for h in board["hazards"]}
    assert board["sensors"] == {"total": 0}
    assert board["rules"]["loaded"] >= 1 and board["rules"]["failed"] == []
    # the JSON clients were written against, key for key and in order (the service returns a typed Board):
    # other capabilities' parts first (warning's), the router's unread streams last
    assert list(board) == [
        "alertDrafts",
        "externalAlerts",
        "generatedAt",
        "level",
        "levelLabel",
        "official",
        "districts",
        "hazards",
        "crisisLevels",
        "incidents",
        "conditions",
        "sensors",
        "rules",
        "unreadStreams",
    ]
    assert list(districts[0]) == ["code", "nameKo", "nameEn", "levels", "level"]
    assert list(board["rules"]) == ["loaded", "failed", "errors"] and board["unreadStreams"] == []
    assert board["levelLabel"] == {
        "ko": "위험 수준(플랫폼 산정)",
        "en": "Risk level (computed by the platform)",
    }


def test_board_levels_follow_a_manual_incident_and_a_condition(ctx: Ctx) -> None:
    import_layer(ctx.platform, MOIS_DISTRICTS, "districts")
    r = ctx.client.post(
        "/incidents",
        json={"hazard": "landslide", "level": 3, "title_ko": "우면산 토사 유출", "districts": ["11650"]},
        headers=ctx.operator,
    )
    assert r.status_code == 201, r.text
    board = ctx.board()
    by_code = {d["code"]: d for d in board["districts"]}
    assert by_code["11650"]["level"] == 3
    assert by_code["11650"]["levels"] == {"landslide": 3}
    assert all(d["level"] == 0 for code, d in by_code.items() if code != "11650")
    assert board["level"]["level"] == 3 and board["level"]["key"] == "alert"
    assert [i["hazard"] for i in board["incidents"]] == ["landslide"]

    # a gauge in 강남구 reaching the advisory (65 mm in 3 h, under the 72 mm/1 h extreme) raises it
    ds = ctx.station()
    ctx.rain(ds, 10, 65.0)
    board = ctx.board()
    by_code = {d["code"]: d for d in board["districts"]}
    assert by_code[GANGNAM]["levels"] == {"heavy_rain": 2}
    # KMA's advisory, and Seoul's 침수 예보 (65 mm within the hour, over its 55 mm)
    assert sorted(c["rule"] for c in board["conditions"]) == ["kma.heavy_rain", "seoul.inundation_forecast"]
    cond = next(c for c in board["conditions"] if c["rule"] == "kma.heavy_rain")
    assert cond["district"] == GANGNAM
    assert board["sensors"]["total"] == 1
    assert sorted(i["hazard"] for i in board["incidents"]) == ["heavy_rain", "landslide"]
    assert board["level"]["level"] == 3


def test_the_official_crisis_level_is_declared_by_a_person_beside_the_risk_level(ctx: Ctx) -> None:
    board = ctx.board()
    assert board["levelLabel"] == {
        "ko": "위험 수준(플랫폼 산정)",
        "en": "Risk level (computed by the platform)",
    }
    assert board["official"] == []
    # an operator records the 위기경보 the city declared; the computed level does not move
    r = ctx.client.put(
        "/situation/official",
        json={"hazard": "heavy_rain", "level": "경계", "note": "서울시 재난안전대책본부 2단계"},
        headers=ctx.operator,
    )
    assert r.status_code == 200, r.text
    (decl,) = r.json()["official"]
    assert (decl["hazard"], decl["area"], decl["level"]["nameKo"], decl["setBy"]) == (
        "heavy_rain",
        None,
        "경계",
        "operator1",
    )
    assert decl["labelEn"] == "Crisis alert level (declared by a person)"
    board = ctx.board()
    assert [o["level"]["level"] for o in board["official"]] == [3] and board["level"]["level"] == 0
    # one district's own declaration sits beside the city's; level 0 lifts the city's
    assert (
        ctx.client.put(
            "/situation/official",
            json={"hazard": "heavy_rain", "level": 2, "area": GANGNAM},
            headers=ctx.operator,
        ).status_code
        == 200
    )
    r = ctx.client.put("/situation/official", json={"hazard": "heavy_rain", "level": 0}, headers=ctx.operator)
    assert [(o["area"], o["level"]["level"]) for o in r.json()["official"]] == [(GANGNAM, 2)]
    assert (
        ctx.client.get("/situation/official", headers=ctx.operator).json()["official"][0]["area"] == GANGNAM
    )
    # bad input names its field; the public may not declare
    for body, where in (
        ({"hazard": "volcano", "level": 1}, "hazard"),
        ({"hazard": "heavy_rain", "level": 7}, "level"),
        ({"hazard": "heavy_rain", "level": "대충"}, "level"),
        ({"hazard": "heavy_rain", "level": 1, "area": "seoul"}, "area"),
    ):
        r = ctx.client.put("/situation/official", json=body, headers=ctx.operator)
        assert r.status_code in (400, 422) and where in r.text, (body, r.text)
    assert ctx.client.put("/situation/official", json={"hazard": "heavy_rain", "level": 1}).status_code == 401
