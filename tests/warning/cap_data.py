# SPDX-License-Identifier: Apache-2.0
"""Paths into the shared CAP corpus (read in place, never copied) and alerts built for Seoul."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree

from safecity.warning.cap.model import (
    CAP_NS,
    XMLDSIG_NS,
    Alert,
    Area,
    Category,
    Certainty,
    Info,
    MsgType,
    Resource,
    ResponseType,
    Scope,
    Severity,
    Status,
    Urgency,
    ValuePair,
    parse_cap_datetime,
)
from tests.conftest import SHARED

CAP_DIR = SHARED / "data" / "cap"
XSD = CAP_DIR / "schema" / "CAP-v1.2.xsd"
ALERTS_DIR = CAP_DIR / "alerts"
EDGE_DIR = CAP_DIR / "invalid_or_edge"
FEEDS_DIR = CAP_DIR / "feeds"

#: The 12 real, schema-valid messages (PROVENANCE.md lists them).
ALERT_FILES = sorted(ALERTS_DIR.iterdir())
XXE = EDGE_DIR / "google__xee_xml_external_entity_attack.cap"
CAP11_FILES = [EDGE_DIR / "google__weather_cap11.cap", EDGE_DIR / "google__earthquake_cap11.cap"]
INVALID_XMLNS = EDGE_DIR / "capparselib__invalid_xmlns.cap"
NO_INFO = EDGE_DIR / "capparselib__no_info_tag.cap"
INVALID = EDGE_DIR / "capparselib__invalid.cap"
PROFILE_INVALID = EDGE_DIR / "capparselib__canada_errors_profile_invalid.cap"
SMHI_FEED = FEEDS_DIR / "capparselib__smhi.se.alerts.cap"

#: 8 August 2022, 21:00 KST: the 동작구 heavy-rain hour the demo replays.
T0 = datetime(2022, 8, 8, 12, 0, tzinfo=UTC)
DONGJAK, GWANAK = "11590", "11620"

# Dongjak-gu, roughly (lat,lon, closed ring).
DONGJAK_POLYGON = "37.5140,126.9050 37.5130,126.9830 37.4780,126.9830 37.4780,126.9050 37.5140,126.9050"


def seoul_heavy_rain(**changes: Any) -> Alert:
    """A 호우경보 for 동작구/관악구 with Korean and English <info>, polygon, circle and geocodes."""
    areas = (
        Area(
            area_desc="서울특별시 동작구",
            polygons=(DONGJAK_POLYGON,),
            geocodes=(ValuePair(value_name="KR.SIG", value=DONGJAK),),
        ),
        Area(
            area_desc="서울특별시 관악구 도림천 일대",
            circles=("37.4784,126.9516 2.5",),
            geocodes=(ValuePair(value_name="KR.SIG", value=GWANAK),),
            altitude=Decimal("0"),
            ceiling=Decimal("500.5"),
        ),
    )
    common: dict[str, Any] = {
        "categories": (Category.MET, Category.SAFETY),
        "response_types": (ResponseType.AVOID, ResponseType.EVACUATE),
        "urgency": Urgency.IMMEDIATE,
        "severity": Severity.SEVERE,
        "certainty": Certainty.OBSERVED,
        "event_codes": (ValuePair(value_name="KMA", value="호우경보"),),
        "effective": T0,
        "onset": T0,
        "expires": datetime(2022, 8, 9, 0, 0, tzinfo=UTC),
        "web": "https://safecity.example/alerts/1",
        "contact": "120 다산콜센터",
        "parameters": (ValuePair(value_name="rainfall_mm_per_h", value="141.5"),),
        "resources": (
            Resource(
                resource_desc="침수 위험 지도",
                mime_type="image/png",
                size=20480,
                uri="https://safecity.example/m.png",
            ),
        ),
        "areas": areas,
    }
    ko = Info(
        language="ko-KR",
        event="호우경보",
        audience="동작구·관악구 주민",
        sender_name="서울특별시",
        headline="동작구·관악구 호우경보 발효",
        description="시간당 141.5mm의 매우 강한 비가 관측되었습니다.",
        instruction="하천변·지하차도·저지대 접근을 금지하고 침수 우려 지역 주민은 즉시 대피하십시오. 외출을 자제하십시오.",
        **common,
    )
    en = Info(
        language="en-US",
        event="Heavy rain warning",
        sender_name="Seoul Metropolitan Government",
        headline="Heavy rain warning for Dongjak-gu and Gwanak-gu",
        description="141.5 mm of rain in one hour was observed.",
        instruction="Keep away from streams, underpasses and low-lying areas; evacuate if flooding threatens.",
        **common,
    )
    fields: dict[str, Any] = {
        "identifier": "seoul-2022-0808-0001",
        "sender": "alert@safecity.seoul.go.kr",
        "sent": T0,
        "status": Status.ACTUAL,
        "msg_type": MsgType.ALERT,
        "source": "안전총괄실",
        "scope": Scope.PUBLIC,
        "codes": ("profile:safecity:0.1",),
        "note": "",
        "incidents": "incident-42",
        "infos": (ko, en),
    }
    fields.update(changes)
    return Alert(**fields)


# --- an independent reading for "nothing lost" ------------------------------------------------------------

_DATETIMES = {"sent", "effective", "onset", "expires"}
_TOKENS = {"status", "msgType", "scope", "language", "category", "responseType", "urgency", "severity"}
_TOKENS |= {"certainty", "size", "altitude", "ceiling"}


def element_multiset(data: bytes) -> Counter[tuple[str, str]]:
    """(element path, value) pairs of a CAP document, read with plain lxml.

    Date-times are compared as instants (UTC), enumerations and numbers without surrounding whitespace,
    every other text verbatim; an xmldsig signature as its exclusive C14N form.
    """
    root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    out: Counter[tuple[str, str]] = Counter()

    def walk(el: etree._Element, path: str) -> None:
        for child in el:
            if not isinstance(child.tag, str):
                continue
            ns, _, local = child.tag[1:].partition("}")
            if ns == XMLDSIG_NS:
                out[(path + "/Signature", etree.tostring(child, method="c14n", exclusive=True).decode())] += 1
                continue
            assert ns == CAP_NS, child.tag
            p = f"{path}/{local}"
            if len(child):
                out[(p, "")] += 1
                walk(child, p)
                continue
            text = child.text or ""
            if local in _DATETIMES:
                text = parse_cap_datetime(text).astimezone(UTC).isoformat()
            elif local in _TOKENS:
                text = text.strip()
            out[(p, text)] += 1

    walk(root, "/alert")
    return out


def read(path: Path) -> bytes:
    return path.read_bytes()
