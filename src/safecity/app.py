# SPDX-License-Identifier: Apache-2.0
"""Composition root: builds the adapters from settings and mounts every capability's router."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from safecity.audit.middleware import AuditMiddleware
from safecity.audit.record import record
from safecity.audit.service import AuditLog
from safecity.auth.deps import allow
from safecity.auth.model import Role
from safecity.auth.service import AuthService
from safecity.bus import Bus, open_bus
from safecity.bus.leader import Leadership
from safecity.bus.router import bus_router
from safecity.capability import (
    ROLES,
    SINGLETON_ROLES,
    Capability,
    Context,
    Services,
    Subscription,
    Work,
    import_tables,
    load_settings_of,
    migration_folders,
    registered,
    routers_of,
    work_of,
)
from safecity.core.clock import Clock, SystemClock
from safecity.core.errors import SafecityError
from safecity.core.logging import current_request_id, get_logger
from safecity.core.worker import Worker as BackgroundWorker
from safecity.hygiene.install import install_hygiene, log_mode
from safecity.metrics import Metrics
from safecity.sensing.health import stream_health
from safecity.sensing.service import Sensing
from safecity.settings import Settings, check_production
from safecity.situation.incidents import Incidents
from safecity.situation.service import Situation
from safecity.store import Store, open_store
from safecity.warning.channels.sse import AlertStream
from safecity.warning.delivery import Delivery
from safecity.warning.service import Warnings
from safecity.warning.wording import load_wordings

log = get_logger(__name__)


@dataclass
class Platform:
    """Everything the running platform is made of, built once from settings: the shared parts, and every
    capability's services (by type in ``services``; the properties below name the common ones)."""

    settings: Settings
    store: Store
    bus: Bus
    metrics: Metrics
    clock: Clock
    #: capabilities declared through safecity.capability (iterated by the app and the CLI)
    capabilities: list[Capability] = field(default_factory=list)
    #: every service by its type: routers take them as typed dependencies (safecity.capability.provider)
    services: Services = field(default_factory=Services)
    #: the declared capabilities' background workers, started and stopped with the app
    workers: list[BackgroundWorker] = field(default_factory=list)
    #: the workers services start and stop themselves (bus dispatcher, situation clock, warning delivery,
    #: audit writer; MQTT ingest while it runs: ``Capability.tasks``); /health and /metrics show them
    tasks: list[BackgroundWorker] = field(default_factory=list)
    #: the roles this process runs (safecity.capability.ROLES): all of them for ``safecity serve``
    roles: frozenset[str] = frozenset(ROLES)
    #: roles chosen explicitly (``safecity worker --role``): their subscribers and workers are made when
    #: the process takes the role (a singleton one once it holds its leadership), not when it is built
    deferred: bool = False
    #: with ``deferred``, each role's subscriptions and workers, made when the role is taken
    parts: dict[str, tuple[list[tuple[Subscription, Capability]], list[Work]]] = field(default_factory=dict)

    @property
    def context(self) -> Context:
        return self.services.get(Context)

    @property
    def sensing(self) -> Sensing:
        return self.services.get(Sensing)

    @property
    def auth(self) -> AuthService:
        return self.services.get(AuthService)

    @property
    def incidents(self) -> Incidents:
        return self.services.get(Incidents)

    @property
    def situation(self) -> Situation:
        return self.services.get(Situation)

    @property
    def warnings(self) -> Warnings:
        return self.services.get(Warnings)

    @property
    def delivery(self) -> Delivery:
        return self.services.get(Delivery)

    @property
    def alert_stream(self) -> AlertStream:
        return self.services.get(AlertStream)

    @property
    def audit(self) -> AuditLog:
        return self.services.get(AuditLog)


def build_platform(
    settings: Settings, clock: Clock | None = None, roles: frozenset[str] | None = None
) -> Platform:
    """Open the store and the bus, then build every registered capability in order (safecity.capability).

    ``roles`` (``safecity worker --role``): only those roles' subscribers and workers, made when the
    process takes each role (:class:`RoleRunner`); None (``safecity serve``): all of them, now."""
    clock = clock or SystemClock()
    # configuration the platform cannot run without is checked before anything is opened
    load_wordings(settings.warning.languages, settings.warning.wording_dir)
    capabilities = registered(settings)
    capability_settings = {c.name: s for c in capabilities if (s := load_settings_of(c)) is not None}
    import_tables(capabilities)
    store = open_store(settings)
    store.migrate(migration_folders(capabilities))
    bus = open_bus(settings, store, clock)
    platform = Platform(settings, store, bus, Metrics(), clock, capabilities, tasks=[bus.worker])
    if roles is not None:
        platform.roles, platform.deferred = roles, True
        # other processes follow the same outbox: an event is delivered once every cursor passed it
        bus.shared = True
    try:
        _set_up_capabilities(platform, capability_settings)
    except BaseException:
        # a capability that refuses its configuration: nothing stays open behind the error
        bus.stop()
        store.close()
        raise
    return platform


