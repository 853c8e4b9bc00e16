# SPDX-License-Identifier: Apache-2.0
"""CAP 1.2 XML: write an :class:`Alert` in the schema's element order, read untrusted XML safely, and
validate a document against the official OASIS XSD with xmlschema.

Safety (issue 5; OWASP XXE prevention): CAP messages arrive from outside. The parser never resolves
entities, never loads a DTD, never touches the network, keeps libxml2's size limits (no ``huge_tree``),
and any resolver call is refused. A document with a DOCTYPE (the only place entities can be declared) is
refused outright, before parsing when the bytes show it and after parsing otherwise (e.g. UTF-16).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

import xmlschema
from lxml import etree
from pydantic import ValidationError

from safecity.core.errors import BadRequest, ConfigError
from safecity.warning.cap.model import (
    CAP_NS,
    XMLDSIG_NS,
    Alert,
    Area,
    Info,
    Resource,
    ValuePair,
    format_cap_datetime,
)

CAP11_NS = "urn:oasis:names:tc:emergency:cap:1.1"
CAP10_NS = "http://www.incident.com/cap/1.0"
_Q = "{" + CAP_NS + "}"


class CapXmlError(BadRequest):
    """A CAP document could not be read: malformed, not CAP 1.2, or a value breaks a CAP rule."""

    code = "cap_invalid"


class CapUnsafeXmlError(CapXmlError):
    """The document declares a DOCTYPE or entities (possible XXE or entity-expansion attack)."""

    code = "cap_unsafe_xml"


class CapNamespaceError(CapXmlError):
    """The root is not ``{urn:oasis:names:tc:emergency:cap:1.2}alert``."""

    code = "cap_wrong_namespace"


# --- the element table, in the XSD's order -------------------------------------------------------------
# Each entry: (CAP element name, repeatable, child table or None for a simple element). The order is the
# <sequence> order of CAP-v1.2.xsd; to_xml() writes in this order.
_Spec = tuple[tuple[str, bool, "_Spec | None"], ...]
_PAIR: _Spec = (("valueName", False, None), ("value", False, None))
_RESOURCE: _Spec = (
    ("resourceDesc", False, None),
    ("mimeType", False, None),
    ("size", False, None),
    ("uri", False, None),
    ("derefUri", False, None),
    ("digest", False, None),
)
_AREA: _Spec = (
    ("areaDesc", False, None),
    ("polygon", True, None),
    ("circle", True, None),
    ("geocode", True, _PAIR),
    ("altitude", False, None),
    ("ceiling", False, None),
)
_INFO: _Spec = (
    ("language", False, None),
    ("category", True, None),
    ("event", False, None),
    ("responseType", True, None),
    ("urgency", False, None),
    ("severity", False, None),
    ("certainty", False, None),
    ("audience", False, None),
    ("eventCode", True, _PAIR),
    ("effective", False, None),
    ("onset", False, None),
    ("expires", False, None),
    ("senderName", False, None),
    ("headline", False, None),
    ("description", False, None),
    ("instruction", False, None),
    ("web", False, None),
    ("contact", False, None),
    ("parameter", True, _PAIR),
    ("resource", True, _RESOURCE),
    ("area", True, _AREA),
)
_ALERT: _Spec = (
    ("identifier", False, None),
    ("sender", False, None),
    ("sent", False, None),
    ("status", False, None),
    ("msgType", False, None),
    ("source", False, None),
    ("scope", False, None),
    ("restriction", False, None),
    ("addresses", False, None),
    ("code", True, None),
    ("note", False, None),
    ("references", False, None),
    ("incidents", False, None),
    ("info", True, _INFO),
)
# Elements whose XSD type collapses whitespace (enumerations, date-times, numbers, xs:language): their
# surrounding whitespace carries no information. Every other (xs:string) value is kept byte for byte.
_TOKENS = frozenset(
    {
        *("sent", "status", "msgType", "scope", "language", "category", "responseType", "urgency"),
        *("severity", "certainty", "effective", "onset", "expires", "size", "altitude", "ceiling"),
    }
)


# --- safe parsing ----------------------------------------------------------------------------------------


class _RefuseResolver(etree.Resolver):
    """Fails any attempt to fetch an external resource (a second line behind the parser options)."""

    def resolve(self, system_url: str, public_id: str, context: object = None) -> Any:
        raise CapUnsafeXmlError(
            f"refused to load external resource {system_url!r}: CAP documents may not reference external entities",
            message_ko="외부 엔티티를 참조하는 CAP 문서는 허용되지 않습니다",
        )


def _parser() -> etree.XMLParser:
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    parser.resolvers.add(_RefuseResolver())
    return parser


_DOCTYPE_MSG = (
    "the document declares a DOCTYPE/entities; CAP messages must not (possible XML external entity attack)"
)
_DOCTYPE_KO = "DOCTYPE 또는 엔티티 선언이 있는 CAP 문서는 거부합니다(XXE 공격 가능성)"


def parse_untrusted(data: bytes) -> etree._Element:
    """Parse untrusted XML bytes safely and return the root element.

    Raises :class:`CapUnsafeXmlError` for a DOCTYPE or entity declaration and :class:`CapXmlError` for
    XML that is not well-formed (with its line).
    """
    if not isinstance(data, bytes | bytearray):
        raise TypeError("CAP XML must be given as bytes (the document declares its own encoding)")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise CapUnsafeXmlError(_DOCTYPE_MSG, message_ko=_DOCTYPE_KO)
    try:
        root = etree.fromstring(bytes(data), parser=_parser())
    except etree.XMLSyntaxError as e:
        raise CapXmlError(
            f"not well-formed XML: {e.msg}",
            where=f"line {e.lineno}" if e.lineno else None,
            message_ko="XML 형식이 올바르지 않습니다",
        ) from None
    tree = root.getroottree()
    info: Any = tree.docinfo  # lxml-stubs lack DocInfo.doctype
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise CapUnsafeXmlError(_DOCTYPE_MSG, message_ko=_DOCTYPE_KO)
    if any(isinstance(n, etree._Entity) for n in root.iter()):
        raise CapUnsafeXmlError(_DOCTYPE_MSG, message_ko=_DOCTYPE_KO)
    return root


def _split(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return None, tag


def _check_root_namespace(el: etree._Element) -> None:
    ns, local = _split(el.tag)
    if ns == CAP_NS and local == "alert":
        return
    found = f"namespace {ns!r}" if ns else "no namespace"
    hint = ""
    if ns == CAP11_NS:
        hint = " This is a CAP 1.1 message; only CAP 1.2 is accepted."
    elif ns == CAP10_NS:
        hint = " This is a CAP 1.0 message; only CAP 1.2 is accepted."
    raise CapNamespaceError(
        f"root element <{local}> in {found}; expected <alert> in namespace {CAP_NS!r}.{hint}",
        where=f"/{local} (line {el.sourceline})",
        message_ko=f"CAP 1.2 네임스페이스({CAP_NS})가 아닙니다: {ns or '네임스페이스 없음'}",
        details={"found_namespace": ns, "expected_namespace": CAP_NS},
    )


# --- XML -> dict (CAP names) -> model ---------------------------------------------------------------------

_Locs = dict[tuple[str | int, ...], tuple[str, int | None]]
_Loc = tuple[str | int, ...]


def _line(el: etree._Element) -> int | None:
    line = el.sourceline
    return line if isinstance(line, int) else None


def _simple_text(el: etree._Element, xpath: str) -> str:
    if len(el):
        raise CapXmlError(
            f"<{_split(el[0].tag)[1]}> is not allowed inside <{_split(el.tag)[1]}>, which holds text only",
            where=f"{xpath} (line {el[0].sourceline})",
        )
    return el.text or ""


def _read(
    el: etree._Element, spec: _Spec, xpath: str, loc: tuple[str | int, ...], locs: _Locs
) -> dict[str, Any]:
    names = {name: (repeat, sub) for name, repeat, sub in spec}
    out: dict[str, Any] = {}
    if (el.text or "").strip():
        raise CapXmlError(
            f"text {(el.text or '').strip()[:40]!r} is not allowed directly inside <{_split(el.tag)[1]}>",
            where=f"{xpath} (line {el.sourceline})",
        )
    counts: dict[str, int] = {}
    for child in el:
        if not isinstance(child.tag, str):  # comments and PIs are removed by the parser; be sure
            continue
        ns, local = _split(child.tag)
        n = counts[local] = counts.get(local, 0) + 1
        child_xpath = f"{xpath}/{local}[{n}]"
        if (child.tail or "").strip():
            raise CapXmlError(
                f"text {(child.tail or '').strip()[:40]!r} is not allowed between elements",
                where=f"{child_xpath} (line {child.sourceline})",
            )
        if ns == XMLDSIG_NS and spec is _ALERT:
            out.setdefault("Signature", []).append(etree.tostring(child, encoding="unicode", with_tail=False))
            continue
        if ns != CAP_NS or local not in names:
            where_ns = f" (namespace {ns!r})" if ns != CAP_NS else ""
            raise CapXmlError(
                f"unexpected element <{local}>{where_ns} inside <{_split(el.tag)[1]}>; CAP 1.2 allows: "
                + ", ".join(names),
                where=f"{child_xpath} (line {child.sourceline})",
                message_ko=f"CAP 1.2에 없는 요소입니다: <{local}>",
            )
        repeat, sub = names[local]
        if repeat:
            index = len(out.setdefault(local, []))
            child_loc: tuple[str | int, ...] = (*loc, local, index)
        else:
            if local in out:
                raise CapXmlError(
                    f"<{local}> may appear only once inside <{_split(el.tag)[1]}>",
                    where=f"{child_xpath} (line {child.sourceline})",
                )
            child_loc = (*loc, local)
        locs[child_loc] = (child_xpath, _line(child))
        if sub is None:
            value: Any = _simple_text(child, child_xpath)
            if local in _TOKENS:
                value = value.strip()
        else:
            value = _read(child, sub, child_xpath, child_loc, locs)
        if repeat:
            out[local].append(value)
        else:
            out[local] = value
    return out


def _validation_error(e: ValidationError, locs: _Locs) -> CapXmlError:
    problems: list[str] = []
    first_where: str | None = None
    for err in e.errors():
        loc = tuple(err["loc"])
        where, line = locs[()]
        k = 0
        for k in range(len(loc), -1, -1):
            if loc[:k] in locs:
                where, line = locs[loc[:k]]
                break
        at = f"{where} (line {line})" if line else where
        first_where = first_where or at
        msg = str(err["msg"]).removeprefix("Value error, ")
        # The part of the location below the last element we saw: a missing element, or a value.
        rest = [str(p) for p in loc[k:]]
        if rest and isinstance(loc[-1], str) and err["type"] == "missing":
            msg = f"required element <{rest[-1]}> is missing"
        elif rest:
            msg = f"<{'/'.join(rest)}>: {msg}"
        problems.append(f"{at}: {msg}")
    return CapXmlError(
        "; ".join(problems),
        where=first_where,
        message_ko="CAP 규칙에 맞지 않는 값이 있습니다",
        details=problems,
    )


def _alert_from_element(el: etree._Element) -> Alert:
    _check_root_namespace(el)
    top: _Loc = ()
    locs: _Locs = {top: ("/alert", _line(el))}
    raw = _read(el, _ALERT, "/alert", (), locs)
    try:
        return Alert.model_validate(raw, by_alias=True, by_name=False)
    except ValidationError as e:
        raise _validation_error(e, locs) from None


def from_xml(data: bytes) -> Alert:
    """Read one CAP 1.2 ``<alert>`` from untrusted bytes (default namespace or a ``cap:`` prefix).

    Keeps every element and value (strings verbatim, ``<x/>`` as ``""``, xmldsig signatures as XML).
    Raises :class:`CapUnsafeXmlError` (DOCTYPE/entities), :class:`CapNamespaceError` (CAP 1.1 or another
    namespace; the message names the namespace found and the one expected) and :class:`CapXmlError`
    (malformed XML, unknown or repeated elements, or a value that breaks a CAP rule; ``where`` gives the
    element path and line).
    """
    return _alert_from_element(parse_untrusted(data))


def parse_many(data: bytes) -> list[Alert]:
    """Read a document that is either one ``<alert>`` or a wrapper (e.g. SMHI's ``<alerts>``) whose
    children are CAP 1.2 ``<alert>`` elements. Raises like :func:`from_xml`; an empty wrapper is an error.
    """
    root = parse_untrusted(data)
    local = _split(root.tag)[1]
    if local == "alert":
        return [_alert_from_element(root)]
    children = [c for c in root if isinstance(c.tag, str)]
    if not children:
        raise CapXmlError(f"<{local}> contains no <alert>", where=f"/{local} (line {root.sourceline})")
    return [_alert_from_element(c) for c in children]


# --- model -> XML ------------------------------------------------------------------------------------------


def _text(value: object) -> str:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, datetime):
        return format_cap_datetime(value)
    if isinstance(value, Decimal):
        return format(value, "f")  # xs:decimal has no exponent form
    return str(value)


def _add(parent: etree._Element, name: str, value: object) -> None:
    if value is None:
        return
    etree.SubElement(parent, _Q + name).text = _text(value)


def _add_pairs(parent: etree._Element, name: str, pairs: tuple[ValuePair, ...]) -> None:
    for p in pairs:
        el = etree.SubElement(parent, _Q + name)
        _add(el, "valueName", p.value_name)
        _add(el, "value", p.value)


def _add_resource(parent: etree._Element, r: Resource) -> None:
    el = etree.SubElement(parent, _Q + "resource")
    for name, value in (
        ("resourceDesc", r.resource_desc),
        ("mimeType", r.mime_type),
        ("size", r.size),
        ("uri", r.uri),
        ("derefUri", r.deref_uri),
        ("digest", r.digest),
    ):
        _add(el, name, value)


def _add_area(parent: etree._Element, a: Area) -> None:
    el = etree.SubElement(parent, _Q + "area")
    _add(el, "areaDesc", a.area_desc)
    for p in a.polygons:
        _add(el, "polygon", p)
    for c in a.circles:
        _add(el, "circle", c)
    _add_pairs(el, "geocode", a.geocodes)
    _add(el, "altitude", a.altitude)
    _add(el, "ceiling", a.ceiling)


def _add_info(parent: etree._Element, i: Info) -> None:
    el = etree.SubElement(parent, _Q + "info")
    _add(el, "language", i.language)
    for c in i.categories:
        _add(el, "category", c)
    _add(el, "event", i.event)
    for r in i.response_types:
        _add(el, "responseType", r)
    _add(el, "urgency", i.urgency)
    _add(el, "severity", i.severity)
    _add(el, "certainty", i.certainty)
    _add(el, "audience", i.audience)
    _add_pairs(el, "eventCode", i.event_codes)
    for name in ("effective", "onset", "expires", "senderName", "headline", "description", "instruction"):
        _add(el, name, getattr(i, _snake(name)))
    _add(el, "web", i.web)
    _add(el, "contact", i.contact)
    _add_pairs(el, "parameter", i.parameters)
    for res in i.resources:
        _add_resource(el, res)
    for area in i.areas:
        _add_area(el, area)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _signature_element(xml: str, index: int) -> etree._Element:
    el = parse_untrusted(xml.encode("utf-8"))
    if _split(el.tag)[0] != XMLDSIG_NS:
        raise CapXmlError(
            f"Signature {index + 1} is not an element in the XML-Signature namespace {XMLDSIG_NS!r}",
            where=f"/alert/Signature[{index + 1}]",
        )
    return el


def to_element(alert: Alert) -> etree._Element:
    """The alert as an lxml element ``{urn:oasis:names:tc:emergency:cap:1.2}alert`` in XSD order."""
    root = etree.Element(_Q + "alert", nsmap={None: CAP_NS})  # type: ignore[dict-item]
    for name in (
        "identifier",
        "sender",
        "sent",
        "status",
        "msgType",
        "source",
        "scope",
        "restriction",
        "addresses",
    ):
        _add(root, name, getattr(alert, _snake(name)))
    for c in alert.codes:
        _add(root, "code", c)
    for name in ("note", "references", "incidents"):
        _add(root, name, getattr(alert, name))
    for info in alert.infos:
        _add_info(root, info)
    # Indent the CAP part only: a signature is appended as received, since re-indenting its content
    # would change the text of its elements.
    etree.indent(root, space="  ")
    for k, sig in enumerate(alert.signatures):
        root[-1].tail = "\n  "
        el = _signature_element(sig, k)
        el.tail = "\n"
        root.append(el)
    return root


def to_xml(alert: Alert) -> bytes:
    """Serialise an alert as a UTF-8 CAP 1.2 document (XML declaration, default namespace, XSD order).

    Date-times are written ``YYYY-MM-DDThh:mm:ss+hh:mm`` (UTC values as +09:00). The output of a model
    read by :func:`from_xml` is byte-identical when written again.
    """
    return etree.tostring(to_element(alert), xml_declaration=True, encoding="UTF-8") + b"\n"


# --- XSD validation ------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _schema(path: Path) -> xmlschema.XMLSchema10:
    if not path.is_file():
        raise ConfigError(f"CAP XSD not found at {path}; point the setting at the official CAP-v1.2.xsd")
    # The CAP XSD imports nothing; forbid any fetch anyway.
    # use_fallback=False: xmlschema would otherwise load its bundled xmldsig schema for the lax <any>
    # wildcard, which is stricter than the CAP XSD alone (Canada's NAAD signature has Id="NAADS
    # Signature", not an xs:ID) and is not what "valid against the official CAP XSD" means.
    return xmlschema.XMLSchema10(str(path), allow="local", defuse="always", use_fallback=False)


def _iter_schema_errors(schema: xmlschema.XMLSchema10, root: etree._Element) -> Iterator[str]:
    for err in schema.iter_errors(root):
        line = getattr(err, "sourceline", None)
        where = err.path or "/"
        at = f"{where} (line {line})" if line else where
        reason = err.reason or err.message
        if isinstance(err.obj, str):
            reason = f"{reason} (value {err.obj[:80]!r})"
        yield f"{at}: {reason}"


def validate(xml: bytes, xsd_path: Path) -> list[str]:
    """Check a CAP document against the official OASIS CAP 1.2 XSD at ``xsd_path`` with xmlschema.

    Returns the problems, each ``"<element path> (line N): <reason>"``; an empty list means valid. The
    document is parsed with the same safe parser as :func:`from_xml`: an unsafe or malformed document is
    reported as a problem, not raised. Raises ``ConfigError`` when the XSD file is missing.
    """
    schema = _schema(Path(xsd_path).resolve())
    try:
        root = parse_untrusted(xml)
    except CapXmlError as e:
        return [f"{e.where}: {e.message}" if e.where else e.message]
    return list(_iter_schema_errors(schema, root))
