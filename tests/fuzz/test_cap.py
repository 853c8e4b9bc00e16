# SPDX-License-Identifier: Apache-2.0
"""Property tests of CAP 1.2 reading: arbitrary and mutated documents are read or refused with a
CapXmlError (a 400 naming the element and line); a generated alert survives model -> XML -> model
and model -> JSON -> model unchanged; an import through the API never answers 5xx.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from safecity.core.errors import BadRequest
from safecity.warning.cap import (
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
    from_json,
    from_xml,
    parse_many,
    to_json,
    to_xml,
)
from tests.fuzz.conftest import Stack
from tests.warning.cap_data import ALERT_FILES

FAST = settings(max_examples=150, deadline=None, derandomize=True, database=None)
API = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

SEEDS = [p.read_bytes() for p in ALERT_FILES]


def _read(data: bytes) -> None:
    for fn in (from_xml, parse_many):
        try:
            fn(data)
        except BadRequest as e:
            assert e.message, "a CAP error without a message"


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real alert with one element's text replaced, a slice cut, or bytes spliced in."""
    doc = draw(st.sampled_from(SEEDS))
    how = draw(st.sampled_from(["text", "cut", "splice"]))
    if how == "text":
        spans = [m.span(1) for m in re.finditer(rb">([^<]+)<", doc)]
        a, b = draw(st.sampled_from(spans))
        new = draw(st.text(max_size=40)).encode("utf-8", "surrogatepass")
        new = new.replace(b"<", b"&lt;").replace(b"&", b"&amp;") if draw(st.booleans()) else new
        return doc[:a] + new + doc[b:]
    a = draw(st.integers(0, len(doc)))
    b = draw(st.integers(a, min(len(doc), a + 200)))
    if how == "cut":
        return doc[:a] + doc[b:]
    return doc[:a] + draw(st.binary(max_size=30)) + doc[a:]


@FAST
@given(data=st.binary(max_size=300) | mutated())
@example(data=b"")
@example(data=b"<alert/>")
@example(data=b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'/>")
@example(data=b'<?xml version="1.0" encoding="x-unknown"?><alert/>')
@example(data=b"\xff\xfe<\x00a\x00/\x00>\x00")
@example(data=b"<alerts>" + b"<a>" * 300 + b"</a>" * 300 + b"</alerts>")
def test_any_bytes_are_read_or_refused_with_a_cap_error(data: bytes) -> None:
    _read(data)


# --- round trip ---------------------------------------------------------------------------------------


# What XML 1.0 can carry: no C0 controls but tab/LF, no surrogates, no U+FFFE/U+FFFF. Leading/trailing
# whitespace is kept by the reader (strings are verbatim), CR is normalised by every XML parser.
def _model(cls: type[Any]) -> Any:
    # st.builds on a pydantic model with validation aliases fills the unlisted optional fields by alias
    # too, which extra="forbid" refuses; a plain callable gets only the keywords given here.
    return lambda **kw: cls(**kw)


xml_text = st.text(
    alphabet=st.characters(
        codec="utf-8",
        exclude_categories=["Cs", "Cc"],
        exclude_characters="\ufffe\uffff",
    )
    | st.sampled_from(["\t", "\n", "가", "<", "&", "]", ">"]),
    max_size=30,
)
ident = st.text(
    alphabet=st.characters(codec="ascii", min_codepoint=33, max_codepoint=126, exclude_characters=",<&"),
    min_size=1,
    max_size=20,
)
whens = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)).map(
    lambda d: d.replace(microsecond=0)
)
offsets = st.sampled_from([UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5, minutes=-30))])
aware = st.builds(lambda d, tz: d.replace(tzinfo=tz), whens, offsets)
lat = st.floats(-90, 90, allow_nan=False).map(lambda x: round(x, 4))
lon = st.floats(-180, 180, allow_nan=False).map(lambda x: round(x, 4))
pairs = st.builds(_model(ValuePair), value_name=xml_text, value=xml_text)


@st.composite
def polygons(draw: st.DrawFn) -> str:
    pts = draw(st.lists(st.tuples(lat, lon), min_size=3, max_size=6))
    pts.append(pts[0])
    return " ".join(f"{a},{b}" for a, b in pts)


