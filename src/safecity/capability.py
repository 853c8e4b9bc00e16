# SPDX-License-Identifier: Apache-2.0
"""The capability contract: what one capability declares, and how the platform finds and runs it.

A capability is a package (``safecity.warning``, ``mycity.parking``) with the same file names
(``__init__.py`` exporting its public API, ``service.py``, ``router.py``, ``tables.py``, ``events.py``,
``cli.py``, ``settings.py`` where it has them) and one ``setup() -> Capability``. The declaration says
everything the platform needs to serve it; ``safecity.app`` and ``safecity.cli`` iterate over the
registered capabilities, so adding one touches nothing outside its package:

* ``routers``: mounted by the app, in declaration order, after the built-in ones;
* ``cli``: a Typer group mounted as ``safecity <name> ...``;
* ``cli_groups``: further command groups under names of their own (``safecity admin ...``); a group
  several capabilities name (``safecity import ...``) gets the commands of each, in registration order;
* ``settings``: a pydantic model, read from ``SAFECITY_<NAME>__<FIELD>`` (nested fields with ``__``)
  and from a ``[<name>]`` table in the ``SAFECITY_CONFIG`` file (the environment wins);
* ``migrations``: the folder of its own Alembic branch (its first revision has ``down_revision =
  None`` and ``branch_labels = ("<name>",)``); ``safecity migrate`` and start-up upgrade every head;
* ``tables``: the modules that register its tables on the shared metadata (imported before migrating);
* ``build``: makes its service from a :class:`Context` (settings, store, bus, clock, other services);
  the service is registered by its type so routers get it as a typed dependency (:func:`provider`);
* ``subscriptions``: bus subscribers with durable names (each has its own cursor: at least once);
* ``workers``: background tasks (:class:`safecity.core.worker.Worker`, the one lifecycle) started and
  stopped with the app, their health on ``/health`` and ``/metrics``;
* ``start``, ``stop``: what its services do when the app starts and stops (around the bus);
* ``tasks``: the workers its services run themselves, for ``/health`` and ``/metrics``;
* ``roles``: what it starts when this process takes a role (:data:`ROLES`); each subscription and
  worker names its role too, so ``safecity worker --role rules`` builds only the rule engine's parts;
* ``layers``: feature collections (:class:`Layer`) it contributes to the OGC API (``/ogcapi/collections/<id>``);
* ``importers``: kinds of geodata layer it takes from files (:class:`Importer`,
  ``safecity import layer FILE --as <kind>``);
* ``board``: parts it adds to the situation board (:class:`BoardPart`, ``GET /situation``), e.g.
  warning's alert drafts waiting for approval.

A capability's commands never import the app (it is above them): a command that needs the running
platform's services asks :func:`cli_context` for them.

Built-in capabilities are listed in :data:`BUILT_IN`; a city adds its own with the setting
``SAFECITY_CAPABILITIES='["mycity.parking"]'`` (a module path with a ``setup()``).
"""

from __future__ import annotations

import importlib
import os
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar, cast

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

# run-time imports: the typed dependencies at the end of this module name them
from safecity.core.clock import Clock
from safecity.settings import Settings
from safecity.store import Store

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from safecity.bus.port import Bus, Handler
    from safecity.core.worker import Worker
    from safecity.metrics import Metrics

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

#: Capabilities shipped with the platform that declare themselves through :func:`setup`, in the order
#: they are built and their routes mounted (a capability's ``build`` may use the services of those
#: before it; each one's ``stop`` runs in reverse order). Add new ones before ``safecity.audit``.
BUILT_IN: tuple[str, ...] = (
    "safecity.auth",
    "safecity.sensing",
    "safecity.geo",
    "safecity.evacuation",
    "safecity.situation",
    "safecity.warning",
    "safecity.web",
    "safecity.quake",
    "safecity.flood",
    "safecity.dispatch",
    "safecity.care",
    # last: it subscribes to the audited events every capability before it declares
    "safecity.audit",
)


