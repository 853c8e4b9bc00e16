# SPDX-License-Identifier: Apache-2.0
"""OpenQuake inputs read directly: NRML 0.4/0.5 exposure and fragility models, CSV exposure, ground-motion
field CSVs, site meshes and ``job.ini``; and a scenario-damage run over them with our own calculator.

This is how the platform's damage calculator is checked against OpenQuake's own scenario-damage QA cases
(``../shared/data/quake/openquake_qa_scenario_damage``, AGPL test fixtures read by the tests and
``safecity quake verify``; none of them ships with the product). No OpenQuake code is used: the formats
and conventions are those written down in ``../shared/data/quake/PROVENANCE.md`` §1:

* the asset takes the ground motion of the nearest hazard site (``asset_hazard_distance``, km);
* with ``sites = …`` in the ini, GMF ``sid`` numbers the sites **sorted by (lon, lat)**;
* damage per asset is the sum over events divided by the number of distinct events in the GMF file (a
  site without a row for an event is undamaged in that event);
* consequences (``homeless``, ``fatalities``) are Σ P(ds) × coefficient × the asset's exposure field:
  ``residents`` for homeless, the occupants of ``time_event`` (or their mean over the occupancy periods)
  for fatalities.
"""

from __future__ import annotations

import configparser
import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from lxml import etree

from safecity.quake.fragility import DiscreteFragility, Fragility, LognormalFragility, state_probabilities

FloatArray = npt.NDArray[np.float64]


def _parser() -> etree.XMLParser:
    # NRML files are local fixtures, but read them as untrusted all the same: no entities, no DTD, no network
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True)


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if _local(c.tag) == name]


def _find(el: etree._Element, name: str) -> etree._Element | None:
    for c in el.iter():
        if _local(c.tag) == name:
            return c
    return None


def _floats(text: str | None) -> list[float]:
    return [float(v) for v in (text or "").split()]


@dataclass(frozen=True)
class Asset:
    """One exposure asset: ``number`` buildings of ``taxonomy`` at (lon, lat), with occupancy fields."""

    id: str
    taxonomy: str
    number: float
    lon: float
    lat: float
    fields: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Exposure:
    assets: tuple[Asset, ...]
    occupancy_periods: tuple[str, ...] = ()


def read_exposure(path: Path) -> Exposure:
    """An NRML exposure model with inline ``<asset>`` elements or a CSV file named in ``<assets>``.

    ``<exposureFields>`` renames CSV columns (``<field oq="night" input="total_occupants"/>``).
    """
    root = etree.parse(str(path), _parser()).getroot()
    model = _find(root, "exposureModel")
    if model is None:
        raise ValueError(f"{path}: no <exposureModel>")
    periods_el = _find(model, "occupancyPeriods")
    periods = tuple((periods_el.text or "").split()) if periods_el is not None else ()
    renames: dict[str, list[str]] = {}
    fields_el = _find(model, "exposureFields")
    if fields_el is not None:
        for f in _children(fields_el, "field"):
            renames.setdefault(f.get("input", ""), []).append(f.get("oq", ""))
    assets_el = _find(model, "assets")
    if assets_el is None:
        raise ValueError(f"{path}: no <assets>")
    assets: list[Asset] = []
    inline = _children(assets_el, "asset")
    if inline:
        for a in inline:
            loc = _find(a, "location")
            if loc is None:
                raise ValueError(f"{path}: asset {a.get('id')} has no <location>")
            occ = {
                o.get("period", ""): float(o.get("occupants", "0"))
                for o in a.iter()
                if _local(o.tag) == "occupancy"
            }
            assets.append(
                Asset(
                    a.get("id", ""),
                    a.get("taxonomy", ""),
                    float(a.get("number", "1")),
                    float(loc.get("lon", "nan")),
                    float(loc.get("lat", "nan")),
                    occ,
                )
            )
    else:
        for name in (assets_el.text or "").split():
            with (path.parent / name).open(encoding="utf-8-sig") as fh:
                for row in csv.DictReader(fh):
                    values: dict[str, float] = {}
                    for k, v in row.items():
                        if k in ("id", "taxonomy", "lon", "lat", "number") or v in (None, ""):
                            continue
                        try:
                            x = float(v)
                        except ValueError:
                            continue  # tags
                        for target in renames.get(k, [k]):
                            values[target] = x
                    assets.append(
                        Asset(
                            row["id"],
                            row["taxonomy"],
                            float(row.get("number") or 1),
                            float(row["lon"]),
                            float(row["lat"]),
                            values,
                        )
                    )
    return Exposure(tuple(assets), periods)


