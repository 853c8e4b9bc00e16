# SPDX-License-Identifier: Apache-2.0
"""Action guides (국민행동요령): every hazard in both languages, the fallbacks, city overrides, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from safecity.core.errors import ConfigError
from safecity.situation.model import HAZARDS
from safecity.warning.guides import AUDIENCES, GUIDES_DIR, guide_for, load_guides

BUILT_IN = (
    "heavy_rain",
    "landslide",
    "typhoon",
    "heat_wave",
    "cold_wave",
    "earthquake",
    "fire",
    "building_collapse",
    "gas",
    "fine_dust",
    "other",
)


@pytest.mark.parametrize("hazard", BUILT_IN)
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_guide_in_both_languages_for_every_audience(hazard: str, lang: str) -> None:
    for audience in AUDIENCES:
        g = guide_for(hazard, audience, lang)
        assert (g.hazard, g.lang) == (hazard, lang)
        assert g.title and (g.during or g.before)
        assert all(line.strip() for line in g.lines())
        if lang == "ko":
            assert any("\uac00" <= ch <= "\ud7a3" for ch in g.title)  # Hangul


def test_each_file_cites_its_source_page() -> None:
    for path in GUIDES_DIR.glob("*.toml"):
        assert "safekorea.go.kr" in path.read_text(encoding="utf-8"), path.name


@pytest.mark.parametrize(
    ("situation", "guide"),
    [
        ("heavy_rain", "heavy_rain"),
        ("river_flood", "heavy_rain"),
        ("strong_wind", "typhoon"),
        ("facility", "building_collapse"),
        ("landslide", "landslide"),
        ("heat_wave", "heat_wave"),
        ("cold_wave", "cold_wave"),
        ("fire", "fire"),
        ("gas", "gas"),
        ("air_quality", "fine_dust"),
        ("sensor", "other"),
    ],
)
def test_situation_hazards_map_to_guides(situation: str, guide: str) -> None:
    assert situation in HAZARDS
    assert guide_for(situation, "general", "ko").hazard == guide


def test_every_situation_hazard_gets_a_guide() -> None:
    for key in HAZARDS:
        assert guide_for(key, "general", "en").title


def test_audience_sections_and_fallbacks() -> None:
    general = guide_for("earthquake", "general", "ko")
    disability = guide_for("earthquake", "disability", "ko")
    assert disability.audience == "disability" and disability.during == general.during
    assert any("휠체어" in n for n in disability.notes)
    # No foreigner section in the earthquake file: the common foreigner notes are added to general.
    foreigner = guide_for("earthquake", "foreigner", "en")
    assert foreigner.audience == "foreigner" and any("1330" in n for n in foreigner.notes)
    # An unknown audience gets the general guide.
    assert guide_for("earthquake", "tourists", "en").audience == "general"
    # Another language gets English; Korean stays Korean.
    assert guide_for("heat_wave", "elderly", "vi").lang == "en"
    assert guide_for("heat_wave", "elderly", "ko").lang == "ko"


def test_flood_guide_warns_off_basements_and_underpasses() -> None:
    g = guide_for("river_flood", "general", "en")
    text = " ".join(g.lines()).lower()
    assert "basement" in text and "underpass" in text


def test_city_folder_overrides_a_section_and_adds_a_hazard(tmp_path: Path) -> None:
    (tmp_path / "heat_wave.toml").write_text(
        'hazard = "heat_wave"\n[elderly.ko]\nnotes = ["동작구 무더위쉼터 안내: 02-820-0000"]\n',
        encoding="utf-8",
    )
    (tmp_path / "sinkhole.toml").write_text(
        'hazard = "sinkhole"\naliases = ["ground_subsidence"]\n'
        '[general.ko]\ntitle = "싱크홀"\nduring = ["주변에서 멀리 떨어지세요."]\n'
        '[general.en]\ntitle = "Sinkholes"\nduring = ["Keep well away from it."]\n',
        encoding="utf-8",
    )
    g = guide_for("heat_wave", "elderly", "ko", extra_dir=tmp_path)
    assert g.notes == ("동작구 무더위쉼터 안내: 02-820-0000",)
    assert g.during == guide_for("heat_wave", "general", "ko").during  # the rest is the built-in
    assert guide_for("heat_wave", "elderly", "en", extra_dir=tmp_path).notes != g.notes
    assert guide_for("ground_subsidence", "general", "en", extra_dir=tmp_path).title == "Sinkholes"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('hazard = "x"\n[general.ko]\ntitle = "t"\nduring = ["a"]\n', "[general.en]"),
        (
            'hazard = "x"\n[general.ko]\ntitle = "t"\nduring = ["a", 3]\n[general.en]\ntitle="t"\nduring=["a"]\n',
            "[general.ko].during[1]: must be a non-empty string",
        ),
        (
            'hazard = "x"\n[general.ko]\ntitle = ""\nduring = ["a"]\n[general.en]\ntitle="t"\nduring=["a"]\n',
            "[general.ko].title",
        ),
        ('hazard = "x"\n[general.ko]\ntitel = "t"\n', "[general.ko].titel: unknown field"),
        ('hazard = "x"\n[seniors.ko]\ntitle = "t"\n', "seniors: unknown entry"),
        ("hazard = [", "syntax"),
    ],
)
def test_errors_name_file_section_and_field(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_guides(tmp_path)
    assert "bad.toml" in e.value.message and message in e.value.message, e.value.message


def test_missing_city_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_guides(tmp_path / "nope")


@pytest.mark.parametrize("hazard", BUILT_IN)
def test_a_warning_in_force_gives_the_during_steps_with_the_profiles_lines_on_top(hazard: str) -> None:
    for lang in ("ko", "en"):
        general = guide_for(hazard, "general", lang)
        active = general.active_lines()
        assert active[: len(general.during)] == general.during  # during-the-event steps first
        # no preparing or recovering steps while the hazard is on
        assert not set(active) & (set(general.before) | set(general.after)) - set(general.during)
        for audience in AUDIENCES[1:]:
            g = guide_for(hazard, audience, lang)
            if g.audience == "general":
                continue
            lines = g.active_lines()
            assert lines[: len(g.notes)] == g.notes and lines[len(g.notes) :] == g.during
