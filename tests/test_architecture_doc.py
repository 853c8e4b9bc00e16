# SPDX-License-Identifier: Apache-2.0
"""docs/architecture.md stays the map: every declared event type is in its catalogue and every layer of
the import contract is on its layer table."""

from __future__ import annotations

import importlib
import pkgutil
import tomllib
from pathlib import Path

import safecity
from safecity.core.events import event_types

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text()


def test_every_event_type_is_in_the_catalogue() -> None:
    for info in pkgutil.iter_modules(safecity.__path__):
        if not info.ispkg:  # capabilities are packages (and safecity.__main__ would run the CLI)
            continue
        try:
            importlib.import_module(f"safecity.{info.name}.events")
        except ModuleNotFoundError as e:
            if e.name != f"safecity.{info.name}.events":
                raise
    # the platform's own (test modules declare event types of their own when run in the same session)
    declared = {t for t, cls in event_types().items() if cls.__module__.startswith("safecity.")}
    assert declared, "no event types found"
    missing = sorted(t for t in declared if f"`{t}`" not in DOC)
    assert not missing, f"add these event types to docs/architecture.md's catalogue: {missing}"


def test_every_layer_is_on_the_map() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    for layer in layers:
        for module in layer.replace(":", "|").split("|"):
            assert f"`{module.strip()}`" in DOC, f"layer {module.strip()} is not on docs/architecture.md"
