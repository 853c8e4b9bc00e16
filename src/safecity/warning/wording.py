# SPDX-License-Identifier: Apache-2.0
"""The words of the platform's alerts, per language, as data: Korean and English ship with the package
(``wording/ko.toml``, ``wording/en.toml``); a city adds a language by putting ``<lang>.toml`` with the
same keys in ``SAFECITY_WARNING__WORDING_DIR`` and listing it in ``SAFECITY_WARNING__LANGUAGES``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safecity.core.errors import ConfigError

BUILTIN = Path(__file__).with_name("wording")
TEXT_KEYS = (
    "language",
    "city",
    "sender_name",
    "place_names",
    "headline",
    "description",
    "cancel_headline",
    "cancel_description",
    "cancel_instruction",
    "around",
    "shelters",
)
#: Keys a wording file may leave out, with the key used instead.
OPTIONAL_KEYS = {"lowered_headline": "cancel_headline", "lowered_instruction": "cancel_instruction"}
#: Keys a wording file may leave out, with a default.
DEFAULTS = {"many_districts": "{city} ({n})", "many_dongs": "{city} ({n})", "whole_city": "{city}"}
TABLES = {
    "actions": ("Evacuate", "Shelter", "Avoid", "Execute", "Prepare", "Monitor"),
    "levels": ("attention", "caution", "alert", "serious", "none"),
}


@dataclass(frozen=True)
class Wording:
    lang: str  # the short code the platform uses ("ko", "en", "zh", ...)
    texts: dict[str, str]
    actions: dict[str, str]
    levels: dict[str, str]
    hazards: dict[str, str]

    def __getattr__(self, name: str) -> str:
        try:
            return self.texts[name]
        except KeyError:
            raise AttributeError(name) from None

    def hazard(self, key: str) -> str:
        return self.hazards.get(key) or self.hazards.get("other", key)


def _load(path: Path, lang: str) -> Wording:
    where = str(path)
    try:
        doc: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{where}: cannot read alert wording: {e}", where=where) from None
    texts = {}
    for key in TEXT_KEYS:
        value = doc.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: {key}: give the text (see wording/en.toml)", where=f"{where}:{key}")
        texts[key] = value
    for key, instead in OPTIONAL_KEYS.items():
        value = doc.get(key)
        texts[key] = value if isinstance(value, str) and value.strip() else texts[instead]
    for key, default in DEFAULTS.items():
        value = doc.get(key)
        texts[key] = value if isinstance(value, str) and value.strip() else default
        texts[key] = texts[key].replace("{city}", texts["city"])
    if texts["place_names"] not in ("ko", "en"):
        raise ConfigError(f"{where}: place_names: 'ko' or 'en' (which area names to use)", where=where)
    tables: dict[str, dict[str, str]] = {}
    for table, keys in TABLES.items():
        got = doc.get(table)
        if not isinstance(got, dict) or any(not isinstance(got.get(k), str) for k in keys):
            raise ConfigError(f"{where}: [{table}] needs {', '.join(keys)}", where=f"{where}:{table}")
        tables[table] = {k: str(got[k]) for k in keys}
    hazards = doc.get("hazards")
    if not isinstance(hazards, dict) or "other" not in hazards:
        raise ConfigError(f"{where}: [hazards] needs at least 'other'", where=f"{where}:hazards")
    return Wording(lang, texts, tables["actions"], tables["levels"], {k: str(v) for k, v in hazards.items()})


def load_wordings(
    languages: list[str] | tuple[str, ...], extra_dir: Path | None = None
) -> dict[str, Wording]:
    """The wording of each configured language; a language without a file is a configuration error."""
    out = {}
    for lang in languages:
        candidates = [extra_dir / f"{lang}.toml"] if extra_dir else []
        candidates.append(BUILTIN / f"{lang}.toml")
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise ConfigError(
                f"no alert wording for language {lang!r}: add {lang}.toml (copy wording/en.toml) to "
                "SAFECITY_WARNING__WORDING_DIR, or remove it from SAFECITY_WARNING__LANGUAGES",
                where="warning.languages",
            )
        out[lang] = _load(path, lang)
    if "ko" not in out:
        raise ConfigError("SAFECITY_WARNING__LANGUAGES must include ko", where="warning.languages")
    return out
