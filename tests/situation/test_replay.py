# SPDX-License-Identifier: Apache-2.0
"""`safecity rules test --replay` and `safecity rules check`: a past event through the shipped packs,
printed on the data's own time (KST), and files that cannot be replayed or loaded named precisely."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from safecity.app import Platform
from safecity.cli import app, main
from safecity.core.errors import BadRequest
from safecity.sensing.sta.model import ENTITIES
from safecity.settings import Settings
from safecity.situation.replay import read_observations, replay
from safecity.situation.rules import PACKS_DIR, load_paths
from tests.conftest import weather_station

#: 2025-07-13 15:00 UTC = 2025-07-14 00:00 KST
START = datetime(2025, 7, 13, 15, 0, tzinfo=UTC)


def rain() -> list[tuple[int, float]]:
    """(minute after START, 10-min rainfall in mm): 5 mm from minute 10 to 120, 10 mm at 130–150.

    3-h sum: 12 × 5 = 60 at minute 120 (≥ 60: 호우주의보 기준), 60 + 3 × 10 = 90 at 150 (≥ 90: 호우경보
    기준). 1-h sum stays below 50 (at 150: 3 × 5 + 3 × 10 = 45), so 극한호우 never. After the rain: the
    30-min sum is 0 from minute 180 (the 10 mm of minute 150 leaves (150, 180]), and the rule's lift has
    held 10 min at 190: every level is left then, though the 3-h sum (85) would have kept the advisory
    until 280 (the lift: the rain has stopped, the level falls within 40 min).
    """
    return [(m, 5.0) for m in range(10, 121, 10)] + [(m, 10.0) for m in (130, 140, 150)]


def iso(minute: int) -> str:
    return (START + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")


def write_csv(
    path: Path,
    rows: list[list[str]],
    header: tuple[str, ...] = ("phenomenonTime", "result", "property", "thing"),
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def rain_csv(path: Path) -> Path:
    return write_csv(path, [[iso(m), f"{v:g}", "rainfall_10min", "Dongjak AWS"] for m, v in rain()])


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SAFECITY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SAFECITY_STORE_URL", raising=False)
    return CliRunner()


def change_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line[:4].isdigit() and " KST " in line]


def expect_heavy_rain_lines(lines: list[str]) -> None:
    # START + 120 min = 02:00 KST on 14 July; + 150 = 02:30; + 190 = 03:10
    assert len(lines) == 3, lines
    fired, raised, cleared = lines
    assert fired.startswith("2025-07-14 02:00:00 KST  FIRED ") and "kma.heavy_rain" in fired
    assert "호우주의보 기준 / Heavy rain advisory criteria" in fired and "평시→주의" in fired
    assert "Dongjak AWS / rainfall_10min" in fired and "sum 3h = 60" in fired
    assert raised.startswith("2025-07-14 02:30:00 KST  RAISED ")
    assert "호우경보 기준 / Heavy rain warning criteria" in raised and "sum 3h = 90" in raised
    assert cleared.startswith("2025-07-14 03:10:00 KST  CLEARED ") and "경계→평시" in cleared
    assert "sum 3h = 85" in cleared  # the value when cleared: (10, 190] = 11 × 5 + 3 × 10
    assert all("[late data]" not in line for line in lines)


def test_replay_csv_heavy_rain_through_the_shipped_packs(tmp_path: Path, runner: CliRunner) -> None:
    f = rain_csv(tmp_path / "rain.csv")
    result = runner.invoke(app, ["rules", "test", str(PACKS_DIR), "--replay", str(f), "--tail", "3h"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    n_rules = len(load_paths([PACKS_DIR]).rules)
    assert (
        f"replayed 15 observations of 1 streams through {n_rules} rules, 2025-07-13 15:10 to 2025-07-13 17:30 UTC"
        in result.stdout
    )
    expect_heavy_rain_lines(change_lines(result.stdout))
    assert "3 changes: 2 raised, 1 cleared" in result.stdout


def test_replay_without_tail_stops_at_the_last_observation(tmp_path: Path, runner: CliRunner) -> None:
    f = rain_csv(tmp_path / "rain.csv")
    result = runner.invoke(app, ["rules", "test", str(PACKS_DIR), "--replay", str(f)])
    assert result.exit_code == 0, result.output
    # the clock stops at minute 150 (02:30 KST): fired and raised, never cleared
    lines = change_lines(result.stdout)
    assert [line.split()[:4] for line in lines] == [
        ["2025-07-14", "02:00:00", "KST", "FIRED"],
        ["2025-07-14", "02:30:00", "KST", "RAISED"],
    ]


def test_replay_rows_out_of_order_in_the_file_are_sorted(tmp_path: Path, runner: CliRunner) -> None:
    rows = [[iso(m), f"{v:g}", "rainfall_10min", "Dongjak AWS"] for m, v in reversed(rain())]
    f = write_csv(tmp_path / "rain.csv", rows)
    result = runner.invoke(app, ["rules", "test", str(PACKS_DIR), "--replay", str(f), "--tail", "3h"])
    assert result.exit_code == 0, result.output
    expect_heavy_rain_lines(change_lines(result.stdout))


def test_replay_bad_time_names_the_line(tmp_path: Path, runner: CliRunner) -> None:
    rows = [[iso(m), f"{v:g}", "rainfall_10min", "Dongjak AWS"] for m, v in rain()]
    rows[3][0] = "yesterday"  # header = line 1, so the 4th row is line 5
    f = write_csv(tmp_path / "bad.csv", rows)
    result = runner.invoke(app, ["rules", "test", str(PACKS_DIR), "--replay", str(f)])
    assert result.exit_code == 1
    assert isinstance(result.exception, BadRequest)
    assert "line 5: phenomenonTime: 'yesterday' is not an ISO 8601 time" in result.exception.message
    assert "line 4" not in result.exception.message and "line 6" not in result.exception.message
    assert change_lines(result.stdout) == []  # nothing is replayed


def test_replay_short_row_names_the_line(tmp_path: Path, runner: CliRunner) -> None:
    # found by fuzzing: a row with fewer fields than the header was an IndexError
    rows = [[iso(m), f"{v:g}", "rainfall_10min", "Dongjak AWS"] for m, v in rain()]
    rows[2] = rows[2][:2]
    f = write_csv(tmp_path / "short.csv", rows)
    result = runner.invoke(app, ["rules", "test", str(PACKS_DIR), "--replay", str(f)])
    assert result.exit_code == 1
    assert isinstance(result.exception, BadRequest)
    assert "line 4: 2 fields where the header has 4" in result.exception.message


def test_replay_errors_reach_the_user_as_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SAFECITY_DATA_DIR", str(tmp_path / "data"))
    rows = [[iso(m), f"{v:g}", "rainfall_10min", "Dongjak AWS"] for m, v in rain()]
    rows[3][0] = "2025-07-13T15:40:00"  # no time zone
    rows[5][1] = "heavy"
    f = write_csv(tmp_path / "bad.csv", rows)
    monkeypatch.setattr(sys, "argv", ["safecity", "rules", "test", str(PACKS_DIR), "--replay", str(f)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {f}: line 5: phenomenonTime: '2025-07-13T15:40:00' has no time zone")
    assert "line 7: result 'heavy' is not a number" in err


def test_replay_parquet(tmp_path: Path, runner: CliRunner) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = rain()
    table = pa.table(
        {
            "phenomenonTime": [iso(m) for m, _ in data],
            "result": [v for _, v in data],
            "property": ["rainfall_10min"] * len(data),
            "thing": ["Dongjak AWS"] * len(data),
        }
    )
    f = tmp_path / "rain.parquet"
    pq.write_table(table, f)
    result = runner.invoke(app, ["rules", "test", str(PACKS_DIR), "--replay", str(f), "--tail", "3h"])
    assert result.exit_code == 0, result.output
    expect_heavy_rain_lines(change_lines(result.stdout))


def test_replay_parquet_with_a_timestamp_column(tmp_path: Path, runner: CliRunner) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = rain()
    table = pa.table(
        {
            "phenomenonTime": pa.array(
                [START + timedelta(minutes=m) for m, _ in data], type=pa.timestamp("us", tz="UTC")
            ),
            "result": [v for _, v in data],
            "property": ["rainfall_10min"] * len(data),
            "thing": ["Dongjak AWS"] * len(data),
        }
    )
    f = tmp_path / "rain.parquet"
    pq.write_table(table, f)
    result = runner.invoke(app, ["rules", "test", str(PACKS_DIR), "--replay", str(f), "--tail", "3h"])
    assert result.exit_code == 0, result.output
    expect_heavy_rain_lines(change_lines(result.stdout))


def test_replay_one_rule_file_and_options(tmp_path: Path, runner: CliRunner) -> None:
    f = rain_csv(tmp_path / "rain.csv")
    pack = PACKS_DIR / "kma_weather.toml"
    result = runner.invoke(
        app, ["rules", "test", str(pack), "--replay", str(f), "--tail", "3h", "--tick", "10m"]
    )
    assert result.exit_code == 0, result.output
    n = len(load_paths([pack]).rules)
    assert f"through {n} rules" in result.stdout
    # ticks every 10 min from minute 20 hit 190 / 220 / 250 / 280 exactly: the same times
    expect_heavy_rain_lines(change_lines(result.stdout))
    bad = runner.invoke(app, ["rules", "test", str(pack), "--replay", str(f), "--tick", "0s"])
    assert bad.exit_code == 2 and "--tick must be longer than 0s" in bad.stderr
    bad = runner.invoke(app, ["rules", "test", str(pack), "--replay", str(f), "--tail", "3x"])
    assert bad.exit_code == 2 and "'3x' is not a duration" in bad.stderr


def write_parquet(path: Path, columns: dict[str, list[object]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path)
    return path


def test_replay_needs_time_value_and_stream_columns(tmp_path: Path) -> None:
    f = write_parquet(tmp_path / "x.parquet", {"when": ["1"], "result": [2.0]})
    with pytest.raises(BadRequest, match="needs columns phenomenonTime \\(or time\\) and result"):
        read_observations(f, None)
    f = write_parquet(tmp_path / "y.parquet", {"time": [iso(0)], "value": [2.0]})
    with pytest.raises(BadRequest, match="with a datastream column"):
        read_observations(f, None)
    f = write_parquet(tmp_path / "z.parquet", {"time": [iso(0)], "value": [2.0], "datastream": [3]})
    with pytest.raises(BadRequest, match="datastream ids need a store"):
        read_observations(f, None)
    # Parquet rows are numbered from 1 (no header line)
    f = write_parquet(
        tmp_path / "w.parquet",
        {"time": [iso(0), "soon"], "value": [2.0, 3.0], "property": ["tilt"] * 2, "thing": ["A"] * 2},
    )
    with pytest.raises(BadRequest, match="line 2: phenomenonTime: 'soon'"):
        read_observations(f, None)


def test_refused_csv_header_does_not_leak_the_file(tmp_path: Path) -> None:
    import gc

    f = write_csv(tmp_path / "x.csv", [["1", "2"]], header=("when", "result"))
    with pytest.raises(BadRequest, match="needs columns phenomenonTime"):
        read_observations(f, None)
    gc.collect()


def test_read_observations_builds_streams_from_property_and_thing(tmp_path: Path) -> None:
    f = write_csv(
        tmp_path / "obs.csv",
        [
            [iso(10), "0.4", "tilt", "Wall A", '{"gauge": "a"}', "0.5", "11590"],
            [iso(0), "0.1", "tilt", "Wall A", "", "", ""],
            [iso(5), "1", "tilt", "Wall B", "", "", ""],
        ],
        header=("phenomenonTime", "result", "property", "thing", "thing_properties", "allowable", "district"),
    )
    infos, rows = read_observations(f, None)
    a, b = infos
    assert (a.datastream_id, a.name, a.property, a.properties, a.thing_properties) == (
        1,
        "Wall A / tilt",
        "tilt",
        {"allowable": 0.5},
        {"gauge": "a", "_district": "11590"},
    )
    assert (b.datastream_id, b.name, b.properties) == (2, "Wall B / tilt", {})
    # sorted by time: (seconds, stream, value, line)
    t0 = START.timestamp()
    assert rows == [(t0, 1, 0.1, 3), (t0 + 300, 2, 1.0, 4), (t0 + 600, 1, 0.4, 2)]


def test_replay_function_uses_the_district_given_in_the_file(tmp_path: Path) -> None:
    area_rule = """
