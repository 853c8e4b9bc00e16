# SPDX-License-Identifier: Apache-2.0
"""The catalogue of observed properties: names (en/ko), stable URNs, UCUM units and plausible ranges.

The data ship in ``catalogue.toml`` next to this module; its comments give the source of every range.
:func:`load_catalogue` reads and validates it once (call it at start-up and pass the result down; it
is not cached here). :meth:`Catalogue.match` maps what a client declares in a SensorThings
ObservedProperty and a Datastream's ``unitOfMeasurement`` to an entry, and :func:`sta_observed_property`
/ :func:`sta_unit` render an entry back as SensorThings JSON.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from safecity.core.errors import ConfigError, NotFound

_RESOURCE = "catalogue.toml"
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")

_PROPERTY_FIELDS = frozenset(
    {
        "key",
        "name_en",
        "name_ko",
        "definition",
        "description_en",
        "description_ko",
        "valid_min",
        "valid_max",
        "expected_interval_s",
        "unit",
        "qc",
    }
)
_UNIT_FIELDS = frozenset({"name", "symbol", "ucum", "definition", "aliases"})
_QC_FIELDS = frozenset(
    {"spike_check", "spike_mad_floor", "spike_mad_floor_rel", "flatline_count", "flatline_ignores_zero"}
)


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit of measurement.

    ``ucum`` is the case-sensitive UCUM code (``Cel``, ``[g]``, ``dB[SPL]``); ``symbol`` is what people
    read (``°C``); ``definition`` is a URI for the unit; ``aliases`` are other spellings clients send
    for the same unit (``degC``), accepted by :meth:`Catalogue.match`.
    """

    name: str
    symbol: str
    ucum: str
    definition: str
    aliases: tuple[str, ...] = ()

    def accepts(self, code_or_symbol: str) -> bool:
        """True if ``code_or_symbol`` names this unit: the UCUM code, the symbol or an alias.

        Comparison is tolerant (trimmed, case-folded, ``µ``/``μ`` read as ``u``, ``³`` as ``3``) because
        clients write units loosely; the catalogue has no two units that differ only by case.
        """
        wanted = _norm_unit(code_or_symbol)
        return any(_norm_unit(s) == wanted for s in (self.ucum, self.symbol, *self.aliases))


@dataclass(frozen=True, slots=True)
class QCHints:
    """Per-property quality-control settings; see ``catalogue.toml`` for what each means and why."""

    spike_check: bool = True
    spike_mad_floor: float | None = None  # in the property's unit
    spike_mad_floor_rel: float = 0.0  # fraction of |window median|
    flatline_count: int | None = None  # None: QCConfig default; 0: never flag
    flatline_ignores_zero: bool = False


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """One observed property.

    ``valid_min``/``valid_max`` are in ``unit`` and bound a physically plausible reading (inclusive).
    ``expected_interval_s`` is the default reporting interval in seconds, or None when there is no
    sensible default.
    """

    key: str
    name_en: str
    name_ko: str
    definition: str
    description_en: str
    description_ko: str
    unit: Unit
    valid_min: float
    valid_max: float
    expected_interval_s: float | None = None
    qc: QCHints = QCHints()

    @property
    def valid_range(self) -> tuple[float, float]:
        """``(valid_min, valid_max)`` in the property's unit, as QualityControl.check_batch takes it."""
        return (self.valid_min, self.valid_max)


