# SPDX-License-Identifier: Apache-2.0
"""Property tests of the OGC API – Features CQL2-text filter and query parameters: any text is answered
200 or 400 naming ``filter`` (or the parameter), on both stores, for every collection.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import Stack

API = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

names = st.sampled_from(
    ["name_ko", "name_en", "code", "population", "capacity", "kind", '"name_ko"', "id", "x"]
)
literals = st.sampled_from(
    [
        *("'명동'", "''", "'it''s'", "'%'", "1", "-1", "1.5", "1e999", "-1e999", "TRUE", "false", "NULL"),
        *("9223372036854775807", "9223372036854775808", "99999999999999999999999999", "9" * 5000),
    ]
)
ops = st.sampled_from(["=", "<>", "<", "<=", ">", ">=", "LIKE", "NOT LIKE", "IS NULL", "IS NOT NULL"])
comparisons = st.builds(
    lambda n, o, lit: f"{n} {o}" if o.startswith("IS") else f"{n} {o} {lit}", names, ops, literals
)
filters = st.recursive(
    comparisons,
    lambda c: st.one_of(
        st.tuples(c, st.sampled_from(["AND", "OR", "and"]), c).map(" ".join),
        c.map(lambda x: f"NOT {x}"),
        c.map(lambda x: f"({x})"),
    ),
    max_leaves=4,
) | st.text(max_size=40)


def _collections(stack: Stack) -> list[str]:
    r = stack.get("/ogcapi/collections")
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()["collections"]]


@API
@given(
    text=filters,
    extra=st.dictionaries(names | st.text(max_size=5), literals | st.text(max_size=8), max_size=2),
    bbox=st.none()
    | st.sampled_from(["126,37,128,38", "1,2,3", "nan,nan,nan,nan", "200,100,-200,-100", "a,b,c,d"]),
)
@example(text="population > 9223372036854775808", extra={}, bbox=None)
@example(text="population = " + "9" * 5000, extra={}, bbox=None)
@example(text="population > 1e999", extra={"population": "1e999"}, bbox=None)
@example(text="(" * 2000 + "code = '1'" + ")" * 2000, extra={}, bbox=None)
@example(text="NOT " * 2000 + "code = '1'", extra={}, bbox=None)
def test_any_filter_is_a_200_or_a_400_naming_it(
    stacks: dict[str, Stack], text: str, extra: dict[str, str], bbox: str | None
) -> None:
    for stack in stacks.values():
        for collection in _collections(stack):
            params: dict[str, Any] = {"filter": text, **extra}
            if bbox is not None:
                params["bbox"] = bbox
            r = stack.get(f"/ogcapi/collections/{collection}/items", params=params)
            assert r.status_code < 500, f"{stack.dialect} {collection} {params}: {r.status_code} {r.text}"
            if r.status_code == 400:
                assert "where" in r.json(), r.text  # may be "" for a parameter with an empty name
