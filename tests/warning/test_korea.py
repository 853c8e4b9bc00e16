# SPDX-License-Identifier: Apache-2.0
"""Korean disaster text messages: the category for a CAP severity/urgency, and the cell-broadcast text."""

from __future__ import annotations

from datetime import timedelta

import pytest

from safecity.warning.cap import Alert, Area, Info, Severity, Urgency, ValuePair
from safecity.warning.korea import (
    DEFAULT_MAX_CHARS,
    PILOT_MAX_CHARS,
    SIGUNGU_GEOCODE,
    KoreanCategory,
    category_for,
    check_short_text,
    short_text,
)
from tests.warning.cap_data import DONGJAK, T0, seoul_heavy_rain

S, U = Severity, Urgency


@pytest.mark.parametrize(
    ("severity", "urgency", "expected"),
    [
        (S.EXTREME, U.IMMEDIATE, KoreanCategory.EMERGENCY),
        (S.EXTREME, U.EXPECTED, KoreanCategory.URGENT),
        (S.SEVERE, U.IMMEDIATE, KoreanCategory.URGENT),
        (S.SEVERE, U.EXPECTED, KoreanCategory.URGENT),
        (S.SEVERE, U.FUTURE, KoreanCategory.SAFETY),
        (S.EXTREME, U.PAST, KoreanCategory.SAFETY),
        (S.MODERATE, U.IMMEDIATE, KoreanCategory.SAFETY),
        (S.MINOR, U.EXPECTED, KoreanCategory.SAFETY),
        (S.UNKNOWN, U.UNKNOWN, KoreanCategory.SAFETY),
    ],
)
def test_category_for(severity: Severity, urgency: Urgency, expected: KoreanCategory) -> None:
    assert category_for(severity, urgency) is expected


def test_categories_carry_names_and_tones() -> None:
    assert [c.name_ko for c in KoreanCategory] == ["위급재난문자", "긴급재난문자", "안전안내문자"]
    assert KoreanCategory.EMERGENCY.alert_tone.endswith("60 dB")
    assert KoreanCategory.URGENT.alert_tone.endswith("40 dB")
    assert not KoreanCategory.EMERGENCY.can_opt_out and KoreanCategory.SAFETY.can_opt_out
    assert all(c.name_en for c in KoreanCategory)


def realistic_heavy_rain() -> Alert:
    """A 호우경보 as 서울특별시 would word it: a long instruction, four districts."""
    base = seoul_heavy_rain()
    ko = base.infos[0].model_copy(
        update={
            "headline": "오늘 21시 서울 동남권 호우경보 발효",
            "instruction": (
                "하천변, 산책로, 지하차도, 저지대 등 침수 위험지역에 접근하지 마십시오. "
                "반지하 주택 거주자는 침수에 대비하여 즉시 지상층으로 대피하십시오. "
                "산사태 위험지역 주민은 가까운 대피소로 이동하시고, 외출을 자제하며 "
                "TV·라디오 등 기상정보에 귀 기울여 주시기 바랍니다."
            ),
            "areas": (
                Area(
                    area_desc="강남구, 서초구, 송파구, 강동구",
                    geocodes=(ValuePair(value_name=SIGUNGU_GEOCODE, value="11680"),),
                ),
            ),
            "expires": T0 + timedelta(hours=12),
        }
    )
    return base.model_copy(update={"infos": (ko, base.infos[1])})


def test_short_text_of_a_heavy_rain_warning_fits_90_and_157() -> None:
    alert = realistic_heavy_rain()
    short = short_text(alert, max_chars=DEFAULT_MAX_CHARS)
    pilot = short_text(alert, max_chars=PILOT_MAX_CHARS)
    assert len(short) <= 90 and len(pilot) <= 157
    assert short == (
        "[서울특별시] 오늘 21시 서울 동남권 호우경보 발효. "
        "하천변, 산책로, 지하차도, 저지대 등 침수 위험지역에 접근하지 마십시오."
    )
    assert pilot.startswith(short.replace("발효.", "발효 (강남구, 서초구, 송파구, 강동구)."))
    assert "반지하 주택 거주자는" in pilot and len(pilot) > len(short)
    assert "…" not in short + pilot  # whole parts were dropped, nothing cut
    assert "긴급재난문자" not in pilot  # the category tag is the network's
    assert check_short_text(short, 90) == [] and check_short_text(pilot, 157) == []


def test_short_text_picks_the_language_and_never_exceeds_the_limit() -> None:
    alert = seoul_heavy_rain()
    en = short_text(alert, lang="en", max_chars=157)
    assert en.startswith("[Seoul Metropolitan Government] Heavy rain warning for Dongjak-gu")
    assert short_text(alert, lang="ja").startswith("[서울특별시]")  # no Japanese block: the first
    for limit in range(1, 200):
        assert len(short_text(alert, max_chars=limit)) <= limit


def test_an_overlong_headline_is_cut_at_a_word_boundary() -> None:
    alert = seoul_heavy_rain()
    long_info = alert.infos[0].model_copy(
        update={"headline": "서울 전역 호우경보 발효 " * 10, "instruction": None, "areas": ()}
    )
    text = short_text(alert.model_copy(update={"infos": (long_info,)}), max_chars=40)
    assert len(text) <= 40 and text.endswith("…")
    assert text.startswith("[서울특별시] 서울 전역 호우경보 발효")
    assert text[:-1].split()[-1] in {"서울", "전역", "호우경보", "발효"}  # a whole word before '…'


def test_short_text_needs_an_info_and_a_positive_limit() -> None:
    alert = seoul_heavy_rain()
    with pytest.raises(ValueError, match="no <info>"):
        short_text(alert.model_copy(update={"infos": ()}))
    with pytest.raises(ValueError, match="max_chars"):
        short_text(alert, max_chars=0)


def test_without_sender_name_there_is_no_prefix() -> None:
    alert = seoul_heavy_rain()
    info: Info = alert.infos[0].model_copy(update={"sender_name": None})
    assert short_text(alert.model_copy(update={"infos": (info,)})).startswith("동작구·관악구 호우경보 발효.")


def test_check_short_text() -> None:
    assert check_short_text("[서울특별시] 호우경보 발효. 저지대 접근 금지·외출 자제 (동작구)", 90) == []
    long = "가" * 200
    assert check_short_text(long, 90) == ["too long: 200 characters, the limit is 90"]
    assert check_short_text(long, 157) == ["too long: 200 characters, the limit is 157"]
    assert check_short_text("   ", 90) == ["empty: the message has no text"]
    problems = check_short_text("호우경보 🌧️ ☔ 대피\x07", 90)
    assert any("U+1F327" in p and "Basic Multilingual Plane" in p for p in problems)
    assert any("U+FE0F" in p for p in problems) and any("U+2614" in p for p in problems)
    assert any("U+0007" in p and "control" in p for p in problems)
    assert check_short_text("줄바꿈\n허용", 90) == []


def test_sigungu_geocode() -> None:
    assert seoul_heavy_rain().infos[0].areas[0].geocodes[0] == ValuePair(
        value_name=SIGUNGU_GEOCODE, value=DONGJAK
    )
