# SPDX-License-Identifier: Apache-2.0
"""SensorThings ``$filter`` and ``$orderby`` (SensorThings 1.1 §9.3.3, OData 4.0) as SQLAlchemy Core.

Parsing is done by the ``odata-query`` package (its SLY lexer and LALR parser); this package only
extends its vocabulary and translates the tree it returns:

* the lexer also accepts ``geometry'...'`` literals (besides ``geography'...'``), remembers where each
  name starts (for error messages) and keeps dotted names such as ``geo.distance`` whole;
* the parser accepts the SensorThings functions (``substringof``, ``st_within``...) besides the OData
  ones. It reuses the grammar and LALR tables of :class:`ODataParser` unchanged: only the method that
  checks a function call is overridden.

How properties map to SQL (see :class:`~safecity.sensing.sta.model.Kind`):

* ``ID`` and ``TEXT`` are their column;
* ``TIME`` is its column; ``INTERVAL`` (``phenomenonTime``, ``resultTime``, ``validTime``) compares its
  **start** column. Date-time literals must carry ``Z`` or an offset and are handed to
  :meth:`Store.timestamp_literal`, so they compare correctly on SQLite (integer microseconds) and
  PostgreSQL (``timestamptz``). A string literal that is an ISO 8601 instant is also accepted;
* ``GEOJSON`` (``location``, ``feature``, ``observedArea``) is its geometry column, usable in spatial
  functions and in ``eq null`` / ``ne null``;
* ``RESULT`` is ``result_number`` when compared with a number (or used in arithmetic), and the JSON
  value of ``result_json`` when compared with a string or a boolean;
* ``JSON`` properties with a path (``properties/owner``, ``unitOfMeasurement/symbol``,
  ``parameters/depth``, also ``result/x`` into a JSON result) extract the value at that path, typed by
  what it is compared with: a number matches JSON numbers only, a string JSON strings only, a boolean
  JSON booleans only (the same on both databases);
* navigation paths (``Datastream/Thing/name``, ``Thing/Locations/name``) become a correlated
  ``EXISTS`` around the smallest condition that uses them, so a path through a to-many navigation
  means "any". ``X/id`` through a navigation with a local foreign key is that column (``Datastream/id
  eq 7`` is ``datastream_id = 7``, which an index answers).

Null semantics: ``ne`` is ``IS DISTINCT FROM`` (``properties/owner ne 'x'`` also matches things
without an owner, as OData says); other comparisons with a missing value are SQL unknown.

Functions: the ones in :data:`FUNCTIONS`. ``date(t)`` compared with a date literal becomes a range on
``t`` (UTC days); ``time(t)`` compares seconds since midnight UTC; ``totaloffsetminutes`` of a stored
time is 0 (times are stored in UTC); ``now()`` is fixed per request. ``geo.distance`` and ``geo.length``
are geodesic metres. Date-time arithmetic is folded in Python and so only works on constants
(``now() sub duration'P1D'``); durations may use days, hours, minutes and seconds.

Not supported (each answers a BadRequest saying so): lambda operators ``any``/``all``; arithmetic on a
stored time (``phenomenonTime add duration'PT1H'``) and differences of times; durations in years or
months; comparing whole JSON documents or geometries (other than with null); the OData functions
``matchesPattern``, ``totalseconds``, ``hassubset``, ``hassubsequence``, ``cast``, ``isof``; sorting through
a to-many navigation. JSON members are reached by name only: keys that are not OData identifiers
(``water-level``, ``2nd``), keys named like keywords (``null``, ``true``, ``false``, ``any``, ``all``) and
array positions (``result/0``) cannot be addressed. ``not`` follows SQL: ``not (x eq 1)`` is unknown,
not true, where x is missing (``ne`` itself does match missing values).

Errors are :class:`BadRequest` with ``where`` set to ``$filter`` or ``$orderby``; positions in messages
count characters from 1.
"""

from safecity.sensing.sta.odata.grammar import FUNCTIONS, parse_filter, parse_orderby
from safecity.sensing.sta.odata.translate import filter_clause, order_clauses

__all__ = ["FUNCTIONS", "filter_clause", "order_clauses", "parse_filter", "parse_orderby"]
