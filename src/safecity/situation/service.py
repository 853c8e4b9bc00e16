# SPDX-License-Identifier: Apache-2.0
"""The situation service: feeds observations to the rule engine, hands condition changes to the
incidents, keeps the board and its change stream, and reloads rules without a restart.

Threads: observations arrive on the bus dispatcher thread, the clock ticks on a timer thread, API calls
on request threads; one lock serialises everything that touches the engine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from safecity.bus import Bus
from safecity.core.clock import Clock
from safecity.core.errors import NotFound
from safecity.core.events import Envelope
from safecity.core.logging import get_logger
from safecity.core.worker import Worker
from safecity.geo import areas
from safecity.sensing.catalogue import Catalogue
from safecity.sensing.directory import StreamInfo, recent_observations, stream_directory
from safecity.sensing.events import (
    ENTITY_CHANGED,
    OBSERVATIONS_ACCEPTED,
    EntityChanged,
    datastreams,
    entity_changes,
    observations,
)
from safecity.situation import events as ev
from safecity.situation import rulestore
from safecity.situation.board import Board, DistrictLevels, RulesState
from safecity.situation.broadcast import Broadcaster
from safecity.situation.engine import Engine
from safecity.situation.incident_model import DistrictLevel, Incident, IncidentDetail
from safecity.situation.model import ConditionChange, Crisis
from safecity.situation.official import in_force as official_in_force
from safecity.situation.partition import Partition
from safecity.situation.resume import EngineState
from safecity.situation.rule_model import RuleDetail, RulesSummary, RuleState
from safecity.situation.rules import LoadedRule, RuleError, RuleSet, load_rules
from safecity.store import Store

log = get_logger(__name__)

#: A sensor directory change is applied at least this often even without data asking for it.
REPLAN_S = 2.0
#: Entities whose change can alter which streams a rule watches or where they are.
_PLAN_ENTITIES = frozenset({"Thing", "Datastream", "Location", "ObservedProperty"})
#: The keys of the board this capability fills itself (the router adds unreadStreams); another
#: capability's part (safecity.capability.BoardPart) may not take one.
BOARD_KEYS = frozenset(
    {
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
    }
)
#: Another capability's part of the board: the keys it fills, and the function filling them.
BoardSource = tuple[tuple[str, ...], Callable[[], Mapping[str, Any]]]


class IncidentSink(Protocol):
    def apply(self, changes: Sequence[ConditionChange]) -> list[dict[str, Any]]: ...

    def tick(self, now: datetime) -> list[dict[str, Any]]: ...

    def levels(self) -> list[DistrictLevel]: ...

    def reload(self) -> None: ...

    def list(
        self, *, status: str | None, hazard: str | None, open_only: bool, limit: int, offset: int
    ) -> list[Incident]: ...

    def get(self, incident_id: int) -> IncidentDetail: ...


class Situation:
    def __init__(
        self,
        store: Store,
        bus: Bus,
        clock: Clock,
        catalogue: Catalogue,
        incidents: IncidentSink,
        rules_dir: Path | None = None,
        tick_s: float = 5.0,
        board_parts: Sequence[BoardSource] = (),
        partition: Partition | None = None,
        snapshot_s: float = 60.0,
    ) -> None:
        self.store = store
        #: the districts this engine takes (SAFECITY_SITUATION__PARTITION): the whole city by default
        self.partition = partition or Partition()
        self.bus = bus
        self.clock = clock
        self.catalogue = catalogue
        self.incidents = incidents
        self.rules_dir = rules_dir
        self.tick_s = tick_s
        self.engine = Engine(ceilings={spec.key: spec.valid_max for spec in catalogue})
        #: the situation stream: incidents, levels and conditions from the bus, in every process
        self.broadcast = Broadcaster(store, "situation-stream")
        self.broadcast.follow((*ev.TOPICS, ev.CONDITION_CHANGED, ev.RULES_RELOADED), _render_situation_event)
        self.lock = threading.RLock()
        #: held from an engine change to its recording (incidents, conditions), and by the state's save:
        #: a snapshot taken between the two would hold the new level while the incident never heard of
        #: it, and a restart from it would not make that change again (always taken before ``lock``)
        self.recording = threading.RLock()
        self.rule_errors: list[RuleError] = []
        self.loaded_at: datetime | None = None
        self._replan = False
        self._planned = 0.0
        self._stamp: tuple[tuple[str, int, int], ...] = ()
        #: other capabilities' parts of the board (the warning capability: alert drafts waiting for
        #: approval, alerts of other agencies), declared in their setup() and gathered when this is built
        self.board_parts: tuple[BoardSource, ...] = tuple(board_parts)
        self.file_versions: dict[str, int] = {}
        #: told how long each batch of observations took to evaluate, in seconds (the metrics)
        self.on_batch_seconds: Callable[[float], None] | None = None
        self.clock_worker = Worker("situation-clock", self._tick_step, interval_s=tick_s, wait_first=True)
        self._started = False
        #: the last observation event handled (the position the engine's saved state corresponds to)
        self.position = 0
        #: the engine's saved state and the conditions every process serves (situation/resume.py)
        self.state = EngineState(self, snapshot_s)
        #: set once the engine has resumed: observations delivered before wait for it
        self._ready = threading.Event()
        self._ruleset: tuple[float, RuleSet] | None = None  # the board's rules, without the engine

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self, *, ticker: bool = True) -> None:
        """Load rules, resume from the saved state (or warm the windows up from the store), then
        subscribe to the bus (from where the subscriber stood: what the engine already caught up on
        comes again as repeats, which change nothing), and start the clock timer."""
        if self._started:
            return
        self._ready.clear()
        # a standby's index of open incidents is as old as its start: the holder it replaces (safecity
        # worker --role rules) has opened and grown incidents since
        self.incidents.reload()
        self.reload()
        tag = self.partition.tag
        name = f"situation.rules{tag}"
        stored = self.bus.position(name)
        with self.store.engine.connect() as conn:
            keys = self.partition.keys(conn)
        # before subscribing: a role taken over while the bus dispatches must not hold its other
        # subscribers back while the engine restores and catches up
        self.state.resume(keys, stored)
        self._ready.set()
        self.bus.subscribe(
            OBSERVATIONS_ACCEPTED,
            lambda es: self.on_observations(es, es[-1].id if es else None),
            name,
            self._wants,
            keys=keys,
        )
        self.bus.subscribe(
            ENTITY_CHANGED, lambda es: self.on_entities(entity_changes(es)), f"situation.directory{tag}"
        )
        # only now: a start that failed (the store refused the warm-up's changes) is tried again whole
        # by the role's next round (safecity.bus.leader)
        self._started = True
        if ticker:
            self.clock_worker.start()

    @property
    def running(self) -> bool:
        """Whether this process runs the rule engine (the role rules)."""
        return self._started

    def stop(self) -> None:
        self.clock_worker.stop()
        self.broadcast.stop()
        if self._started:
            try:
                self.state.save()  # a restart resumes from here
            except Exception as e:  # noqa: BLE001 - stopping: the last periodic state stands
                log.warning("rule engine state not saved at stop", error=str(e))

    def _wants(self) -> bool:
        # a pending re-plan may bring the streams this data is for: it must be read, not skipped
        return bool(self.engine.streams) or self._replan

    def _tick_step(self) -> int:
        self.tick()  # a bad tick is logged by the worker; the next one retries
        if self.state.due():
            self.state.save()
        return 0

    # -- rules -------------------------------------------------------------------------------------
    def load(self) -> RuleSet:
        """Shipped packs, the city's folder, then rules saved through the API (the newest version of
        each id wins over a file rule of the same id)."""
        files = load_rules([self.rules_dir] if self.rules_dir else None)
        with self.store.engine.connect() as conn:
            saved = rulestore.saved(conn)
        self.file_versions = {r.rule.id: r.rule.version for r in files.rules}
        return RuleSet(
            [r for r in files.rules if r.rule.id not in saved.ids] + saved.rules.rules,
            files.errors + saved.rules.errors,
        )

    def save_rule(self, rule_id: str, body: dict[str, Any], actor: str) -> RulesSummary:
        """Store a new version of a rule (validated; a bad rule writes nothing) and run it at once."""
        with self.store.write() as conn:
            rulestore.save(conn, rule_id, body, actor, self.clock.now(), self.file_versions.get(rule_id))
        return self.reload()

    def delete_rule(self, rule_id: str, actor: str) -> RulesSummary:
        with self.lock:
            known = rule_id in self.engine.status or rule_id in self.file_versions
        if not known:
            raise NotFound(f"no rule {rule_id!r}", where="id")
        with self.store.write() as conn:
            rulestore.delete(conn, rule_id, actor, self.clock.now(), self.file_versions.get(rule_id))
        return self.reload()

    def rule(self, rule_id: str) -> RuleDetail:
        with self.lock:
            st = self.engine.status.get(rule_id)
        with self.store.engine.connect() as conn:
            history = rulestore.versions(conn, rule_id)
        if st is None and not history:
            raise NotFound(f"no rule {rule_id!r}; GET /situation/rules lists them", where="id")
        return RuleDetail(
            id=rule_id,
            active=st.rule.body if st else None,
            source=st.rule.source if st else None,
            subjects=st.subjects if st else 0,
            skipped=tuple(st.skipped) if st else (),
            error=st.error if st else None,
            versions=tuple(history),
        )

    def _files_stamp(self) -> tuple[tuple[str, int, int], ...]:
        if self.rules_dir is None or not self.rules_dir.is_dir():
            return ()
        out = []
        for f in sorted(self.rules_dir.glob("*.toml")):
            try:
                st = f.stat()
            except OSError:  # removed between listing and stat: the next look sees it gone
                continue
            out.append((f.name, st.st_mtime_ns, st.st_size))
        return tuple(out)

    def reload(self) -> RulesSummary:
        """Re-read every rule and recompile; windows and unchanged rules keep their state."""
        self._stamp = self._files_stamp()
        ruleset = self.load()
        with self.recording:
            with self.lock:
                changes = self._plan(ruleset.rules)
                self.rule_errors = ruleset.errors
                self.loaded_at = self.clock.now()
            for e in ruleset.errors:
                log.warning("rule not loaded", error=str(e))
            self._record(changes)
        with self.store.write() as conn:  # the stream's "rules" frame, in every process
            self.bus.publish(conn, ev.RulesReloaded(loaded=len(ruleset.rules), errors=len(ruleset.errors)))
        return self.rules_summary()

    def _plan(self, rules: Sequence[LoadedRule]) -> list[ConditionChange]:
        with self.store.engine.connect() as conn:
            infos = stream_directory(conn, self.catalogue)
            locate = _locator(conn)
        where: dict[int, tuple[str | None, str | None]] = {}
        mine: list[StreamInfo] = []
        for info in infos:
            found = (
                locate(info.lon, info.lat) if info.lon is not None and info.lat is not None else (None, None)
            )
            if self.partition.owns(found[0]):  # another engine's district: not planned here
                where[info.datastream_id] = found
                mine.append(info)
        return self.engine.plan(rules, mine, where)

    def warm_up(self, only: set[int] | None = None) -> int:
        """Refill the windows from recent history (a restart must not forget the last hours of rain);
        ``only``: of these datastreams (those without a saved state)."""
        with self.lock:
            plan = self.engine.warm_up_plan()
        now = self.clock.now()
        n = 0
        with self.store.engine.connect() as conn:
            for seconds, every in sorted(plan.items()):
                ids = every if only is None else [i for i in every if i in only]
                for chunk in recent_observations(conn, ids, now - timedelta(seconds=seconds)):
                    with self.recording:
                        with self.lock:
                            changes = self.engine.process(chunk)
                        self._record(changes)
                    n += len(chunk)
        log.info("situation windows warmed up", observations=n)
        return n

    def rules_summary(self) -> RulesSummary:
        with self.lock:
            return RulesSummary(
                loaded_at=self.loaded_at,
                rules=tuple(
                    RuleState(
                        id=st.rule.rule.id,
                        version=st.rule.rule.version,
                        hazard=st.rule.rule.hazard,
                        name_ko=st.rule.rule.name_ko,
                        name_en=st.rule.rule.name_en,
                        scope=st.rule.rule.scope,
                        enabled=st.rule.rule.enabled,
                        source=st.rule.source,
                        subjects=st.subjects,
                        skipped=tuple(st.skipped[:50]),
                        error=st.error,
                    )
                    for st in self.engine.status.values()
                ),
                errors=tuple(self.rule_errors),
            )

    # -- events ------------------------------------------------------------------------------------
    def on_observations(self, envelopes: Sequence[Envelope], position: int | None = None) -> None:
        """Evaluate a delivery of observation batches; ``position``: the id of its last event. Only the
        observations of streams the engine has planned are built from the events' columns (a batch can
        carry thousands of readings of streams the rules do not know); the ids of the others are enough
        to tell that a re-plan must come first."""
        if not self._ready.wait(60):  # the bus delivers them again after its backoff
            raise RuntimeError("the rule engine has not resumed yet (its start failed or is running)")
        ids = datastreams(envelopes)
        # a stream the plan does not know yet must be planned before its data is evaluated
        if self._replan and (
            time.monotonic() - self._planned >= REPLAN_S or not self.engine.streams.keys() >= ids
        ):
            self.replan()
        start = time.perf_counter()
        with self.recording:
            with self.lock:
                # under the lock: a re-plan by the clock between picking and evaluating cannot drop a
                # stream
                planned = self.engine.streams
                changes = (
                    self.engine.process(observations(envelopes, planned))
                    if not planned.keys().isdisjoint(ids)
                    else []
                )
                if position is not None and position > self.position:
                    self.position = position
            if self.on_batch_seconds is not None:
                self.on_batch_seconds(time.perf_counter() - start)
            if changes:
                self._record(changes)

    def on_entities(self, events: Sequence[EntityChanged]) -> None:
        # Sensors are registered in bursts (a thousand Things at set-up): re-planning once per burst, when
        # data needs it or the clock ticks, instead of once per entity, keeps the dispatcher free.
        if any(e.entity in _PLAN_ENTITIES for e in events):
            self._replan = True

    def unread_streams(self) -> list[StreamInfo]:
        """The datastreams no hazard rule reads (a silence rule watching every stream does not count):
        a city's own sensors whose ObservedProperty is not in the catalogue, or mapped to nothing a rule
        uses. The board lists them so an administrator can map them (POST /sensing/catalogue/mappings)."""
        with self.lock:
            read = {
                i
                for b in self.engine.bindings
                if any(sig.fn != "age" for sig in b.rule.signals.values())
                for i in b.stream_ids
            }
            return [info for info in self.engine.infos if info.datastream_id not in read]

    def replan(self) -> None:
        """Recompile for the current sensor directory (same rules)."""
        self._replan = False
        start = time.monotonic()
        with self.recording:
            with self.lock:
                changes = self._plan(self.engine.rules)
                self._planned = time.monotonic()
            log.info(
                "situation re-planned for the sensor directory",
                streams=len(self.engine.streams),
                bindings=len(self.engine.bindings),
                ms=round((self._planned - start) * 1000, 1),
            )
            self._record(changes)

    def tick(self, now: datetime | None = None) -> list[ConditionChange]:
        now = now or self.clock.now()
        if self._files_stamp() != self._stamp:
            # a city's rule file was edited, added or removed: apply it without a restart
            log.info("rule files changed; reloading", folder=str(self.rules_dir))
            self.reload()
        if self._replan:
            self.replan()
        with self.recording:
            with self.lock:
                changes = self.engine.tick(now)
            self._record(changes)
        self.incidents.tick(now)
        return changes

    def _record(self, changes: list[ConditionChange]) -> None:
        if not changes:
            return
        # each change is published (situation.ConditionChanged) with what it did to the incidents
        self.incidents.apply(changes)
        # committed: this process's streams send them now, not at the feed's next poll
        self.broadcast.worker.notify()
        self.state.changed(changes)  # the board of every process

    record = _record

    # -- the board ---------------------------------------------------------------------------------
    def stats(self) -> tuple[int, int, int]:
        """(conditions at a level, rules that failed to load or were disabled, observations evaluated)."""
        with self.lock:
            engine = self.engine
            active = sum(1 for b in engine.bindings if b.cur >= 0)
            failed = len(self.rule_errors) + sum(1 for st in engine.status.values() if st.error)
            return active, failed, engine.processed

    def board(self, health: dict[str, int] | None = None) -> Board:
        """The board now: ``health`` is the streams by health state (the router counts them)."""
        now = self.clock.now()
        conditions = self.state.board(now)
        levels: dict[tuple[str, str], int] = {}
        for c in conditions:
            if c.get("district"):
                k = (c["district"], c["hazard"])
                levels[k] = max(levels.get(k, 0), int(c["level"]))
        for lv in self.incidents.levels():
            k = (lv.district, lv.hazard)
            levels[k] = max(levels.get(k, 0), int(lv.level))
        with self.store.engine.connect() as conn:
            names = {a.code: a for a in areas.areas_of(conn, "district")}
        by_code: dict[str, dict[str, int]] = {code: {} for code in names}
        for (code, hazard), level in levels.items():
            by_code.setdefault(code, {})[hazard] = level
        districts = [
            DistrictLevels(
                code,
                names[code].name_ko if code in names else None,
                names[code].name_en if code in names else None,
                hazards,
                max(hazards.values(), default=0),
            )
            for code, hazards in sorted(by_code.items())
        ]
        overall = max((d.level for d in districts), default=0)
        open_incidents = self.incidents.list(status=None, hazard=None, open_only=True, limit=100, offset=0)
        parts: dict[str, Any] = {}
        for keys, part in self.board_parts:
            values = part()
            parts.update({k: values[k] for k in keys})
        with self.store.engine.connect() as conn:
            official = official_in_force(conn)
        return Board(
            generated_at=now,
            level=Crisis(overall),
            official=official,
            districts=districts,
            incidents=[self.incidents.get(i.id) for i in open_incidents],
            conditions=conditions,
            sensors=health or {},
            rules=self._rules_state(),
            parts=parts,
        )

    def _rules_state(self) -> RulesState:
        if not self.running:
            # a process without the rule engine: the rules as loaded from the same files and store
            found = self._ruleset
            if found is None or time.monotonic() - found[0] >= self.tick_s:
                found = self._ruleset = (time.monotonic(), self.load())
            rs = found[1]
            return RulesState(loaded=len(rs.rules), failed=(), errors=tuple(e.to_json() for e in rs.errors))
        return RulesState(
            loaded=sum(1 for s in self.engine.status.values() if s.error is None),
            failed=tuple(s.rule.rule.id for s in self.engine.status.values() if s.error),
            errors=tuple(e.to_json() for e in self.rule_errors),
        )

    def derived(self, now: datetime | None = None) -> dict[str, Any]:
        with self.lock:
            from safecity.situation.derived import derived_series

            with self.store.engine.connect() as conn:
                names = {a.code: a for a in areas.areas_of(conn, "district")}
            return derived_series(self.engine, (now or self.clock.now()).timestamp(), names)

    def thresholds(self, datastream_id: int) -> dict[str, Any]:
        """The thresholds the loaded rules apply to one datastream, per rule level, for charting: each
        comparison on this stream's values with its signal (e.g. a 3-h sum), direction and value. A
        share (``of = "allowable"``) is resolved against the stream's properties, as the engine does.
        Comparisons of silence rules (``fn = "age"``) are listed with ``chartable`` false: their
        threshold is a time, not a value. Raises NotFound for an unknown datastream."""
        from safecity.situation.rules import _comparisons

        with self.lock:
            stream = self.engine.streams.get(datastream_id)
            if stream is None or datastream_id < 0:
                raise NotFound(f"no datastream {datastream_id} known to the rules", where="datastream")
            info = stream.info
            out: list[dict[str, Any]] = []
            seen: set[tuple[str, int, int, str, str, float]] = set()
            for b in self.engine.bindings:
                if datastream_id not in b.stream_ids:
                    continue
                rule = b.rule
                for i, lv in enumerate(rule.level):
                    conds = lv.any if lv.any is not None else lv.all
                    for _, c in _comparisons(conds or (), "level"):
                        sig = rule.signals[c.signal]
                        # a thing rule reads several streams: only its comparisons on this one belong here;
                        # a stream rule on a virtual stream (apparent temperature) is not about these values
                        if rule.scope == "thing" and sig.property != info.property:
                            continue
                        if rule.scope != "thing" and b.where is not stream:
                            continue
                        factor = 1.0
                        if c.of is not None:
                            scale = _share_of(stream, c.of)
                            if scale is None:
                                continue
                            factor = scale
                        above = c.above is not None
                        x = (c.above if above else c.below) or 0.0
                        clear = c.clear_below if above else c.clear_above
                        key = (rule.id, rule.version, i, c.signal, "above" if above else "below", x)
                        if key in seen:
                            continue
                        seen.add(key)
                        out.append(
                            {
                                "rule": rule.id,
                                "ruleVersion": rule.version,
                                "ruleNameKo": rule.name_ko,
                                "ruleNameEn": rule.name_en,
                                "hazard": rule.hazard,
                                "crisis": lv.crisis,
                                "crisisLevel": int(lv.level),
                                "nameKo": lv.name_ko,
                                "nameEn": lv.name_en,
                                "signal": c.signal,
                                "fn": sig.fn,
                                "window": sig.window,
                                "signalKo": sig.describe_ko(),
                                "signalEn": sig.describe_en(),
                                "direction": "above" if above else "below",
                                "value": x * factor,
                                "clear": clear * factor if clear is not None else None,
                                "of": c.of,
                                "share": x if c.of is not None else None,
                                "days": c.days,
                                "chartable": sig.fn != "age",
                            }
                        )
        out.sort(key=lambda r: (r["crisisLevel"], r["rule"], r["value"]))
        return {
            "datastream": datastream_id,
            "name": info.name,
            "property": info.property,
            "unit": info.unit,
            "thresholds": out,
        }


def _share_of(stream: Any, key: str) -> float | None:
    from safecity.situation.predicates import share

    return share(stream)(key)


def _locator(conn: Connection) -> Any:
    find = areas.area_finder(conn)

    def locate(lon: float, lat: float) -> tuple[str | None, str | None]:
        d = find(lon, lat, "district")
        g = find(lon, lat, "dong")
        return (d.code if d else None, g.code if g else None)

    return locate


def _render_situation_event(type_: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """An event on the situation stream: ``condition`` and ``rules`` frames carry the payload as it is;
    incident and level frames are named after the type and carry it with ``topic``."""
    if type_ == ev.CONDITION_CHANGED:
        return "condition", payload
    if type_ == ev.RULES_RELOADED:
        return "rules", payload
    return type_.rsplit(".", 1)[-1], {**payload, "topic": type_}
