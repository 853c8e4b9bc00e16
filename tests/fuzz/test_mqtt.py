# SPDX-License-Identifier: Apache-2.0
"""Property tests of MQTT create publishes: any topic and payload is stored or answered on the error
topic with a message; parsing raises only the platform's errors and the ingest worker never fails a batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from safecity.auth.model import Principal, Role
from safecity.core.errors import SafecityError
from safecity.sensing.ingest import ObservationIn
from safecity.sensing.mqtt_ingest import CREATE_OBSERVATIONS, Pipeline, to_observation
from safecity.sensing.mqtt_port import Incoming
from tests.fuzz.conftest import Stack


def _dumps(value: Any) -> bytes:
    # the stdlib encoder, unlike orjson, writes integers beyond 64 bits, which devices may well send
    return json.dumps(value).encode()


OPERATOR = Principal("fuzz-operator", frozenset({Role.operator}), kind="user")

big_ints = st.integers(-(2**70), 2**70) | st.sampled_from([0, 1, 2, -1, 2**63 - 1, 2**63, 2**64])
json_leaf = (
    st.none()
    | st.booleans()
    | big_ints
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["2026-11-25T00:00:00Z", "2026-11-25T00:00:00Z/2026-11-25T01:00:00Z", "9999-99-99", ""])
)
json_values = st.recursive(
    json_leaf,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=6,
)
refs = st.fixed_dictionaries({"@iot.id": big_ints | st.text(max_size=5) | st.none()}) | json_values
observations = st.fixed_dictionaries(
    {},
    optional={
        "phenomenonTime": json_values,
        "result": json_values,
        "resultTime": json_values,
        "resultQuality": json_values,
        "validTime": json_values,
        "parameters": json_values,
        "Datastream": refs,
        "MultiDatastream": refs,
        "FeatureOfInterest": refs,
        "@iot.id": json_values,
    },
)
data_arrays = st.lists(
    st.fixed_dictionaries(
        {
            "Datastream": refs,
            "components": st.lists(
                st.sampled_from(["phenomenonTime", "result", "resultTime", "FeatureOfInterest/id", "x"]),
                max_size=4,
            )
            | json_values,
            "dataArray": st.lists(st.lists(json_values, max_size=4), max_size=3) | json_values,
        }
    )
    | json_values,
    max_size=2,
)
topics = st.sampled_from(
    [
        "v1.1/Datastreams(1)/Observations",
        "v1.1/Datastreams(2)/Observations",
        "v1.1/Datastreams(99999999999999999999999)/Observations",
        "v1.1/Datastreams(0)/Observations",
        "v1.1/MultiDatastreams(1)/Observations",
        "v1.1/FeaturesOfInterest(1)/Observations",
        "v1.1/FeaturesOfInterest(99999999999999999999999)/Observations",
        "v1.1/Observations",
        "v1.1/Datastreams(١)/Observations",
    ]
) | st.text(max_size=40)
payloads = (
    observations.map(_dumps)
    | json_values.map(_dumps)
    | st.binary(max_size=80)
    | st.sampled_from([b"", b"{", b"[]", b"null", b'{"result": 1e999}', b'{"result": NaN}'])
)

FAST = settings(max_examples=200, deadline=None, derandomize=True, database=None)
DB = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@FAST
@given(topic=topics, payload=payloads)
@example(topic="v1.1/Datastreams(99999999999999999999999)/Observations", payload=b'{"result": 1}')
def test_a_publish_parses_or_raises_a_platform_error(topic: str, payload: bytes) -> None:
    try:
        item = to_observation(Incoming(topic, payload, "dev-1", OPERATOR))
    except SafecityError as e:
        assert e.message and 400 <= e.status < 500
    else:
        assert isinstance(item, ObservationIn)


class Recorder:
    """The broker side of the port: what the pipeline publishes (its answers) is kept for the test."""

    def __init__(self) -> None:
        self.endpoints: list[str] = []
        self.sent: list[tuple[str, bytes]] = []

    def listening(self) -> Callable[[str], bool]:
        return lambda topic: True

    def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        self.sent.extend(messages)

    def answer(self, answers: Sequence[tuple[str, bytes, object | None]]) -> None:
        self.sent.extend((topic, data) for topic, data, _ in answers)

    async def stop(self) -> None:
        return None


messages = st.one_of(
    st.tuples(topics, payloads),
    st.tuples(st.just(CREATE_OBSERVATIONS), data_arrays.map(_dumps) | payloads),
)


@DB
@given(batch=st.lists(messages, min_size=1, max_size=4), anonymous=st.booleans())
@example(
    batch=[("v1.1/Datastreams(99999999999999999999999)/Observations", b'{"result": 1}')], anonymous=False
)
@example(
    batch=[("v1.1/Datastreams(1)/Observations", b'{"result": 1, "phenomenonTime": "0000-01-01T00:00:00Z"}')],
    anonymous=False,
)
def test_the_ingest_worker_stores_or_answers_every_publish(
    stacks: dict[str, Stack], batch: list[tuple[str, bytes]], anonymous: bool
) -> None:
    for stack in stacks.values():
        transport = Recorder()
        pipeline = Pipeline(stack.platform.sensing.ingest, stack.platform.store.engine.connect, transport)
        incoming = [Incoming(t, p, "dev-1", None if anonymous else OPERATOR) for t, p in batch]
        pipeline.process(incoming)  # the worker turns any exception here into "server error, retry"
        for topic, answer in transport.sent:
            assert topic.startswith("v1.1/errors")
            body: Any = orjson.loads(answer)
            assert body["message"], body