#: The roles a process can run (``safecity worker --role ...``; ``safecity serve`` runs them all):
#: ``ingest`` (MQTT ingest; every process serves the HTTP API), ``rules`` (the rule engine),
#: ``incidents`` (reactions to events: alert drafts and automatic issue, dispatch, care, quake; the
#: default role of a subscription or a worker), ``delivery`` (sending alerts), ``audit`` (the audit
#: log's bus subscriber), ``relay`` (outbox to NATS JetStream). docs/scaling.md says what each does.
ROLES: tuple[str, ...] = ("ingest", "rules", "incidents", "delivery", "audit", "relay")
#: Roles one process at a time may run among the processes of a store: each holds a
#: ``safecity.bus.leader.Leadership`` (the subscribers of a durable name, the timers that issue
#: alerts, the sender of pending deliveries must not run twice); another process of the same role
#: waits as a standby and takes over when the holder dies. ``ingest`` scales out.
SINGLETON_ROLES: frozenset[str] = frozenset({"rules", "incidents", "delivery", "audit", "relay"})
#: The role of a subscription or worker that does not name one.
DEFAULT_ROLE = "incidents"


def check_roles(roles: Iterable[str]) -> frozenset[str]:
    """The roles, checked against :data:`ROLES` (ValueError naming the unknown one)."""
    out = frozenset(roles)
    unknown = sorted(out - set(ROLES))
    if unknown:
        raise ValueError(f"unknown role {unknown[0]!r}: the roles are {', '.join(ROLES)}")
    return out


class CapabilityError(Exception):
    """A capability cannot be loaded or configured; the message says which and what to do."""


@dataclass(frozen=True)
class Subscription:
    """A durable bus subscriber to one event type: ``name`` keeps its cursor across restarts (never
    reuse one; a capability that follows two types declares two subscriptions)."""

    type: str
    name: str
    #: builds the handler once the services exist (so it can use the capability's own service)
    handler: Callable[[Context], Handler]
    #: the role whose process runs it (:data:`ROLES`)
    role: str = DEFAULT_ROLE


@dataclass(frozen=True)
class Work:
    """A background worker that belongs to a role other than :data:`DEFAULT_ROLE` (``workers=(
    Work("ingest", make_listener),)``); a bare factory in ``workers`` is of the default role."""

    role: str
    make: Callable[[Context], Worker]


def work_of(item: Callable[[Context], Worker] | Work) -> Work:
    return item if isinstance(item, Work) else Work(DEFAULT_ROLE, item)


@dataclass(frozen=True)
class Capability:
    name: str  # lower case, a valid identifier: the CLI group, the settings prefix, the Alembic branch
    summary: str
    settings: type[BaseModel] | None = None
    routers: Sequence[APIRouter | str] = ()  # a router, or "module:attribute" imported when served
    cli: typer.Typer | None = None
    #: further top-level command groups by name (``{"admin": admin_app}``); the commands of a group two
    #: capabilities name (``import``) are merged, the first one's help is the group's
    cli_groups: Mapping[str, typer.Typer] = field(default_factory=dict)
    tables: Sequence[str] = ()
    migrations: Path | None = None
    build: Callable[[Context], object] | None = None
    subscriptions: Sequence[Subscription] = ()
    workers: Sequence[Callable[[Context], Worker] | Work] = ()
    layers: Sequence[Layer] = ()
    #: kinds of geodata layer it imports from files (``safecity import layer FILE --as <kind>``)
    importers: Sequence[Importer] = ()
    #: parts it adds to the situation board (``GET /situation``)
    board: Sequence[BoardPart] = ()
    #: called when the app starts, after every capability is built and before the bus dispatches (the
    #: rule engine loads its rules, warms up and subscribes here), in registration order
    start: Callable[[Context], None] | None = None
    #: called when the app stops, after the bus has stopped, in reverse registration order; also when
    #: the app ran without its services (tests), so it must tolerate a ``start`` that never ran
    stop: Callable[[Context], None] | None = None
    #: the workers its services start and stop themselves (the delivery worker, the audit writer...):
    #: listed on ``/health`` and ``/metrics`` with the others, not started by the app
    tasks: Sequence[Callable[[Context], Worker]] = ()
    #: what it starts when this process takes a role, by role name (the rule engine loads its rules,
    #: warms up and subscribes when its process takes ``rules``): after ``start``, before the bus
    #: dispatches at start-up; a standby calls it when it takes the role over. ``stop`` undoes it.
    roles: Mapping[str, Callable[[Context], None]] = field(default_factory=dict)