def _set_up_capabilities(platform: Platform, capability_settings: dict[str, Any]) -> None:
    """Register the shared parts by type, then build each capability in registration order: its service
    (a later capability's build finds an earlier one's in ``ctx.services``), its bus subscribers, its
    workers (started with the app) and the tasks its services run."""
    services = platform.services
    services.add(platform.settings)
    services.add(platform.metrics)
    services.add(platform.store, Store)
    services.add(platform.bus, Bus)
    services.add(platform.clock, Clock)
    ctx = Context(
        platform.settings,
        platform.store,
        platform.bus,
        platform.clock,
        platform.metrics,
        services,
        capability_settings,
        platform.capabilities,
        platform.roles,
        {} if platform.deferred else None,
    )
    services.add(ctx)
    for cap in platform.capabilities:
        if cap.build is not None:
            services.add(cap.build(ctx))
        for sub in cap.subscriptions:
            if not platform.deferred:
                platform.bus.subscribe(sub.type, sub.handler(ctx), sub.name)
            elif sub.role in platform.roles:
                platform.parts.setdefault(sub.role, ([], []))[0].append((sub, cap))
        for item in cap.workers:
            work = work_of(item)
            if not platform.deferred:
                platform.workers.append(work.make(ctx))
            elif work.role in platform.roles:
                platform.parts.setdefault(work.role, ([], []))[1].append(work)
        platform.tasks.extend(make(ctx) for make in cap.tasks)


class RoleRunner:
    """Starts the roles of this process (:data:`safecity.capability.ROLES`).

    ``safecity serve`` runs every role at once, as one process always did. With roles chosen
    (``safecity worker --role``) each singleton role waits for its :class:`Leadership` (a PostgreSQL
    advisory lock; a ``flock`` on SQLite): the roles this process holds at start-up start with it, the
    others when it takes them over from a holder that died (checked every
    ``SAFECITY_BUS__LEADER_INTERVAL_S``). A process that loses a role it held (its store session ended)
    exits at once (status 75) rather than run beside the new holder: its supervisor (systemd,
    a Procfile runner) starts it again, as a standby.
    """

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.held: set[str] = set()
        self.leaders: dict[str, Leadership] = {}
        self._starting = True
        self._stopping = False
        self._gained: list[str] = []
        self._lock = threading.Lock()

    def start(self) -> list[str]:
        """Take the roles that can be taken now, and compete for the others; returns the roles taken
        now (their parts are started by :meth:`begin`, before the bus dispatches)."""
        p = self.platform
        if not p.deferred:
            self.held = set(p.roles)
            return [r for r in ROLES if r in p.roles]
        p.bus.relay_enabled = False  # until this process holds ``relay``
        now = [r for r in ROLES if r in p.roles and r not in SINGLETON_ROLES]
        for role in (r for r in ROLES if r in p.roles and r in SINGLETON_ROLES):
            # rule engines of different districts (SAFECITY_SITUATION__PARTITION) are different roles
            tag = p.settings.situation.partition_tag if role == "rules" else ""
            leader = Leadership(
                p.store.engine,
                f"role-{role}{tag}",
                on_gain=functools.partial(self._gain, role),
                on_lose=functools.partial(self._lose, role),
                interval_s=p.settings.bus.leader_interval_s,
            )
            self.leaders[role] = leader
            leader.step()  # at once: a process alone takes its roles before it serves
        now += self._gained
        self._gained = []
        self.held.update(now)
        return [r for r in ROLES if r in now]

    def begin(self, roles: list[str]) -> list[BackgroundWorker]:
        """Make the parts of ``roles``: subscriptions, each capability's role hook (in registration
        order), workers (returned, and added to the platform's). At start-up the caller starts the bus
        and the workers after. Roles taken over start side by side, each on its leadership's thread."""
        p, ctx = self.platform, self.platform.context
        for role in roles:
            subs = p.parts.get(role, ([], []))[0]
            for sub, _cap in subs:
                p.bus.subscribe(sub.type, sub.handler(ctx), sub.name)
            for subscribe in (ctx.deferred or {}).get(role, []):
                subscribe()
        for cap in p.capabilities:
            for role in roles:
                hook = cap.roles.get(role)
                if hook is not None:
                    hook(ctx)
        # made first, added together: a start that fails half-way adds none (it is tried again whole)
        made = [work.make(ctx) for role in roles for work in p.parts.get(role, ([], []))[1]]
        with self._lock:
            p.workers.extend(made)
        if "relay" in roles:
            p.bus.relay_enabled = True
        log.info("roles taken", roles=roles, pid=os.getpid())
        return made

    def compete(self) -> None:
        """After start-up: keep the roles held, and wait for the others."""
        self._starting = False
        for leader in self.leaders.values():
            leader.start()

    def _gain(self, role: str) -> None:
        if self._starting:
            self._gained.append(role)
            return
        if self._stopping:
            return
        # not under the runner's lock: a role taken over does not wait for another's start (the rule
        # engine's warm-up took 2-3 s of a failover at load 30; the others waited behind it)
        started = time.perf_counter()
        for worker in self.begin([role]):
            worker.start()
        with self._lock:
            self.held.add(role)  # once its parts run (what /health says)
        self.platform.bus.notify()
        log.info("role started", role=role, seconds=round(time.perf_counter() - started, 3))

    def _lose(self, role: str) -> None:
        if self._stopping:
            return
        # another process may hold the role by now: going on would do its work twice
        log.critical("role lost; exiting so that the supervisor starts this process again", role=role)
        for stream in (sys.stdout, sys.stderr):  # os._exit skips the flush: the log's last lines matter
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(75)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
        for leader in self.leaders.values():
            leader.stop()

    def state(self) -> dict[str, str]:
        """Each role of this process: ``held`` or ``standby`` (waiting for a holder to die)."""
        return {r: "held" if r in self.held else "standby" for r in ROLES if r in self.platform.roles}


