# SPDX-License-Identifier: Apache-2.0
"""The public alert feed: an Atom (RFC 4287) index of CAP alerts, as CAP aggregators read it.

Each entry points at the alert's CAP XML with ``<link rel="alternate" type="application/cap+xml">``
(the convention of the WMO Register of Alerting Authorities and Google Public Alerts), and, when
there is one, at its web page with a ``text/html`` alternate. The feed title is Korean and its
subtitle English (Atom allows one title per feed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from lxml import etree

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
CAP_MEDIA_TYPE = "application/cap+xml"
ATOM_MEDIA_TYPE = "application/atom+xml"


@dataclass(frozen=True)
class FeedEntry:
    """One alert in the feed."""

    identifier: str  # CAP identifier
    title: str  # the headline
    updated: datetime  # timezone-aware; CAP sent of this version
    summary: str  # e.g. the description or the short text
    author: str  # CAP senderName, else the sender
    cap_url: str  # absolute URL of the CAP XML: .../alerts/{identifier}.xml
    html_url: str | None = None  # the alert's web page
    published: datetime | None = None
    language: str | None = None  # of title and summary, e.g. "ko"
    category: str | None = None  # e.g. the CAP event or msgType, as an Atom category term

    @property
    def atom_id(self) -> str:
        """A permanent IRI for the entry: one per CAP identifier (each Update has its own)."""
        return "urn:safecity:alert:" + quote(self.identifier, safe="-._~:")


def _time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("Atom times need a timezone-aware datetime")
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _el(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    e = etree.SubElement(parent, f"{{{ATOM_NS}}}{name}", attrs)
    if text is not None:
        e.text = text
    return e


def render_feed(
    entries: Sequence[FeedEntry],
    *,
    feed_id: str,
    title_ko: str,
    title_en: str,
    self_url: str,
    updated: datetime,
    html_url: str | None = None,
    author: str | None = None,
) -> bytes:
    """The feed as UTF-8 XML bytes (``application/atom+xml``), entries in the order given.

    ``feed_id`` is the feed's permanent IRI (e.g. its canonical URL), ``self_url`` where it is
    served, ``updated`` its last change (the newest entry's time, or now for an empty feed). ``author``
    (the alerting authority) is the feed's author: RFC 4287 wants one on the feed unless every entry has
    its own, which an empty feed does not."""
    # lxml-stubs types nsmap keys as str, but None (the default namespace) is what lxml documents
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})  # type: ignore[dict-item]
    feed.set(XML_LANG, "ko")
    _el(feed, "id", feed_id)
    _el(feed, "title", title_ko)
    subtitle = _el(feed, "subtitle", title_en)
    subtitle.set(XML_LANG, "en")
    _el(feed, "updated", _time(updated))
    _el(feed, "link", rel="self", type=ATOM_MEDIA_TYPE, href=self_url)
    if html_url:
        _el(feed, "link", rel="alternate", type="text/html", href=html_url)
    if author:
        _el(_el(feed, "author"), "name", author)
    _el(feed, "generator", "safecity")
    for item in entries:
        entry = _el(feed, "entry")
        if item.language:
            entry.set(XML_LANG, item.language)
        _el(entry, "id", item.atom_id)
        _el(entry, "title", item.title)
        _el(entry, "updated", _time(item.updated))
        if item.published is not None:
            _el(entry, "published", _time(item.published))
        _el(_el(entry, "author"), "name", item.author)
        _el(entry, "link", rel="alternate", type=CAP_MEDIA_TYPE, href=item.cap_url)
        if item.html_url:
            _el(entry, "link", rel="alternate", type="text/html", href=item.html_url)
        if item.category:
            _el(entry, "category", term=item.category)
        _el(entry, "summary", item.summary)
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True))
