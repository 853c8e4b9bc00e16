# SPDX-License-Identifier: Apache-2.0
"""docs/settings.md lists every setting (the platform's, nested ones included, and every built-in
capability's) with its variable, default and description, generated from the settings models: this test
fails when the page is stale. Rewrite it with ``PYTHONPATH=src python -m tests.test_settings_doc``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic_core import PydanticUndefined

from safecity.capability import BUILT_IN, load
from safecity.settings import DEPRECATED_NAMES, Settings, env_name

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"

HEAD = """# Settings

<!-- Generated from the settings models by tests/test_settings_doc.py; do not edit by hand:
     PYTHONPATH=src python -m tests.test_settings_doc -->

Every setting has a `SAFECITY_*` environment variable. Values come from the defaults, then from the
TOML file named by `SAFECITY_CONFIG`, then from the environment (the environment wins). Nested settings
join their path with `__` (`SAFECITY_WARNING__SMTP__HOST`), and are a table in the TOML file
(`[warning.smtp]` with `host = ...`); a capability's settings are `SAFECITY_<CAPABILITY>__<FIELD>` or its
`[<capability>]` table. Lists and tables are JSON in the environment (`SAFECITY_WARNING__AUTO_LEVELS='[4]'`).
A bad value stops start-up with the variable to fix.
"""


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "(required)"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(below)"
    if isinstance(value, SecretStr):
        return "(a development value)" if value.get_secret_value() else "(empty)"
    if value is None:
        return "(none)"
    if hasattr(value, "value"):  # an enum
        value = value.value
    if isinstance(value, list | dict | bool):
        return f"`{json.dumps(value, ensure_ascii=False)}`"
    return f"`{value}`"


def _table(model: type[BaseModel], path: tuple[str, ...], title: str) -> list[str]:
    rows = [f"## {title}", "", "| variable | default | what it does |", "|---|---|---|"]
    nested: list[tuple[type[BaseModel], tuple[str, ...]]] = []
    for name, field in model.model_fields.items():
        where = (*path, name)
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            nested.append((kind, where))
        text = (field.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{env_name(where)}` | {_default(field)} | {text} |")
    rows.append("")
    for kind, where in nested:
        summary = (kind.__doc__ or "").split("(")[0].split(".")[0].strip()
        rows += _table(kind, where, f"`{'.'.join(where)}`: {summary}")
    return rows


def render() -> str:
    lines = [HEAD, *_table(Settings, (), "The platform")]
    for module in BUILT_IN:
        cap = load(module)
        if cap.settings is not None:
            lines += _table(cap.settings, (cap.name,), f"Capability `{cap.name}`: {cap.summary}")
    lines += [
        "## Deprecated names",
        "",
        "Still read, with a warning once per process, when the new name is not set (the new name wins).",
        "",
        "| old | new |",
        "|---|---|",
        *(f"| `SAFECITY_{old.upper()}` | `{env_name(new)}` |" for old, new in DEPRECATED_NAMES.items()),
        "",
    ]
    return "\n".join(lines)


def test_the_settings_page_is_up_to_date() -> None:
    assert DOC.is_file() and DOC.read_text(encoding="utf-8") == render(), (
        "docs/settings.md is stale: PYTHONPATH=src python -m tests.test_settings_doc"
    )


def test_every_setting_is_described() -> None:
    undescribed = [line.split("|")[1].strip() for line in render().splitlines() if line.endswith("|  |")]
    assert not undescribed, f"describe these settings (Field(description=...)): {undescribed}"


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