#: What a layer's ``base`` returns: ``(SELECT id, geom, <queryable columns...>, id column, geometry column,
#: {queryable name: column})`` (SQLAlchemy objects; typed loosely so this module stays free of SQLAlchemy).
LayerQuery = tuple[Any, Any, Any, dict[str, Any]]


@dataclass(frozen=True)
class Layer:
    """A feature collection a capability contributes to the OGC API (``/ogcapi/collections/<id>``): its
    description and the SELECT of its features. The geography capability serves it (bbox, filters,
    paging) without knowing the contributor's tables, so the contributor never imports geo."""

    id: str
    title: str
    description: str
    #: Builds ``SELECT id, geom, <queryable columns...>`` with the collection's fixed conditions (called
    #: per request, so its module may be imported lazily).
    base: Callable[[], LayerQuery]
    keywords: Sequence[str] = ()
    #: ``geo_areas.kind`` of an administrative-area collection, whose rows may come from the shipped
    #: Seoul boundaries (then the collection carries their attribution)
    area_kind: str | None = None


@dataclass(frozen=True)
class BoardPart:
    """A part a capability adds to the situation board (``GET /situation``): the top-level keys it fills
    and the function filling them. The situation capability gathers every registered capability's parts
    when it is built, as geography gathers their layers, so it never imports the contributor and the
    contributor never reaches into the situation service.

    ``build(services)`` is called for every board read (on the request's thread, after every capability
    is built) and returns a JSON-ready mapping with exactly ``keys``; a key the board has itself, or one
    two capabilities declare, stops start-up."""

    keys: tuple[str, ...]
    build: Callable[[Services], Mapping[str, Any]]


@dataclass(frozen=True)
class Importer:
    """A kind of geodata layer a capability takes from files (``safecity import layer FILE --as <kind>``,
    ``safecity.geo.importer.import_layer``). Geography reads the file (any OGR format, reprojected to
    WGS84) and, in the import's one transaction, hands it to ``run``, which writes the contributor's own
    tables: geography never imports the contributor.

    ``run`` and ``check`` are functions or ``"module:function"`` names (imported when a file of this kind
    is imported, so declaring the importer stays light):

    * ``run(conn, data: safecity.geo.layerfile.LayerData, options: ImportOptions, report: ImportReport)``
      fills ``report`` (created, updated, per-feature repairs and skips) and raises ``BadRequest``
      (nothing is written) for a whole-file error;
    * ``check(options)``, if given, raises ``BadRequest`` for bad options before the file is read.
    """

    kind: str
    run: Callable[..., None] | str
    description: str = ""
    #: the kind-specific options of ``ImportOptions`` it reads (``"hazard"``); geography refuses those
    #: options for the kinds that do not read them
    options: Sequence[str] = ()
    check: Callable[..., None] | str | None = None


def resolve(target: Callable[..., T] | str) -> Callable[..., T]:
    """A function given by itself or as ``"module:attribute"`` (imported now)."""
    if isinstance(target, str):
        module, _, attribute = target.partition(":")
        return cast(Callable[..., T], getattr(importlib.import_module(module), attribute))
    return target


def routers_of(cap: Capability) -> list[APIRouter]:
    """The capability's routers, in declaration order. A router may be given as ``"module:attribute"`` so
    that declaring the capability (``safecity --help`` loads every built-in one) does not import its
    routes and their dependencies."""
    found: list[APIRouter] = []
    for r in cap.routers:
        if isinstance(r, str):
            module, _, attribute = r.partition(":")
            found.append(getattr(importlib.import_module(module), attribute or "router"))
        else:
            found.append(r)
    return found


