# SPDX-License-Identifier: Apache-2.0
"""``/shelters`` over HTTP on both stores (issue 13): a shelter's contact people and phone numbers
reach operators only, and each such read is audited; ``near`` must be finite numbers."""

from __future__ import annotations

from tests.conftest import Api
from tests.evacuation.test_router import shelter_body

CONTACT = {"contact": "김철수 (행정복지센터)", "phone": "010-1234-5678"}


def test_contacts_reach_operators_only_and_are_audited(api: Api) -> None:
    r = api.client.post("/shelters", json=shelter_body(properties=CONTACT), headers=api.headers)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    for path in ("/shelters", f"/shelters/{sid}", "/shelters?near=126.97,37.58"):
        public = api.client.get(path)
        assert public.status_code == 200, public.text
        assert "010-1234-5678" not in public.text and "김철수" not in public.text, path
        staff = api.client.get(path, headers=api.headers)
        assert "010-1234-5678" in staff.text, path
    api.platform.audit.flush()
    reads = [e for e in api.platform.audit.entries() if e.action == "personal.read"]
    assert [(e.actor, e.target) for e in reads] == [("operator1", "shelters")] * 3


def test_near_must_be_finite(api: Api) -> None:
    api.client.post("/shelters", json=shelter_body(), headers=api.headers)
    for near in ("NaN,NaN", "126.97,nan", "inf,37.5"):
        r = api.client.get("/shelters", params={"near": near})
        assert r.status_code == 400 and r.json()["where"] == "near", r.text
