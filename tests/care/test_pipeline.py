# SPDX-License-Identifier: Apache-2.0
"""Group commit of tracker fixes (safecity.care.pipeline), on both stores: concurrent requests share a
transaction yet each gets its own answer; a repeated fix is stored once; a withdrawal that the request's
cached check missed still refuses it; one failing request does not lose the others' fixes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from safecity.care.model import Device, Fix, IngestResult
from safecity.care.tables import access, alerts, positions
from safecity.core.errors import Forbidden
from tests.care.conftest import START, CareEnv


@pytest.fixture(autouse=True)
def _later(care_env: CareEnv) -> None:
    """The fixes below are up to 15 minutes after START: the server's clock is past them."""
    care_env.clock.set(START + timedelta(hours=1))


def _fix(minute: int, lon: float = 126.9780, lat: float = 37.5665) -> Fix:
    return Fix(at=START + timedelta(minutes=minute), lon=lon, lat=lat, accuracy_m=8.0)


def _rows(env: CareEnv, pid: int) -> int:
    """The person's stored positions."""
    q = select(func.count()).select_from(positions).where(positions.c.person_id == pid)
    with env.platform.store.engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def _collected(env: CareEnv, pid: int) -> int:
    """The fixes the person's collection records count (§16②)."""
    q = select(func.coalesce(func.sum(access.c.count), 0)).where(
        access.c.person_id == pid, access.c.action == "collect"
    )
    with env.platform.store.engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def _held(env: CareEnv, calls: list[Callable[[], IngestResult]]) -> list[IngestResult | BaseException]:
    """Run ``calls`` as one batch: the leader's place is held until all of them wait in the queue."""
    pipeline = env.care.pipeline
    out: list[IngestResult | BaseException] = [RuntimeError("not run")] * len(calls)

    def run(i: int) -> None:
        try:
            out[i] = calls[i]()
        except BaseException as e:  # noqa: BLE001 - the test looks at each request's own outcome
            out[i] = e

    leader = _nothing(env)
    batches = pipeline.batches
    assert pipeline._leader.acquire(timeout=10)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    try:
        deadline = time.monotonic() + 20
        for n, t in enumerate(threads, start=1):
            t.start()
            while len(pipeline._queue) < n:  # one at a time: the queue's order is the calls' order
                assert time.monotonic() < deadline, "the requests did not queue"
                time.sleep(0.005)
    finally:
        pipeline._leader.release()
    # the held requests wait for a leader: the next request to arrive takes the whole queue
    pipeline.submit(*leader)
    for t in threads:
        t.join(timeout=20)
    assert pipeline.batches - batches == 1, "the held requests were not written as one batch"
    return out


def _nothing(env: CareEnv) -> tuple[Device, list[Fix]]:
    """A request with no fix (it leads the held queue and stores nothing of its own)."""
    pid = env.child(name="리더")
    return env.care.device_by_key(env.device(pid)), []