class Services:
    """The running platform's services, found by their type (a typed registry, not ``app.state``)."""

    def __init__(self) -> None:
        self._by_type: dict[type[Any], object] = {}

    def add(self, service: object, as_type: type[Any] | None = None) -> None:
        kind = as_type or type(service)
        if kind in self._by_type and self._by_type[kind] is not service:
            raise CapabilityError(f"two services registered as {kind.__qualname__}; register one only")
        self._by_type[kind] = service

    def get(self, kind: type[T]) -> T:
        try:
            return cast(T, self._by_type[kind])
        except KeyError:
            raise CapabilityError(
                f"no service of type {kind.__qualname__} is registered: is its capability enabled?"
            ) from None

    def __contains__(self, kind: type[Any]) -> bool:
        return kind in self._by_type


@dataclass
class Context:
    """What a capability's ``build``, subscribers and workers get: the platform's shared parts."""

    settings: Settings
    store: Store
    bus: Bus
    clock: Clock
    metrics: Metrics
    services: Services
    #: each capability's own settings, by capability name
    capability_settings: dict[str, BaseModel] = field(default_factory=dict)
    #: every registered capability, in registration order (e.g. to gather their layers)
    capabilities: Sequence[Capability] = ()
    #: the roles this process runs (:data:`ROLES`; all of them for ``safecity serve``)
    roles: frozenset[str] = frozenset(ROLES)
    #: with roles chosen (``safecity worker --role``): what :meth:`subscribe` left for when this process
    #: takes each role; None: subscribe at once (``safecity serve``)
    deferred: dict[str, list[Callable[[], None]]] | None = None

    def runs(self, role: str) -> bool:
        return role in self.roles

    def subscribe(self, role: str, types: str | Sequence[str], handler: Handler, name: str) -> None:
        """A bus subscriber of ``role`` made in a capability's ``build`` (when its types or handler are
        known only then; otherwise declare a :class:`Subscription`): subscribed now, or when this
        process takes the role, or never in a process without it."""
        if role not in self.roles:
            return
        if self.deferred is None:
            self.bus.subscribe(types, handler, name)
        else:
            self.deferred.setdefault(role, []).append(lambda: self.bus.subscribe(types, handler, name))

    def settings_of(self, name: str, model: type[M]) -> M:
        value = self.capability_settings.get(name)
        if not isinstance(value, model):
            raise CapabilityError(f"capability {name!r} declares no settings of type {model.__qualname__}")
        return value


def provider(kind: type[T]) -> Callable[[Request], T]:
    """A FastAPI dependency giving the registered service of ``kind``:
    ``svc: Annotated[Parking, Depends(provider(Parking))]``."""

    # Request is imported at run time: FastAPI reads this annotation to inject the request
    def get(request: Request) -> T:
        services: Services = request.app.state.services
        return services.get(kind)

    get.__name__ = f"provide_{kind.__name__}"
    return get


def load(module: str) -> Capability:
    """Import ``module`` and call its ``setup()``."""
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise CapabilityError(
            f"capability module {module!r} cannot be imported ({e}); check SAFECITY_CAPABILITIES"
        ) from e
    setup = getattr(mod, "setup", None)
    if not callable(setup):
        raise CapabilityError(f"capability module {module!r} has no setup() function returning a Capability")
    cap = setup()
    if not isinstance(cap, Capability):
        raise CapabilityError(f"{module}.setup() returned {type(cap).__name__}, not a Capability")
    if not cap.name.isidentifier() or cap.name != cap.name.lower():
        raise CapabilityError(f"capability name {cap.name!r} must be a lower-case identifier")
    declared = [*cap.roles, *(s.role for s in cap.subscriptions), *(work_of(w).role for w in cap.workers)]
    try:
        check_roles(declared)
    except ValueError as e:
        raise CapabilityError(f"capability {cap.name!r}: {e}") from None
    return cap


