# SPDX-License-Identifier: Apache-2.0
"""Operations endpoints, quality flags through the API, settings sources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from safecity.core.clock import ManualClock
from safecity.settings import Settings, load_settings
from tests.conftest import PG_ADMIN_URL, Api, weather_station


def test_health_metrics_and_openapi(api: Api) -> None:
    r = api.client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert r.headers["X-Request-Id"]
    tid = api.create("/Things", weather_station())
    ds = api.get(f"/Things({tid})/Datastreams").json()["value"][0]["@iot.id"]
    api.post(
        "/CreateObservations",
        [
            {
                "Datastream": {"@iot.id": ds},
                "components": ["phenomenonTime", "result"],
                "dataArray": [["2026-11-25T00:00:00Z", 1.0], ["bad", 2.0]],
            }
        ],
    )
    metrics = api.client.get("/metrics").text
    assert "safecity_observations_ingested_total 1.0" in metrics
    assert "safecity_observations_rejected_total 1.0" in metrics
    assert "safecity_outbox_pending" in metrics
    for name in ("safecity_conditions_active", "safecity_incidents_open", "safecity_rules_failed 0.0"):
        assert name in metrics
    spec = api.client.get("/openapi.json").json()
    assert "/sta/v1.1/CreateObservations" in spec["paths"]


def test_quality_flags_are_stored_and_raw_values_kept(api: Api) -> None:
    tid = api.create("/Things", weather_station())
    ds = api.get(f"/Things({tid})/Datastreams").json()["value"][0]["@iot.id"]
    now = datetime.now(UTC).replace(microsecond=0)
    future = (now + timedelta(hours=2)).isoformat()
    oid = api.create(
        f"/Datastreams({ds})/Observations", {"phenomenonTime": now.isoformat(), "result": 9999.0}
    )
    obs = api.get(f"/Observations({oid})").json()
    assert obs["result"] == 9999  # raw value kept
    assert "out_of_range" in obs["resultQuality"]
    oid = api.create(f"/Datastreams({ds})/Observations", {"phenomenonTime": future, "result": 1.0})
    assert "future" in api.get(f"/Observations({oid})").json()["resultQuality"]
    # A sensor's own quality note is kept beside ours.
    oid = api.create(
        f"/Datastreams({ds})/Observations",
        {"phenomenonTime": "2020-01-01T00:00:00Z", "result": 1.0, "resultQuality": {"calibrated": True}},
    )
    q = api.get(f"/Observations({oid})").json()["resultQuality"]
    assert q["calibrated"] is True and "late" in q["safecity:qc"]


def test_sensor_health_lists_stale_and_suspect(api: Api) -> None:
    t1 = api.create("/Things", weather_station("A"))
    t2 = api.create("/Things", weather_station("B"))
    d1 = api.get(f"/Things({t1})/Datastreams").json()["value"][0]["@iot.id"]
    d2 = api.get(f"/Things({t2})/Datastreams").json()["value"][0]["@iot.id"]
    api.patch(f"/Datastreams({d1})", {"properties": {"expectedIntervalSeconds": 60}})
    now = datetime.now(UTC).replace(microsecond=0)
    api.create(f"/Datastreams({d1})/Observations", {"phenomenonTime": now.isoformat(), "result": 1.0})
    api.create(f"/Datastreams({d2})/Observations", {"phenomenonTime": now.isoformat(), "result": -5.0})
    assert api.client.get("/sensing/health").status_code == 401
    body = api.client.get("/sensing/health", headers=api.headers).json()
    states = {p["datastream"]: p["state"] for p in body["problems"]}
    assert states == {d2: "suspect"}
    # Four minutes later the 1-minute gauge has missed three reports.
    api.platform.sensing.clock = ManualClock(now + timedelta(minutes=4))
    body = api.client.get("/sensing/health", headers=api.headers).json()
    states = {p["datastream"]: p["state"] for p in body["problems"]}
    assert states == {d1: "stale", d2: "suspect"}
    assert "safecity_sensors_stale 1.0" in api.client.get("/metrics").text


def test_settings_from_toml_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "safecity.toml"
    config.write_text('port = 9100\ndata_dir = "/srv/safecity"\n[mqtt]\nport = 9101\n')
    monkeypatch.setenv("SAFECITY_CONFIG", str(config))
    monkeypatch.setenv("SAFECITY_PORT", "9200")
    s = load_settings()
    assert s.port == 9200  # the environment wins over the file
    assert s.mqtt.port == 9101 and s.data_dir == Path("/srv/safecity")
    assert Settings(store_url="postgresql://u@h/db").is_embedded_store is False
    with pytest.raises(ValueError, match="SAFECITY_JWT_SECRET"):
        Settings(mode="production")
    production = Settings(mode="production", jwt_secret="x" * 40, public_url="https://safecity.seoul.go.kr")
    assert production.mode == "production"


def test_start_page_is_bilingual_and_serves_only_its_assets(api: Api) -> None:
    # the dashboard took over /; the status page with the platform's counts and links moved to /about
    page = api.client.get("/about")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "재난안전 통합플랫폼" in page.text and "disaster and safety platform" in page.text
    assert "<script" not in page.text
    assert (
        'href="/"' in page.text and 'href="/citizen"' in page.text and 'href="/alerts/feed.atom"' in page.text
    )
    assert api.client.get("/static/site.css").status_code == 200
    assert api.client.get("/static/favicon.svg").headers["content-type"] == "image/svg+xml"
    assert api.client.get("/static/..%2F..%2Fsettings.py").status_code == 404
    assert api.client.get("/static/index.html").status_code == 404


@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
def test_a_store_that_went_away_answers_503_and_the_request_succeeds_later(api: Api) -> None:
    """PostgreSQL restarting (its sessions ended, new ones refused): a write answers 503 with
    Retry-After and writes nothing, not a 500 to report; once the store is back, the same request
    succeeds."""
    tid = api.create("/Things", weather_station())
    ds = api.get(f"/Things({tid})/Datastreams").json()["value"][0]["@iot.id"]
    body = [
        {
            "Datastream": {"@iot.id": ds},
            "components": ["phenomenonTime", "result"],
            "dataArray": [["2026-11-25T00:00:00Z", 1.0]],
        }
    ]
    database = api.platform.store.engine.url.database
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
                {"d": database},
            )
        r = api.post("/CreateObservations", body)
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "2"
        assert r.json()["code"] == "store_unavailable" and r.json()["message_ko"]
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
        admin.dispose()
    r = api.post("/CreateObservations", body)
    assert r.status_code == 201, r.text
    got = api.get(f"/Datastreams({ds})/Observations").json()["value"]
    assert [o["result"] for o in got] == [1.0]
