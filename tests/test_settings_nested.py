# SPDX-License-Identifier: Apache-2.0
"""The warning settings are nested (``SAFECITY_WARNING__SMTP__HOST``); the flat names they replaced keep
working, with one warning each, so deployments do not break."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from safecity.settings import DEPRECATED_NAMES, Settings, env_name, load_settings
from safecity.settings import nested as nested_settings


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [*(f"SAFECITY_{old.upper()}" for old in DEPRECATED_NAMES), "SAFECITY_CONFIG"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SAFECITY_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(nested_settings, "_warned", set())  # each test sees its own first warning


def test_nested_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFECITY_WARNING__SMTP__HOST", "smtp.seoul.go.kr")
    monkeypatch.setenv("SAFECITY_WARNING__SMTP__PORT", "2525")
    monkeypatch.setenv("SAFECITY_WARNING__AUTO_LEVELS", "[3, 4]")
    s = load_settings()
    assert (s.warning.smtp.host, s.warning.smtp.port, s.warning.auto_levels) == (
        "smtp.seoul.go.kr",
        2525,
        [3, 4],
    )


def test_flat_names_still_work_with_one_warning_each(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SAFECITY_SMTP_HOST", "old.example")
    monkeypatch.setenv("SAFECITY_SMTP_FROM", "alerts@old.example")
    monkeypatch.setenv("SAFECITY_WARNING_AUTO_LEVELS", "[4]")
    monkeypatch.setenv("SAFECITY_WARNING_AUTO_EVACUATE", "true")
    with caplog.at_level(logging.WARNING, logger="safecity.settings"):
        s = load_settings()
        load_settings()  # the second time says nothing
    assert s.warning.smtp.host == "old.example" and s.warning.smtp.from_address == "alerts@old.example"
    assert s.warning.auto_levels == [4] and s.warning.auto_evacuate is True
    said = sorted(r.getMessage() for r in caplog.records)
    assert said == [
        "setting SAFECITY_SMTP_FROM is deprecated: use SAFECITY_WARNING__SMTP__FROM_ADDRESS",
        "setting SAFECITY_SMTP_HOST is deprecated: use SAFECITY_WARNING__SMTP__HOST",
        "setting SAFECITY_WARNING_AUTO_EVACUATE is deprecated: use SAFECITY_WARNING__AUTO_EVACUATE",
        "setting SAFECITY_WARNING_AUTO_LEVELS is deprecated: use SAFECITY_WARNING__AUTO_LEVELS",
    ]


def test_the_nested_name_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFECITY_SMTP_HOST", "old.example")
    monkeypatch.setenv("SAFECITY_WARNING__SMTP__HOST", "new.example")
    assert load_settings().warning.smtp.host == "new.example"


def test_a_config_file_with_flat_or_nested_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "safecity.toml"
    config.write_text(
        'smtp_host = "old.example"\n[warning]\nsender = "alerts@seoul.go.kr"\n[warning.smtp]\nport = 25\n'
    )
    monkeypatch.setenv("SAFECITY_CONFIG", str(config))
    s = load_settings()
    assert (s.warning.smtp.host, s.warning.smtp.port, s.warning.sender) == (
        "old.example",
        25,
        "alerts@seoul.go.kr",
    )


def test_a_bad_value_under_a_flat_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFECITY_WARNING_RETRY_BASE_S", "-1")
    with pytest.raises(ValueError, match="retry_base_s"):
        load_settings()


def test_every_flat_name_has_a_nested_home() -> None:
    s = Settings()
    for old, path in DEPRECATED_NAMES.items():
        node: object = s
        for part in path:
            node = getattr(node, part)  # raises if the path names no setting
        assert env_name(path).startswith("SAFECITY_WARNING__"), old
