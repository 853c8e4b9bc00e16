# SPDX-License-Identifier: Apache-2.0
"""The typed payloads: what is stored reads back the same, a payload that does not fit is refused, and
the audit's types come from the catalogue."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

import safecity.bus.events  # noqa: F401 - declares bus.ReplayRequested
from safecity.core.events import Envelope, audited_types, event_class
from safecity.sensing.events import ObservationAccepted, ObservationsAccepted, datastreams, observations
from safecity.situation.events import CrisisLevelChanged
from safecity.warning.events import AlertIssued

T = datetime(2022, 8, 8, 3, 0, 0, 123456, tzinfo=UTC)


def test_an_observation_batch_reads_back_the_same_values() -> None:
    items = [
        ObservationAccepted(1, 7, None, 3, T, None, None, 12.5, 0),
        ObservationAccepted(2, None, 9, 3, T, T, datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC), [1, "a"], 4),
        ObservationAccepted(3, 7, None, 4, T, None, T, {"v": True}, 0),
    ]
    stored = orjson.loads(orjson.dumps(ObservationsAccepted.of(items).to_json()))
    assert stored["datastreamIds"] == [7, None, 7] and stored["results"][1] == [1, "a"]
    assert event_class("sensing.ObservationAccepted").model_validate(stored).items() == items  # type: ignore[attr-defined]


def test_a_subscriber_of_a_few_streams_gets_exactly_theirs_in_order() -> None:
    items = [
        ObservationAccepted(1, 7, None, 3, T, None, None, 12.5, 0),
        ObservationAccepted(2, None, 9, 3, T, T, datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC), [1, "a"], 4),
        ObservationAccepted(3, 8, None, 4, T, None, T, {"v": True}, 0),
        ObservationAccepted(4, 7, None, 3, datetime(2022, 8, 8, 3, 1, tzinfo=UTC), None, None, 13.0, 0),
    ]
    stored = orjson.loads(orjson.dumps(ObservationsAccepted.of(items).to_json()))
    event = event_class("sensing.ObservationAccepted").model_validate(stored)
    envelopes = [Envelope(id=1, type=event.type, version=2, time=T, source="test", key="k", data=event)]
    assert datastreams(envelopes) == {7, 8}
    # picked from the columns before the items exist, and from the items once a subscriber built them
    assert observations(envelopes, {7}) == [items[0], items[3]]
    assert observations(envelopes, set()) == []
    assert observations(envelopes) == items
    assert observations(envelopes, {8, 7}) == [items[0], items[2], items[3]]


def test_a_payload_that_does_not_fit_names_the_field() -> None:
    with pytest.raises(ValueError, match="results: 1 values for 2 observations"):
        ObservationsAccepted.model_validate(
            {
                "ids": [1, 2],
                "datastreamIds": [1, 1],
                "multiDatastreamIds": [None, None],
                "featureIds": [3, 3],
                "phenomenonTimesUs": [0, 1],
                "phenomenonTimeEndsUs": [None, None],
                "resultTimesUs": [None, None],
                "results": [1.0],
                "qcFlags": [0, 0],
            }
        )
    with pytest.raises(ValueError, match="scope"):
        CrisisLevelChanged.model_validate(
            {"scope": "city", "hazard": "fire", "level": 1, "previous": 0, "at": T}
        )


def test_keys_order_one_incident_or_alert_and_the_audit_follows_the_catalogue() -> None:
    change = CrisisLevelChanged.model_validate(
        {"scope": "district", "district": "11590", "hazard": "heavy_rain", "level": 3, "previous": 0, "at": T}
    )
    assert change.ordering_key() == "district:11590"
    issued = AlertIssued.model_validate(
        {
            "identifier": "x1",
            "incidentId": 4,
            "msgType": "Cancel",
            "auto": False,
            "recipients": 2,
            "queued": 2,
        }
    )
    assert issued.ordering_key() == "alert:x1"
    facts = issued.audit_facts()
    assert (facts.action, facts.target, facts.actor, facts.automatic) == (
        "alert.cancelled",
        "alert:x1",
        "system",
        True,
    )
    assert {"warning.AlertIssued", "bus.ReplayRequested"} <= set(audited_types())
    assert "warning.AlertDrafted" not in audited_types()
