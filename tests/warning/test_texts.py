# SPDX-License-Identifier: Apache-2.0
"""The judged invariants of the short texts (재난문자) at unit level: every text carries its hazard word and
its action and fits its category's limit; the category follows the hazard and level as data (never 위급
from the platform's own sensors); many districts are summarised; Korean and English must agree."""

from __future__ import annotations

from typing import Any

import pytest

from safecity.situation.model import Crisis
from safecity.warning import texts
from safecity.warning.cap.json import from_json
from safecity.warning.cap.model import Info
from safecity.warning.drafting import IncidentFacts, Place, draft_info, response_for
from safecity.warning.guides import guide_for
from safecity.warning.korea import KoreanCategory
from safecity.warning.policy import default_policy
from safecity.warning.reading import CATEGORY_PARAM, category_of
from safecity.warning.wording import load_wordings

WORDS = load_wordings(["ko", "en"])
POLICY = default_policy()
LIMITS = texts.Limits(urgent=90, safety=90)
SENDER = {"ko": "[서울특별시]", "en": "[Seoul]"}
HAZARDS = [
    "heavy_rain",
    "river_flood",
    "landslide",
    "heat_wave",
    "cold_wave",
    "air_quality",
    "strong_wind",
    "fire",
    "gas",
    "facility",
    "earthquake",
    "other",
]
LEVELS = [Crisis.caution, Crisis.alert, Crisis.serious]
# long names on purpose: the text must still fit by dropping what is least needed
PLACES = [
    Place("11590", "동작구", "Dongjak-gu", None),
    Place("11620", "관악구", "Gwanak-gu", None),
    Place("11680", "강남구", "Gangnam-gu", None),
]
STAGES = {
    "ko": "호우경보 기준 초과 (3시간 누적 강우)",
    "en": "Heavy rain warning threshold exceeded (3-hour total)",
}


def info_of(
    hazard: str,
    level: Crisis,
    lang: str,
    msg_type: str = "Alert",
    places: list[Place] = PLACES,
    total: int = 25,
    centre: tuple[float, float] | None = None,
    lowered: bool = False,
) -> Info:
    stage_ko = STAGES["ko"] if hazard == "heavy_rain" else ""
    stage_en = STAGES["en"] if hazard == "heavy_rain" else ""
    facts = IncidentFacts(
        1,
        hazard,
        level,
        "open",
        stage_ko,
        stage_en,
        places,
        "3시간 누적 96.5 mm",
        "96.5 mm in 3 hours",
        centre=centre,
        radius_km=0.5 if centre else None,
        districts_total=total,
    )
    guide = guide_for(hazard, "general", lang)
    info: dict[str, Any] = draft_info(
        facts,
        WORDS[lang],
        guide.active_lines(),
        None,
        msg_type,
        ["대방초등학교 체육관" if lang == "ko" else "Daebang Elementary School gym"],
        lowered,
    )
    category = POLICY.category(hazard, level, response_for(hazard, level))
    info["parameter"].append({"valueName": CATEGORY_PARAM, "value": category.value})
    cap = {
        "identifier": "x",
        "sender": "s",
        "sent": "2026-07-15T14:00:00+09:00",
        "status": "Actual",
        "msgType": msg_type,
        "scope": "Public",
        "info": [info],
    }
    if msg_type != "Alert":
        cap["references"] = "s,w,2026-07-15T13:00:00+09:00"
    return from_json(cap).infos[0]


@pytest.mark.parametrize("hazard", HAZARDS)
@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("msg_type", ["Alert", "Cancel", "Lowered"])
def test_every_short_text_names_its_hazard_and_action_and_fits_its_category(
    hazard: str, lang: str, msg_type: str
) -> None:
    for level in LEVELS:
        lowered = msg_type == "Lowered"
        info = info_of(hazard, level, lang, "Cancel" if lowered else msg_type, lowered=lowered)
        category = category_of(info, POLICY)
        limit = LIMITS.of(category)
        text = texts.compose(info, WORDS[lang], category, limit, POLICY, SENDER[lang])
        ess = texts.essentials(info, WORDS[lang])
        assert texts.problems(text, ess, limit) == [], (text, category)
        assert len(text) <= limit and text.startswith(SENDER[lang])
        assert any(h in text.casefold() for h in (x.casefold() for x in ess.hazard)) and ess.action in text
        # hazard and action first: both within the opening words, before where and what to do
        assert text.casefold().index(ess.action.casefold()) < 45, text
        if lang == "ko" and category is not KoreanCategory.SAFETY:
            assert f"[{POLICY.of(hazard).key_en}]" in text  # the English key terms (since Feb 2024)


