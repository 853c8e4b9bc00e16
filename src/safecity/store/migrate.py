# SPDX-License-Identifier: Apache-2.0
"""Run Alembic migrations programmatically (``safecity serve`` and tests call this on start-up)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine | None = None, extra: Sequence[Path] = ()) -> Config:
    """The platform's migrations, plus the version folders of capabilities that bring their own
    branch (``safecity.capability``: each such branch starts from nothing and carries its label)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if extra:
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option(
            "version_locations", os.pathsep.join([str(MIGRATIONS / "versions"), *map(str, extra)])
        )
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "heads", extra: Sequence[Path] = ()) -> None:
    """Upgrade to ``heads``: the platform's own head and every capability branch's head."""
    command.upgrade(alembic_config(engine, extra), revision)


def downgrade(engine: Engine, revision: str, extra: Sequence[Path] = ()) -> None:
    """Down to ``revision``; ``"<branch>@base"`` removes one capability's branch (its tables)."""
    command.downgrade(alembic_config(engine, extra), revision)
