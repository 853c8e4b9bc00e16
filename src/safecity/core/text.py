# SPDX-License-Identifier: Apache-2.0
"""Rules for text that reaches people or documents: what XML 1.0 can carry."""

from __future__ import annotations

import re

#: Characters XML 1.0 cannot carry (2.2 Char): C0 controls except tab, LF, CR; surrogates; U+FFFE/U+FFFF.
#: Text that may end up in a CAP alert (titles, descriptions, instructions) must not hold them.
NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
