# SPDX-License-Identifier: Apache-2.0
"""A typed model of an OASIS Common Alerting Protocol 1.2 message, written from the standard.

Source: OASIS Standard "Common Alerting Protocol Version 1.2", 1 July 2010, section 3.2 (data
dictionary) and the normative schema ``CAP-v1.2.xsd``. Element names, cardinality (required, optional,
repeatable) and enumerations follow that text; section numbers are cited where a rule comes from it.

Python names are snake_case; each field carries the CAP element name as its alias, so
``model_validate({...CAP names...})`` and ``model_dump(by_alias=True)`` speak CAP. Repeatable elements
are tuples named in the plural (``codes`` <-> ``code``, ``infos`` <-> ``info``...).

Values are kept exactly as received: strings are not stripped, and an empty element (``<note/>``) is
``""``, distinct from an absent one (``None``), so XML -> model -> XML loses nothing. Date-times are
timezone-aware and kept to whole seconds (the CAP date-time pattern has no fractions).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, NamedTuple, Self

from pydantic import (
    AfterValidator,
    AliasGenerator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from safecity.core.text import NOT_XML_CHAR

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
#: XML-Signature namespace: the only foreign elements CAP 1.2 admits (at the end of <alert>, section 3.3.2).
XMLDSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
#: Offset used when a value is in UTC: the platform shows Asia/Seoul (DESIGN.md, "Time").
SEOUL = timezone(timedelta(hours=9))


class Status(StrEnum):
    ACTUAL = "Actual"
    EXERCISE = "Exercise"
    SYSTEM = "System"
    TEST = "Test"
    DRAFT = "Draft"


class MsgType(StrEnum):
    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"
    ACK = "Ack"
    ERROR = "Error"


class Scope(StrEnum):
    PUBLIC = "Public"
    RESTRICTED = "Restricted"
    PRIVATE = "Private"


class Category(StrEnum):
    GEO = "Geo"
    MET = "Met"
    SAFETY = "Safety"
    SECURITY = "Security"
    RESCUE = "Rescue"
    FIRE = "Fire"
    HEALTH = "Health"
    ENV = "Env"
    TRANSPORT = "Transport"
    INFRA = "Infra"
    CBRNE = "CBRNE"
    OTHER = "Other"


class ResponseType(StrEnum):
    SHELTER = "Shelter"
    EVACUATE = "Evacuate"
    PREPARE = "Prepare"
    EXECUTE = "Execute"
    AVOID = "Avoid"
    MONITOR = "Monitor"
    ASSESS = "Assess"
    ALL_CLEAR = "AllClear"
    NONE = "None"


class Urgency(StrEnum):
    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class Severity(StrEnum):
    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class Certainty(StrEnum):
    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


# --- date-times ---------------------------------------------------------------------------------------

# Lenient on input (a `Z` or fractions are accepted and normalised); the output form is strict, below.
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def parse_cap_datetime(text: str) -> datetime:
    """Parse a CAP date-time (``YYYY-MM-DDThh:mm:ss+hh:mm``; ``Z`` and fractions tolerated).

    Returns an aware datetime without microseconds. Raises ``ValueError`` naming the expected form.
    """
    s = text.strip()
    if not _DATETIME_RE.match(s):
        raise ValueError(
            f"{text!r} is not a CAP date-time; expected YYYY-MM-DDThh:mm:ss+hh:mm with an explicit offset"
        )
    return datetime.fromisoformat(s).replace(microsecond=0)


def format_cap_datetime(value: datetime) -> str:
    """Render a date-time exactly as the CAP 1.2 XSD pattern demands: ``YYYY-MM-DDThh:mm:ss+hh:mm``.

    Never ``Z`` and never fractional seconds (the XSD pattern rejects both). A value in UTC is shown in
    Asia/Seoul (+09:00); a value carrying another offset (e.g. a foreign alert's -05:00) keeps it.
    Raises ``ValueError`` for a naive datetime.
    """
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("a CAP date-time must be timezone-aware")
    if offset == timedelta(0):
        value = value.astimezone(SEOUL)
        offset = timedelta(hours=9)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hh, mm = divmod(abs(minutes), 60)
    return f"{value.strftime('%Y-%m-%dT%H:%M:%S')}{sign}{hh:02d}:{mm:02d}"


def _to_datetime(value: object) -> object:
    if isinstance(value, str):
        return parse_cap_datetime(value)
    return value


def _aware_whole_seconds(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("date-time must be timezone-aware (CAP requires an explicit offset)")
    # CAP resolution is one second: fractions are dropped here so the model equals its XML rendition.
    return value.replace(microsecond=0)


CapDateTime = Annotated[
    datetime,
    BeforeValidator(_to_datetime),
    AfterValidator(_aware_whole_seconds),
    PlainSerializer(format_cap_datetime, return_type=str, when_used="json"),
]


# --- simple string rules --------------------------------------------------------------------------------

_FORBIDDEN_ID_CHARS = (" ", ",", "<", "&")


def _no_spaces_commas(value: str) -> str:
    # 3.2.1 identifier and sender: "MUST NOT include spaces, commas or restricted characters (< and &)".
    # Any whitespace counts: a tab or newline would split a <references> entry just as a space does.
    if not value:
        raise ValueError("must not be empty")
    bad = sorted({c for c in value if c in _FORBIDDEN_ID_CHARS or c.isspace()})
    if bad:
        raise ValueError(f"must not contain spaces, commas, '<' or '&' (found {', '.join(map(repr, bad))})")
    return value


CapId = Annotated[str, AfterValidator(_no_spaces_commas)]

# xs:language (RFC 3066 form as the XSD defines it).
_LANGUAGE_RE = re.compile(r"^[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*$")


def _language(value: str) -> str:
    if not _LANGUAGE_RE.match(value.strip()):
        raise ValueError(f"{value!r} is not an RFC 3066 language code such as 'ko-KR' or 'en-US'")
    return value


def _coordinate_pair(text: str, what: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(f"{what}: {text!r} is not a 'lat,lon' pair")
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a 'lat,lon' pair of numbers") from None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError(f"{what}: {text!r} is outside WGS 84 (lat -90..90, lon -180..180)")
    return lat, lon


def polygon_points(text: str) -> list[tuple[float, float]]:
    """The (lat, lon) vertices of a CAP polygon string, WGS 84 degrees.

    3.2.4 polygon: "a minimum of four coordinate pairs", "the first and last pairs of coordinates are
    equal", pairs separated by whitespace. Raises ``ValueError`` saying which rule failed.
    """
    pairs = text.split()
    if len(pairs) < 4:
        raise ValueError(f"a polygon needs at least 4 'lat,lon' pairs, got {len(pairs)}")
    points = [_coordinate_pair(p, f"polygon vertex {i + 1}") for i, p in enumerate(pairs)]
    if points[0] != points[-1]:
        raise ValueError(f"a polygon must be closed: first pair {pairs[0]} differs from last {pairs[-1]}")
    return points


class Circle(NamedTuple):
    lat: float
    lon: float
    radius_km: float


def parse_circle(text: str) -> Circle:
    """A CAP circle ``"lat,lon radius"`` (WGS 84 degrees, radius in kilometres; 3.2.4 circle)."""
    parts = text.split()
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not a circle 'lat,lon radius_km'")
    lat, lon = _coordinate_pair(parts[0], "circle centre")
    try:
        radius = float(parts[1])
    except ValueError:
        raise ValueError(f"circle radius {parts[1]!r} is not a number (kilometres)") from None
    if radius < 0:
        raise ValueError(f"circle radius {parts[1]} km is negative")
    return Circle(lat, lon, radius)


def _check(fn: Callable[[str], object]) -> Callable[[str], str]:
    def run(value: str) -> str:
        fn(value)
        return value

    return run


PolygonText = Annotated[str, AfterValidator(_check(polygon_points))]
CircleText = Annotated[str, AfterValidator(_check(parse_circle))]


def split_group(text: str) -> list[str]:
    """Split a CAP "group listing" (addresses, incidents): whitespace-separated, double quotes group."""
    return [a or b for a, b in re.findall(r'"([^"]*)"|(\S+)', text)]


class Reference(NamedTuple):
    """One entry of <references>: the extended message identifier ``sender,identifier,sent``."""

    sender: str
    identifier: str
    sent: datetime


def parse_references(text: str) -> list[Reference]:
    """Parse a <references> value (3.2.1): whitespace-separated ``sender,identifier,sent`` entries."""
    refs: list[Reference] = []
    for i, entry in enumerate(text.split()):
        parts = entry.split(",")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"entry {i + 1} {entry!r} is not 'sender,identifier,sent'")
        try:
            sent = parse_cap_datetime(parts[2])
        except ValueError as e:
            raise ValueError(f"entry {i + 1} {entry!r}: {e}") from None
        refs.append(Reference(parts[0], parts[1], sent))
    return refs


def _references(value: str) -> str:
    parse_references(value)
    return value


# --- models -------------------------------------------------------------------------------------------


# Python name -> CAP element name where the CAP name is not simply the camelCase form: repeatable
# elements are plural tuples here.
_CAP_NAMES = {
    "codes": "code",
    "infos": "info",
    "categories": "category",
    "response_types": "responseType",
    "event_codes": "eventCode",
    "parameters": "parameter",
    "resources": "resource",
    "areas": "area",
    "polygons": "polygon",
    "circles": "circle",
    "geocodes": "geocode",
    "signatures": "Signature",
}


_NOT_XML_CHAR = NOT_XML_CHAR


def cap_name(field: str) -> str:
    """The CAP element name of a model field (``msg_type`` -> ``msgType``, ``codes`` -> ``code``)."""
    return _CAP_NAMES.get(field) or to_camel(field)


class _Cap(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        # Separate validation/serialisation aliases (not ``alias``) keep the constructor's keywords the
        # Python names for type checkers, while model_validate/model_dump speak CAP.
        alias_generator=AliasGenerator(validation_alias=cap_name, serialization_alias=cap_name),
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        use_enum_values=False,
    )

    @field_validator("*", mode="after")
    @classmethod
    def _xml_characters(cls, value: Any) -> Any:
        # Every CAP string ends up in XML, which cannot carry these: lxml would refuse to serialise the
        # alert at issue time (a 500 after the operator's edit was accepted), so refuse the value here.
        for text in value if isinstance(value, tuple) else (value,):
            if isinstance(text, str) and (bad := _NOT_XML_CHAR.search(text)):
                raise ValueError(
                    f"character U+{ord(bad.group()):04X} at position {bad.start() + 1} cannot be "
                    "written in CAP XML (control characters other than tab and line breaks)"
                )
        return value


class ValuePair(_Cap):
    """``valueName`` / ``value``: the shape of <eventCode>, <parameter> and <geocode> (3.2.2, 3.2.4)."""

    value_name: str
    value: str


#: A <geocode>, e.g. ``Geocode(value_name="KR.SIG", value="11590")`` (sigungu code of Dongjak-gu).
Geocode = ValuePair
EventCode = ValuePair
Parameter = ValuePair


class Resource(_Cap):
    """<resource> (3.2.3): a file with supplemental information."""

    resource_desc: str
    mime_type: str
    #: Approximate size in bytes.
    size: int | None = Field(default=None, ge=0)
    uri: str | None = Field(default=None)
    #: Base-64 encoded content, "in lieu of" the uri.
    deref_uri: str | None = Field(default=None)
    #: SHA-1 hash of the resource file.
    digest: str | None = Field(default=None)


class Area(_Cap):
    """<area> (3.2.4). Coordinates are WGS 84 "lat,lon"; altitude and ceiling are feet above sea level."""

    area_desc: str
    polygons: tuple[PolygonText, ...] = Field(default=())
    circles: tuple[CircleText, ...] = Field(default=())
    geocodes: tuple[ValuePair, ...] = Field(default=())
    altitude: Decimal | None = Field(default=None)
    ceiling: Decimal | None = Field(default=None)

    @model_validator(mode="after")
    def _altitude_ceiling(self) -> Self:
        # 3.2.4 ceiling: "MUST NOT be used except in combination with the altitude element".
        if self.ceiling is not None and self.altitude is None:
            raise ValueError("ceiling: may only be given together with altitude")
        if self.ceiling is not None and self.altitude is not None and self.ceiling < self.altitude:
            raise ValueError(f"ceiling: {self.ceiling} is below altitude {self.altitude}")
        return self

    def polygon_points(self) -> list[list[tuple[float, float]]]:
        """Each polygon as its (lat, lon) vertices."""
        return [polygon_points(p) for p in self.polygons]

    def circle_values(self) -> list[Circle]:
        return [parse_circle(c) for c in self.circles]


class Info(_Cap):
    """<info> (3.2.2): the event, its urgency/severity/certainty, the audience and what to do."""

    #: Absent means "en-US" (the XSD default); ``None`` is kept so that absence survives a round trip.
    language: Annotated[str, AfterValidator(_language)] | None = Field(default=None)
    categories: tuple[Category, ...] = Field(min_length=1)
    event: str
    response_types: tuple[ResponseType, ...] = Field(default=())
    urgency: Urgency
    severity: Severity
    certainty: Certainty
    audience: str | None = Field(default=None)
    event_codes: tuple[ValuePair, ...] = Field(default=())
    effective: CapDateTime | None = Field(default=None)
    onset: CapDateTime | None = Field(default=None)
    expires: CapDateTime | None = Field(default=None)
    sender_name: str | None = Field(default=None)
    headline: str | None = Field(default=None)
    description: str | None = Field(default=None)
    instruction: str | None = Field(default=None)
    web: str | None = Field(default=None)
    contact: str | None = Field(default=None)
    parameters: tuple[ValuePair, ...] = Field(default=())
    resources: tuple[Resource, ...] = Field(default=())
    areas: tuple[Area, ...] = Field(default=())

    @property
    def effective_language(self) -> str:
        return (self.language or "en-US").strip()


class Alert(_Cap):
    """<alert> (3.2.1): the message envelope and its <info> blocks."""

    identifier: CapId
    sender: CapId
    sent: CapDateTime
    status: Status
    msg_type: MsgType
    source: str | None = Field(default=None)
    scope: Scope
    restriction: str | None = Field(default=None)
    addresses: str | None = Field(default=None)
    codes: tuple[str, ...] = Field(default=())
    note: str | None = Field(default=None)
    references: Annotated[str, AfterValidator(_references)] | None = Field(default=None)
    incidents: str | None = Field(default=None)
    infos: tuple[Info, ...] = Field(default=())
    #: XML-Signature (xmldsig) elements after the last <info>, kept verbatim as serialised XML so that
    #: nothing is lost. Re-serialising an alert does not keep a signature valid: verification is the
    #: receiver's business and needs the original bytes.
    signatures: tuple[str, ...] = Field(default=())

    @model_validator(mode="after")
    def _conditional_elements(self) -> Self:
        # 3.2.1 restriction: "Used when <scope> value is Restricted".
        if self.scope is Scope.RESTRICTED and not (self.restriction or "").strip():
            raise ValueError("restriction: required when scope is Restricted")
        # 3.2.1 addresses: "Required when <scope> is Private".
        if self.scope is Scope.PRIVATE and not (self.addresses or "").strip():
            raise ValueError("addresses: required when scope is Private")
        # 3.2.1 msgType: Update, Cancel, Ack and Error all act on "the earlier message(s) identified in
        # <references>"; without references the message is meaningless.
        if self.msg_type is not MsgType.ALERT and not (self.references or "").strip():
            raise ValueError(
                f"references: required when msgType is {self.msg_type.value} "
                "(give the earlier message as 'sender,identifier,sent'; see reference_to())"
            )
        return self

    @property
    def references_list(self) -> list[Reference]:
        """The messages this one refers to (empty when there is no <references>)."""
        return parse_references(self.references) if self.references else []

    @property
    def addresses_list(self) -> list[str]:
        return split_group(self.addresses) if self.addresses else []

    @property
    def incidents_list(self) -> list[str]:
        return split_group(self.incidents) if self.incidents else []


def reference_to(alert: Alert) -> str:
    """The extended message identifier of ``alert`` (``sender,identifier,sent``), for <references>.

    ``sent`` is rendered as the XML rendition of that alert shows it, so it matches character for
    character. Join several with a space.
    """
    return f"{alert.sender},{alert.identifier},{format_cap_datetime(alert.sent)}"
