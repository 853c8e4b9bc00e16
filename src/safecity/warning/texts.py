# SPDX-License-Identifier: Apache-2.0
"""The short texts (재난문자, cell broadcast, SMS) of the platform's alerts, and their checks.

Layout, hazard and action first (what a person must grasp in the first words on a lock screen)::

    [서울특별시] 호우경보, 대피하십시오 [Heavy Rain] Evacuate. 동작구, 관악구. 지하공간에서 즉시 밖으로...

* the sender: short and configurable ("[서울특별시]"), per language;
* the hazard (the rule's stage, e.g. 호우경보, which names the hazard; else the hazard word) and the action;
* in a 위급/긴급재난문자, the English key terms of the hazard and action (행정안전부, since February 2024;
  see ``policy.toml`` [R4]) in the Korean text;
* where: the areas by name, "서울 12개 구" or "서울 전역" (see :func:`safecity.warning.drafting.place_text`);
* then the instruction's sentences, in order, as long as they fit.

Limits per category (:class:`Limits`): 90 characters for 위급/긴급 (older phones), 157 for 안전안내문자
only where a city enables it (행정안전부 2026-02-26, ``policy.toml`` [R3]).

A text missing its hazard word or its action, or over its limit, has a *problem*
(:func:`problems`): it blocks automatic issue and is shown to the operator. :func:`disagreements` warns
when the Korean and English texts do not say the same (different numbers, a missing hazard or action).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from safecity.warning.cap.model import Info
from safecity.warning.korea import KoreanCategory, check_short_text
from safecity.warning.policy import Policy
from safecity.warning.wording import Wording

_WS = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
#: Longest stage name a short text leads with (else "<hazard> <level>", e.g. "호우 경계").
MAX_STAGE = 20
#: Cancel texts say the warning is over: the "action" a Cancel must carry.
CANCEL_ACTION = {"ko": "해제", "en": "all clear"}
#: ... and a Cancel whose areas keep a lower alert says it was lowered.
LOWERED_ACTION = {"ko": "하향", "en": "lowered"}


@dataclass(frozen=True)
class Limits:
    """Characters per category. 위급/긴급 stay at 90 whatever a city sets (older phones cannot show more)."""

    urgent: int = 90
    safety: int = 90

    def of(self, category: KoreanCategory) -> int:
        if category is KoreanCategory.SAFETY:
            return self.safety
        return min(self.urgent, 90)


@dataclass(frozen=True)
class Essentials:
    """The words a short text must contain: the hazard (any of its names) and the action."""

    hazard: tuple[str, ...]
    action: str


def _clean(text: str | None) -> str:
    return _WS.sub(" ", text or "").strip()


def _param(info: Info, name: str) -> str | None:
    return next((p.value for p in info.parameters if p.value_name == name), None)


def essentials(info: Info, words: Wording) -> Essentials:
    hazard = _param(info, "SAFECITY_HAZARD") or "other"
    names = {words.hazard(hazard)}
    response = info.response_types[0].value if info.response_types else "Monitor"
    if response == "AllClear":
        table = LOWERED_ACTION if _param(info, "SAFECITY_LOWERED") == "true" else CANCEL_ACTION
        action = table.get(words.lang, table["en"])
    else:
        action = words.actions.get(response, "")
    return Essentials(tuple(n for n in names if n), action)


def _contains(text: str, word: str) -> bool:
    return word.casefold() in text.casefold()


def compose(
    info: Info,
    words: Wording,
    category: KoreanCategory,
    limit: int,
    policy: Policy,
    sender: str = "",
) -> str:
    """The short text of one CAP <info> block (see the module doc)."""
    ess = essentials(info, words)
    hazard = ess.hazard[0] if ess.hazard else ""
    level = words.levels.get(_param(info, "SAFECITY_CRISIS_LEVEL") or "", "")
    stage = _clean((_param(info, "SAFECITY_STAGE") or "").split("(")[0])
    if not stage or len(stage) > MAX_STAGE or (hazard and not _contains(stage, hazard)):
        # a long or foreign stage name would push the action out of the first words
        stage = f"{hazard} {level}".strip()
    stage = stage[:1].upper() + stage[1:]
    lead = f"{stage}, {ess.action}" if ess.action else stage
    if words.lang == "ko" and category is not KoreanCategory.SAFETY:
        key = policy.of(_param(info, "SAFECITY_HAZARD") or "other").key_en
        response = info.response_types[0].value if info.response_types else ""
        act = policy.action_en.get(response, "")
        lead = f"{lead} [{key}] {act}".rstrip()
    head = " ".join(p for p in (sender, lead) if p) + "."
    area = _clean(_param(info, "SAFECITY_PLACE")) or ", ".join(
        a for a in (_clean(x.area_desc) for x in info.areas) if a
    )
    text = f"{head} {area}." if area and len(f"{head} {area}.") <= limit else head
    for sentence in (s for s in _SENTENCE_END.split(_clean(info.instruction)) if s):
        trial = f"{text} {sentence}"
        if len(trial) > limit:
            break
        text = trial
    return text


def problems(text: str, ess: Essentials, limit: int) -> list[str]:
    """What stops ``text`` going out automatically: the network's limits (length, characters) and a
    missing hazard word or action."""
    out = check_short_text(text, limit)
    if ess.hazard and not any(_contains(text, h) for h in ess.hazard):
        out.append(f"the hazard is missing: the text must name it ({' / '.join(ess.hazard)})")
    if ess.action and not _contains(text, ess.action):
        out.append(f"the action is missing: the text must say it ({ess.action})")
    return out


def disagreements(texts: Mapping[str, str], essentials_of: Mapping[str, Essentials]) -> list[str]:
    """Where the texts in different languages do not say the same: numbers (times, amounts, levels) in
    one and not the other, or a hazard or action one states and another leaves out. Warnings for the
    operator composing or editing an alert; empty when they agree."""
    out: list[str] = []
    numbers = {lang: sorted(_NUMBER.findall(t)) for lang, t in texts.items()}
    langs = sorted(texts)
    for i, a in enumerate(langs):
        for b in langs[i + 1 :]:
            if numbers[a] != numbers[b]:
                only_a = sorted(set(numbers[a]) - set(numbers[b]))
                only_b = sorted(set(numbers[b]) - set(numbers[a]))
                detail = (
                    "; ".join(
                        f"only {lang}: {', '.join(ns)}" for lang, ns in ((a, only_a), (b, only_b)) if ns
                    )
                    or "the same numbers a different number of times"
                )
                out.append(f"{a} and {b} give different numbers ({detail})")
    for lang, text in texts.items():
        ess = essentials_of.get(lang)
        if ess is None:
            continue
        if ess.hazard and not any(_contains(text, h) for h in ess.hazard):
            out.append(f"{lang}: the hazard is not named ({' / '.join(ess.hazard)})")
        if ess.action and not _contains(text, ess.action):
            out.append(f"{lang}: the action is not said ({ess.action})")
    return out