def test_the_category_follows_hazard_and_level_as_data_and_is_never_wi_geup() -> None:
    def cat(hazard: str, level: Crisis) -> KoreanCategory:
        return POLICY.category(hazard, level, response_for(hazard, level))

    for hazard in ("heat_wave", "cold_wave", "air_quality", "earthquake"):  # advisories: 안전안내문자
        assert {cat(hazard, lv) for lv in LEVELS} == {KoreanCategory.SAFETY}, hazard
    assert cat("heavy_rain", Crisis.caution) is KoreanCategory.SAFETY
    assert cat("heavy_rain", Crisis.alert) is KoreanCategory.URGENT  # an evacuation order
    assert cat("river_flood", Crisis.serious) is KoreanCategory.URGENT  # flood 심각: 긴급 by rule
    assert cat("landslide", Crisis.alert) is KoreanCategory.URGENT  # 산사태 경보: 긴급 by rule
    assert all(cat(h, lv) is not KoreanCategory.EMERGENCY for h in HAZARDS for lv in LEVELS)
    # even an alert claiming 위급 (edited, or from an older draft) goes out as 긴급 from the platform
    info = info_of("earthquake", Crisis.serious, "ko")
    forged = info.model_copy(
        update={
            "parameters": tuple(
                p.model_copy(update={"value": KoreanCategory.EMERGENCY.value})
                if p.value_name == CATEGORY_PARAM
                else p
                for p in info.parameters
            )
        }
    )
    assert category_of(forged, POLICY) is KoreanCategory.URGENT


def test_many_districts_are_summarised_and_all_of_them_are_the_whole_city() -> None:
    many = [Place(f"11{i:03d}", f"{i}구", f"District {i}", None) for i in range(12)]
    assert "서울 12개 구" in (info_of("heavy_rain", Crisis.alert, "ko", places=many).headline or "")
    assert "12 districts of Seoul" in (info_of("heavy_rain", Crisis.alert, "en", places=many).headline or "")
    every = [Place(f"11{i:03d}", f"{i}구", f"District {i}", None) for i in range(25)]
    assert "서울 전역" in (info_of("heat_wave", Crisis.caution, "ko", places=every).headline or "")
    assert "all of Seoul" in (info_of("heat_wave", Crisis.caution, "en", places=every).headline or "")


def test_a_text_without_its_hazard_or_action_or_over_its_limit_has_problems() -> None:
    info = info_of("heavy_rain", Crisis.alert, "ko")
    ess = texts.essentials(info, WORDS["ko"])
    assert texts.problems("[서울특별시] 호우경보, 대피하십시오.", ess, 90) == []
    assert any("hazard" in p for p in texts.problems("[서울특별시] 대피하십시오.", ess, 90))
    assert any("action" in p for p in texts.problems("[서울특별시] 호우경보 발령.", ess, 90))
    assert any("too long" in p for p in texts.problems("호우 대피하십시오 " + "가" * 90, ess, 90))
    # 157 characters only for 안전안내문자, and only where the city enables it; 위급/긴급 stay at 90
    assert texts.Limits(urgent=157, safety=157).of(KoreanCategory.URGENT) == 90
    assert texts.Limits(urgent=90, safety=157).of(KoreanCategory.SAFETY) == 157


def test_korean_and_english_must_say_the_same() -> None:
    ko, en = info_of("heavy_rain", Crisis.alert, "ko"), info_of("heavy_rain", Crisis.alert, "en")
    ess = {"ko": texts.essentials(ko, WORDS["ko"]), "en": texts.essentials(en, WORDS["en"])}
    same = {
        "ko": "[서울특별시] 호우경보, 대피하십시오. 3시간 96.5 mm.",
        "en": "[Seoul] Heavy rain: evacuate now. 96.5 mm in 3 h.",
    }
    assert texts.disagreements(same, ess) == []
    differ = {
        "ko": "[서울특별시] 호우경보, 대피하십시오. 3시간 96.5 mm.",
        "en": "[Seoul] Heavy rain: evacuate now. 69.5 mm in 3 h.",
    }
    (warning,) = texts.disagreements(differ, ess)
    assert "96.5" in warning and "69.5" in warning
    missing = {"ko": same["ko"], "en": "[Seoul] Heavy rain, 96.5 mm in 3 hours."}
    assert texts.disagreements(missing, ess) == ["en: the action is not said (evacuate now)"]


def test_a_short_text_for_many_districts_says_how_many_not_each_name() -> None:
    many = [Place(f"11{i:03d}", f"{i}구", f"District {i}", None) for i in range(12)]
    for lang, where in (("ko", "서울 12개 구"), ("en", "12 districts of Seoul")):
        info = info_of("heavy_rain", Crisis.alert, lang, places=many)
        assert len(info.areas[0].area_desc.split(", ")) == 12  # the CAP area still names each
        category = category_of(info, POLICY)
        text = texts.compose(info, WORDS[lang], category, LIMITS.of(category), POLICY, SENDER[lang])
        assert where in text, text


def test_a_cancel_whose_areas_keep_a_lower_alert_says_lowered_not_all_clear() -> None:
    for lang, word, never in (("ko", "하향", "해제"), ("en", "lowered", "all clear")):
        info = info_of("heavy_rain", Crisis.serious, lang, "Cancel", lowered=True)
        text = texts.compose(info, WORDS[lang], KoreanCategory.SAFETY, 90, POLICY, SENDER[lang])
        assert word in text and never not in text, text


def test_a_structure_at_collapse_danger_is_an_evacuation_of_its_cordon() -> None:
    assert response_for("facility", Crisis.alert) == "Avoid"  # a failing structure: keep away
    assert response_for("facility", Crisis.serious) == "Evacuate"  # collapse danger: leave the cordon
    assert POLICY.category("facility", Crisis.serious, "Evacuate") is KoreanCategory.URGENT
    info = info_of("facility", Crisis.serious, "ko", centre=(126.97, 37.56))
    text = texts.compose(info, WORDS["ko"], KoreanCategory.URGENT, 90, POLICY, "[서울특별시]")
    assert "대피하십시오" in text and "반경 0.5km" in text, text
