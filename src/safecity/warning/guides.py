# SPDX-License-Identifier: Apache-2.0
"""Action guides (국민행동요령): what an alert tells people to do, per hazard, audience and language.

The guides are data: one TOML file per hazard in ``guides/`` (each cites its source page on the
국민재난안전포털, www.safekorea.go.kr, in a comment), plus ``_common.toml`` with notes for an audience that
apply to every hazard without a section of its own for that audience. A file looks like::

    hazard = "heavy_rain"
    aliases = ["river_flood", "flood"]      # situation hazards served by this guide
    [general.ko]                            # [<audience>.<lang>]
    title = "..."
    before = ["..."]                        # lines; before / during / after, each optional
    during = ["..."]
    after = ["..."]
    notes = ["..."]                         # extra lines for the audience
    [elderly.ko]
    notes = ["..."]                         # fields not given are taken from [general.<lang>]

Every file must have ``[general.ko]`` and ``[general.en]`` with a title and at least one line.

A city overrides or extends them with its own folder (``extra_dir``): a file there for a hazard already
known replaces the built-in sections it defines (``[elderly.ko]`` in the city file replaces that one
section, nothing else) and may add aliases; a file for a new hazard adds it. A malformed file raises
:class:`ConfigError` naming the file, the section and the field.

Look-up (:func:`guide_for`) falls back audience → ``general`` (keeping the ``_common`` notes for the
audience) and language → Korean or English: another language gets English, then Korean; Korean gets
Korean, then English. An unknown hazard gets the ``other`` guide (follow official instructions).
"""

from __future__ import annotations

import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from safecity.core.errors import ConfigError

GUIDES_DIR: Final = Path(__file__).with_name("guides")
COMMON_FILE: Final = "_common.toml"

#: Who a guide speaks to.
AUDIENCES: Final = ("general", "elderly", "children_parents", "disability", "foreigner")
#: Languages every built-in guide is written in.
LANGUAGES: Final = ("ko", "en")
#: The guide served for a hazard no file names.
FALLBACK_HAZARD: Final = "other"

_SECTIONS: Final = ("before", "during", "after", "notes")
_FIELDS: Final = frozenset({"title", *_SECTIONS})
_TOP: Final = frozenset({"hazard", "aliases", *AUDIENCES})


