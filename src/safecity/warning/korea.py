# SPDX-License-Identifier: Apache-2.0
"""Korean disaster text messages (재난문자방송): the three categories and a cell-broadcast rendition of a
CAP alert.

Legal basis: 「재난 및 안전관리 기본법」 제38조의2 and the 행정안전부 예규 「재난문자방송 기준 및 운영규정」
(the version seen: 행정안전부예규 제159호, 시행 2021-04-15, as reproduced at https://vcac.tistory.com/43 from
mois.go.kr). The three categories and their alert tones, as confirmed from public sources:

- 위급재난문자: "전시사항, 공습경보, 규모 6.0 이상의 지진 등 국가적인 위기 상황일 때 송출" (행정안전부
  보도자료 2023-05-07, "재난문자, 국민 생활에 맞게 송출기준 개선한다"); alert tone ≥ 60 dB and it cannot be
  refused by the receiver (국민안전처 보도자료 2016-01-11, "긴급재난문자 경보음 위급정도 따라 크기 달라진다",
  gongu.copyright.or.kr). A 2026-02-26 행정안전부 announcement widens it to large disasters at the local
  government's discretion (국민일보, 아시아경제 2026-02-26).
- 긴급재난문자: "태풍, 화재 등 자연·사회재난 발생시 재난지역 주변에 위험 사항을 알리기 위해 송출" (same
  2023 release); alert tone ≥ 40 dB (2016 release); the receiver may switch it off.
- 안전안내문자: "겨울철 안전운전 등 안전주의를 요하는 경우 송출" (same 2023 release); the phone's normal
  notification setting (silent/vibrate allowed; 2016 release).

UNCONFIRMED: the article numbers inside the 운영규정 that define the categories and the dB values (the
sources above are press releases, not the 예규 text); the character set used on the air (see
:func:`check_short_text`).

Length: a message is limited to 90 characters; 행정안전부 is piloting 157 characters (pilot widened
2026-02-26, nationwide planned for 2026-10 per the same announcement). The limit is therefore a parameter.

Mapping CAP to a category is our policy, not the regulation's: the regulation classifies by event
(air raid, magnitude ≥ 6.0 earthquake...), CAP by severity and urgency. See :func:`category_for`.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from safecity.warning.cap.model import Alert, Info, Severity, Urgency

#: <geocode> valueName this platform uses for the 5-digit 시군구 code (e.g. 11590 동작구). A platform
#: convention: no Korean CAP profile with registered valueNames was found (UNCONFIRMED).
SIGUNGU_GEOCODE = "KR.SIG"

#: Default cell-broadcast length, and the length of the 157-character pilot (행정안전부 2026-02-26).
DEFAULT_MAX_CHARS = 90
PILOT_MAX_CHARS = 157


class KoreanCategory(StrEnum):
    """The three 재난문자 categories of the 재난문자방송 기준 및 운영규정 (행정안전부)."""

    EMERGENCY = "위급재난문자"
    URGENT = "긴급재난문자"
    SAFETY = "안전안내문자"

    @property
    def name_ko(self) -> str:
        return self.value

    @property
    def name_en(self) -> str:
        return _EN[self]

    @property
    def alert_tone(self) -> str:
        """The handset tone: 60 dB / 40 dB siren-like tone or the normal ring (2016 release above)."""
        return _TONE[self]

    @property
    def can_opt_out(self) -> bool:
        """Whether a receiver may refuse this category on the handset (위급: no)."""
        return self is not KoreanCategory.EMERGENCY


_EN = {
    KoreanCategory.EMERGENCY: "Emergency alert (national crisis: war, air raid, earthquake M6.0+)",
    KoreanCategory.URGENT: "Urgent disaster alert",
    KoreanCategory.SAFETY: "Public safety guidance",
}
_TONE = {
    KoreanCategory.EMERGENCY: "alert tone >= 60 dB",
    KoreanCategory.URGENT: "alert tone >= 40 dB",
    KoreanCategory.SAFETY: "normal notification (receiver's setting)",
}


def category_for(severity: Severity, urgency: Urgency) -> KoreanCategory:
    """The 재난문자 category for a CAP severity and urgency.

    Policy: Extreme + Immediate (threat to life now, national-crisis level) -> 위급재난문자;
    Severe or Extreme with Immediate or Expected (act now or within the hour, e.g. evacuation) ->
    긴급재난문자; everything else (Moderate/Minor/Unknown, Future/Past/Unknown) -> 안전안내문자.
    An operator may still choose a higher category; this gives the default.
    """
    if severity is Severity.EXTREME and urgency is Urgency.IMMEDIATE:
        return KoreanCategory.EMERGENCY
    if severity in (Severity.EXTREME, Severity.SEVERE) and urgency in (Urgency.IMMEDIATE, Urgency.EXPECTED):
        return KoreanCategory.URGENT
    return KoreanCategory.SAFETY


# --- the cell-broadcast text ---------------------------------------------------------------------------

_WS = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+")
_ELLIPSIS = "…"


def _clean(text: str | None) -> str:
    return _WS.sub(" ", text or "").strip()


def _pick_info(alert: Alert, lang: str) -> Info:
    if not alert.infos:
        raise ValueError(f"alert {alert.identifier} has no <info>: there is nothing to broadcast")
    want = lang.lower()
    for info in alert.infos:
        code = info.effective_language.lower()
        if code == want or code.startswith(want + "-"):
            return info
    return alert.infos[0]


def _truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, at a word boundary, ending with '…'."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return _ELLIPSIS[:limit]
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= (limit - 1) // 2:  # a boundary in the second half: use it; else cut inside the word
        cut = cut[:space]
    return cut.rstrip(" ,.;:·") + _ELLIPSIS


def _render(prefix: str, headline: str, area: str, sentences: list[str]) -> str:
    head = headline
    if area:
        head = f"{head} ({area})" if head else area
    body = " ".join(sentences)
    if head and body and head[-1] not in ".!?。":
        head += "."
    return " ".join(p for p in (prefix, head, body) if p)


def short_text(alert: Alert, lang: str = "ko", max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """A cell-broadcast (재난문자) rendition of ``alert``, at most ``max_chars`` Python characters.

    Layout: ``[발송기관] 헤드라인 (지역). 행동요령`` where
    - the prefix is ``[<senderName>]`` of the chosen <info> (e.g. ``[서울특별시]``, ``[행정안전부]``), as
      Korean messages begin; without a senderName there is no prefix (the CAP sender id means nothing to
      a citizen);
    - the category tag (``[긴급재난문자]``...) is NOT written: the handset shows it from the broadcast
      channel the network sends on, so writing it would spend characters twice;
    - the headline is <headline> (or <event> when there is none); the area is the <areaDesc>s joined with
      ", ", left out when the headline already names it;
    - the instruction is <instruction>, sentence by sentence.
    The <info> in ``lang`` is used (``"ko"`` matches ``ko-KR``), else the first. Whitespace is collapsed.
    When everything does not fit, parts are kept in priority order (first instruction sentence, area,
    further sentences, each sentence only after the one before it) as long as they fit; only a headline that alone is too long is cut, at a word
    boundary, with '…'. Raises ``ValueError`` if the alert has no <info> or ``max_chars`` < 1.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    info = _pick_info(alert, lang)
    prefix = f"[{_clean(info.sender_name)}]" if _clean(info.sender_name) else ""
    headline = _clean(info.headline) or _clean(info.event)
    area = ", ".join(a for a in (_clean(x.area_desc) for x in info.areas) if a)
    if area and area in headline:
        area = ""
    sentences = [s for s in _SENTENCE_END.split(_clean(info.instruction)) if s]

    base = _render(prefix, headline, "", [])
    if len(base) > max_chars:
        # The headline alone does not fit: keep the prefix if it leaves room, cut the headline.
        room = max_chars - (len(prefix) + 1 if prefix else 0)
        if room < 10:
            prefix, room = "", max_chars
        return _render(prefix, _truncate(headline, room), "", [])

    chosen_area = ""
    chosen: list[int] = []
    candidates: list[tuple[str, int]] = []
    if sentences:
        candidates.append(("sentence", 0))
    if area:
        candidates.append(("area", -1))
    candidates += [("sentence", i) for i in range(1, len(sentences))]
    for kind, i in candidates:
        if kind == "sentence" and i != len(chosen):
            continue  # sentences are kept in order: a later one never stands in for an earlier one
        trial_area = area if kind == "area" else chosen_area
        trial = [*chosen, i] if kind == "sentence" else chosen
        text = _render(prefix, headline, trial_area, [sentences[k] for k in trial])
        if len(text) <= max_chars:
            chosen_area, chosen = trial_area, trial
    return _render(prefix, headline, chosen_area, [sentences[k] for k in chosen])


