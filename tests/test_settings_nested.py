# SPDX-License-Identifier: Apache-2.0
"""The settings are nested (``SAFECITY_WARNING__SMTP__HOST``, ``SAFECITY_MQTT__PORT``,
``SAFECITY_SITUATION__TICK_S``); the flat names they replaced keep working, with one warning each, so
deployments do not break."""

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
        assert path[0] in ("warning", "situation", "mqtt"), old
        assert not any(hasattr(s, name) for name in DEPRECATED_NAMES), "a flat name is still a field"


def test_the_channel_mqtt_and_rule_engine_names_moved(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Each old variable of an operator's deployment lands in its nested place, with a warning naming the
    new variable; the new names work by themselves."""
    old = {
        "SAFECITY_SMS_GATEWAY_URL": ("https://sms.example/send", ("warning", "sms", "gateway_url")),
        "SAFECITY_MASTODON_URL": ("https://social.example", ("warning", "mastodon", "url")),
        "SAFECITY_WEBPUSH_ENABLED": ("false", ("warning", "webpush", "enabled")),
        "SAFECITY_CB_SAFETY_MAX_CHARS": ("157", ("warning", "cb", "safety_max_chars")),
        "SAFECITY_SITUATION_TICK_S": ("0.5", ("situation", "tick_s")),
        "SAFECITY_SITUATION_ENABLED": ("false", ("situation", "enabled")),
        "SAFECITY_MQTT_URL": ("mqtt://127.0.0.1:1883", ("mqtt", "url")),
        "SAFECITY_MQTT_PORT": ("2883", ("mqtt", "port")),
    }
    for name, (value, _) in old.items():
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.WARNING, logger="safecity.settings"):
        s = load_settings()
    got = {}
    for name, (_, path) in old.items():
        node: object = s
        for part in path:
            node = getattr(node, part)
        got[name] = node
    assert got == {
        "SAFECITY_SMS_GATEWAY_URL": "https://sms.example/send",
        "SAFECITY_MASTODON_URL": "https://social.example",
        "SAFECITY_WEBPUSH_ENABLED": False,
        "SAFECITY_CB_SAFETY_MAX_CHARS": 157,
        "SAFECITY_SITUATION_TICK_S": 0.5,
        "SAFECITY_SITUATION_ENABLED": False,
        "SAFECITY_MQTT_URL": "mqtt://127.0.0.1:1883",
        "SAFECITY_MQTT_PORT": 2883,
    }
    said = {r.getMessage() for r in caplog.records}
    for name, (_, path) in old.items():
        assert f"setting {name} is deprecated: use {env_name(path)}" in said
    for name in old:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SAFECITY_MQTT__PORT", "2884")
    monkeypatch.setenv("SAFECITY_MQTT_PORT", "2883")  # the new name wins
    monkeypatch.setenv("SAFECITY_WARNING__SMS__GATEWAY_KEY", "gw-key")
    monkeypatch.setenv("SAFECITY_SITUATION__TICK_S", "2")
    s = load_settings()
    assert (s.mqtt.port, s.situation.tick_s) == (2884, 2.0)
    assert s.warning.sms.gateway_key is not None and s.warning.sms.gateway_key.get_secret_value() == "gw-key"


def test_flat_keywords_and_config_keys_still_work(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Code and config files of a city written against the flat names (``Settings(mqtt_enabled=False)``,
    ``cb_max_chars = 157`` at the top of the TOML file) keep working."""
    config = tmp_path / "safecity.toml"
    config.write_text('cb_max_chars = 157\nmqtt_host = "0.0.0.0"\n[mqtt]\nport = 2885\n')
    monkeypatch.setenv("SAFECITY_CONFIG", str(config))
    s = Settings(mqtt_enabled=False, sms_gateway_key="k")
    assert (s.mqtt.enabled, s.mqtt.host, s.mqtt.port, s.warning.cb.max_chars) == (False, "0.0.0.0", 2885, 157)
    assert s.warning.sms.gateway_key is not None and s.warning.sms.gateway_key.get_secret_value() == "k"


def test_a_bad_value_under_an_old_channel_name_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFECITY_WEBPUSH_SUBJECT", "ftp://nobody")
    with pytest.raises(ValueError, match="subject"):
        load_settings()
