# SPDX-License-Identifier: Apache-2.0
"""The browser the e2e tests drive: Debian's Chromium under Python Playwright, headless (never a
downloaded browser). Skips without chromium, fails instead under SAFECITY_REQUIRE_SERVICES=1."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUIRE

#: Screenshots of the key states, for a person to look at after a run.
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"


@pytest.fixture
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium")
    if chromium is None:
        if REQUIRE:
            pytest.fail("chromium is not installed and SAFECITY_REQUIRE_SERVICES=1 (.ci/run installs it)")
        pytest.skip(
            "chromium is not installed (make test installs it as root; else apt-get install chromium fonts-nanum)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()
