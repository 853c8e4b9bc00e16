# SPDX-License-Identifier: Apache-2.0
"""Assessments run off the bus dispatcher's thread (both stores): while an assessment holds the chain, the
bus goes on delivering to every other subscriber; the queued job is run by the capability's worker once
the chain is free, once per event, and a failing job is tried a bounded number of times."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from safecity.app import Platform
from safecity.core.events import Envelope
from safecity.quake import tables as t
from safecity.quake.chain import QuakeChain
from safecity.quake.jobs import MAX_ATTEMPTS
from safecity.situation.incident_inputs import ManualIncidentIn


def _jobs(platform: Platform) -> list[Any]:
    with platform.store.engine.connect() as conn:
        return list(conn.execute(select(t.jobs).order_by(t.jobs.c.id)).all())


def _quake(platform: Platform) -> int:
    opened = platform.incidents.open_manual(
        ManualIncidentIn(
            hazard="earthquake", level=2, title_ko="지진", title_en="Earthquake", districts=["11440"]
        ),
        "op",
    )
    return opened.id


def test_a_held_assessment_does_not_stall_the_other_subscribers(platform: Platform) -> None:
    chain = platform.services.get(QuakeChain)
    seen: list[Envelope] = []
    platform.bus.subscribe("situation.IncidentOpened", seen.extend, "test.others")
    chain.queue.worker.start()
    try:
        # an assessment in hand (the chain's lock held, as a 600,000-building run holds it)
        with chain._lock:
            incident = _quake(platform)
            assert platform.bus.drain(), "the bus waited for the assessment"
            assert [e.data.to_json()["incidentId"] for e in seen] == [incident]  # the others had theirs
            (job,) = _jobs(platform)
            assert (job.kind, job.payload["incident"], job.done_at) == ("incident", incident, None)
        # the chain is free: the worker runs the job
        assert chain.queue.worker.wait_idle(60.0)
        (job,) = _jobs(platform)
        assert job.done_at is not None and job.attempts == 1 and job.last_error is None
        assert chain.queue.pending() == 0
    finally:
        chain.queue.worker.stop()


def test_without_workers_the_handler_runs_the_queue_itself(platform: Platform) -> None:
    chain = platform.services.get(QuakeChain)
    assert not chain.queue.worker.running
    _quake(platform)
    platform.bus.drain()
    (job,) = _jobs(platform)
    assert job.done_at is not None


def test_a_redelivered_event_is_queued_once_and_a_bad_job_is_tried_a_bounded_number_of_times(
    platform: Platform,
) -> None:
    queue = platform.services.get(QuakeChain).queue
    queue.message(42, {"not": "a CAP alert"})
    queue.message(42, {"not": "a CAP alert"})  # the bus delivered the event again
    assert len(_jobs(platform)) == 1
    for _ in range(MAX_ATTEMPTS):
        assert queue.run_one(raise_errors=False)
    assert not queue.run_one(raise_errors=False) and queue.pending() == 0
    (job,) = _jobs(platform)
    assert job.attempts == MAX_ATTEMPTS and job.done_at is None and job.last_error
