# SPDX-License-Identifier: Apache-2.0
"""``safecity --help`` declares every built-in capability: their ``setup()`` and ``cli.py`` must stay
light (routers named as "module:attribute", builders and subscribers importing their modules when the
platform is built), or every command pays for the scientific libraries before it starts."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("numpy", "shapely", "scipy", "xmlschema", "pyogrio", "rasterio", "pyproj", "osmium")


def test_the_command_and_its_groups_load_no_scientific_library() -> None:
    code = (
        "import sys\n"
        "from typer.main import get_command\n"
        "import safecity.cli\n"
        "get_command(safecity.cli.app)\n"  # every group and command built, as --help does
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"safecity --help imports {r.stdout.strip()}: make that import lazy"
