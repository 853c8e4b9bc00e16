# SPDX-License-Identifier: Apache-2.0
"""The CAP 1.2 model: required elements, enumerations and the rules of the standard's data dictionary."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from safecity.warning.cap import (
    Alert,
    Area,
    CapJsonError,
    Category,
    Info,
    MsgType,
    Reference,
    Scope,
    Severity,
    Status,
    Urgency,
    format_cap_datetime,
    from_json,
    parse_circle,
    polygon_points,
    reference_to,
    to_json,
)
from tests.warning.cap_data import DONGJAK_POLYGON, T0, seoul_heavy_rain


def errors_of(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return "\n".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.value.errors())


def test_enumerations_are_the_standards() -> None:
    assert [s.value for s in Status] == ["Actual", "Exercise", "System", "Test", "Draft"]
    assert [m.value for m in MsgType] == ["Alert", "Update", "Cancel", "Ack", "Error"]
    assert [s.value for s in Scope] == ["Public", "Restricted", "Private"]
    assert len(Category) == 12 and Category.CBRNE.value == "CBRNE"
    assert [u.value for u in Urgency] == ["Immediate", "Expected", "Future", "Past", "Unknown"]
    assert [s.value for s in Severity] == ["Extreme", "Severe", "Moderate", "Minor", "Unknown"]


def test_python_names_and_cap_names() -> None:
    alert = seoul_heavy_rain()
    dumped = alert.model_dump(by_alias=True)
    assert dumped["msgType"] is MsgType.ALERT and "msg_type" not in dumped
    assert dumped["info"][0]["senderName"] == "서울특별시"
    assert dumped["info"][0]["area"][0]["geocode"][0] == {"valueName": "KR.SIG", "value": "11590"}
    again = Alert.model_validate(dumped)
    assert again == alert


def test_model_is_frozen_and_closed() -> None:
    alert = seoul_heavy_rain()
    with pytest.raises(ValidationError):
        alert.identifier = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="nonsense"):
        Alert.model_validate({**alert.model_dump(by_alias=True), "nonsense": 1})


@pytest.mark.parametrize("bad", ["has space", "a,b", "a<b", "a&b", "tab\there", ""])
@pytest.mark.parametrize("field", ["identifier", "sender"])
def test_identifier_and_sender_forbid_spaces_commas_and_restricted_characters(field: str, bad: str) -> None:
    with pytest.raises(ValidationError) as exc:
        seoul_heavy_rain(**{field: bad})
    assert errors_of(exc).startswith(field)


def test_date_times_must_be_aware_and_lose_fractions() -> None:
    with pytest.raises(ValidationError) as exc:
        seoul_heavy_rain(sent=datetime(2022, 8, 8, 21, 0))
    assert "sent" in errors_of(exc) and "timezone" in errors_of(exc)
    alert = seoul_heavy_rain(sent=T0.replace(microsecond=123456))
    assert alert.sent == T0 and alert.sent.microsecond == 0


def test_date_time_format() -> None:
    assert format_cap_datetime(T0) == "2022-08-08T21:00:00+09:00"
    minus5 = datetime(2003, 4, 2, 14, 39, 1, 999, tzinfo=timezone(timedelta(hours=-5)))
    assert format_cap_datetime(minus5) == "2003-04-02T14:39:01-05:00"
    with pytest.raises(ValueError, match="aware"):
        format_cap_datetime(datetime(2022, 8, 8))


def test_restriction_and_addresses_follow_scope() -> None:
    with pytest.raises(ValidationError, match="restriction: required when scope is Restricted"):
        seoul_heavy_rain(scope=Scope.RESTRICTED)
    with pytest.raises(ValidationError, match="addresses: required when scope is Private"):
        seoul_heavy_rain(scope=Scope.PRIVATE, addresses="   ")
    assert seoul_heavy_rain(scope=Scope.RESTRICTED, restriction="재난안전대책본부 한정").restriction
    private = seoul_heavy_rain(scope=Scope.PRIVATE, addresses='ops@seoul "동작구 상황실"')
    assert private.addresses_list == ["ops@seoul", "동작구 상황실"]


@pytest.mark.parametrize("msg_type", [MsgType.UPDATE, MsgType.CANCEL, MsgType.ACK, MsgType.ERROR])
def test_update_and_cancel_need_references(msg_type: MsgType) -> None:
    with pytest.raises(ValidationError, match=f"references: required when msgType is {msg_type.value}"):
        seoul_heavy_rain(identifier="seoul-2", msg_type=msg_type)


def test_references_point_to_earlier_messages() -> None:
    first = seoul_heavy_rain()
    second = seoul_heavy_rain(identifier="seoul-2", sent=T0 + timedelta(minutes=30))
    ref = reference_to(first)
    assert ref == "alert@safecity.seoul.go.kr,seoul-2022-0808-0001,2022-08-08T21:00:00+09:00"
    cancel = seoul_heavy_rain(
        identifier="seoul-3", msg_type=MsgType.CANCEL, references=f"{ref} {reference_to(second)}"
    )
    assert cancel.references_list == [
        Reference(first.sender, first.identifier, T0),
        Reference(second.sender, "seoul-2", T0 + timedelta(minutes=30)),
    ]
    with pytest.raises(ValidationError) as exc:
        seoul_heavy_rain(identifier="seoul-4", msg_type=MsgType.UPDATE, references="sender,only-two")
    assert errors_of(exc).startswith("references") and "sender,identifier,sent" in errors_of(exc)
    with pytest.raises(ValidationError, match="not a CAP date-time"):
        seoul_heavy_rain(identifier="seoul-4", msg_type=MsgType.UPDATE, references="s,i,yesterday")


def test_polygon_rules() -> None:
    assert polygon_points(DONGJAK_POLYGON)[0] == (37.514, 126.905)
    with pytest.raises(ValueError, match="at least 4"):
        polygon_points("37,126 37,127 37,126")
    with pytest.raises(ValueError, match="closed"):
        polygon_points("37,126 37,127 38,127 38,126")
    with pytest.raises(ValueError, match="vertex 2"):
        polygon_points("37,126 95,127 38,127 37,126")
    with pytest.raises(ValidationError) as exc:
        Area(area_desc="x", polygons=("37,126 37,127 38,127 38,126",))
    assert errors_of(exc).startswith("polygons.0")  # built by Python name


def test_circle_rules() -> None:
    assert parse_circle("37.4784,126.9516 2.5").radius_km == 2.5
    for bad, why in [
        ("37.4,126.9", "not a circle"),
        ("37.4,126.9 -1", "negative"),
        ("37.4;126.9 1", "lat,lon"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_circle(bad)
    with pytest.raises(ValidationError) as exc:
        Area(area_desc="x", circles=("37.4,126.9 km",))
    assert errors_of(exc).startswith("circles.0")


def test_altitude_and_ceiling() -> None:
    assert Area(area_desc="x", altitude=Decimal("100")).altitude == Decimal("100")
    with pytest.raises(ValidationError, match="ceiling: may only be given together with altitude"):
        Area(area_desc="x", ceiling=Decimal("100"))
    with pytest.raises(ValidationError, match="ceiling: 10 is below altitude 100"):
        Area(area_desc="x", altitude=Decimal("100"), ceiling=Decimal("10"))


def test_info_needs_a_category_and_the_required_elements() -> None:
    info = seoul_heavy_rain().infos[0]
    with pytest.raises(ValidationError) as exc:
        Info.model_validate({**info.model_dump(by_alias=True), "category": []})
    assert errors_of(exc).startswith("category")
    data = info.model_dump(by_alias=True)
    del data["certainty"]
    with pytest.raises(ValidationError) as exc:
        Info.model_validate(data)
    assert errors_of(exc) == "certainty: Field required"
    assert info.effective_language == "ko-KR"
    assert (
        Info.model_validate({**data, "certainty": "Observed", "language": None}).effective_language == "en-US"
    )


def test_language_is_an_rfc3066_code() -> None:
    info = seoul_heavy_rain().infos[0]
    with pytest.raises(ValidationError, match="language"):
        Info.model_validate({**info.model_dump(by_alias=True), "language": "Korean language"})


def test_json_round_trip_is_identical() -> None:
    alert = seoul_heavy_rain(sent=T0.replace(microsecond=5))
    data = to_json(alert)
    assert data["sent"] == "2022-08-08T21:00:00+09:00"
    assert data["msgType"] == "Alert" and data["note"] == ""
    assert data["info"][0]["category"] == ["Met", "Safety"]
    assert data["info"][0]["area"][1]["circle"] == ["37.4784,126.9516 2.5"]
    assert data["info"][0]["area"][1]["ceiling"] == "500.5"
    assert data["info"][0]["resource"][0]["size"] == 20480
    assert "restriction" not in data and "Signature" not in data  # absent elements are absent keys
    text = json.dumps(data, ensure_ascii=False)
    back = from_json(json.loads(text))
    assert back == alert
    assert to_json(back) == data


def test_json_errors_name_the_element() -> None:
    data = to_json(seoul_heavy_rain())
    data["info"][0]["area"][0]["polygon"] = ["37,126 37,127 38,127 38,126"]
    with pytest.raises(CapJsonError) as exc:
        from_json(data)
    assert exc.value.where == "info.0.area.0.polygon.0"
    assert "closed" in exc.value.message
    with pytest.raises(CapJsonError, match="msg_type"):
        # Python names are not part of the JSON rendition.
        from_json(
            {**{k: v for k, v in to_json(seoul_heavy_rain()).items() if k != "msgType"}, "msg_type": "Alert"}
        )


def test_utc_now_style_values_are_accepted() -> None:
    now = datetime.now(UTC)
    assert seoul_heavy_rain(sent=now).sent == now.replace(microsecond=0)
