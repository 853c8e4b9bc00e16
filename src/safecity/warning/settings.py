# SPDX-License-Identifier: Apache-2.0
"""The warning capability's settings: ``SAFECITY_WARNING__<FIELD>`` and ``SAFECITY_WARNING__SMTP__<FIELD>``
(or ``[warning]`` and ``[warning.smtp]`` in the ``SAFECITY_CONFIG`` file), read as ``settings.warning``.

The models live with the platform's settings (``safecity.settings.nested``), which every layer may
read, so that the platform's one settings object nests them like the bus's; this module is the name the
capability's code and a city's deployment docs use. The flat names they replace (``SAFECITY_SMTP_HOST``,
``SAFECITY_WARNING_AUTO_LEVELS``...) still work, with a warning once: see ``DEPRECATED_NAMES``.
"""

from __future__ import annotations

from safecity.settings.nested import DEPRECATED_NAMES, SmtpSettings, WarningSettings

__all__ = ["DEPRECATED_NAMES", "SmtpSettings", "WarningSettings"]
