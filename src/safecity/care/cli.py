# SPDX-License-Identifier: Apache-2.0
"""``safecity care ...``: opens the store from settings itself (a capability's CLI never imports the app)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson
import typer

if TYPE_CHECKING:
    from pathlib import Path

    from safecity.care.safety_points import SafetyPoint

cli = typer.Typer(help="Protecting vulnerable people: trackers, consent, fences.", no_args_is_help=True)


@cli.command("housekeeping")
def housekeeping() -> None:
    """Purge positions and access records past their retention and send the batched notices due."""
    from safecity.bus import open_bus
    from safecity.capability import cli_settings, load_settings_of
    from safecity.care import setup
    from safecity.care.service import Care
    from safecity.care.settings import CareSettings
    from safecity.core.clock import SystemClock
    from safecity.store import open_store

    settings = cli_settings()
    own = load_settings_of(setup())
    assert isinstance(own, CareSettings)
    store = open_store(settings)
    clock = SystemClock()
    bus = open_bus(settings, store, clock)
    try:
        done = Care(store, clock, bus, None, own).housekeeping()
        typer.echo(orjson.dumps(done).decode())
    finally:
        bus.stop()
        store.close()


@cli.command("law")
def law() -> None:
    """Print the articles the capability implements and where the code does each."""
    from safecity.care.law import articles

    for a in articles().values():
        typer.echo(f"{a.id}\t{a.law}\n\t{a.en}\n\t{a.code}")


@cli.command("verify-wandering")
def verify_wandering(
    seed: int = typer.Option(2, help="Seed of the GENERATED verification set (1 is the calibration set)."),
    people: int = typer.Option(20, min=2, help="Generated people (32 windows each)."),
) -> None:
    """The wandering detector's verification table on a GENERATED labelled set: AUC, false alarms."""
    from safecity.care.wandering import THRESHOLD
    from safecity.care.wandering_data import verify

    v = verify(seed=seed, people=people)
    typer.echo(f"GENERATED set seed={v.seed} people={v.people} windows={v.windows} wandering={v.wandering}")
    typer.echo(
        f"threshold {THRESHOLD}  AUC {v.auc:.4f}  false alarms {v.false_alarm_rate:.2%}  detected {v.detection_rate:.2%}"
    )
    typer.echo("kind\twindows\talarms")
    for kind, (n, alarms) in v.by_kind.items():
        typer.echo(f"{kind}\t{n}\t{alarms}")


@cli.command("school-zones-from-osm")
def school_zones_from_osm(
    file: str = typer.Argument(
        ..., help="An OSM XML or PBF extract (ODbL: the zones carry its attribution)."
    ),
) -> None:
    """Derive school zones (어린이보호구역) from an OSM extract: kindergartens, childcare centres and
    elementary/special schools grown by 300 m, labelled derived; they replace the school zones."""
    from datetime import UTC, datetime
    from pathlib import Path

    from safecity.capability import cli_settings
    from safecity.care.school_zones import import_from_osm
    from safecity.core.errors import SafecityError
    from safecity.store import open_store

    store = open_store(cli_settings())
    try:
        done = import_from_osm(store, Path(file), datetime.now(UTC))
    except SafecityError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    for z in done:
        typer.echo(f"{z['name']}\t{z['source']}")


@cli.command("import-cctv")
def import_cctv(
    file: str = typer.Argument(..., help="A 전국CCTV표준데이터 CSV (UTF-8 or CP949) from 공공데이터포털."),
) -> None:
    """Import public CCTV installations (위도/경도 per row); they replace this file's earlier import.
    A row that is not a position fails the import with its line and column."""
    from safecity.care.safety_points import CCTV_SOURCE, read_cctv_csv

    _replace_safety_points(file, read_cctv_csv, lambda name: f"{CCTV_SOURCE} {name}")


@cli.command("safety-points-from-osm")
def safety_points_from_osm(
    file: str = typer.Argument(
        ..., help="An OSM XML or PBF extract (ODbL: the points carry its attribution)."
    ),
) -> None:
    """Import police stations (amenity=police) and CCTV (man_made=surveillance) from an OSM extract;
    they replace this file's earlier import."""
    from safecity.care.safety_points import read_osm

    _replace_safety_points(file, read_osm, lambda name: f"({name})")


@cli.command("import-taas")
def import_taas(
    file: str = typer.Argument(
        ..., help="A TAAS 사고다발지역 CSV (지점명, 발생건수, 사상자수, 위도, 경도, 다발지역폴리곤)."
    ),
) -> None:
    """Replace the crash hotspots with those of a 도로교통공단 TAAS hotspot file (its polygons, or 100 m
    circles round 위도/경도). A bad row fails the import with its line and column."""
    from datetime import UTC, datetime
    from pathlib import Path

    from safecity.capability import cli_settings
    from safecity.care.taas import import_taas as run
    from safecity.core.errors import SafecityError
    from safecity.store import open_store

    store = open_store(cli_settings())
    try:
        done = run(store, Path(file), datetime.now(UTC))
    except SafecityError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(orjson.dumps({"crashHotspots": done}).decode())


def _replace_safety_points(
    file: str, read: Callable[[Path], list[SafetyPoint]], source: Callable[[str], str]
) -> None:
    """Read ``file`` with ``read`` and replace the safety points of its ``source`` (by the file's name);
    a bad file is an error naming where, and nothing is replaced."""
    from datetime import UTC, datetime
    from pathlib import Path

    from safecity.capability import cli_settings
    from safecity.care.safety_points import replace
    from safecity.core.errors import SafecityError
    from safecity.store import open_store

    path = Path(file)
    store = open_store(cli_settings())
    try:
        done = replace(store, read(path), source(path.name), datetime.now(UTC))
    except SafecityError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(orjson.dumps(done).decode())
