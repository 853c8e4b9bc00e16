# SPDX-License-Identifier: Apache-2.0
"""Radar rain imported over HTTP and by the command drives the forecasts (both stores): a GeoTIFF in the
catchment's CRS, kept with its times, read by the service before its next run; bad imports are refused
with the field to fix and keep nothing."""

from __future__ import annotations

import tempfile
import warnings
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio  # type: ignore[import-untyped]
from rasterio.errors import NotGeoreferencedWarning  # type: ignore[import-untyped]
from rasterio.transform import Affine  # type: ignore[import-untyped]
from typer.testing import CliRunner

from safecity.flood.radar import imports, radar_dir
from safecity.flood.service import FloodForecasts
from tests.conftest import Api
from tests.flood.test_forecast import _catchment


def _tiff(
    mm_h: list[float], crs: str | None = "EPSG:5186", bounds_of: Any = None, georeferenced: bool = True
) -> bytes:
    """A raster of uniform rain per band over the test catchment (a little wider)."""
    g = bounds_of.grid
    width, height, cell = g.nx + 4, g.ny + 4, g.dx
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": len(mm_h),
        "dtype": "float32",
        "transform": Affine(cell, 0.0, g.x_min - 2 * cell, 0.0, -cell, g.y_max + 2 * cell),
    }
    if crs:
        profile["crs"] = crs
    if not georeferenced:
        del profile["transform"]  # what a raster exported without its grid looks like
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "radar.tif"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the no-geotransform case, on purpose
            with rasterio.open(path, "w", **profile) as dst:
                for k, v in enumerate(mm_h, start=1):
                    dst.write(np.full((height, width), v, dtype=np.float32), k)
        return path.read_bytes()


def _post(api: Api, body: bytes, start: str, step: float = 10.0) -> Any:
    return api.client.post(
        "/flood/radar/import",
        params={"start": start, "stepMin": step, "name": "test radar"},
        content=body,
        headers={**api.headers, "Content-Type": "image/tiff"},
    )


def test_an_imported_radar_raster_drives_the_next_forecast(api: Api) -> None:
    svc = api.platform.services.get(FloodForecasts)
    catchment = _catchment()
    svc.use(catchment)
    t0 = api.platform.clock.now().replace(second=0, microsecond=0) - timedelta(minutes=20)
    assert svc.run(t0 + timedelta(minutes=20)) is None  # no gauge, no radar: nothing to forecast from

    r = _post(api, _tiff([60.0, 120.0], bounds_of=catchment), t0.isoformat())
    assert r.status_code == 201, r.text
    kept = r.json()
    assert kept["frames"] == 2 and kept["stepMin"] == 10.0 and kept["name"] == "test radar"
    result = svc.run(t0 + timedelta(minutes=20))
    assert result is not None and result.rain_now_mm_h == pytest.approx(120.0, rel=1e-3)
    # read once: the next run does not feed the same frames again
    assert len(svc._radar_read) == 1


@pytest.mark.parametrize(
    ("body", "start", "step", "where"),
    [
        ("no-crs", "2022-08-08T21:00:00+09:00", 10.0, "file"),
        ("negative", "2022-08-08T21:00:00+09:00", 10.0, "file"),
        ("no-geotransform", "2022-08-08T21:00:00+09:00", 10.0, "file"),
        ("not-a-raster", "2022-08-08T21:00:00+09:00", 10.0, "file"),
        ("ok", "2022-08-08T21:00:00", 10.0, "start"),
        ("ok", "2022-08-08T21:00:00+09:00", 0.5, "stepMin"),
    ],
)
def test_bad_imports_name_what_to_fix_and_keep_nothing(
    api: Api, body: str, start: str, step: float, where: str
) -> None:
    catchment = _catchment()
    content = {
        "no-crs": _tiff([10.0], crs=None, bounds_of=catchment),
        "negative": _tiff([-5.0], bounds_of=catchment),
        "no-geotransform": _tiff([10.0], bounds_of=catchment, georeferenced=False),
        "not-a-raster": b"GIF89a not a raster",
        "ok": _tiff([10.0], bounds_of=catchment),
    }[body]
    r = _post(api, content, start, step)
    assert r.status_code == 400, r.text
    assert r.json()["where"] == where and r.json()["message_ko"]
    folder = radar_dir(api.platform.settings.data_dir)
    assert not folder.exists() or not list(folder.iterdir())


def test_radar_import_is_for_operators(api: Api) -> None:
    r = api.client.post("/flood/radar/import", params={"start": "2022-08-08T21:00:00+09:00"}, content=b"x")
    assert r.status_code in (401, 403)


def test_the_command_keeps_a_raster_for_the_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from safecity.cli import app

    monkeypatch.setenv("SAFECITY_DATA_DIR", str(tmp_path))
    raster = tmp_path / "radar.tif"
    raster.write_bytes(_tiff([5.0, 6.0, 7.0], bounds_of=_catchment()))
    start = datetime.fromisoformat("2022-08-08T21:00:00+09:00")
    run = CliRunner().invoke(
        app,
        ["flood", "radar", "import", str(raster), "--start", start.isoformat(), "--step-min", "5", "--json"],
    )
    assert run.exit_code == 0, run.output
    (kept,) = imports(tmp_path)
    assert (kept.bands, kept.step, kept.start) == (3, timedelta(minutes=5), start)
    assert kept.frame_times()[-1][1] == start + timedelta(minutes=15)
    bad = CliRunner().invoke(app, ["flood", "radar", "import", str(raster), "--start", "tomorrow"])
    assert bad.exit_code == 2 and "ISO 8601" in bad.output
    raster.write_bytes(b"not a raster")
    refused = CliRunner().invoke(app, ["flood", "radar", "import", str(raster), "--start", start.isoformat()])
    assert refused.exit_code == 1 and "file:" in refused.output