circles = st.builds(lambda a, b, r: f"{a},{b} {r}", lat, lon, st.integers(0, 500))
areas = st.builds(
    _model(Area),
    area_desc=xml_text,
    polygons=st.lists(polygons(), max_size=2).map(tuple),
    circles=st.lists(circles, max_size=2).map(tuple),
    geocodes=st.lists(pairs, max_size=2).map(tuple),
)
infos = st.builds(
    _model(Info),
    language=st.none() | st.sampled_from(["ko-KR", "en-US", "ko"]),
    categories=st.lists(st.sampled_from(list(Category)), min_size=1, max_size=3, unique=True).map(tuple),
    event=xml_text,
    response_types=st.lists(st.sampled_from(list(ResponseType)), max_size=2, unique=True).map(tuple),
    urgency=st.sampled_from(list(Urgency)),
    severity=st.sampled_from(list(Severity)),
    certainty=st.sampled_from(list(Certainty)),
    audience=st.none() | xml_text,
    event_codes=st.lists(pairs, max_size=2).map(tuple),
    effective=st.none() | aware,
    expires=st.none() | aware,
    headline=st.none() | xml_text,
    description=st.none() | xml_text,
    instruction=st.none() | xml_text,
    parameters=st.lists(pairs, max_size=2).map(tuple),
    resources=st.lists(
        st.builds(
            _model(Resource),
            resource_desc=xml_text,
            mime_type=st.sampled_from(["image/png", "text/plain"]),
            size=st.none() | st.integers(0, 2**40),
            uri=st.none() | st.just("https://example.org/r.png"),
        ),
        max_size=1,
    ).map(tuple),
    areas=st.lists(areas, max_size=2).map(tuple),
)
alerts = st.builds(
    _model(Alert),
    identifier=ident,
    sender=ident,
    sent=aware,
    status=st.sampled_from(list(Status)),
    msg_type=st.just(MsgType.ALERT),
    scope=st.sampled_from([Scope.PUBLIC]),
    source=st.none() | xml_text,
    codes=st.lists(xml_text, max_size=2).map(tuple),
    note=st.none() | xml_text,
    incidents=st.none() | xml_text,
    infos=st.lists(infos, max_size=2).map(tuple),
)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(alert=alerts)
def test_a_generated_alert_survives_xml_and_json(alert: Alert) -> None:
    assert from_xml(to_xml(alert)) == alert
    assert from_json(to_json(alert)) == alert


def test_decimal_altitude_round_trips() -> None:
    area = Area(area_desc="x", altitude=Decimal("-12.5"), ceiling=Decimal("1e3"))
    alert = Alert(
        identifier="a",
        sender="b",
        sent=datetime(2026, 1, 1, tzinfo=UTC),
        status=Status.ACTUAL,
        msg_type=MsgType.ALERT,
        scope=Scope.PUBLIC,
        infos=(
            Info(
                categories=(Category.MET,),
                event="e",
                urgency=Urgency.IMMEDIATE,
                severity=Severity.SEVERE,
                certainty=Certainty.OBSERVED,
                areas=(area,),
            ),
        ),
    )
    assert from_xml(to_xml(alert)) == alert


# --- through the API, on both stores ------------------------------------------------------------------


def _post(stack: Stack, data: bytes) -> Any:
    r = stack.client.post(
        "/alerts/import", content=data, headers={**stack.headers, "Content-Type": "application/xml"}
    )
    assert r.status_code < 500, f"{stack.dialect}: {r.status_code} {r.text}"
    if r.status_code >= 400:
        assert r.json()["message"], r.text
    return r


@API
@given(data=mutated())
def test_importing_mutated_alerts_never_answers_5xx(stacks: dict[str, Stack], data: bytes) -> None:
    for stack in stacks.values():
        _post(stack, data)


def test_import_of_a_very_long_identifier(stacks: dict[str, Stack]) -> None:
    doc = SEEDS[0]
    found = re.search(rb"<identifier>([^<]*)</identifier>", doc)
    assert found is not None
    long_id = doc[: found.start(1)] + b"x" * 5000 + doc[found.end(1) :]
    for stack in stacks.values():
        r = _post(stack, long_id)
        assert r.status_code in (201, 400), r.text


# --- regression: a control character in an operator's edit -------------------------------------------


def test_a_control_character_is_refused_by_the_model() -> None:
    """Found by fuzzing: the model took U+0001, and to_xml then raised ValueError (a 500 at issue)."""
    alert = Alert(
        identifier="a",
        sender="b",
        sent=datetime(2026, 1, 1, tzinfo=UTC),
        status=Status.ACTUAL,
        msg_type=MsgType.ALERT,
        scope=Scope.PUBLIC,
    )
    body = to_json(alert)
    body["note"] = "water\x01level"
    try:
        from_json(body)
    except BadRequest as e:
        assert e.where == "note" and "U+0001" in e.message
    else:
        raise AssertionError("a control character was accepted")


def test_an_edit_with_a_control_character_is_a_400_naming_the_field(stacks: dict[str, Stack]) -> None:
    for stack in stacks.values():
        r = stack.client.post(
            "/incidents",
            json={"hazard": "heavy_rain", "level": 3, "title_ko": "호우", "districts": ["11590"]},
            headers=stack.headers,
        )
        assert r.status_code == 201, r.text
        draft = stack.platform.warnings.draft_for(r.json()["id"])
        assert draft is not None and draft.state == "draft", draft
        edit = stack.client.patch(
            f"/alerts/{draft.identifier}", json={"ko": {"headline": "침수\x01주의"}}, headers=stack.headers
        )
        assert edit.status_code == 400, edit.text
        assert "headline" in edit.json()["where"] and "U+0001" in edit.json()["message"]
        xml = stack.client.get(f"/alerts/{draft.identifier}.xml", headers=stack.headers)
        assert xml.status_code == 200 and b"\x01" not in xml.content
