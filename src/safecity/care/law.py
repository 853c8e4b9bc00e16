# SPDX-License-Identifier: Apache-2.0
"""The articles the capability implements (``data/law.toml``): cited in errors, docs and the guardian page."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

LAW_FILE = Path(__file__).with_name("data") / "law.toml"


@dataclass(frozen=True)
class Article:
    id: str
    law: str
    ko: str
    en: str
    code: str
    extra: dict[str, Any]


@cache
def articles() -> dict[str, Article]:
    with LAW_FILE.open("rb") as f:
        raw = tomllib.load(f)["article"]
    out: dict[str, Article] = {}
    for a in raw:
        known = {k: a[k] for k in ("id", "law", "ko", "en", "code")}
        out[a["id"]] = Article(**known, extra={k: v for k, v in a.items() if k not in known})
    return out


def cite(article_id: str) -> str:
    """The article's name as the law gives it (for error messages and notices)."""
    return articles()[article_id].law
