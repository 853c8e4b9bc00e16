# SPDX-License-Identifier: Apache-2.0
"""``safecity audit verify`` as an operator runs it: a separate process on the store's URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from safecity.audit.model import AuditEvent
from safecity.audit.service import AuditLog
from safecity.store import Store


def _verify(store: Store, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SAFECITY_DATA_DIR": str(tmp_path),
        "SAFECITY_STORE_URL": str(store.engine.url.render_as_string(hide_password=False)),
    }
    return subprocess.run(
        [sys.executable, "-m", "safecity", "audit", "verify", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_verify_passes_on_an_intact_log_and_names_the_first_broken_entry(
    open_store: Callable[[], Store], tmp_path: Path
) -> None:
    store = open_store()
    log = AuditLog(store)
    for n in range(4):
        log.record(AuditEvent("http.POST", f"/sta/v1.1/Things({n})", "operator1", "user", "201"))
    r = _verify(store, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("4 entries, chain intact")
    r = _verify(store, tmp_path, "--json")
    result = json.loads(r.stdout)
    assert r.returncode == 0 and result["intact"] is True and result["entries"] == 4
    assert _verify(store, tmp_path, "--head", result["head"]).returncode == 0
    r = _verify(store, tmp_path, "--head", "f" * 64)  # a head kept elsewhere that the log lost
    assert r.returncode == 1 and "not in the chain" in r.stderr
    assert _verify(store, tmp_path, "--head", "nothex").returncode == 2

    with store.engine.begin() as conn:  # tamper as the table's owner would: triggers off, change, on
        if store.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            conn.execute(text("UPDATE audit_log SET actor = 'nobody' WHERE seq = 2"))
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("UPDATE audit_log SET actor = 'nobody' WHERE seq = 2"))
    r = _verify(store, tmp_path)
    assert r.returncode == 1
    assert "broken at seq 2" in r.stderr and "modified" in r.stderr
    r = _verify(store, tmp_path, "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["brokenSeq"] == 2


def test_head_is_printed_and_kept_outside_then_checked(
    open_store: Callable[[], Store], tmp_path: Path
) -> None:
    store = open_store()
    env = {
        **os.environ,
        "SAFECITY_DATA_DIR": str(tmp_path),
        "SAFECITY_STORE_URL": str(store.engine.url.render_as_string(hide_password=False)),
    }

    def head(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "safecity", "audit", "head", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    empty = head()
    assert empty.returncode == 1 and "empty" in empty.stderr
    log = AuditLog(store)
    for n in range(3):
        log.record(AuditEvent("http.POST", f"/sta/v1.1/Things({n})", "operator1", "user", "201"))
    kept = tmp_path / "elsewhere" / "audit-heads.jsonl"
    kept.parent.mkdir()
    r = head("--append", str(kept))
    assert r.returncode == 0, r.stderr
    line = json.loads(r.stdout)
    assert line["seq"] == 3 and len(line["hash"]) == 64
    assert [json.loads(x) for x in kept.read_text().splitlines()] == [line]
    assert _verify(store, tmp_path, "--head", line["hash"]).returncode == 0
    log.record(AuditEvent("http.POST", "/sta/v1.1/Things(9)", "operator1", "user", "201"))
    assert head("--append", str(kept)).returncode == 0
    assert len(kept.read_text().splitlines()) == 2  # appended, not overwritten
