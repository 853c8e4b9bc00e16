# SPDX-License-Identifier: Apache-2.0
"""Rules for text that reaches people, documents or the store: what XML 1.0 and PostgreSQL can carry."""

from __future__ import annotations

import re
from typing import Any

#: Characters XML 1.0 cannot carry (2.2 Char): C0 controls except tab, LF, CR; surrogates; U+FFFE/U+FFFF.
#: Text that may end up in a CAP alert (titles, descriptions, instructions) must not hold them.
NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

#: The reason a value holding U+0000 is refused (PostgreSQL text and JSON cannot hold it).
NUL_REFUSED = "contains the NUL character (U+0000), which cannot be stored; remove it"


def nul_path(value: Any) -> str | None:
    """Where the first NUL character is in a JSON value (``""`` for the value itself, ``/name``,
    ``[3]``...), or None when there is none. Keys count too. Iterative: JSON may nest 1,000 deep."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        at, v = stack.pop()
        if isinstance(v, str):
            if "\x00" in v:
                return at
        elif isinstance(v, dict):
            for k in v:
                if "\x00" in k:
                    return f"{at}/{k.replace(chr(0), '?')}"
            stack.extend((f"{at}/{k}", item) for k, item in reversed(v.items()))
        elif isinstance(v, list):
            stack.extend((f"{at}[{i}]", item) for i, item in reversed(list(enumerate(v))))
    return None
