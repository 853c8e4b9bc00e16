# SPDX-License-Identifier: Apache-2.0
"""Backups of the whole platform state, and their restore.

A backup is a folder::

    manifest.json        format, safecity version, time, store, schema revision, rows per table,
                         and the size and SHA-256 of every file below (written last: no manifest, no backup)
    safecity.db          the embedded store (SQLite), or
    safecity.pgdump      the PostgreSQL store (pg_dump custom format)
    data/...             the data directory's files the platform needs (roads/roads.npz, dem/dem.tif, ...)

Both stores are copied online, while the server keeps writing, and consistently: SQLite's online backup
API copies the database in one step inside one read transaction (WAL lets writers go on meanwhile);
PostgreSQL's rows are counted inside a REPEATABLE READ transaction whose snapshot pg_dump then uses
(``--snapshot``), so the counts in the manifest are exactly what the dump holds.

Restore checks every checksum before it writes anything, refuses a data directory (or database) that
is not empty unless ``force``, and checks the restored rows against the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from safecity.core.errors import Conflict, SafecityError

if TYPE_CHECKING:
    from safecity.settings import Settings

MANIFEST = "manifest.json"
SQLITE_FILE = "safecity.db"
PG_FILE = "safecity.pgdump"
DATA = "data"
#: Manifest format; a restore refuses a newer one it cannot read.
FORMAT = 1
_SQLITE_SIDECARS = ("", "-wal", "-shm", "-journal")
_CHUNK = 1024 * 1024

Progress = Callable[[str], None]


class BackupError(SafecityError):
    status = 400
    code = "backup_error"


class ToolMissing(SafecityError):
    status = 500
    code = "tool_missing"


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the backup folder, '/'-separated
    bytes: int
    sha256: str


@dataclass
class Manifest:
    store: str
    created_at: str
    schema_revision: str | None
    tables: dict[str, int]
    files: list[FileEntry] = field(default_factory=list)
    safecity: str = ""
    format: int = FORMAT
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "safecity": self.safecity,
            "created_at": self.created_at,
            "store": self.store,
            "schema_revision": self.schema_revision,
            "seconds": round(self.seconds, 3),
            "tables": self.tables,
            "files": [{"path": f.path, "bytes": f.bytes, "sha256": f.sha256} for f in self.files],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Manifest:
        return cls(
            store=str(d["store"]),
            created_at=str(d["created_at"]),
            schema_revision=d.get("schema_revision"),
            tables={str(k): int(v) for k, v in d["tables"].items()},
            files=[FileEntry(str(f["path"]), int(f["bytes"]), str(f["sha256"])) for f in d["files"]],
            safecity=str(d.get("safecity", "")),
            format=int(d["format"]),
            seconds=float(d.get("seconds", 0.0)),
        )


def _version() -> str:
    try:
        return version("safecity")
    except PackageNotFoundError:
        return "unknown"


def sqlite_path(settings: Settings) -> Path:
    database = make_url(settings.resolved_store_url).database
    if not database:
        raise BackupError("SAFECITY_STORE_URL names no SQLite file; an in-memory store cannot be backed up")
    return Path(database)


def _libpq_url(url: str) -> str:
    """pg_dump speaks libpq URLs: no SQLAlchemy driver suffix."""
    u = make_url(url)
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def _hash(path: Path) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def _entry(root: Path, path: Path) -> FileEntry:
    size, digest = _hash(path)
    return FileEntry(path.relative_to(root).as_posix(), size, digest)


def _data_files(settings: Settings, skip: list[Path]) -> list[Path]:
    """The data directory's files, without the store's own files and without the backup being written."""
    root = settings.data_dir.resolve()
    if not root.is_dir():
        return []
    skipped = [p.resolve() for p in skip]
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        # earlier backups kept under the data directory are not part of the next one
        dirnames[:] = sorted(
            d
            for d in dirnames
            if (here / d).resolve() not in skipped
            and not (here / d / MANIFEST).is_file()
            and ".partial-" not in d
        )
        for name in sorted(filenames):
            p = here / name
            if p.resolve() not in skipped and p.is_file():
                out.append(p)
    return out


def _not_inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
    except ValueError:
        return True
    return False


# --- backup -----------------------------------------------------------------------------------------


def backup(settings: Settings, dest: Path, progress: Progress | None = None) -> Manifest:
    """Write a backup of the running (or stopped) platform to the new folder ``dest``.

    Raises :class:`BackupError` when ``dest`` exists and is not empty, :class:`ToolMissing` when
    pg_dump is needed and absent.
    """
    say = progress or (lambda _m: None)
    dest = dest.resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest}: exists and is not an empty folder; back up into a new folder")
    # written under a temporary name and renamed at the end: a backup that was cut off never looks whole
    work = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.monotonic()
    try:
        if settings.is_embedded_store:
            db = sqlite_path(settings)
            say(f"copying the SQLite store {db} (online backup API)")
            tables, revision = _sqlite_backup(db, work / SQLITE_FILE)
            skip = [Path(f"{db}{s}") for s in _SQLITE_SIDECARS]
            store = "sqlite"
        else:
            say("dumping the PostgreSQL store (pg_dump -Fc)")
            tables, revision = _pg_backup(settings.resolved_store_url, work / PG_FILE)
            skip = []
            store = "postgresql"
        files = _data_files(settings, [*skip, dest, work])
        for f in files:
            target = work / DATA / f.relative_to(settings.data_dir.resolve())
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)
        say(f"copied {len(files)} data files")
        entries = sorted((_entry(work, p) for p in work.rglob("*") if p.is_file()), key=lambda e: e.path)
        manifest = Manifest(
            store=store,
            created_at=datetime.now(UTC).isoformat(),
            schema_revision=revision,
            tables=tables,
            files=entries,
            safecity=_version(),
            seconds=time.monotonic() - started,
        )
        (work / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2) + "\n", encoding="utf-8")
        if dest.exists():
            dest.rmdir()
        work.rename(dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def _sqlite_counts(conn: sqlite3.Connection) -> tuple[dict[str, int], str | None]:
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    tables = {n: int(conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names}
    revision = None
    if "alembic_version" in names:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    return tables, revision


def _sqlite_backup(db: Path, out: Path) -> tuple[dict[str, int], str | None]:
    if not db.is_file():
        raise BackupError(f"{db}: no SQLite store there; check SAFECITY_DATA_DIR / SAFECITY_STORE_URL")
    src = sqlite3.connect(db, timeout=60)
    dst = sqlite3.connect(out)
    try:
        # pages=-1: the whole database in one step, i.e. one read transaction and one consistent
        # snapshot; a stepwise copy would restart whenever the live server commits.
        src.backup(dst, pages=-1)
        # a self-contained single file: no -wal beside it to forget
        dst.execute("PRAGMA journal_mode=DELETE")
        check = dst.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(
                f"{db}: the copy fails SQLite's quick_check ({check}); the store may be damaged"
            )
        return _sqlite_counts(dst)
    finally:
        dst.close()
        src.close()


def _pg_tables_sql() -> str:
    # partitions are counted through their parent; PostGIS's own table is the extension's
    return (
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
        "AND c.relname <> 'spatial_ref_sys' ORDER BY c.relname"
    )


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(
            f"{name} is not installed; install the PostgreSQL client of the server's major version "
            "(Debian: apt-get install postgresql-client-15)"
        )
    return found


def _pg_backup(url: str, out: Path) -> tuple[dict[str, int], str | None]:
    pg_dump = _pg_tool("pg_dump")
    engine = create_engine(_pg_engine_url(url))
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            names = list(conn.execute(text(_pg_tables_sql())).scalars())
            tables = {n: int(conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one()) for n in names}
            revision = None
            if "alembic_version" in names:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            # the exported snapshot lives as long as this transaction: pg_dump runs inside it
            run = subprocess.run(
                [
                    pg_dump,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={out}",
                    f"--dbname={_libpq_url(url)}",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if run.returncode != 0:
                raise BackupError(f"pg_dump failed: {_last_line(run.stderr)}")
    finally:
        engine.dispose()
    return tables, revision


def _pg_engine_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _last_line(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"


# --- verify and restore -----------------------------------------------------------------------------


def read_manifest(src: Path) -> Manifest:
    path = src / MANIFEST
    if not path.is_file():
        raise BackupError(f"{src}: no {MANIFEST}; this is not a safecity backup (or it was cut off)")
    try:
        manifest = Manifest.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as e:
        raise BackupError(f"{path}: not a readable manifest ({e})") from None
    if manifest.format > FORMAT:
        raise BackupError(f"{path}: format {manifest.format} is newer than this safecity reads ({FORMAT})")
    return manifest


def verify(src: Path) -> Manifest:
    """Check every file of the backup against its manifest; raises :class:`BackupError` naming each
    missing or changed file."""
    manifest = read_manifest(src)
    bad: list[str] = []
    for f in manifest.files:
        p = src / f.path
        if not p.is_file():
            bad.append(f"{f.path}: missing")
            continue
        size, digest = _hash(p)
        if size != f.bytes or digest != f.sha256:
            bad.append(f"{f.path}: checksum does not match the manifest")
    main = SQLITE_FILE if manifest.store == "sqlite" else PG_FILE
    if not any(f.path == main for f in manifest.files):
        bad.append(f"{main}: not in the manifest")
    if bad:
        raise BackupError(f"{src}: the backup is damaged, nothing was restored: " + "; ".join(bad))
    return manifest


def restore(
    settings: Settings, src: Path, *, force: bool = False, progress: Progress | None = None
) -> Manifest:
    """Restore the backup ``src`` into the configured store and data directory (the server stopped).

    Refuses (:class:`BackupError`) a damaged backup, a backup of the other store kind, and (:class:`Conflict`)
    a data directory or database that is not empty unless ``force``; ``force`` empties them first.
    """
    say = progress or (lambda _m: None)
    src = src.resolve()
    manifest = verify(src)
    say(f"backup of {manifest.created_at} verified ({len(manifest.files)} files)")
    kind = "sqlite" if settings.is_embedded_store else "postgresql"
    if manifest.store != kind:
        raise BackupError(
            f"{src}: a {manifest.store} backup cannot be restored into the {kind} store; "
            "set SAFECITY_STORE_URL to the kind of store the backup was taken from"
        )
    data_dir = settings.data_dir.resolve()
    if not _not_inside(src, data_dir):
        raise BackupError(f"{src}: the backup is inside the data directory {data_dir}; move it out first")
    data_files = [f for f in manifest.files if f.path.startswith(DATA + "/")]
    db = sqlite_path(settings) if kind == "sqlite" else None
    occupied = data_dir.is_dir() and any(data_dir.iterdir())
    if db is not None and db.exists():
        occupied = True
    if occupied and (kind == "sqlite" or data_files):
        if not force:
            raise Conflict(
                f"{data_dir}: the data directory is not empty; restore into an empty one "
                "(SAFECITY_DATA_DIR) or pass --force to replace what is there",
                message_ko="데이터 디렉터리가 비어 있지 않습니다. 빈 디렉터리에 복원하거나 --force로 덮어쓰세요",
            )
        say(f"--force: emptying {data_dir}")
        _empty(data_dir)
        if db is not None:
            for s in _SQLITE_SIDECARS:
                Path(f"{db}{s}").unlink(missing_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    for f in data_files:
        target = data_dir / f.path[len(DATA) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / f.path, target)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
        tmp = db.with_name(db.name + ".restoring")
        shutil.copy2(src / SQLITE_FILE, tmp)
        os.replace(tmp, db)
        conn = sqlite3.connect(db)
        try:
            tables, _ = _sqlite_counts(conn)
        finally:
            conn.close()
    else:
        tables = _pg_restore(settings.resolved_store_url, src / PG_FILE, force, say)
    differ = {n: (rows, tables.get(n)) for n, rows in manifest.tables.items() if tables.get(n) != rows}
    if differ:
        raise BackupError(
            "restored rows differ from the manifest: "
            + ", ".join(f"{n}: {want} expected, {got} found" for n, (want, got) in sorted(differ.items()))
        )
    say(f"restored {sum(tables.values())} rows in {len(tables)} tables and {len(data_files)} data files")
    return manifest


def _empty(folder: Path) -> None:
    for p in folder.iterdir():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def _pg_restore(url: str, dump: Path, force: bool, say: Progress) -> dict[str, int]:
    pg_restore = _pg_tool("pg_restore")
    engine = create_engine(_pg_engine_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            present = list(conn.execute(text(_pg_tables_sql())).scalars())
            if present:
                if not force:
                    raise Conflict(
                        f"the database {make_url(url).database} is not empty ({len(present)} tables); "
                        "restore into an empty database (createdb) or pass --force to replace it",
                        message_ko="데이터베이스가 비어 있지 않습니다. 빈 데이터베이스에 복원하거나 --force로 덮어쓰세요",
                    )
                say("--force: dropping the public schema")
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        run = subprocess.run(
            [
                pg_restore,
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={_libpq_url(url)}",
                str(dump),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode != 0:
            raise BackupError(f"pg_restore failed: {_last_line(run.stderr)}")
        with engine.connect() as conn:
            names = list(conn.execute(text(_pg_tables_sql())).scalars())
            return {n: int(conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one()) for n in names}
    finally:
        engine.dispose()


def describe(manifest: Manifest) -> str:
    """One line for people: what the backup holds."""
    rows = sum(manifest.tables.values())
    obs = manifest.tables.get("sta_observations", 0)
    size = sum(f.bytes for f in manifest.files)
    return (
        f"{manifest.store} backup of {manifest.created_at}: {rows} rows in {len(manifest.tables)} tables "
        f"({obs} observations), {len(manifest.files)} files, {size / 1e6:.1f} MB"
    )


__all__ = [
    "BackupError",
    "FileEntry",
    "Manifest",
    "ToolMissing",
    "backup",
    "describe",
    "read_manifest",
    "restore",
    "verify",
]