def registered(settings: Settings) -> list[Capability]:
    """The built-in capabilities, then the city's own (``settings.capabilities``), each once."""
    caps: list[Capability] = []
    seen: set[str] = set()
    for module in (*BUILT_IN, *settings.capabilities):
        cap = load(module)
        if cap.name in seen:
            raise CapabilityError(f"two capabilities are named {cap.name!r}; names must be unique")
        seen.add(cap.name)
        caps.append(cap)
    return caps


def load_settings_of(cap: Capability) -> BaseModel | None:
    """The capability's settings: defaults, then the ``[<name>]`` table of the ``SAFECITY_CONFIG`` file,
    then ``SAFECITY_<NAME>__<FIELD>`` variables (the environment wins, as for the platform's own)."""
    if cap.settings is None:
        return None
    model = cap.settings
    prefix = f"SAFECITY_{cap.name.upper()}__"
    from_env = type(
        f"{model.__name__}FromEnv",
        (model, BaseSettings),
        {"model_config": SettingsConfigDict(env_prefix=prefix, env_nested_delimiter="__", extra="ignore")},
    )
    values: dict[str, Any] = {}
    config = os.environ.get("SAFECITY_CONFIG")
    if config and Path(config).is_file():
        with open(config, "rb") as f:
            table = tomllib.load(f).get(cap.name, {})
        if isinstance(table, dict):
            values.update(table)
    try:
        env = from_env()
        values.update(env.model_dump(include=env.model_fields_set))
        return model.model_validate(values)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise CapabilityError(
            f"settings of capability {cap.name!r}: {where}: {first.get('msg')} "
            f"(set {prefix}{where.upper().replace('.', '__')} or [{cap.name}] {where} in SAFECITY_CONFIG)"
        ) from e


def cli_settings(**overrides: object) -> Settings:
    """The settings for a command (a capability's CLI included): a bad value is one line on stderr naming
    the setting, exit code 2, never a traceback; logging configured as the settings say."""
    import typer

    from safecity.core.logging import configure_logging
    from safecity.settings import load_settings

    try:
        settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        typer.echo(f"error: setting {where}: {first['msg']}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_json)
    return settings


def cli_fail(message: str, code: int = 1) -> NoReturn:
    """End a command: ``error: <message>`` on stderr, exit ``code`` (1 failure, 2 misuse)."""
    import typer

    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def cli_progress(label: str, unit: str) -> Iterator[Callable[[int, int | None], None]]:
    """A progress bar on stderr; yields the callback importers report (done, total or None) to."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    columns = (TextColumn(label), BarColumn(), TaskProgressColumn(), TextColumn("{task.completed} " + unit))
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("import", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@dataclass(frozen=True)
class CliPlatform:
    """How a command gets the running platform: ``safecity.cli`` (which may import the app) puts one in
    the command's context object; a capability's command, below the app, only calls :func:`cli_context`."""

    #: builds the platform from settings (migrating the store) and returns its context
    build: Callable[[Settings], Context]


def cli_context(command: typer.Context, settings: Settings) -> Context:
    """The platform built from ``settings``, as a :class:`Context` (store, bus, every service), for a
    command run by the ``safecity`` command."""
    found = command.find_object(CliPlatform)
    if found is None:
        raise CapabilityError(
            f"command {command.command_path!r} needs the platform: run it through the safecity command"
        )
    return found.build(settings)


def migration_folders(caps: Sequence[Capability]) -> list[Path]:
    return [c.migrations for c in caps if c.migrations is not None]


def import_tables(caps: Sequence[Capability]) -> None:
    """Register every capability's tables on the shared metadata (before migrating or querying)."""
    for cap in caps:
        for module in cap.tables:
            importlib.import_module(module)


#: Typed route dependencies on the platform's shared parts (``store: StoreDep``), registered by type in
#: ``platform.services`` like every capability's service.
StoreDep = Annotated[Store, Depends(provider(Store))]
ClockDep = Annotated[Clock, Depends(provider(Clock))]
SettingsDep = Annotated[Settings, Depends(provider(Settings))]
