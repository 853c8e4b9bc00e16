# SPDX-License-Identifier: Apache-2.0
"""The auth capability's settings (``SAFECITY_AUTH__<FIELD>``, or ``[auth]`` in the ``SAFECITY_CONFIG`` file)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from argon2 import PasswordHasher


class AuthSettings(BaseModel):
    password_hash: Literal["rfc9106-low-memory", "cheapest"] = Field(
        "rfc9106-low-memory",
        description="Argon2id parameters of new password hashes: rfc9106-low-memory (t=3, 64 MiB, p=4; "
        "argon2-cffi's default, OWASP's recommendation). cheapest (t=1, 8 KiB) is for test suites, which "
        "create and log in hundreds of users, and production mode refuses it. A hash keeps the parameters "
        "it was made with, so a change applies to passwords set afterwards.",
    )

    def hasher(self) -> PasswordHasher:
        from argon2 import PasswordHasher, profiles  # imported when the platform is built

        chosen = profiles.CHEAPEST if self.password_hash == "cheapest" else profiles.RFC_9106_LOW_MEMORY
        return PasswordHasher.from_parameters(chosen)
