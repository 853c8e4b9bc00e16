# SPDX-License-Identifier: Apache-2.0
"""CAP 1.2 as JSON: the element names of the standard as keys (camelCase as in CAP), a list for every
repeatable element (``code``, ``info``, ``category``, ``responseType``, ``eventCode``, ``parameter``,
``resource``, ``area``, ``polygon``, ``circle``, ``geocode``), strings for text.

There is no OASIS JSON binding of CAP 1.2; this rendition mirrors the XML one to one so that nothing is
lost in either direction:
- an absent element is an absent key (an empty repeatable element too); ``""`` is an empty element;
- date-times are strings in the XML form ``YYYY-MM-DDThh:mm:ss+hh:mm``;
- ``size`` is a JSON integer; ``altitude``/``ceiling`` are decimal strings (xs:decimal, kept exact);
- xmldsig signatures are a list ``Signature`` of serialised XML strings.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from safecity.core.errors import BadRequest
from safecity.warning.cap.model import Alert


class CapJsonError(BadRequest):
    code = "cap_invalid"


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None and v != [] and v != ()}
    if isinstance(value, list | tuple):
        return [_prune(v) for v in value]
    return value


def to_json(alert: Alert) -> dict[str, Any]:
    """The alert as a JSON-ready dict keyed by CAP element names."""
    return dict(_prune(alert.model_dump(mode="json", by_alias=True)))


def from_json(data: dict[str, Any]) -> Alert:
    """Build an alert from the JSON rendition of :func:`to_json` (CAP element names only).

    Raises :class:`CapJsonError` whose ``details`` lists each problem as ``"info.0.area.1.polygon.0: ..."``.
    """
    try:
        return Alert.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as e:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or 'alert'}: {str(err['msg']).removeprefix('Value error, ')}"
            for err in e.errors()
        ]
        raise CapJsonError(
            "; ".join(problems),
            where=".".join(str(p) for p in e.errors()[0]["loc"]) or None,
            message_ko="CAP 규칙에 맞지 않는 값이 있습니다",
            details=problems,
        ) from None
