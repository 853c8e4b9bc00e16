# SPDX-License-Identifier: Apache-2.0
"""Domain errors. Each carries its HTTP status and a bilingual message; one handler renders them.

The message says what was wrong and where (``where``: a field path, a row number, a line, a position in
an expression) so a client can fix its request without reading our logs.
"""

from __future__ import annotations

from typing import Any, TypeGuard


class SafecityError(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        where: str | None = None,
        message_ko: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.message_ko = message_ko
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.message_ko:
            body["message_ko"] = self.message_ko
        if self.where is not None:
            body["where"] = self.where
        if self.details is not None:
            body["details"] = self.details
        return body


class BadRequest(SafecityError):
    status = 400
    code = "bad_request"


class NotFound(SafecityError):
    status = 404
    code = "not_found"


class Conflict(SafecityError):
    status = 409
    code = "conflict"


class Unauthorized(SafecityError):
    status = 401
    code = "unauthorized"


class Forbidden(SafecityError):
    status = 403
    code = "forbidden"


class PayloadTooLarge(SafecityError):
    status = 413
    code = "payload_too_large"


class ConfigError(SafecityError):
    """A setting or a data file is wrong; raised at start-up, never from a request."""

    status = 500
    code = "config_error"


#: Ids are 64-bit signed integers in both stores.
MAX_ID = 2**63 - 1


def is_id(value: object) -> TypeGuard[int]:
    """True for a usable entity id: an int (not a bool) from 1 to :data:`MAX_ID`."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID
