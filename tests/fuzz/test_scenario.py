# SPDX-License-Identifier: Apache-2.0
"""Property tests of demo scenario files with ``--set`` overrides: loading gives a scenario or a
ConfigError naming the item, and a loaded scenario's signals evaluate to numbers.

demo/ belongs to another helper: inputs that crash are recorded here as xfail, not fixed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from safecity.core.errors import ConfigError
from safecity.demo.scenario import load, names, parse_set

FAST = settings(max_examples=100, deadline=None, derandomize=True, database=None)

values = st.sampled_from(
    ["5.8", "abc", "1e999", "nan", "-5", "0", "1,2", "1,2,3", "", "3h", "-1s", "x,y"]
) | st.text(max_size=8)
items = st.builds(
    lambda k, v: f"{k}={v}",
    st.sampled_from(["magnitude", "epicentre", "depth_km", "origin", "peak", "nothing"])
    | st.text(max_size=5),
    values,
) | st.text(max_size=10)


@FAST
@given(name=st.sampled_from(names()) | st.text(max_size=12), sets=st.lists(items, max_size=3))
def test_a_scenario_loads_or_names_the_problem(name: str, sets: list[str]) -> None:
    try:
        scenario = load(name, parse_set(sets))
    except ConfigError as e:
        assert e.where, e
        return
    when = datetime(2026, 11, 25, tzinfo=UTC)
    for station in scenario.stations:
        for stream in station.streams:
            for t in (0.0, 600.0, scenario.duration_s):
                assert isinstance(stream.value(t, when), float)