@dataclass(frozen=True)
class Guide:
    """One guide as served. ``audience`` and ``lang`` are what was found after fallback, which may differ
    from what was asked; ``source`` is the file it came from (built-in or the city's)."""

    hazard: str
    audience: str
    lang: str
    title: str
    before: tuple[str, ...] = ()
    during: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    source: str = ""

    def lines(self) -> tuple[str, ...]:
        """Every action line in order (before, during, after, notes), e.g. for a short text message."""
        return self.before + self.during + self.after + self.notes

    def active_lines(self, phase: str = "during") -> tuple[str, ...]:
        """The lines of a warning in force: the audience's own lines on top (a guide for a profile, e.g.
        elderly people), then the steps of ``phase`` (``during`` the event; ``after`` for a hazard whose
        warning comes once it has struck, like an earthquake: the shaking is over when the text
        arrives), then (general guide) its notes. Never the before steps, and the after steps only as
        that phase: preparing and recovering are not what to do while the hazard is on."""
        steps = self.after if phase == "after" and self.after else self.during
        if self.audience != "general":
            return self.notes + steps
        return steps + self.notes

    def to_dict(self) -> dict[str, Any]:
        return {
            "hazard": self.hazard,
            "audience": self.audience,
            "lang": self.lang,
            "title": self.title,
            "before": list(self.before),
            "during": list(self.during),
            "after": list(self.after),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class _Section:
    fields: dict[str, Any]
    source: str


@dataclass
class GuideBook:
    """Every guide loaded from the built-in folder and an optional city folder."""

    #: hazard → (audience, lang) → section
    sections: dict[str, dict[tuple[str, str], _Section]] = field(default_factory=dict)
    #: the ``_common`` notes: (audience, lang) → section
    common: dict[tuple[str, str], _Section] = field(default_factory=dict)
    #: alias (a situation hazard) → guide hazard
    aliases: dict[str, str] = field(default_factory=dict)

    def hazard_of(self, hazard: str) -> str:
        """The guide that serves ``hazard``: itself, the guide naming it as an alias, or ``other``."""
        if hazard in self.sections:
            return hazard
        return self.aliases.get(hazard, FALLBACK_HAZARD)

    def guide(self, hazard: str, audience: str, lang: str) -> Guide:
        key = self.hazard_of(hazard)
        sections = self.sections.get(key)
        if sections is None:
            raise ConfigError(f"no guide for {hazard!r} and no {FALLBACK_HAZARD!r} guide to fall back on")
        langs = [lang, "en", "ko"] if lang != "ko" else ["ko", "en"]
        for lg in dict.fromkeys(langs):
            general = sections.get(("general", lg))
            if general is None:
                continue
            own = sections.get((audience, lg))
            common = self.common.get((audience, lg)) if audience != "general" else None
            merged = dict(general.fields)
            if own is not None:
                merged.update(own.fields)
            elif common is not None:
                merged["notes"] = tuple(general.fields.get("notes", ())) + tuple(common.fields["notes"])
            found = audience if (own is not None or common is not None) else "general"
            return Guide(
                hazard=key,
                audience=found,
                lang=lg,
                title=merged["title"],
                before=tuple(merged.get("before", ())),
                during=tuple(merged.get("during", ())),
                after=tuple(merged.get("after", ())),
                notes=tuple(merged.get("notes", ())),
                source=(own or general).source,
            )
        raise ConfigError(f"guide {key!r} has no [general.ko] or [general.en] section")


def _bad(name: str, where: str, why: str) -> ConfigError:
    return ConfigError(f"{name}: {where}: {why}", where=f"{name}:{where}")


def _parse_section(name: str, audience: str, lang: str, value: Any, *, common: bool) -> dict[str, Any]:
    where = f"[{audience}.{lang}]"
    if not isinstance(value, dict):
        raise _bad(name, where, "must be a table of title and lines")
    unknown = set(value) - _FIELDS
    if unknown:
        raise _bad(name, f"{where}.{sorted(unknown)[0]}", f"unknown field; use {', '.join(sorted(_FIELDS))}")
    out: dict[str, Any] = {}
    if "title" in value:
        title = value["title"]
        if not isinstance(title, str) or not title.strip():
            raise _bad(name, f"{where}.title", "must be a non-empty string")
        out["title"] = title.strip()
    for sec in _SECTIONS:
        if sec not in value:
            continue
        lines = value[sec]
        if not isinstance(lines, list):
            raise _bad(name, f"{where}.{sec}", "must be a list of strings")
        for i, line in enumerate(lines):
            if not isinstance(line, str) or not line.strip():
                raise _bad(name, f"{where}.{sec}[{i}]", "must be a non-empty string")
        out[sec] = tuple(line.strip() for line in lines)
    if common and set(out) != {"notes"}:
        raise _bad(name, where, "the common file holds notes only")
    if audience == "general" and not common:
        if "title" not in out:
            raise _bad(name, f"{where}.title", "every [general.<lang>] section needs a title")
        if not any(out.get(s) for s in _SECTIONS):
            raise _bad(name, where, "needs at least one line in before, during, after or notes")
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise _bad(path.name, "syntax", str(e)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise _bad(path.name, "file", f"cannot be read ({e})") from None


def _load_file(book: GuideBook, path: Path, *, builtin: bool) -> None:
    name = str(path) if not builtin else path.name
    doc = _read(path)
    common = path.name == COMMON_FILE
    unknown = set(doc) - _TOP
    if unknown:
        bad = sorted(unknown)[0]
        raise _bad(name, bad, f"unknown entry; audiences are {', '.join(AUDIENCES)}")
    hazard = doc.get("hazard")
    if common:
        if hazard not in (None, "*"):
            raise _bad(name, "hazard", 'the common file applies to every hazard: use hazard = "*"')
    elif not isinstance(hazard, str) or not hazard.isidentifier():
        raise _bad(name, "hazard", 'needs the hazard key, e.g. hazard = "heavy_rain"')
    aliases = doc.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        raise _bad(name, "aliases", "must be a list of hazard keys")
    parsed: dict[tuple[str, str], _Section] = {}
    for audience in AUDIENCES:
        if audience not in doc:
            continue
        langs = doc[audience]
        if not isinstance(langs, dict):
            raise _bad(name, f"[{audience}]", "must hold one table per language, e.g. [general.ko]")
        for lang, value in langs.items():
            if not (2 <= len(lang) <= 8 and lang.replace("-", "").isalnum()):
                raise _bad(name, f"[{audience}.{lang}]", "the language must be a tag such as ko or en")
            fields = _parse_section(name, audience, lang, value, common=common)
            parsed[(audience, lang)] = _Section(fields, name)
    if common:
        book.common.update(parsed)
        return
    assert isinstance(hazard, str)
    existing = book.sections.get(hazard)
    if existing is None:
        for lang in LANGUAGES:
            if ("general", lang) not in parsed:
                raise _bad(
                    name, f"[general.{lang}]", "every guide needs a Korean and an English general section"
                )
        book.sections[hazard] = parsed
    else:
        existing.update(parsed)  # a city's file replaces the sections it defines
    for alias in aliases:
        book.aliases[alias] = hazard


def load_guides(extra_dir: Path | None = None) -> GuideBook:
    """The built-in guides, overridden and extended by ``extra_dir``'s ``*.toml`` files.

    Raises :class:`ConfigError` naming the file, section and field of the first problem found, or when
    ``extra_dir`` is not a folder.
    """
    book = GuideBook()
    for path in sorted(GUIDES_DIR.glob("*.toml")):
        _load_file(book, path, builtin=True)
    if extra_dir is not None:
        if not extra_dir.is_dir():
            raise ConfigError(f"{extra_dir}: the guides folder does not exist", where=str(extra_dir))
        for path in sorted(extra_dir.glob("*.toml")):
            _load_file(book, path, builtin=False)
    return book


_cache: dict[str, tuple[tuple[tuple[str, int], ...], GuideBook]] = {}
_lock = threading.Lock()


def _stamp(extra_dir: Path | None) -> tuple[tuple[str, int], ...]:
    # A city edits its files while the server runs: the cache is keyed on every file's mtime.
    if extra_dir is None or not extra_dir.is_dir():
        return ()
    return tuple((p.name, p.stat().st_mtime_ns) for p in sorted(extra_dir.glob("*.toml")))


def guides(extra_dir: Path | None = None) -> GuideBook:
    """:func:`load_guides`, cached until a file of ``extra_dir`` changes."""
    key, stamp = str(extra_dir), _stamp(extra_dir)
    with _lock:
        cached = _cache.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    book = load_guides(extra_dir)
    with _lock:
        _cache[key] = (stamp, book)
    return book


def guide_for(hazard: str, audience: str, lang: str, extra_dir: Path | None = None) -> Guide:
    """The guide for a hazard (a guide key or a situation hazard such as ``river_flood``), an audience
    (one of :data:`AUDIENCES`; others get ``general``) and a language, with the fallbacks described in
    the module docstring. Raises :class:`ConfigError` when the guide files are broken."""
    return guides(extra_dir).guide(hazard, audience, lang)