class Catalogue:
    """An immutable, validated set of :class:`PropertySpec`, in file order."""

    def __init__(self, specs: tuple[PropertySpec, ...]) -> None:
        self._specs = specs
        self._by_key = {s.key: s for s in specs}
        self._by_definition = {_norm_definition(s.definition): s for s in specs}
        self._by_name: dict[str, PropertySpec] = {}
        for s in specs:
            # Keys win over English names if the two ever collide.
            self._by_name.setdefault(s.name_en.casefold(), s)
            self._by_name.setdefault(s.name_ko.casefold(), s)
        for s in specs:
            self._by_name[s.key.casefold()] = s
        # a city's own ObservedProperties mapped by an administrator (sensing/mappings.py): consulted
        # after the catalogue's own definitions and names, replaced whole on each change
        self._mapped_definition: dict[str, PropertySpec] = {}
        self._mapped_name: dict[str, PropertySpec] = {}

    def set_mappings(self, mappings: Iterable[tuple[str, str, str]]) -> None:
        """Use ``(kind, value, key)`` mappings from now on (kind ``definition`` or ``name``; value as
        :func:`normalise` gives it); a key the catalogue does not have is ignored. The catalogue's own
        entries stay as they are: a mapping never changes what a known definition means."""
        by_definition: dict[str, PropertySpec] = {}
        by_name: dict[str, PropertySpec] = {}
        for kind, value, key in mappings:
            spec = self._by_key.get(key)
            if spec is not None:
                (by_definition if kind == "definition" else by_name)[value] = spec
        # two assignments of whole dicts: a reader on another thread sees the old or the new set
        self._mapped_definition, self._mapped_name = by_definition, by_name

    def all(self) -> tuple[PropertySpec, ...]:
        """Every entry, in catalogue order."""
        return self._specs

    def __iter__(self) -> Iterator[PropertySpec]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def get(self, key: str) -> PropertySpec | None:
        """The entry with this exact key, or None."""
        return self._by_key.get(key)

    def by_key(self, key: str) -> PropertySpec:
        """The entry with this exact key. Raises NotFound (404) listing the known keys."""
        spec = self._by_key.get(key)
        if spec is None:
            known = ", ".join(self._by_key)
            raise NotFound(
                f"unknown observed property '{key}'; known keys: {known}",
                where="observedProperty",
                message_ko=f"알 수 없는 관측 항목 '{key}'입니다. 사용 가능한 키: {known}",
            )
        return spec

    def match(
        self,
        definition: str | None,
        name: str | None,
        unit_code_or_symbol: str | None,
    ) -> PropertySpec | None:
        """Find the entry a client means, or None.

        ``definition`` (an ObservedProperty definition) is tried first, then ``name`` as a key, English
        name (both case-insensitive) or Korean name. If ``unit_code_or_symbol`` is given, the entry found
        must accept it as UCUM code, symbol or alias (:meth:`Unit.accepts`), else None: a rainfall
        stream declared in inches is not our ``rainfall_1h``. A unit alone never matches (``%`` is both
        humidity and soil moisture).
        """
        spec: PropertySpec | None = None
        if definition:
            spec = self._by_definition.get(_norm_definition(definition))
            if spec is None:
                spec = self._mapped_definition.get(normalise("definition", definition))
        if spec is None and name:
            spec = self._by_name.get(name.strip().casefold())
            if spec is None:
                spec = self._mapped_name.get(normalise("name", name))
        if spec is None:
            return None
        if unit_code_or_symbol is not None and not spec.unit.accepts(unit_code_or_symbol):
            return None
        return spec


def normalise(kind: str, value: str) -> str:
    """A foreign ObservedProperty's definition or name as mappings store and match it."""
    return _norm_definition(value) if kind == "definition" else value.strip().casefold()


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and validate the catalogue: the shipped ``catalogue.toml``, or ``path`` if given.

    Raises ConfigError naming the entry and field for an invalid file (bad TOML, a missing or unknown
    field, min ≥ max, a duplicate key or definition).
    """
    if path is None:
        source = f"safecity.sensing/{_RESOURCE}"
        text = resources.files("safecity.sensing").joinpath(_RESOURCE).read_text(encoding="utf-8")
    else:
        source = str(path)
        text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}", where=source) from None
    return catalogue_from_dict(data, source=source)


def catalogue_from_dict(data: Mapping[str, Any], *, source: str = "catalogue") -> Catalogue:
    """Build a validated Catalogue from parsed TOML (``{"property": [...]}``); errors as load_catalogue."""
    entries = data.get("property")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{source}: expected one or more [[property]] tables", where=source)
    specs: list[PropertySpec] = []
    seen_keys: dict[str, int] = {}
    seen_defs: dict[str, str] = {}
    for i, entry in enumerate(entries):
        spec = _parse_property(entry, f"{source}: property[{i}]")
        where = f"{source}: property[{i}] ({spec.key})"
        if spec.key in seen_keys:
            raise ConfigError(
                f"{where}.key: duplicate key '{spec.key}' (first at property[{seen_keys[spec.key]}])",
                where=f"{where}.key",
            )
        nd = _norm_definition(spec.definition)
        if nd in seen_defs:
            raise ConfigError(
                f"{where}.definition: '{spec.definition}' is already used by '{seen_defs[nd]}'",
                where=f"{where}.definition",
            )
        seen_keys[spec.key] = i
        seen_defs[nd] = spec.key
        specs.append(spec)
    return Catalogue(tuple(specs))


def sta_observed_property(spec: PropertySpec) -> dict[str, Any]:
    """The SensorThings 1.1 ObservedProperty JSON for ``spec`` (without ``@iot.id``).

    ``properties`` carries what SensorThings has no field for: the catalogue key, the Korean name and
    description, the plausible range (in the unit of :func:`sta_unit`) and its UCUM code.
    """
    props: dict[str, Any] = {
        "key": spec.key,
        "name_ko": spec.name_ko,
        "description_ko": spec.description_ko,
        "valid_min": spec.valid_min,
        "valid_max": spec.valid_max,
        "ucum": spec.unit.ucum,
    }
    if spec.expected_interval_s is not None:
        props["expected_interval_s"] = spec.expected_interval_s
    return {
        "name": spec.name_en,
        "definition": spec.definition,
        "description": spec.description_en,
        "properties": props,
    }


def sta_unit(spec: PropertySpec) -> dict[str, str]:
    """The SensorThings ``unitOfMeasurement`` JSON (name, symbol, definition) for ``spec``'s unit."""
    return {"name": spec.unit.name, "symbol": spec.unit.symbol, "definition": spec.unit.definition}