# Characters the network is assumed unable to carry. ASSUMPTION (UNCONFIRMED for Korean operators):
# cell broadcast carries Korean text in the UCS-2 alphabet of 3GPP TS 23.038, i.e. only the Basic
# Multilingual Plane, so code points above U+FFFF (most emoji, rare CJK) cannot be sent. BMP pictographs
# (U+2600-U+27BF), emoji selectors/joiners, private-use and unassigned code points and control characters
# other than line breaks are flagged too: handsets render them inconsistently or not at all.
_PICTOGRAPHS = range(0x2600, 0x27C0)
_EMOJI_FORMAT = {0x200D, 0xFE0E, 0xFE0F, 0x20E3}


def _unsupported(ch: str) -> str | None:
    cp = ord(ch)
    if ch in "\n\r":
        return None
    if cp > 0xFFFF:
        return "outside the Basic Multilingual Plane (UCS-2 cannot carry it; e.g. emoji)"
    if cp in _PICTOGRAPHS or cp in _EMOJI_FORMAT:
        return "emoji or pictograph"
    category = unicodedata.category(ch)
    if category == "Co":
        return "private-use character"
    if category == "Cn":
        return "unassigned code point"
    if category in ("Cc", "Cf"):
        return "control or format character"
    return None


def check_short_text(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
    """Problems that would stop ``text`` going out as one cell-broadcast message; empty means fine.

    Checks: empty (or only whitespace); longer than ``max_chars`` Python characters; characters the
    network is assumed unable to carry (see the module's ASSUMPTION note), each named with its code point.
    """
    problems: list[str] = []
    if not text.strip():
        problems.append("empty: the message has no text")
    if len(text) > max_chars:
        problems.append(f"too long: {len(text)} characters, the limit is {max_chars}")
    seen: set[str] = set()
    for ch in text:
        if ch in seen:
            continue
        seen.add(ch)
        why = _unsupported(ch)
        if why:
            problems.append(f"unsupported character {ch!r} (U+{ord(ch):04X}): {why}")
    return problems
