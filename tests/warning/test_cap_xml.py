# SPDX-License-Identifier: Apache-2.0
"""CAP 1.2 XML: our alerts are valid against the official OASIS XSD, round-trip exactly, and untrusted
input is read safely with errors that name the element and line."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from safecity.core.errors import ConfigError
from safecity.warning.cap import (
    CAP_NS,
    CapUnsafeXmlError,
    CapXmlError,
    MsgType,
    from_xml,
    parse_many,
    reference_to,
    to_xml,
    validate,
)
from tests.warning.cap_data import SMHI_FEED, T0, XSD, seoul_heavy_rain

_DATETIME_TEXT = re.compile(rb"<(sent|effective|onset|expires)>([^<]*)</")


def test_built_alert_is_valid_against_the_official_xsd() -> None:
    xml = to_xml(seoul_heavy_rain())
    assert validate(xml, XSD) == []
    root = etree.fromstring(xml)
    assert root.tag == f"{{{CAP_NS}}}alert" and root.nsmap == {None: CAP_NS}
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


def test_update_and_cancel_are_valid_and_carry_references() -> None:
    first = seoul_heavy_rain()
    update = seoul_heavy_rain(identifier="seoul-2", msg_type=MsgType.UPDATE, references=reference_to(first))
    cancel = seoul_heavy_rain(
        identifier="seoul-3",
        msg_type=MsgType.CANCEL,
        references=f"{reference_to(first)} {reference_to(update)}",
    )
    for alert in (update, cancel):
        xml = to_xml(alert)
        assert validate(xml, XSD) == []
        assert from_xml(xml).references_list[0].identifier == first.identifier
    assert (
        b"<references>alert@safecity.seoul.go.kr,seoul-2022-0808-0001,2022-08-08T21:00:00+09:00 "
        in to_xml(cancel)
    )


def test_xml_round_trip_is_identical() -> None:
    alert = seoul_heavy_rain()
    xml = to_xml(alert)
    back = from_xml(xml)
    assert back == alert
    assert to_xml(back) == xml


def test_elements_are_written_in_the_xsd_order() -> None:
    root = etree.fromstring(to_xml(seoul_heavy_rain()))
    local = [etree.QName(c).localname for c in root]
    assert local == [
        "identifier", "sender", "sent", "status", "msgType", "source", "scope",
        "code", "note", "incidents", "info", "info",
    ]  # fmt: skip
    info = [etree.QName(c).localname for c in root[-2]]
    assert info[:3] == ["language", "category", "category"]
    assert info[-3:] == ["resource", "area", "area"]
    area = [etree.QName(c).localname for c in root[-2][-1]]
    assert area == ["areaDesc", "circle", "geocode", "altitude", "ceiling"]


def test_date_times_have_no_z_and_no_fractions() -> None:
    alert = seoul_heavy_rain(
        sent=datetime(2022, 8, 8, 12, 0, 0, 987654, tzinfo=UTC),
        infos=(
            seoul_heavy_rain()
            .infos[0]
            .model_copy(
                update={
                    "expires": datetime(2022, 8, 9, 1, 2, 3, 450000, tzinfo=timezone(timedelta(hours=-5)))
                }
            ),
        ),
    )
    xml = to_xml(alert)
    values = dict((m.group(1).decode(), m.group(2).decode()) for m in _DATETIME_TEXT.finditer(xml))
    assert values["sent"] == "2022-08-08T21:00:00+09:00"  # UTC shown in Seoul time
    assert values["expires"] == "2022-08-09T01:02:03-05:00"  # another offset is kept
    for text in values.values():
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", text), text
    assert b"Z<" not in xml
    assert validate(xml, XSD) == []


def test_reading_tolerates_z_and_fractions_but_validate_reports_them() -> None:
    xml = to_xml(seoul_heavy_rain()).replace(
        b"<sent>2022-08-08T21:00:00+09:00", b"<sent>2022-08-08T12:00:00.25Z"
    )
    assert from_xml(xml).sent == T0
    problems = validate(xml, XSD)
    assert len(problems) == 1
    assert problems[0].startswith("/alert/sent (line 5):") or problems[0].startswith("/alert/sent")
    assert "2022-08-08T12:00:00.25Z" in problems[0]


def test_cap_prefix_is_accepted() -> None:
    xml = to_xml(seoul_heavy_rain())
    root = etree.fromstring(xml)
    prefixed = etree.Element(f"{{{CAP_NS}}}alert", nsmap={"cap": CAP_NS})
    prefixed.extend(list(root))
    data = etree.tostring(prefixed, xml_declaration=True, encoding="UTF-8")
    assert b"<cap:identifier>" in data
    assert from_xml(data) == seoul_heavy_rain()
    assert validate(data, XSD) == []


def _replace(xml: bytes, old: bytes, new: bytes) -> bytes:
    assert old in xml
    return xml.replace(old, new, 1)


def test_errors_name_the_element_and_the_line() -> None:
    xml = to_xml(seoul_heavy_rain())
    bad = _replace(xml, b"<severity>Severe</severity>", b"<severity>Terrible</severity>")
    with pytest.raises(CapXmlError) as exc:
        from_xml(bad)
    line = bad[: bad.index(b"Terrible")].count(b"\n") + 1
    assert exc.value.where == f"/alert/info[1]/severity[1] (line {line})"
    assert "Terrible" in exc.value.message or "Extreme" in exc.value.message

    bad = _replace(xml, b"<circle>37.4784,126.9516 2.5</circle>", b"<circle>37.4784,126.9516</circle>")
    with pytest.raises(
        CapXmlError, match=r"/alert/info\[1\]/area\[2\]/circle\[1\] \(line \d+\): .*not a circle"
    ):
        from_xml(bad)

    bad = _replace(xml, b"<scope>Public</scope>", b"")
    with pytest.raises(CapXmlError, match=r"/alert \(line 2\): required element <scope> is missing"):
        from_xml(bad)


def test_unknown_repeated_and_misplaced_content_is_refused() -> None:
    xml = to_xml(seoul_heavy_rain())
    with pytest.raises(CapXmlError, match=r"unexpected element <colour>") as exc:
        from_xml(_replace(xml, b"<note></note>", b"<note></note><colour>red</colour>"))
    assert exc.value.where is not None and exc.value.where.startswith("/alert/colour[1] (line")
    with pytest.raises(CapXmlError, match="namespace 'urn:other'"):
        from_xml(_replace(xml, b"<note></note>", b'<note/><x xmlns="urn:other">1</x>'))
    with pytest.raises(CapXmlError, match="<sender> may appear only once"):
        from_xml(_replace(xml, b"<note></note>", b"<note></note><sender>again</sender>"))
    with pytest.raises(CapXmlError, match="text only"):
        from_xml(_replace(xml, b"<note></note>", b"<note><b>bold</b></note>"))
    with pytest.raises(CapXmlError, match="not well-formed") as exc2:
        from_xml(xml[:-20])
    assert exc2.value.where is not None and exc2.value.where.startswith("line ")


def test_values_are_kept_verbatim() -> None:
    xml = to_xml(seoul_heavy_rain())
    odd = _replace(xml, b"<note></note>", b"<note>  two spaces\n and &lt;b&gt; a newline  </note>")
    odd = _replace(odd, b"<status>Actual</status>", b"<status>\n  Actual </status>")
    alert = from_xml(odd)
    assert alert.note == "  two spaces\n and <b> a newline  "
    assert from_xml(to_xml(alert)).note == alert.note
    assert seoul_heavy_rain().note == "" and b"<note></note>" in xml


def test_xml_external_entity_in_utf16_is_refused_without_reading_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-PASSWORD")
    doc = (
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        f'<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        f'<alert xmlns="{CAP_NS}"><identifier>&xxe;</identifier></alert>'
    ).encode("utf-16")
    assert b"<!DOCTYPE" not in doc  # the byte scan cannot see it: the post-parse check must
    with pytest.raises(CapUnsafeXmlError) as exc:
        from_xml(doc)
    assert "TOP-SECRET" not in str(exc.value.to_dict())
    assert validate(doc, XSD)[0].startswith("the document declares a DOCTYPE")


def test_entity_expansion_bomb_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><note>&lol2;</note></alert>'
    )
    with pytest.raises(CapUnsafeXmlError, match="DOCTYPE"):
        from_xml(bomb)


def test_from_xml_wants_bytes() -> None:
    with pytest.raises(TypeError, match="bytes"):
        from_xml(to_xml(seoul_heavy_rain()).decode())  # type: ignore[arg-type]


def test_parse_many_reads_the_smhi_bulk_document() -> None:
    alerts = parse_many(SMHI_FEED.read_bytes())
    assert len(alerts) == 17
    assert alerts[0].identifier == "smhi-bpm-1552396920785"
    assert all(a.sender == "noreplyvarning@smhi.se" for a in alerts)
    for alert in alerts:
        assert validate(to_xml(alert), XSD) == []
    assert parse_many(to_xml(seoul_heavy_rain())) == [seoul_heavy_rain()]
    with pytest.raises(CapXmlError, match="no <alert>"):
        parse_many(f'<alerts xmlns="{CAP_NS}"/>'.encode())


def test_validate_needs_the_xsd(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CAP XSD not found"):
        validate(to_xml(seoul_heavy_rain()), tmp_path / "missing.xsd")
