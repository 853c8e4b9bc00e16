# SPDX-License-Identifier: Apache-2.0
"""The earthquake of a CAP message: USGS's real message (../shared/data/cap), a KMA-style message with
KMA's open-API field names, KMA's wording in text only; and the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from safecity.quake.capmsg import DEFAULT_DEPTH_KM, CapQuakeError, quake_from_cap
from safecity.warning.cap import CapNamespaceError, CapUnsafeXmlError

CAP = Path(__file__).resolve().parents[3] / "shared" / "data" / "cap"


def _kma(parameters: str = "", headline: str = "", description: str = "", area: str = "") -> bytes:
    # a constructed CAP 1.2 message in the shape KMA would send (no real KMA CAP earthquake message is
    # public, ../shared/data/cap/PROVENANCE.md); the values are those of the 2016-09-12 Gyeongju main shock
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>KMA-EQK-20160912203254</identifier>
  <sender>kma.go.kr</sender>
  <sent>2016-09-12T20:33:00+09:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>ko-KR</language>
    <category>Geo</category>
    <event>지진</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <headline>{headline}</headline>
    <description>{description}</description>
    {parameters}
    <area><areaDesc>경북 경주시 남남서쪽 8km 지역</areaDesc>{area}</area>
  </info>
</alert>""".encode()


def test_usgs_message() -> None:
    # USGS's CAP is 1.1; the same message in the 1.2 namespace is read from its parameters and circle
    data = (CAP / "invalid_or_edge" / "google__earthquake_cap11.cap").read_bytes()
    with pytest.raises(CapNamespaceError):
        quake_from_cap(data)
    q = quake_from_cap(
        data.replace(b"urn:oasis:names:tc:emergency:cap:1.1", b"urn:oasis:names:tc:emergency:cap:1.2")
    )
    assert q.rupture.magnitude == 6.3
    assert q.rupture.depth_km == 38.7 and q.depth_given
    assert (q.rupture.lat, q.rupture.lon) == (-16.053, -173.274)
    assert q.origin_time is not None and q.origin_time.isoformat() == "2010-08-30T23:25:40+00:00"


def test_kma_api_field_names() -> None:
    params = "".join(
        f"<parameter><valueName>{k}</valueName><value>{v}</value></parameter>"
        for k, v in (
            ("mt", "5.8"),
            ("lat", "35.76"),
            ("lon", "129.19"),
            ("dep", "15"),
            ("tmEqk", "20160912203254"),
        )
    )
    q = quake_from_cap(_kma(parameters=params))
    assert (q.rupture.magnitude, q.rupture.lat, q.rupture.lon, q.rupture.depth_km) == (
        5.8,
        35.76,
        129.19,
        15.0,
    )
    assert q.origin_time is not None and q.origin_time.isoformat() == "2016-09-12T20:32:54+09:00"


def test_kma_text_only() -> None:
    q = quake_from_cap(
        _kma(
            headline="[기상청] 09-12 20:32 경북 경주시 남남서쪽 8km 지역 규모5.8 지진발생",
            description="위도 35.76 N, 경도 129.19 E, 낙하물, 여진 주의",
        )
    )
    assert (q.rupture.magnitude, q.rupture.lat, q.rupture.lon) == (5.8, 35.76, 129.19)
    assert q.rupture.depth_km == DEFAULT_DEPTH_KM and not q.depth_given


def test_refusals_name_what_is_missing() -> None:
    with pytest.raises(CapQuakeError, match="lat, lon is not in the message"):
        quake_from_cap(_kma(headline="규모 5.8 지진"))
    storm = (CAP / "alerts" / "google__thunderstorm.cap").read_bytes()
    with pytest.raises(CapQuakeError, match="no <info> is about an earthquake") as err:
        quake_from_cap(storm)
    assert err.value.status == 400 and err.value.message_ko
    with pytest.raises(CapUnsafeXmlError):
        quake_from_cap((CAP / "invalid_or_edge" / "google__xee_xml_external_entity_attack.cap").read_bytes())
