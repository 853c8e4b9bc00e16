# SPDX-License-Identifier: Apache-2.0
"""Front-end libraries from the npm registry, fetched without Node and served from this server.

``assets.toml`` pins each package: its version, its registry tarball URL and the registry's
``dist.integrity`` (``sha512-<base64>``, the Subresource Integrity form npm itself checks). :func:`fetch`
downloads a tarball, refuses it unless its SHA-512 matches, and writes only the listed files to
``static/vendor/<name>/`` with a ``MANIFEST.json`` recording what was written; a package whose manifest
and files still match the pin is not downloaded again. Nothing here runs at import time.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path, PurePosixPath
from typing import Annotated

import typer

from safecity.core.errors import SafecityError

PINS = Path(str(files("safecity.web") / "assets.toml"))
VENDOR = Path(str(files("safecity.web") / "static" / "vendor"))
MANIFEST = "MANIFEST.json"
#: Long enough for a slow link to fetch Leaflet's 1.4 MB tarball; a dead mirror fails within it.
TIMEOUT_S = 60.0


class AssetError(SafecityError):
    """A pinned package could not be fetched or did not match its pin."""

    status = 502
    code = "asset_fetch"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    tarball: str
    integrity: str
    #: path inside the tarball -> path under static/vendor/<name>/
    files: dict[str, str]


def load_pins(path: Path = PINS) -> list[Package]:
    """The packages pinned in ``path``; raises :class:`AssetError` naming the package and key at fault."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out = []
    for name, entry in data.items():
        try:
            pkg = Package(
                name=name,
                version=str(entry["version"]),
                tarball=str(entry["tarball"]),
                integrity=str(entry["integrity"]),
                files={str(k): str(v) for k, v in entry["files"].items()},
            )
        except (KeyError, TypeError, AttributeError) as e:
            raise AssetError(f"{path.name} [{name}]: missing or malformed {e}", where=name) from None
        if not pkg.integrity.startswith("sha512-"):
            raise AssetError(f"{path.name} [{name}]: integrity must be the registry's sha512-…", where=name)
        for dest in pkg.files.values():
            parts = PurePosixPath(dest).parts
            # the destination is a path under vendor/<name>/: never absolute, never climbing out
            if not parts or dest.startswith("/") or ".." in parts or dest == MANIFEST:
                raise AssetError(f"{path.name} [{name}]: bad destination {dest!r}", where=name)
        out.append(pkg)
    return out


def integrity_of(data: bytes) -> str:
    """The Subresource Integrity string npm records for a tarball: ``sha512-`` + base64 digest."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_current(pkg: Package, vendor: Path = VENDOR) -> bool:
    """True when ``vendor/<name>/`` holds every file of ``pkg``'s pin, unchanged since it was extracted."""
    root = vendor / pkg.name
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if manifest.get("integrity") != pkg.integrity or set(manifest.get("files", {})) != set(
        pkg.files.values()
    ):
        return False
    return all(
        (root / dest).is_file() and _sha256(root / dest) == digest
        for dest, digest in manifest["files"].items()
    )


def missing(vendor: Path = VENDOR, pins: Path = PINS) -> list[str]:
    """Names of the pinned packages not (or no longer) extracted under ``vendor``."""
    return [p.name for p in load_pins(pins) if not is_current(p, vendor)]


def served(vendor: Path = VENDOR, pins: Path = PINS) -> dict[str, Path]:
    """URL path under ``/static/vendor/`` -> file, for every pinned file: the only files served."""
    return {f"{p.name}/{dest}": vendor / p.name / dest for p in load_pins(pins) for dest in p.files.values()}


def extract(pkg: Package, data: bytes, vendor: Path = VENDOR) -> list[Path]:
    """Check ``data`` against ``pkg.integrity`` and write ``pkg``'s files under ``vendor/<name>/``.

    Raises :class:`AssetError` (naming the package) when the digest differs or a listed file is absent
    from the tarball; nothing is written then."""
    got = integrity_of(data)
    if got != pkg.integrity:
        raise AssetError(
            f"{pkg.name} {pkg.version}: the downloaded tarball's integrity {got[:24]}… does not match the "
            f"pinned {pkg.integrity[:24]}… (assets.toml); refusing it",
            where=pkg.name,
        )
    contents: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for source, dest in pkg.files.items():
            try:
                member = tar.getmember(source)
            except KeyError:
                raise AssetError(
                    f"{pkg.name} {pkg.version}: no {source} in the tarball", where=pkg.name
                ) from None
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is None:
                raise AssetError(f"{pkg.name} {pkg.version}: {source} is not a file", where=pkg.name)
            contents[dest] = handle.read()
    root = vendor / pkg.name
    written = []
    for dest, body in contents.items():
        target = root / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        written.append(target)
    manifest = {
        "name": pkg.name,
        "version": pkg.version,
        "tarball": pkg.tarball,
        "integrity": pkg.integrity,
        "files": {dest: hashlib.sha256(body).hexdigest() for dest, body in contents.items()},
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return written


def _download(url: str) -> bytes:
    import httpx

    try:
        response = httpx.get(url, timeout=TIMEOUT_S, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPError as e:
        raise AssetError(f"could not download {url}: {e}", where=url) from None
    return response.content


def fetch(
    vendor: Path = VENDOR,
    pins: Path = PINS,
    *,
    download: Callable[[str], bytes] = _download,
    echo: Callable[[str], None] = print,
) -> int:
    """Bring ``vendor`` up to date with ``pins``; returns how many packages were downloaded."""
    n = 0
    for pkg in load_pins(pins):
        if is_current(pkg, vendor):
            echo(f"{pkg.name} {pkg.version}: present")
            continue
        echo(f"{pkg.name} {pkg.version}: downloading {pkg.tarball}")
        extract(pkg, download(pkg.tarball), vendor)
        n += 1
    return n


cli = typer.Typer(help="Front-end libraries (Leaflet, uPlot) from the npm registry.", no_args_is_help=True)


@cli.command("fetch")
def fetch_command(
    vendor: Annotated[Path, typer.Option(help="Where to put the files")] = VENDOR,
) -> None:
    """Download the pinned packages (assets.toml), check their integrity and extract the files the pages
    use. Skips a package already present and unchanged."""
    try:
        n = fetch(vendor, echo=lambda s: typer.echo(s, err=True))
    except AssetError as e:
        typer.echo(f"error: {e.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{n} downloaded, all present in {vendor}")