def read_fragility(path: Path) -> Fragility:
    """An NRML 0.5 fragility model of one format (all ``continuous`` or all ``discrete``).

    Continuous functions give the **mean and standard deviation of the lognormal IML**, converted to
    median and β: ``β = √ln(1 + (sd/mean)²)``, ``median = mean / √(1 + (sd/mean)²)``.
    """
    root = etree.parse(str(path), _parser()).getroot()
    ls_el = _find(root, "limitStates")
    states = tuple((ls_el.text or "").split()) if ls_el is not None else ()
    funcs = [e for e in root.iter() if _local(e.tag) == "fragilityFunction"]
    if not funcs or not states:
        raise ValueError(f"{path}: no limit states or fragility functions")
    formats = {f.get("format") for f in funcs}
    if formats == {"continuous"}:
        keys, med, beta, lo, hi, ndl = [], [], [], [], [], []
        imt = ""
        for f in funcs:
            imls = _find(f, "imls")
            assert imls is not None
            imt = imls.get("imt", "PGA")
            by_ls = {p.get("ls"): p for p in _children(f, "params")}
            m_row, b_row = [], []
            for s in states:
                p = by_ls[s]
                mean, sd = float(p.get("mean", "nan")), float(p.get("stddev", "nan"))
                v = 1.0 + (sd / mean) ** 2
                m_row.append(mean / math.sqrt(v))
                b_row.append(math.sqrt(math.log(v)))
            keys.append(f.get("id", ""))
            med.append(m_row)
            beta.append(b_row)
            lo.append(float(imls.get("minIML", "0")))
            hi.append(float(imls.get("maxIML", "inf")))
            ndl.append(float(imls.get("noDamageLimit", "0")))
        return LognormalFragility.build(
            keys, states, np.array(med), np.array(beta), min_iml=lo, max_iml=hi, no_damage_limit=ndl, imt=imt
        )
    if formats == {"discrete"}:
        levels: list[list[float]] = []
        poes: list[list[list[float]]] = []
        keys, ndl = [], []
        imt = ""
        for fn in funcs:
            imls = _find(fn, "imls")
            assert imls is not None
            imt = imls.get("imt", "PGA")
            levels.append(_floats(imls.text))
            poes_by_ls = {str(el.get("ls")): _floats(el.text) for el in _children(fn, "poes")}
            poes.append([poes_by_ls[s] for s in states])
            keys.append(fn.get("id", ""))
            ndl.append(float(imls.get("noDamageLimit", "0")))
        width = max(len(x) for x in levels)
        lv = np.array([x + [x[-1]] * (width - len(x)) for x in levels])
        pv = np.array([[p + [p[-1]] * (width - len(p)) for p in fp] for fp in poes])
        return DiscreteFragility(tuple(keys), states, lv, pv, np.array(ndl), imt)
    raise ValueError(f"{path}: mixed or unknown fragility formats {sorted(str(x) for x in formats)}")


@dataclass(frozen=True)
class GroundMotionFields:
    """Ground motion per (site, event) of one intensity measure; ``sites`` as (lon, lat) in sid order."""

    sites: FloatArray  # (n_sites, 2)
    events: tuple[int, ...]
    values: FloatArray  # (n_sites, n_events), NaN where the file has no row (no damage in that event)
    imt: str


def read_gmfs(
    path: Path, imt: str, sites: Sequence[tuple[float, float]] | Mapping[str, tuple[float, float]]
) -> GroundMotionFields:
    """A GMF CSV (``sid,eid,gmv_PGA`` or ``rlzi,sid,eid,…``, or ``eid,custom_site_id,…``) for ``imt``.

    ``sites`` is the ini's site list (sorted here by (lon, lat), see the module doc) or a mapping from
    ``custom_site_id`` to (lon, lat) (``sites_csv``).
    """
    with path.open(encoding="utf-8-sig") as f:
        rows = [
            {k.strip(): (v or "").strip() for k, v in r.items() if k is not None} for r in csv.DictReader(f)
        ]
    col = next((c for c in (f"gmv_{imt}", imt) if rows and c in rows[0]), None)
    if col is None:
        raise ValueError(f"{path}: no column for {imt}")
    if isinstance(sites, Mapping):
        ids = list(sites)
        coords = np.array([sites[i] for i in ids], dtype=np.float64)
        sid_of = {i: n for n, i in enumerate(ids)}
        sids = [sid_of[r["custom_site_id"]] for r in rows]
    else:
        coords = np.array(sorted(sites), dtype=np.float64)
        sids = [int(r["sid"]) for r in rows]
    events = tuple(sorted({int(r["eid"]) for r in rows}))
    e_pos = {e: i for i, e in enumerate(events)}
    values = np.full((len(coords), len(events)), np.nan)
    for r, s in zip(rows, sids, strict=True):
        values[s, e_pos[int(r["eid"])]] = float(r[col])
    return GroundMotionFields(coords, events, values, imt)