def create_app(
    settings: Settings,
    platform: Platform | None = None,
    *,
    start_services: bool = True,
    edge_clock: Callable[[], float] = time.monotonic,
    roles: frozenset[str] | None = None,
) -> FastAPI:
    """The ASGI application. ``start_services`` runs the bus dispatcher and MQTT with the app's lifespan;
    ``edge_clock`` (monotonic seconds) drives the HTTP edge's rate limit (tests inject one)."""
    check_production(settings)
    log_mode(settings)
    platform = platform or build_platform(settings, roles=roles)
    runner = RoleRunner(platform)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        mqtt = None
        ctx = platform.context
        if start_services:
            taken = runner.start()
            # each capability's start, and its part of the roles taken, before the bus dispatches (the
            # rule engine subscribes and warms up)
            for cap in platform.capabilities:
                if cap.start is not None:
                    cap.start(ctx)
            runner.begin(taken)
            platform.bus.start()
            for worker in platform.workers:
                worker.start()
            runner.compete()
            if settings.mqtt.enabled and platform.context.runs("ingest"):
                from safecity.sensing.mqtt import start_mqtt

                mqtt = await start_mqtt(settings, platform)
                platform.tasks.append(mqtt.pipeline.worker)
                app.state.mqtt_endpoints = mqtt.endpoints
        try:
            yield
        finally:
            if mqtt is not None:
                await mqtt.stop()
                platform.tasks.remove(mqtt.pipeline.worker)
            runner.stop()
            for worker in reversed(platform.workers):
                worker.stop()
            platform.bus.stop()
            for cap in reversed(platform.capabilities):
                if cap.stop is not None:
                    cap.stop(ctx)

    app = FastAPI(
        title="safecity",
        version="0.1.0",
        description="Integrated disaster and safety management platform: SensorThings API, health, metrics.",
        lifespan=lifespan,
        docs_url=None,  # /docs is served by safecity.web with Swagger UI from static/vendor (works offline)
    )
    app.state.settings = settings
    app.state.platform = platform
    app.state.services = platform.services  # safecity.capability.provider reads it
    app.state.sensing = platform.sensing
    app.state.auth = platform.auth
    app.state.metrics = platform.metrics
    app.state.audit = platform.audit
    _install_handlers(app, platform.metrics)
    # the edge (request id, headers, limits) inside the audit middleware below, so the audit sees
    # every refusal's final status and its X-Request-ID
    install_hygiene(app, settings, platform.metrics, clock=edge_clock)
    # added last, so it wraps every other middleware and sees each write's final status
    app.add_middleware(AuditMiddleware, audit=platform.audit, auth=platform.auth)
    app.include_router(bus_router(platform.bus, [allow(Role.admin)], record))
    for cap in platform.capabilities:  # every capability's routes, in registration order
        for capability_router in routers_of(cap):
            app.include_router(capability_router)

    @app.get("/health", dependencies=[allow(Role.public)], tags=["ops"], summary="Liveness and store check")
    def health() -> Response:
        with platform.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        body: dict[str, Any] = {
            "status": "ok",
            "store": platform.store.dialect,
            "outboxPending": platform.bus.pending(),
            "roles": runner.state(),
        }
        # the platform's own workers, then the declared capabilities'
        body["tasks"] = {w.name: w.health().to_json() for w in [*platform.tasks, *platform.workers]}
        return Response(orjson.dumps(body), media_type="application/json")

    @app.get("/metrics", dependencies=[allow(Role.public)], tags=["ops"], summary="Prometheus metrics")
    def metrics() -> Response:
        with platform.store.engine.connect() as conn:
            streams = stream_health(
                conn, platform.sensing.catalogue, platform.sensing.clock.now(), settings.stale_intervals
            )
        platform.metrics.stale.set(sum(1 for s in streams if s.state == "stale"))
        platform.metrics.suspect.set(sum(1 for s in streams if s.state == "suspect"))
        platform.metrics.outbox.set(platform.bus.pending())
        for sub in platform.bus.subscribers():
            platform.metrics.bus_lag.labels(sub.name).set(sub.lag)
            platform.metrics.bus_failing.labels(sub.name).set(sub.attempts)
        platform.metrics.bus_dead.set(len(platform.bus.dead_letters()))
        for w in [*platform.tasks, *platform.workers]:
            h = w.health()
            platform.metrics.worker_running.labels(w.name).set(1 if h.running else 0)
            platform.metrics.worker_rounds.labels(w.name).set(h.rounds)
            platform.metrics.worker_failures.labels(w.name).set(h.failures)
        active, failed, processed = platform.situation.stats()
        platform.metrics.conditions_active.set(active)
        platform.metrics.rule_errors.set(failed)
        platform.metrics.rule_observations.set(processed)
        platform.metrics.incidents_open.set(platform.incidents.open_count())
        for channel, statuses in platform.delivery.stats().counts.items():
            for status, n in statuses.items():
                platform.metrics.deliveries.labels(channel, status).set(n)
        return Response(generate_latest(platform.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _install_handlers(app: FastAPI, metrics: Metrics) -> None:
    @app.exception_handler(SafecityError)
    async def domain_error(request: Request, exc: SafecityError) -> Response:
        headers = {"WWW-Authenticate": 'Bearer, Basic realm="safecity"'} if exc.status == 401 else {}
        retry_after = getattr(exc, "retry_after", None)  # a throttled login (auth.guard.TooManyRequests)
        if isinstance(retry_after, int):
            headers["Retry-After"] = str(retry_after)
        return Response(
            orjson.dumps({**exc.to_dict(), "request_id": current_request_id()}),
            status_code=exc.status,
            media_type="application/json",
            headers=headers,
        )

    async def store_unavailable(request: Request, exc: Exception) -> Response:
        # the store is away (PostgreSQL restarting, a cut network) or every connection is busy: nothing
        # was written (the transaction did not commit), and the same request later may succeed
        log.warning("store unavailable", path=request.url.path, error=f"{type(exc).__name__}: {exc}"[:300])
        body = {
            "code": "store_unavailable",
            "message": "the data store is unavailable; nothing was written, send the request again shortly",
            "message_ko": "데이터 저장소를 일시적으로 사용할 수 없습니다. 저장된 것이 없으니 잠시 후 다시 보내 주세요",
            "request_id": current_request_id(),
        }
        return Response(
            orjson.dumps(body), status_code=503, media_type="application/json", headers={"Retry-After": "2"}
        )

    app.add_exception_handler(OperationalError, store_unavailable)
    app.add_exception_handler(PoolTimeout, store_unavailable)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = "/".join(str(p) for p in first.get("loc", ()))
        body: dict[str, Any] = {
            "code": "bad_request",
            "message": f"{where}: {first.get('msg', 'invalid')}",
            "where": where,
            "details": [
                {"where": "/".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")} for e in errors
            ],
            "request_id": current_request_id(),
        }
        return Response(orjson.dumps(body), status_code=400, media_type="application/json")