# --- parsing -------------------------------------------------------------------------------------------


def _norm_definition(definition: str) -> str:
    d = definition.strip()
    # URN namespace ids and "urn:" itself are case-insensitive (RFC 8141); our NSS are lower-case anyway.
    return d.casefold() if d[:4].casefold() == "urn:" else d


def _norm_unit(text: str) -> str:
    return (
        text.strip()
        .replace("\u00b5", "u")
        .replace("\u03bc", "u")
        .replace("³", "3")
        .replace("²", "2")
        .casefold()
    )


def _parse_property(entry: object, where: str) -> PropertySpec:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table", where=where)
    key = _req_str(entry, "key", where)
    if not _KEY_RE.match(key):
        raise ConfigError(
            f"{where}.key: '{key}' must be lower-case letters, digits and '_', starting with a letter",
            where=f"{where}.key",
        )
    where = f"{where} ({key})"
    _no_unknown(entry, _PROPERTY_FIELDS, where)
    valid_min = _req_number(entry, "valid_min", where)
    valid_max = _req_number(entry, "valid_max", where)
    if not valid_min < valid_max:
        raise ConfigError(
            f"{where}.valid_max: must be greater than valid_min ({valid_max} ≤ {valid_min})",
            where=f"{where}.valid_max",
        )
    interval: float | None = None
    if "expected_interval_s" in entry:
        interval = _req_number(entry, "expected_interval_s", where)
        if interval <= 0:
            raise ConfigError(
                f"{where}.expected_interval_s: must be > 0 seconds", where=f"{where}.expected_interval_s"
            )
    return PropertySpec(
        key=key,
        name_en=_req_str(entry, "name_en", where),
        name_ko=_req_str(entry, "name_ko", where),
        definition=_req_str(entry, "definition", where),
        description_en=_req_str(entry, "description_en", where),
        description_ko=_req_str(entry, "description_ko", where),
        unit=_parse_unit(entry.get("unit"), f"{where}.unit"),
        valid_min=valid_min,
        valid_max=valid_max,
        expected_interval_s=interval,
        qc=_parse_qc(entry.get("qc", {}), f"{where}.qc"),
    )


def _parse_unit(table: object, where: str) -> Unit:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: missing [property.unit] table", where=where)
    _no_unknown(table, _UNIT_FIELDS, where)
    aliases = table.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise ConfigError(f"{where}.aliases: expected a list of non-empty strings", where=f"{where}.aliases")
    return Unit(
        name=_req_str(table, "name", where),
        symbol=_req_str(table, "symbol", where),
        ucum=_req_str(table, "ucum", where),
        definition=_req_str(table, "definition", where),
        aliases=tuple(aliases),
    )


def _parse_qc(table: object, where: str) -> QCHints:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table", where=where)
    _no_unknown(table, _QC_FIELDS, where)
    spike_check = _opt_bool(table, "spike_check", True, where)
    ignores_zero = _opt_bool(table, "flatline_ignores_zero", False, where)
    floor: float | None = None
    if "spike_mad_floor" in table:
        floor = _req_number(table, "spike_mad_floor", where)
        if floor < 0:
            raise ConfigError(f"{where}.spike_mad_floor: must be ≥ 0", where=f"{where}.spike_mad_floor")
    floor_rel = 0.0
    if "spike_mad_floor_rel" in table:
        floor_rel = _req_number(table, "spike_mad_floor_rel", where)
        if floor_rel < 0:
            raise ConfigError(
                f"{where}.spike_mad_floor_rel: must be ≥ 0", where=f"{where}.spike_mad_floor_rel"
            )
    count: int | None = None
    if "flatline_count" in table:
        raw = table["flatline_count"]
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0 or raw == 1:
            raise ConfigError(
                f"{where}.flatline_count: expected 0 (off) or an integer ≥ 2, got {raw!r}",
                where=f"{where}.flatline_count",
            )
        count = raw
    return QCHints(
        spike_check=spike_check,
        spike_mad_floor=floor,
        spike_mad_floor_rel=floor_rel,
        flatline_count=count,
        flatline_ignores_zero=ignores_zero,
    )


def _no_unknown(table: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}",
            where=f"{where}.{unknown[0]}",
        )


def _req_str(table: Mapping[str, Any], field: str, where: str) -> str:
    value = table.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}.{field}: required, a non-empty string", where=f"{where}.{field}")
    return value.strip()


def _req_number(table: Mapping[str, Any], field: str, where: str) -> float:
    value = table.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(
            f"{where}.{field}: required, a finite number, got {value!r}", where=f"{where}.{field}"
        )
    return float(value)


def _opt_bool(table: Mapping[str, Any], field: str, default: bool, where: str) -> bool:
    value = table.get(field, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}.{field}: expected true or false, got {value!r}", where=f"{where}.{field}")
    return value
