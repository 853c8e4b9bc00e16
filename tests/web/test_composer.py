# SPDX-License-Identifier: Apache-2.0
"""What the dashboard's alert composer relies on: the cell-broadcast preview of each language with its
length against ``warning.cb.max_chars``, the operator's own short text (checked, then sent), and cancelling an
issued alert with a CAP Cancel that references it. On both stores, with the CAP 1.2 schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from safecity.settings import CellBroadcastSettings, Settings
from safecity.warning.cap.xml import from_xml, validate
from tests.warning.test_alert_api import XSD, Ctx, _ctx


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Ctx]:
    yield from _ctx(
        settings.model_copy(update={"cap_xsd": XSD}).with_warning(cb=CellBroadcastSettings(max_chars=90))
    )


def test_the_composer_previews_and_edits_the_short_text(ctx: Ctx) -> None:
    ctx.incident(3, ["11590"])
    (draft,) = ctx.drafts()
    ident = draft["identifier"]
    full = ctx.client.get(f"/alerts/{ident}", headers=ctx.headers).json()
    assert full["cbMaxChars"] == 90 and set(full["shortTexts"]) == {"ko", "en"}
    ko = full["shortTexts"]["ko"]
    assert 0 < ko["chars"] == len(ko["text"]) <= 90 and ko["problems"] == [] and ko["edited"] is False
    assert "동작구" in ko["text"]

    # too long, or an emoji: refused, naming the field; nothing changes
    r = ctx.client.patch(f"/alerts/{ident}", json={"ko": {"short": "가" * 91}}, headers=ctx.headers)
    assert r.status_code == 400 and r.json()["where"] == "ko.short" and "91" in r.json()["message"]
    r = ctx.client.patch(f"/alerts/{ident}", json={"en": {"short": "Flood 🌊 now"}}, headers=ctx.headers)
    assert r.status_code == 400 and r.json()["where"] == "en.short"
    assert ctx.client.get(f"/alerts/{ident}", headers=ctx.headers).json()["shortTexts"]["ko"] == ko

    mine = "[서울특별시] 동작구 호우경보. 저지대·지하 공간에서 즉시 벗어나 높은 곳으로 대피하십시오."
    r = ctx.client.patch(
        f"/alerts/{ident}", json={"ko": {"short": mine, "headline": "동작구 호우경보"}}, headers=ctx.headers
    )
    assert r.status_code == 200, r.text
    edited = r.json()["shortTexts"]["ko"]
    assert edited == {
        "text": mine,
        "chars": len(mine),
        "max": 90,
        "category": "긴급재난문자",  # the limit is the category's (an evacuation order: 긴급, 90)
        "edited": True,
        "problems": [],
    }
    assert r.json()["shortTexts"]["en"]["edited"] is False

    # the draft is still valid CAP 1.2, the edit travels as a <parameter>, and the SMS carries it
    assert validate(ctx.platform.warnings.xml(ident), XSD) == []  # a draft's XML is not public
    assert ctx.client.post(f"/alerts/{ident}/approve", json={}, headers=ctx.headers).status_code == 200
    issued = from_xml(ctx.client.get(f"/alerts/{ident}.xml").content)
    info = next(i for i in issued.infos if (i.language or "").startswith("ko"))
    assert any(p.value_name == "SAFECITY_CB_TEXT" and p.value == mine for p in info.parameters)
    assert ctx.platform.warnings._message(issued, b"", "general").texts["ko"].short_text == mine
    # an issued alert is no longer editable
    r = ctx.client.patch(f"/alerts/{ident}", json={"ko": {"short": "다른 문자"}}, headers=ctx.headers)
    assert r.status_code == 409


def test_an_operator_cancels_an_issued_alert(ctx: Ctx) -> None:
    ctx.incident(3, ["11590"])
    (draft,) = ctx.drafts()
    ident = draft["identifier"]
    url = f"/alerts/{ident}/cancel"
    # a draft cannot be cancelled (it is rejected instead)
    assert ctx.client.post(url, json={"reason": "오보"}, headers=ctx.headers).status_code == 409
    ctx.client.post(f"/alerts/{ident}/approve", json={}, headers=ctx.headers)
    assert ctx.client.get("/alerts/current", params={"district": "11590"}).json()["warnings"]
    r = ctx.client.post(url, json={"reason": " "}, headers=ctx.headers)
    assert r.status_code == 400 and r.json()["where"] == "reason"
    assert ctx.client.post(url, json={"reason": "x"}).status_code == 401

    r = ctx.client.post(url, json={"reason": "강우 레이더 오류로 잘못 발령"}, headers=ctx.headers)
    assert r.status_code == 200, r.text
    cancel = r.json()
    assert cancel["msgType"] == "Cancel" and cancel["state"] == "issued"
    assert cancel["decidedBy"] == "duty-officer" and cancel["districts"] == ["11590"]
    assert ident in (cancel["references"] or "")
    xml = ctx.client.get(f"/alerts/{cancel['identifier']}.xml").content
    assert validate(xml, XSD) == []
    doc = from_xml(xml)
    assert doc.note == "강우 레이더 오류로 잘못 발령" and doc.msg_type.value == "Cancel"
    # the citizen page no longer shows it; cancelling again (or the Cancel itself) is refused
    assert ctx.client.get("/alerts/current", params={"district": "11590"}).json()["warnings"] == []
    assert ctx.client.post(url, json={"reason": "again"}, headers=ctx.headers).status_code == 409
    again = ctx.client.post(
        f"/alerts/{cancel['identifier']}/cancel", json={"reason": "x"}, headers=ctx.headers
    )
    assert again.status_code == 409
    assert (
        ctx.client.post("/alerts/nope/cancel", json={"reason": "x"}, headers=ctx.headers).status_code == 404
    )