[[rule]]
id = "t.area"
version = 1
hazard = "river_flood"
name_ko = "수위"
name_en = "Stage"
scope = "area"
[rule.select]
properties = ["water_level"]
[rule.signals]
x = { fn = "last" }
[rule.area]
kind = "district"
mode = "count"
count = 2
[[rule.level]]
crisis = "caution"
name_ko = "주의"
name_en = "Caution"
all = [{ signal = "x", above = 5.0 }]
"""
    rules = tmp_path / "area.toml"
    rules.write_text(area_rule, encoding="utf-8")
    f = write_csv(
        tmp_path / "obs.csv",
        [
            [iso(0), "6", "water_level", "G1", "11590"],
            [iso(1), "6", "water_level", "G2", "11590"],
            [iso(2), "6", "water_level", "G3", "11680"],
        ],
        header=("phenomenonTime", "result", "property", "thing", "district"),
    )
    infos, rows = read_observations(f, None)
    result = replay(load_paths([rules]).rules, infos, rows)
    # G1 and G2 in 11590 make 2 of 2 at minute 1; G3 alone in 11680 is 1 < 2
    assert [(c.subject, c.level.name, c.at) for c in result.changes] == [
        ("area:district:11590", "caution", START + timedelta(minutes=1))
    ]


def test_rules_check(tmp_path: Path, runner: CliRunner) -> None:
    good = runner.invoke(app, ["rules", "check", str(PACKS_DIR)])
    assert good.exit_code == 0, good.output
    assert "ok: kma.heavy_rain v1 (heavy_rain, 3 levels)" in good.stdout
    bad = tmp_path / "bad.toml"
    text = (PACKS_DIR / "sensors.toml").read_text(encoding="utf-8")
    bad.write_text(
        text.replace('age = { fn = "age" }', 'age = { fn = "age", window = "3x" }'), encoding="utf-8"
    )
    result = runner.invoke(app, ["rules", "check", str(bad)])
    assert result.exit_code == 1
    assert f"error: {bad}: rule 'sensor.stale' signals.age.window: '3x' is not a duration" in result.stderr
    assert "ok:" not in result.stdout


def test_rules_check_names_a_nested_field_and_keeps_the_good_rules(tmp_path: Path, runner: CliRunner) -> None:
    bad = tmp_path / "kma.toml"
    text = (PACKS_DIR / "kma_weather.toml").read_text(encoding="utf-8")
    broken = text.replace('{ signal = "sum1h", above = 72.0 }', '{ signal = "sum2h", above = 72.0 }', 1)
    assert broken != text
    bad.write_text(broken, encoding="utf-8")
    result = runner.invoke(app, ["rules", "check", str(bad)])
    assert result.exit_code == 1
    assert "rule 'kma.heavy_rain' level[2].any[1].signal: unknown signal 'sum2h'" in result.stderr
    assert "ok: kma.heat_wave v1" in result.stdout and "ok: kma.heavy_rain" not in result.stdout


def test_rules_test_with_no_valid_rule_is_misuse(tmp_path: Path, runner: CliRunner) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rule]]\nid = 1\n", encoding="utf-8")
    f = rain_csv(tmp_path / "rain.csv")
    result = runner.invoke(app, ["rules", "test", str(bad), "--replay", str(f)])
    assert result.exit_code == 2
    assert f"{bad}: no valid rule to run" in result.stderr


def test_replay_by_datastream_id_from_the_store(
    settings: Settings, platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform.sensing.write(lambda conn, w: w.create(conn, ENTITIES["Thing"], weather_station("Dongjak AWS")))
    monkeypatch.setenv("SAFECITY_DATA_DIR", str(settings.data_dir))
    if settings.store_url:
        monkeypatch.setenv("SAFECITY_STORE_URL", settings.store_url)
    else:
        monkeypatch.delenv("SAFECITY_STORE_URL", raising=False)
    f = write_csv(
        tmp_path / "rain.csv",
        [[iso(m), f"{v:g}", "1"] for m, v in rain()],
        header=("phenomenonTime", "result", "datastream"),
    )
    result = CliRunner().invoke(app, ["rules", "test", str(PACKS_DIR), "--replay", str(f), "--tail", "3h"])
    assert result.exit_code == 0, result.output
    lines = change_lines(result.stdout)
    # the store's stream has the catalogue's expected interval of rainfall_10min (600 s): silent from
    # minute 150, it is stale at 150 + 3 × 10 = minute 180 = 03:00 KST (the file-built stream has none)
    stale = [line for line in lines if "sensor.stale" in line]
    assert (
        len(stale) == 1
        and stale[0].startswith("2025-07-14 03:00:00 KST  FIRED ")
        and "age = 1800" in stale[0]
    )
    rain_lines = [line for line in lines if "kma.heavy_rain" in line]
    # the directory names the stream after the Datastream ("Dongjak AWS rainfall 10 min")
    assert all("Dongjak AWS rainfall 10 min" in line for line in lines)
    expect_heavy_rain_lines(
        [line.replace("Dongjak AWS rainfall 10 min", "Dongjak AWS / rainfall_10min") for line in rain_lines]
    )
    assert "4 changes: 3 raised, 1 cleared" in result.stdout  # heavy rain: fired, raised, cleared; stale
    missing = write_csv(
        tmp_path / "missing.csv", [[iso(0), "1", "99"]], header=("phenomenonTime", "result", "datastream")
    )
    result = CliRunner().invoke(app, ["rules", "test", str(PACKS_DIR), "--replay", str(missing)])
    assert isinstance(result.exception, BadRequest)
    assert "line 2: datastream '99' is not in the store" in result.exception.message
