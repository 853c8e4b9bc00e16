# SPDX-License-Identifier: Apache-2.0
"""Radar or nowcast rain imported for the forecasts: ``safecity flood radar import FILE`` and
``POST /flood/radar``.

A raster (GeoTIFF, or NetCDF through GDAL) of rain intensity in mm/h, one band per frame, with a CRS; frame
``k`` covers ``[start + k·step, start + (k+1)·step)``. An import is checked (readable, a CRS, at least one
band, no negative rain), then kept under ``<data_dir>/flood/radar/`` with its times beside it (a JSON file),
so the command and the server need not share a process: the forecast service reads the imports it has not
read yet before each run, resamples them onto its catchment's grid
(:func:`safecity.flood.nowcast.frames_from_raster`) and takes each frame in place of the gauges' analysis
for its interval. Frames that ended more than :data:`STALE_AFTER` before the run are left out (the
analysis has moved past them).
"""

from __future__ import annotations

import json
import math
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from safecity.core.errors import BadRequest

#: An imported frame this much older than the forecast run is not fed in (the analysis is past it).
STALE_AFTER = timedelta(hours=1)
#: The shortest and longest frame interval accepted, minutes (radar composites come every 5-10 minutes;
#: an hourly nowcast step is the coarsest useful).
STEP_MIN = (1.0, 60.0)


@dataclass(frozen=True)
class RadarImport:
    """One imported raster: where it is kept, when its first frame starts, its frame step, its bands."""

    path: Path
    start: datetime
    step: timedelta
    bands: int
    name: str

    def frame_times(self) -> list[tuple[datetime, datetime]]:
        return [(self.start + k * self.step, self.start + (k + 1) * self.step) for k in range(self.bands)]

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.path.name,
            "name": self.name,
            "start": self.start.isoformat(),
            "stepMin": self.step.total_seconds() / 60,
            "frames": self.bands,
            "end": (self.start + self.bands * self.step).isoformat(),
        }


def radar_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "flood" / "radar"


def import_radar(data_dir: Path, content: bytes, start: datetime, step_min: float, name: str) -> RadarImport:
    """Check a raster and keep it for the forecasts. Raises :class:`BadRequest` naming the field to fix
    (``start``, ``stepMin``, ``file``); nothing is kept then."""
    import rasterio  # type: ignore[import-untyped]
    from rasterio.errors import NotGeoreferencedWarning, RasterioError  # type: ignore[import-untyped]

    if start.tzinfo is None:
        raise BadRequest(
            "start: give the first frame's start with its time zone (e.g. 2022-08-08T21:00:00+09:00)",
            where="start",
            message_ko="start: 첫 프레임 시작 시각을 시간대와 함께 주십시오 (예: 2022-08-08T21:00:00+09:00)",
        )
    if not math.isfinite(step_min) or not STEP_MIN[0] <= step_min <= STEP_MIN[1]:
        raise BadRequest(
            f"stepMin: {step_min:g} is outside {STEP_MIN[0]:g}..{STEP_MIN[1]:g} minutes",
            where="stepMin",
            message_ko=f"stepMin: {step_min:g}분은 {STEP_MIN[0]:g}..{STEP_MIN[1]:g}분 범위 밖입니다",
        )
    folder = radar_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{start.strftime('%Y%m%dT%H%M%S%z')}-{uuid.uuid4().hex[:8]}"
    tmp = folder / f".{stem}.part"
    tmp.write_bytes(content)
    try:
        try:
            # a file without a geotransform opens with a warning; it is refused just below, by name
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                src = rasterio.open(tmp)
        except RasterioError:
            raise BadRequest(
                f"file: {name} is not a raster GDAL can read (a GeoTIFF or NetCDF of rain in mm/h)",
                where="file",
                message_ko=f"file: {name}은(는) 읽을 수 있는 래스터(GeoTIFF, NetCDF)가 아닙니다",
            ) from None
        try:
            with src:
                if src.crs is None:
                    raise BadRequest(
                        f"file: {name} has no coordinate reference system; give it one (gdal_edit.py -a_srs)",
                        where="file",
                        message_ko=f"file: {name}에 좌표계가 없습니다 (gdal_edit.py -a_srs로 지정하십시오)",
                    )
                if src.transform.is_identity and not src.gcps[0]:
                    raise BadRequest(
                        f"file: {name} is not georeferenced (no geotransform); give it one (gdal_translate -a_ullr)",
                        where="file",
                        message_ko=f"file: {name}에 지리참조(geotransform)가 없습니다 (gdal_translate -a_ullr로 지정하십시오)",
                    )
                bands = int(src.count)
                for band in range(1, bands + 1):
                    data = src.read(band, masked=True)
                    values = np.asarray(
                        data.compressed() if np.ma.isMaskedArray(data) else data, dtype=np.float64
                    )
                    bad = values[np.isfinite(values) & (values < 0)]
                    if bad.size:
                        raise BadRequest(
                            f"file: band {band} of {name} has negative rain ({float(bad.min()):g} mm/h)",
                            where="file",
                            message_ko=f"file: {name}의 {band}번 밴드에 음수 강우가 있습니다",
                        )
        except RasterioError as e:
            raise BadRequest(
                f"file: {name} could not be read as a raster ({e})",
                where="file",
                message_ko=f"file: {name}을(를) 래스터로 읽을 수 없습니다",
            ) from None
        kept = RadarImport(folder / f"{stem}.tif", start, timedelta(minutes=step_min), bands, name)
        tmp.rename(kept.path)
    finally:
        tmp.unlink(missing_ok=True)
    kept.path.with_suffix(".json").write_text(json.dumps(kept.to_json()), encoding="utf-8")
    return kept


def imports(data_dir: Path) -> list[RadarImport]:
    """Every kept import, oldest first frame first."""
    out = []
    for meta in sorted(radar_dir(data_dir).glob("*.json")):
        raw = json.loads(meta.read_text(encoding="utf-8"))
        raster = meta.with_suffix(".tif")
        if raster.is_file():
            out.append(
                RadarImport(
                    raster,
                    datetime.fromisoformat(raw["start"]),
                    timedelta(minutes=float(raw["stepMin"])),
                    int(raw["frames"]),
                    str(raw.get("name") or raster.name),
                )
            )
    return sorted(out, key=lambda r: (r.start, r.path.name))
