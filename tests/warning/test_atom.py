# SPDX-License-Identifier: Apache-2.0
"""The CAP Atom feed: read back by feedparser, and checked against the RFC 4287 RELAX NG grammar with
jing (Debian/Ubuntu package ``jing``; the test is skipped with the reason when jing is absent, and fails
when SAFECITY_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from safecity.warning.atom import ATOM_NS, CAP_MEDIA_TYPE, FeedEntry, render_feed
from tests.conftest import REQUIRE, SHARED

GRAMMAR = SHARED / "data" / "cap" / "feed-validation" / "atom-rfc4287.rnc"
FIXTURES = SHARED / "data" / "cap" / "feed-validation" / "atom"
T0 = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)
BASE = "https://safecity.example"


def entries() -> list[FeedEntry]:
    return [
        FeedEntry(
            identifier="KR-SEOUL-2026-0043",
            title="동작구 침수 경보 해제",
            updated=T0 + timedelta(hours=2),
            summary="도림천 수위가 내려갔습니다.",
            author="서울특별시 재난안전대책본부",
            cap_url=f"{BASE}/alerts/KR-SEOUL-2026-0043.xml",
            html_url=f"{BASE}/alerts/KR-SEOUL-2026-0043",
            published=T0 + timedelta(hours=2),
            language="ko",
            category="Cancel",
        ),
        FeedEntry(
            identifier="KR-SEOUL-2026-0042",
            title="Flood warning, Dongjak-gu <& more>",
            updated=T0,
            summary="Residents of low-lying areas: evacuate now.",
            author="Seoul Metropolitan Government",
            cap_url=f"{BASE}/alerts/KR-SEOUL-2026-0042.xml",
            language="en",
        ),
    ]


def feed(items: list[FeedEntry]) -> bytes:
    return render_feed(
        items,
        feed_id=f"{BASE}/alerts.atom",
        title_ko="서울특별시 재난 경보",
        title_en="Seoul disaster alerts",
        self_url=f"{BASE}/alerts.atom",
        updated=T0 + timedelta(hours=2),
        author="서울특별시",
    )


def test_feedparser_reads_every_entry_and_its_cap_link() -> None:
    parsed = feedparser.parse(feed(entries()))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "서울특별시 재난 경보"
    assert parsed.feed.subtitle == "Seoul disaster alerts"
    assert parsed.feed.id == f"{BASE}/alerts.atom"
    assert parsed.feed.author == "서울특별시"
    assert [link.href for link in parsed.feed.links if link.rel == "self"] == [f"{BASE}/alerts.atom"]
    first, second = parsed.entries
    assert first.id == "urn:safecity:alert:KR-SEOUL-2026-0043"
    assert first.title == "동작구 침수 경보 해제"
    assert first.author == "서울특별시 재난안전대책본부"
    assert first.summary == "도림천 수위가 내려갔습니다."
    assert first.updated == "2026-11-25T03:30:00Z"
    assert first.tags[0].term == "Cancel"
    cap = [link for link in first.links if link.type == CAP_MEDIA_TYPE]
    assert [(link.rel, link.href) for link in cap] == [("alternate", f"{BASE}/alerts/KR-SEOUL-2026-0043.xml")]
    assert second.title == "Flood warning, Dongjak-gu <& more>"  # escaped, not markup
    assert second.updated_parsed[:5] == (2026, 11, 25, 1, 30)


def test_feed_is_utf8_atom_with_one_cap_link_per_entry() -> None:
    xml = feed(entries())
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(xml)
    assert root.tag == f"{{{ATOM_NS}}}feed"
    ns = {"a": ATOM_NS}
    for entry in root.findall("a:entry", ns):
        links = entry.findall(f"a:link[@type='{CAP_MEDIA_TYPE}']", ns)
        assert len(links) == 1 and links[0].get("rel") == "alternate"
    with pytest.raises(ValueError, match="timezone-aware"):
        render_feed([], feed_id="x", title_ko="t", title_en="t", self_url="x", updated=datetime(2026, 1, 1))


def jing() -> str:
    path = shutil.which("jing")
    if path is None:
        if REQUIRE:
            pytest.fail("jing is not installed and SAFECITY_REQUIRE_SERVICES=1 (apt-get install -y jing)")
        pytest.skip("jing is not installed (apt-get install -y jing)")
    return path


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [jing(), "-c", str(GRAMMAR), str(path)], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("items", [entries(), []], ids=["two entries", "empty"])
def test_feed_is_valid_rfc4287_by_jing(tmp_path: Path, items: list[FeedEntry]) -> None:
    out = tmp_path / "alerts.atom"
    out.write_bytes(feed(items))
    result = validate(out)
    assert result.returncode == 0, result.stdout + result.stderr


def test_jing_catches_an_invalid_feed() -> None:
    """The validator really validates: the shared fixture without ids fails."""
    result = validate(FIXTURES / "no_id.atom")
    assert result.returncode != 0
    assert 'missing required element "id"' in result.stdout
