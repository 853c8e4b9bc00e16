# SPDX-License-Identifier: Apache-2.0
"""Rule definitions: the typed form of a rule file (docs/rules.md), and loading them with errors that
name the file, the rule and the field.

A broken rule never stops the others: a file is read rule by rule, and every rule that fails validation
is reported (file, rule id, field path, what is wrong) and left out; the rest load.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from safecity.situation.model import HAZARDS, Crisis

PACKS_DIR = Path(__file__).with_name("packs")

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(d|h|m|s)")
#: The longest window, hold or age a rule may use, in seconds (see _bounded).
MAX_DURATION_S = 366 * 86400.0
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_PATH_FIRST = re.compile(r"^((?:level|signals|select|area|lift)(?:\[\d+\]|\.[a-z_]+)*): (.+)$", re.S)
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,99}$")


def parse_duration(text: str | int | float) -> float:
    """Seconds in ``"90s"``, ``"10m"``, ``"3h"``, ``"2d"`` or ``"1h30m"`` (a bare number is seconds)."""
    if isinstance(text, bool):
        raise ValueError("a duration is a string like '3h' or '10m'")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return _bounded(float(text), text)
    if not isinstance(text, str):  # a TOML list or table: pydantic reports only ValueError as a field error
        raise ValueError("a duration is a string like '3h' or '10m'")
    s = text.strip().lower()
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(f"{text!r} is not a duration; write e.g. '90s', '10m', '3h', '2d' or '1h30m'")
    return _bounded(total, text)


def _bounded(seconds: float, text: object) -> float:
    # The engine adds durations to datetimes: "9999…9h" (inf) or "10000000d" passed validation and then
    # raised OverflowError at evaluation (found by fuzzing). No hazard rule looks back a year.
    if not seconds <= MAX_DURATION_S:
        raise ValueError(f"{text!r} is longer than the longest duration a rule may use (366d)")
    return seconds


Duration = Annotated[float, Field(ge=0)]

SignalFn = Literal[
    "last", "sum", "max", "min", "mean", "rate", "daily_max", "daily_min", "daily_min_drop", "age"
]
WINDOWED = frozenset({"sum", "max", "min", "mean", "rate"})
#: per local day, compared over n consecutive days (``days = n``)
DAILY = frozenset({"daily_max", "daily_min"})
#: read per local day (``hours`` applies), whether or not compared over days
PER_DAY = DAILY | {"daily_min_drop"}

CRISIS_KEYS = {c.name: c for c in Crisis if c is not Crisis.none}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _dur(v: Any) -> Any:
    return None if v is None else parse_duration(v)


class SignalDef(_Strict):
    fn: SignalFn
    window: float | None = None
    property: str | None = None
    per: Literal["s", "min", "h"] = "h"
    hours: tuple[int, int] | None = None
    max_age: float = 3600.0

    _window = field_validator("window", mode="before")(_dur)
    _max_age = field_validator("max_age", mode="before")(_dur)

    @field_validator("hours", mode="before")
    @classmethod
    def _hours(cls, v: Any) -> Any:
        if v is None or isinstance(v, tuple | list):
            return v
        m = re.fullmatch(r"(\d{1,2})-(\d{1,2})", str(v).strip())
        if not m or not (0 <= int(m.group(1)) < int(m.group(2)) <= 24):
            raise ValueError(f"{v!r}: write local hours as 'HH-HH', e.g. '00-09' (start < end ≤ 24)")
        return (int(m.group(1)), int(m.group(2)))

    @model_validator(mode="after")
    def _check(self) -> SignalDef:
        if self.fn in WINDOWED and not self.window:
            raise ValueError(f"fn = {self.fn!r} needs a window, e.g. window = '3h'")
        if self.fn not in WINDOWED and self.window is not None:
            raise ValueError(f"fn = {self.fn!r} takes no window")
        if self.hours is not None and self.fn not in PER_DAY:
            raise ValueError("hours applies only to daily_max / daily_min / daily_min_drop")
        return self

    def describe_ko(self) -> str:
        """The signal in Korean, for timelines and alerts (e.g. 3시간 누적)."""
        w = _duration_ko(self.window) if self.window else ""
        hours = f"{self.hours[0]:02d}~{self.hours[1]:02d}시 " if self.hours else ""
        text = {
            "sum": f"{w} 누적",
            "max": f"{w} 최대",
            "min": f"{w} 최소",
            "mean": f"{w} 평균",
            "rate": f"{w} 변화율",
            "last": "현재값",
            "daily_max": f"{hours}일 최고",
            "daily_min": f"{hours}일 최저",
            "daily_min_drop": f"{hours}최저기온 전날 대비 하강",
            "age": "마지막 보고 후 경과",
        }[self.fn]
        return f"{self.property} {text}" if self.property else text

    def describe_en(self) -> str:
        w = (
            format_duration(self.window).replace("h", "-h").replace("m", "-min").replace("d", "-day")
            if self.window
            else ""
        )
        hours = f" {self.hours[0]:02d}-{self.hours[1]:02d}h" if self.hours else ""
        text = {
            "sum": f"{w} sum",
            "max": f"{w} maximum",
            "min": f"{w} minimum",
            "mean": f"{w} mean",
            "rate": f"{w} rate of change",
            "last": "latest value",
            "daily_max": f"daily maximum{hours}",
            "daily_min": f"daily minimum{hours}",
            "daily_min_drop": f"fall of the daily minimum{hours} from the day before",
            "age": "time since last report",
        }[self.fn]
        return f"{self.property} {text}" if self.property else text

    def describe(self) -> str:
        parts = [self.fn.replace("_", " ")]
        if self.window:
            parts.append(format_duration(self.window))
        if self.hours:
            parts.append(f"{self.hours[0]:02d}-{self.hours[1]:02d}h")
        if self.property:
            parts.insert(0, self.property)
        return " ".join(parts)


class Comparison(_Strict):
    signal: str
    above: float | None = None
    below: float | None = None
    clear_below: float | None = None
    clear_above: float | None = None
    of: str | None = None
    days: int | None = Field(None, ge=1, le=30)

    @model_validator(mode="after")
    def _check(self) -> Comparison:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above / below")
        if self.clear_below is not None:
            if self.above is None:
                raise ValueError("clear_below goes with above")
            if self.clear_below > self.above:
                raise ValueError(f"clear_below ({self.clear_below}) must not exceed above ({self.above})")
        if self.clear_above is not None:
            if self.below is None:
                raise ValueError("clear_above goes with below")
            if self.clear_above < self.below:
                raise ValueError(f"clear_above ({self.clear_above}) must not be below below ({self.below})")
        return self


class Group(_Strict):
    any: tuple[Condition, ...] | None = None
    all: tuple[Condition, ...] | None = None

    @model_validator(mode="after")
    def _check(self) -> Group:
        if (self.any is None) == (self.all is None):
            raise ValueError("give exactly one of any / all")
        if not (self.any or self.all):
            raise ValueError("an any / all list cannot be empty")
        return self


Condition = Comparison | Group


class LevelDef(_Strict):
    crisis: Literal["attention", "caution", "alert", "serious"]
    name_ko: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    any: tuple[Condition, ...] | None = None
    all: tuple[Condition, ...] | None = None
    for_: float = Field(0.0, alias="for")
    clear_after: float = 0.0

    _for = field_validator("for_", mode="before")(_dur)
    _clear = field_validator("clear_after", mode="before")(_dur)

    @model_validator(mode="after")
    def _check(self) -> LevelDef:
        if (self.any is None) == (self.all is None):
            raise ValueError("give exactly one of any / all")
        if not (self.any or self.all):
            raise ValueError("an any / all list cannot be empty")
        return self

    @property
    def level(self) -> Crisis:
        return CRISIS_KEYS[self.crisis]


class LiftDef(_Strict):
    """When the condition that drives a rule has fallen (the rain has stopped, the river is falling).

    Once ``any`` / ``all`` has held for ``after``, every level of the rule is left at once (no
    ``clear_after``) and none is entered while it keeps holding. It exists because some levels are read
    from long accumulations: a 12-hour rain sum stays above 호우주의보's 110 mm for up to 12 dry hours,
    and a warning must not stay in force that long after the rain. With a lift, the level falls at most
    :attr:`RuleDef.lift_within_s` after the driving input stops (the lift's longest window plus ``after``).
    """

    any: tuple[Condition, ...] | None = None
    all: tuple[Condition, ...] | None = None
    after: float = 0.0

    _after = field_validator("after", mode="before")(_dur)

    @model_validator(mode="after")
    def _check(self) -> LiftDef:
        if (self.any is None) == (self.all is None):
            raise ValueError("give exactly one of any / all")
        if not (self.any or self.all):
            raise ValueError("an any / all list cannot be empty")
        return self


class SelectDef(_Strict):
    properties: tuple[str, ...] = Field(min_length=1)
    things: tuple[str, ...] | None = None
    thing_properties: dict[str, str | int | float | bool] | None = None
    areas: tuple[str, ...] | None = None
    datastreams: tuple[int, ...] | None = None


class AreaDef(_Strict):
    kind: Literal["district", "dong"] = "district"
    mode: Literal["any", "all", "count"] = "any"
    count: int = Field(1, ge=1)


class RuleDef(_Strict):
    id: str
    version: int = Field(ge=1)
    hazard: str
    name_ko: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    description: str = ""
    scope: Literal["stream", "thing", "area"] = "stream"
    enabled: bool = True
    select: SelectDef
    signals: dict[str, SignalDef] = Field(min_length=1)
    level: tuple[LevelDef, ...] = Field(min_length=1)
    area: AreaDef | None = None
    lift: LiftDef | None = None
    #: The levels are an authority's official stages, observed (HRFCO's flood stages at its forecast
    #: point): the rule's conditions make an incident of their own, with its own headline, instead of a
    #: line in another rule's incident of the same hazard; other rules' conditions do not join it.
    official: bool = False

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _RULE_ID.match(v):
            raise ValueError(f"{v!r}: rule ids are lower-case letters, digits and _ . - (max 100)")
        return v

    @field_validator("hazard")
    @classmethod
    def _hazard(cls, v: str) -> str:
        if v not in HAZARDS:
            raise ValueError(f"unknown hazard {v!r}; one of {', '.join(HAZARDS)}")
        return v

    @model_validator(mode="after")
    def _check(self) -> RuleDef:
        for name, sig in self.signals.items():
            if self.scope == "thing" and sig.property is None:
                raise ValueError(f"signals.{name}: with scope = 'thing' every signal names its property")
            if self.scope != "thing" and sig.property is not None:
                raise ValueError(
                    f"signals.{name}: property is only for scope = 'thing' (a stream rule reads its stream)"
                )
        for i, lv in enumerate(self.level):
            for path, comp in _comparisons(
                lv.any or lv.all or (), f"level[{i}].{'any' if lv.any else 'all'}"
            ):
                found = self.signals.get(comp.signal)
                if found is None:
                    raise ValueError(
                        f"{path}.signal: unknown signal {comp.signal!r} (defined: {', '.join(self.signals)})"
                    )
                if comp.days is not None and found.fn not in DAILY:
                    raise ValueError(f"{path}.days: only for daily_max / daily_min signals")
                if found.fn in DAILY and comp.days is None:
                    raise ValueError(f"{path}: a daily signal needs days = n (consecutive days)")
        if self.lift is not None:
            for path, comp in _comparisons(
                self.lift.any or self.lift.all or (), f"lift.{'any' if self.lift.any else 'all'}"
            ):
                found = self.signals.get(comp.signal)
                if found is None:
                    raise ValueError(
                        f"{path}.signal: unknown signal {comp.signal!r} (defined: {', '.join(self.signals)})"
                    )
                if found.fn in PER_DAY or found.fn == "age" or comp.days is not None or comp.of is not None:
                    raise ValueError(
                        f"{path}: a lift reads a windowed or latest value, not days, ages or 'of'"
                    )
                if comp.clear_below is not None or comp.clear_above is not None:
                    raise ValueError(f"{path}: a lift has no hysteresis (its 'after' holds it)")
        levels = [lv.level for lv in self.level]
        if levels != sorted(set(levels)):
            raise ValueError("level: levels must rise strictly (attention < caution < alert < serious)")
        if self.scope == "area" and self.area is None:
            raise ValueError("scope = 'area' needs an [rule.area] table (kind, mode, count)")
        if self.scope != "area" and self.area is not None:
            raise ValueError("[rule.area] is only for scope = 'area'")
        return self

    @property
    def key(self) -> tuple[str, int]:
        return (self.id, self.version)

    @property
    def lift_within_s(self) -> float:
        """At most how long (s) after its driving input falls back the rule leaves its levels.

        With a ``lift``: the lift's longest window (a sum empties that long after the input stops) plus
        its ``after``. Without: the longest window the levels read plus the longest ``clear_after`` (a
        daily signal counts a day: its day must end). Readings that keep arriving are assumed; a silent
        sensor is the stale-sensor rule's business.
        """

        def span(conds: Iterable[Condition]) -> float:
            longest = 0.0
            for c in _flat_comparisons(conds):
                sig = self.signals[c.signal]
                longest = max(longest, sig.window or (86400.0 if sig.fn in PER_DAY else 0.0))
            return longest

        if self.lift is not None:
            return span(self.lift.any or self.lift.all or ()) + self.lift.after
        return max(span(lv.any or lv.all or ()) for lv in self.level) + max(
            lv.clear_after for lv in self.level
        )


def _comparisons(conds: Iterable[Condition], path: str) -> Iterable[tuple[str, Comparison]]:
    for j, c in enumerate(conds):
        p = f"{path}[{j}]"
        if isinstance(c, Comparison):
            yield p, c
        else:
            yield from _comparisons(c.any or c.all or (), f"{p}.{'any' if c.any else 'all'}")


def _flat_comparisons(conds: Iterable[Condition]) -> Iterable[Comparison]:
    for _, c in _comparisons(conds, ""):
        yield c


def comparisons(rule: RuleDef) -> Iterable[Comparison]:
    for i, lv in enumerate(rule.level):
        for _, c in _comparisons(lv.any or lv.all or (), f"level[{i}].{'any' if lv.any else 'all'}"):
            yield c


def _duration_ko(seconds: float) -> str:
    for unit, size in (("일", 86400), ("시간", 3600), ("분", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}초"


def format_duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True)
class RuleError:
    """One rule (or file) that could not be loaded: where, and what is wrong."""

    source: str
    rule_id: str | None
    where: str
    message: str

    def __str__(self) -> str:
        rule = f" rule {self.rule_id!r}" if self.rule_id else ""
        where = f" {self.where}:" if self.where else ""
        return f"{self.source}:{rule}{where} {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "rule": self.rule_id, "where": self.where, "message": self.message}


@dataclass(frozen=True)
class LoadedRule:
    rule: RuleDef
    source: str  # "file:<path>" or "api"
    body: dict[str, Any]


@dataclass
class RuleSet:
    rules: list[LoadedRule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)

    def by_id(self) -> dict[str, LoadedRule]:
        return {r.rule.id: r for r in self.rules}


def validate_rule(body: Mapping[str, Any], source: str) -> tuple[RuleDef | None, list[RuleError]]:
    """Validate one rule table; errors name the field path inside the rule."""
    rule_id = body.get("id") if isinstance(body.get("id"), str) else None
    try:
        return RuleDef.model_validate(dict(body)), []
    except ValidationError as e:
        raw = [(list(err["loc"]), err) for err in e.errors()]
    errors: list[RuleError] = []
    for loc, err in raw:
        if not _member_applies(body, loc):
            continue
        where = _format_loc(loc)
        if err["type"] == "too_short" and any(
            _format_loc(o).startswith(where + "[") for o, _ in raw if o is not loc
        ):
            continue  # "list too short" only because an item failed: the item's error says more
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (see docs/rules.md for the fields a rule takes)"
        m = _PATH_FIRST.match(msg)
        if m and not where:
            # checks across fields name the path they found fault with first: make it the error's place
            where, msg = m.group(1), m.group(2)
        errors.append(RuleError(source, rule_id, where, msg))
    return None, _dedupe(errors)


def _member_applies(body: Any, loc: list[Any]) -> bool:
    """A condition is a comparison or an any/all group; pydantic reports why the input failed *both*.
    Keep only the complaints of the member the author meant (a table with ``signal`` is a comparison)."""
    node = body
    for p in loc:
        member = _member(p)
        if member:
            is_group = isinstance(node, dict) and ("any" in node or "all" in node) and "signal" not in node
            if (member == "Group") != is_group:
                return False
            continue
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            return True
    return True


def _member(p: Any) -> str | None:
    """'Comparison' / 'Group' when a location step names a union member (possibly inside a validator)."""
    text = str(p)
    for name in ("Comparison", "Group"):
        if text == name or (text.startswith("function-") and text.endswith(f", {name}]")):
            return name
    return None


def _format_loc(loc: list[Any]) -> str:
    out = ""
    for p in loc:
        p = str(p)
        if _member(p) or p.startswith(("function-", "tagged-union")):
            continue
        if p.isdigit():
            out += f"[{p}]"
        else:
            out += f".{p}" if out else p
    return out


def _dedupe(errors: list[RuleError]) -> list[RuleError]:
    seen: set[tuple[str, str]] = set()
    out = []
    for e in errors:
        k = (e.where, e.message)
        if k not in seen:
            seen.add(k)
            out.append(e)
    return out


def load_text(text: str, source: str) -> RuleSet:
    """Rules from one TOML document (a pack file, or a body sent to the API)."""
    out = RuleSet()
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        out.errors.append(RuleError(source, None, "", f"not valid TOML: {e}"))
        return out
    rules = doc.get("rule", [])
    if not isinstance(rules, list) or not rules:
        out.errors.append(RuleError(source, None, "rule", "a rule file holds one or more [[rule]] tables"))
        return out
    for i, body in enumerate(rules):
        if not isinstance(body, dict):
            out.errors.append(RuleError(source, None, f"rule[{i}]", "must be a table"))
            continue
        rule, errors = validate_rule(body, source)
        if rule is None:
            out.errors.extend(errors)
        else:
            out.rules.append(LoadedRule(rule, source, body))
    return out


def load_paths(paths: Iterable[Path]) -> RuleSet:
    """Rules from files and folders (``*.toml`` inside, sorted), later duplicates of an id refused."""
    out = RuleSet()
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(p.glob("*.toml")))
        elif p.exists():
            files.append(p)
        else:
            out.errors.append(RuleError(str(p), None, "", "no such file or folder"))
    seen: dict[str, str] = {}
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            out.errors.append(RuleError(str(f), None, "", f"cannot read: {e}"))
            continue
        part = load_text(text, str(f))
        out.errors.extend(part.errors)
        for r in part.rules:
            if r.rule.id in seen:
                out.errors.append(
                    RuleError(
                        str(f), r.rule.id, "id", f"duplicate rule id; already defined in {seen[r.rule.id]}"
                    )
                )
                continue
            seen[r.rule.id] = str(f)
            out.rules.append(LoadedRule(r.rule, f"file:{f}", r.body))
    return out


def load_rules(paths: Iterable[Path] | None = None) -> RuleSet:
    """The shipped packs plus the given files/folders (a city's own rules). A city rule with the id of a
    shipped one replaces it."""
    shipped = load_paths([PACKS_DIR])
    if not paths:
        return shipped
    own = load_paths(list(paths))
    ids = {r.rule.id for r in own.rules}
    return RuleSet(
        [r for r in shipped.rules if r.rule.id not in ids] + own.rules, shipped.errors + own.errors
    )


Group.model_rebuild()
LevelDef.model_rebuild()
LiftDef.model_rebuild()
RuleDef.model_rebuild()
