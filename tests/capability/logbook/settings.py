# SPDX-License-Identifier: Apache-2.0
from __future__ import annotations

from pydantic import BaseModel, Field


class LogbookSettings(BaseModel):
    shift_name: str = Field(
        "day", description="The shift whose entries are written (SAFECITY_LOGBOOK__SHIFT_NAME)."
    )
    max_entry_chars: int = Field(500, ge=10, description="The longest entry accepted.")