def _km(a: FloatArray, b: FloatArray) -> FloatArray:
    """Great-circle distances (km) between every point of ``a`` (n × 2 lon/lat) and ``b`` (m × 2)."""
    lon1, lat1 = np.radians(a[:, 0])[:, None], np.radians(a[:, 1])[:, None]
    lon2, lat2 = np.radians(b[:, 0])[None, :], np.radians(b[:, 1])[None, :]
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    out: FloatArray = 2 * 6371.0 * np.arcsin(np.sqrt(h))
    return out


@dataclass(frozen=True)
class ScenarioDamage:
    """Mean number of buildings per damage state (column 0 no damage) per asset, and consequences."""

    assets: tuple[Asset, ...]
    states: tuple[str, ...]
    buildings: FloatArray  # (n_assets, 1 + n_states)
    consequences: Mapping[str, FloatArray]


def scenario_damage(
    exposure: Exposure,
    fragility: Fragility,
    gmfs: GroundMotionFields,
    *,
    asset_hazard_distance_km: float = 15.0,
    consequences: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
    time_event: str | None = None,
) -> ScenarioDamage:
    """Expected damage per asset: the mean over events of P(DS = ds) × number (module doc)."""
    coords = np.array([(a.lon, a.lat) for a in exposure.assets])
    d = _km(coords, gmfs.sites)
    site = np.argmin(d, axis=1)
    too_far = d[np.arange(len(site)), site] > asset_hazard_distance_km
    which = fragility.index([a.taxonomy for a in exposure.assets])
    number = np.array([a.number for a in exposure.assets])
    n_events = len(gmfs.events)
    total = np.zeros((len(exposure.assets), len(fragility.states) + 1))
    for e in range(n_events):
        iml = np.where(too_far, np.nan, gmfs.values[site, e])
        total += state_probabilities(fragility.exceedance(iml, which))
    probs = total / n_events
    out: dict[str, FloatArray] = {}
    for name, by_taxonomy in (consequences or {}).items():
        coeff = np.array([[0.0, *by_taxonomy[a.taxonomy]] for a in exposure.assets])
        base = np.array(
            [_consequence_base(a, name, exposure.occupancy_periods, time_event) for a in exposure.assets]
        )
        out[name] = (probs * coeff).sum(axis=1) * base
    return ScenarioDamage(exposure.assets, fragility.states, probs * number[:, None], out)


def _consequence_base(
    asset: Asset, consequence: str, periods: Sequence[str], time_event: str | None
) -> float:
    if consequence == "homeless":
        return asset.fields.get("residents", 0.0)
    if consequence == "fatalities":
        if time_event is not None:
            return asset.fields.get(time_event, 0.0)
        return float(np.mean([asset.fields.get(p, 0.0) for p in periods])) if periods else 0.0
    return asset.number


def read_consequences(paths: Sequence[Path], states: Sequence[str]) -> dict[str, dict[str, list[float]]]:
    """Consequence CSVs (``risk_id,consequence,peril,<state>…``) → consequence → taxonomy → ratios."""
    out: dict[str, dict[str, list[float]]] = {}
    for p in paths:
        with p.open(encoding="utf-8-sig") as f:
            for r in csv.DictReader(f):
                out.setdefault(r["consequence"], {})[r["risk_id"]] = [float(r[s]) for s in states]
    return out


def read_ini(path: Path) -> dict[str, str]:
    """A job.ini flattened to key → value (sections ignored, keys lower case)."""
    cp = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=None)
    cp.read(path, encoding="utf-8")
    return {k: v.strip() for s in cp.sections() for k, v in cp.items(s)}


def ini_sites(
    ini: Mapping[str, str], base: Path
) -> list[tuple[float, float]] | dict[str, tuple[float, float]]:
    """The hazard sites of a job: ``sites = lon lat, …`` or ``sites_csv`` (with custom site ids)."""
    if "sites" in ini:
        pts = []
        for pair in ini["sites"].split(","):
            lon, lat = pair.split()
            pts.append((float(lon), float(lat)))
        return pts
    with (base / ini["sites_csv"]).open(encoding="utf-8-sig") as f:
        return {r["custom_site_id"]: (float(r["lon"]), float(r["lat"])) for r in csv.DictReader(f)}


def read_expected(path: Path) -> list[dict[str, str]]:
    """An OpenQuake output CSV, skipping its first ``#,…generated_by`` comment line."""
    with path.open(encoding="utf-8-sig") as f:
        lines = [ln for ln in f if not ln.startswith("#")]
    return list(csv.DictReader(lines))