def test_concurrent_requests_share_transactions_and_store_each_fix_once(care_env: CareEnv) -> None:
    env = care_env
    care = env.care
    people = [env.child(name=f"아이{i}") for i in range(6)]
    devices = [care.device_by_key(env.device(pid)) for pid in people]
    results: list[IngestResult] = []
    lock = threading.Lock()

    def send(device: Device) -> None:
        # every fix twice, as an app resends after a lost answer
        for m in range(15):
            for _ in range(2):
                r = care.ingest(device, [_fix(m)])
                with lock:
                    results.append(r)

    threads = [threading.Thread(target=send, args=(d,)) for d in devices for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 6 * 2 * 15 * 2
    assert sum(r.stored for r in results) == 6 * 15, "each (device, time) stored exactly once"
    assert sum(r.duplicates for r in results) == 6 * 15 * 3
    for pid in people:
        assert _rows(env, pid) == 15
        # §16②: the collection records count exactly the stored fixes
        assert _collected(env, pid) == 15


def test_one_batch_answers_each_request_on_its_own(care_env: CareEnv) -> None:
    env = care_env
    care = env.care
    a, b, withdrawn = env.child(name="가"), env.child(name="나"), env.child(name="다")
    da, db, dw = (care.device_by_key(env.device(p)) for p in (a, b, withdrawn))
    # the location consent of the third is withdrawn after its device was looked up: the batch's own
    # reading of the consents (under the writer's lock) refuses it
    assert env.call("mom", "DELETE", f"/care/people/{withdrawn}/consents/location").status_code == 200
    out = _held(
        env,
        [
            lambda: care.ingest(da, [_fix(1), _fix(2)]),
            lambda: care.ingest(db, [_fix(1)]),
            lambda: care.ingest(dw, [_fix(1)]),
            lambda: care.ingest(da, [_fix(2), _fix(3)]),  # one repeated, one new
        ],
    )
    assert out[0] == IngestResult(2, 0) and out[1] == IngestResult(1, 0)
    assert isinstance(out[2], Forbidden) and "location consent" in str(out[2])
    assert out[3] == IngestResult(1, 1)
    assert _rows(env, a) == 3 and _rows(env, b) == 1
    assert _rows(env, withdrawn) == 0, "nothing stored after the withdrawal"
    assert _collected(env, a) == 3  # one collection record for the batch, counting 3


def test_a_failing_request_does_not_lose_the_others(care_env: CareEnv) -> None:
    env = care_env
    care = env.care
    a, b = env.child(name="가"), env.child(name="나")
    da, db = (care.device_by_key(env.device(p)) for p in (a, b))
    # a device the store does not know (deleted while its request waited): its insert breaks the
    # shared transaction, which is then retried request by request
    ghost = Device(10**9, a, "osmand", None)
    out = _held(
        env,
        [
            lambda: care.ingest(da, [_fix(1)]),
            lambda: care.ingest(ghost, [_fix(1)]),
            lambda: care.ingest(db, [_fix(1), _fix(2)]),
        ],
    )
    assert out[0] == IngestResult(1, 0) and out[2] == IngestResult(2, 0)
    assert isinstance(out[1], Exception) and not isinstance(out[1], IngestResult)
    assert _rows(env, a) == 1 and _rows(env, b) == 2
    assert _collected(env, a) == 1 and _collected(env, b) == 2


@pytest.mark.parametrize("batched", [False, True])
def test_fences_decide_a_batch_of_many_people_in_time_order(care_env: CareEnv, batched: bool) -> None:
    """Fences moved by one vectorised test over a batch decide as they do fix by fix."""
    env = care_env
    care = env.care
    people = [env.child(name=f"아이{i}", home=(126.97 + i * 0.01, 37.56)) for i in range(4)]
    devices = [care.device_by_key(env.device(pid)) for pid in people]
    for i, pid in enumerate(people):
        r = env.call(
            "mom",
            "POST",
            f"/care/people/{pid}/fences",
            json={
                "name": "집",
                "centerLon": 126.97 + i * 0.01,
                "centerLat": 37.56,
                "radiusM": 100,
                "delayS": 0,
            },
        )
        assert r.status_code == 201, r.text
    # inside, out (exit), out, back (enter), for each person: 2 alerts each
    path = [0.0, 0.005, 0.006, 0.0]

    def fixes(i: int) -> list[Fix]:
        return [_fix(m, 126.97 + i * 0.01 + dx, 37.56) for m, dx in enumerate(path)]

    if batched:
        _held(env, [lambda i=i: care.ingest(devices[i], fixes(i)) for i in range(4)])  # type: ignore[misc]
    else:
        for i in range(4):
            for f in fixes(i):
                care.ingest(devices[i], [f])
    with env.platform.store.engine.connect() as conn:
        kinds = conn.execute(
            select(alerts.c.person_id, alerts.c.kind).order_by(alerts.c.person_id, alerts.c.at)
        ).all()
    assert [tuple(k) for k in kinds] == [(pid, kind) for pid in people for kind in ("exit", "enter")]


def test_requests_of_an_event_loop_are_answered_together(care_env: CareEnv) -> None:
    """The HTTP trackers' path (Care.ingest_async): requests wait on futures, not threads; one batch
    answers each with its own result or error, on the loop; a request whose client went away before
    the answer is stored all the same and troubles nobody."""
    env = care_env
    care = env.care
    pipeline = care.pipeline
    a, b, withdrawn = env.child(name="가"), env.child(name="나"), env.child(name="다")
    da, db, dw = (care.device_by_key(env.device(p)) for p in (a, b, withdrawn))
    assert env.call("mom", "DELETE", f"/care/people/{withdrawn}/consents/location").status_code == 200
    batches = pipeline.batches

    async def run() -> tuple[list[IngestResult | BaseException], IngestResult]:
        assert pipeline._leader.acquire(timeout=10)  # hold the writer: the requests queue
        try:
            tasks = [
                asyncio.create_task(care.ingest_async(da, [_fix(1), _fix(2)])),
                asyncio.create_task(care.ingest_async(dw, [_fix(1)])),
                asyncio.create_task(care.ingest_async(db, [_fix(1)])),  # its client goes away
                asyncio.create_task(care.ingest_async(da, [_fix(2)])),  # repeated
            ]
            while len(pipeline._queue) < len(tasks):
                await asyncio.sleep(0.005)
            tasks[2].cancel()
        finally:
            pipeline._leader.release()
        # the next request finds no writer: it hands one drain of the whole queue to an executor
        last = await care.ingest_async(db, [_fix(3)])
        return list(await asyncio.gather(*tasks, return_exceptions=True)), last

    out, last = asyncio.run(run())
    assert pipeline.batches - batches == 1, "the loop's requests were not written as one batch"
    assert out[0] == IngestResult(2, 0) and out[3] == IngestResult(0, 1) and last == IngestResult(1, 0)
    assert isinstance(out[1], Forbidden) and "location consent" in str(out[1])
    assert isinstance(out[2], asyncio.CancelledError)
    assert _rows(env, a) == 2 and _rows(env, b) == 2, "the cancelled request's fix is stored all the same"
    assert _rows(env, withdrawn) == 0
    assert _collected(env, a) == 2 and _collected(env, b) == 2
