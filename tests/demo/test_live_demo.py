# SPDX-License-Identifier: Apache-2.0
"""The demo's own path, live: the demo city loaded, a uvicorn server with the embedded MQTT broker, the
rain gauges posting Data Array batches over HTTP with their device keys and the river gauges publishing
over MQTT, on the scenario's clock, as ``safecity demo`` does."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from safecity.app import build_platform, create_app
from safecity.core.clock import ManualClock
from safecity.demo import scenario
from safecity.demo.city import build_city
from safecity.demo.load import load_city
from safecity.demo.network import build_network
from safecity.demo.sample import Player, follow_on_console, loaded_line
from safecity.geo.importer import import_layer
from safecity.sensing import tables as t
from safecity.settings import Settings
from safecity.situation.incident_inputs import ManualIncidentIn
from tests.geo.data import MOIS_DISTRICTS

#: Steps of the heavy-rain scenario played: to 21:10 KST, past Dongjak's 141.5 mm hour (20:10-21:00) and
#: the Hangang Bridge gauge's rise past 8.5 m (about 4 h 10 min after the 17:00 start).
STEPS = 26


def test_heavy_rain_over_http_and_mqtt(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"demo_geography": True}).with_mqtt(enabled=True)
    sc = scenario.load("heavy_rain")
    clock = ManualClock(sc.start)
    platform = build_platform(settings, clock)
    city = build_city()
    network = build_network(city)
    report = load_city(platform, city, tmp_path / "demo", network)
    assert "25 districts" in loaded_line(report) and "434 shelters" in loaded_line(report)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, platform), host="127.0.0.1", port=settings.port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    player = None
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        stations = tuple(st for st in sc.feed(network) if st.kind in ("rain", "river"))
        assert {st.transport for st in stations if st.kind == "river"} == {"mqtt"}
        player = Player(platform, settings, sc, stations)
        player.register()
        player.connect_mqtt()
        assert len(player.mqtt) == 4  # one MQTT connection per river gauge, with its device key
        with httpx.Client(base_url=f"http://127.0.0.1:{settings.port}", timeout=10) as client:
            for i in range(STEPS):
                clock.set(sc.start + timedelta(seconds=sc.step_s * i))
                player.step(i, client)
                player.flush()
        want = STEPS * len(stations)
        deadline = time.monotonic() + 20
        while True:
            with platform.store.engine.connect() as conn:
                n = conn.execute(select(func.count()).select_from(t.observations)).scalar_one()
            if n == want or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert n == want
        assert platform.bus.drain(30)
        river_ids = [ds for st, streams, _ in player.keys if st.kind == "river" for _, ds in streams]
        with platform.store.engine.connect() as conn:
            by_mqtt = conn.execute(
                select(func.count())
                .select_from(t.observations)
                .where(t.observations.c.datastream_id.in_(river_ids))
            ).scalar_one()
        assert by_mqtt == STEPS * 4
        board = platform.situation.board()
        rules = {(c["rule"], c["level"]) for c in board.conditions}
        assert ("kma.heavy_rain", 4) in rules  # 극한호우 under the band
        assert ("hrfco.hangang_bridge", 2) in rules  # past the flood-advisory stage, by MQTT
        levels = {d.code: d.levels.get("heavy_rain", 0) for d in board.districts}
        assert len(levels) == 25 and levels["11590"] == 4  # Dongjak, under the band
        assert levels["11320"] == 0  # Dobong, far north of it
    finally:
        if player is not None:
            player.close()
        server.should_exit = True
        thread.join(timeout=10)
        platform.bus.stop()
        platform.store.close()


def test_a_restarted_demo_reuses_its_things(settings: Settings) -> None:
    platform = build_platform(settings)
    try:
        network = build_network(build_city())
        for name in ("heavy_rain", "earthquake"):
            sc = scenario.load(name)
            Player(platform, settings, sc, sc.feed(network)).register()
        with platform.store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(t.things)).scalar_one() == len(
                network.sensors
            )
            intervals = conn.execute(select(t.datastreams.c.properties)).scalars().all()
        # the second scenario's 30-s steps, so the stale-sensor rule expects its pace
        assert {p["expectedIntervalSeconds"] for p in intervals} == {30.0}
    finally:
        platform.bus.stop()
        platform.store.close()


def test_the_console_follows_incidents_and_alerts_on_the_bus(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    platform = build_platform(settings, ManualClock(datetime(2026, 7, 15, 11, 0, tzinfo=UTC)))
    try:
        import_layer(platform, MOIS_DISTRICTS, "districts")
        platform.warnings.start()
        follow_on_console(platform)
        body = {
            "hazard": "heavy_rain",
            "level": 3,
            "title_ko": "침수",
            "title_en": "Flood",
            "districts": ["11590"],
        }
        opened = platform.incidents.open_manual(ManualIncidentIn.model_validate(body), "duty-officer")
        while platform.bus.pending():
            platform.bus.drain()
        for draft in platform.warnings.list(state="draft"):
            platform.warnings.issue(draft.identifier, "duty-officer")
        platform.incidents.transition(opened.id, "closed", "duty-officer")
        while platform.bus.pending():
            platform.bus.drain()
        lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  >> ")]
        assert (
            lines[0]
            == f"  >> 사건 #{opened.id} 감지 / incident #{opened.id} opened: 침수 / Flood [경계 Alert]"
        )
        assert any(line.startswith("  >> CAP Alert 발령 / issued: ") for line in lines), lines
        assert f"  >> 사건 #{opened.id} 종료 / incident #{opened.id} closed" in lines
    finally:
        platform.bus.stop()
        platform.store.close()
