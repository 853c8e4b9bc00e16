# SPDX-License-Identifier: Apache-2.0
"""Production mode refuses development and missing secrets, naming every setting at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from safecity.app import create_app
from safecity.core.errors import ConfigError
from safecity.settings import (
    MastodonSettings,
    Mode,
    MqttSettings,
    Settings,
    SmsSettings,
    SmtpSettings,
    WarningSettings,
    production_problems,
)

GOOD = "q8V2m0J7tZ1xW4bN6cR9yK3pL5sD8fG2hQ7wE1rT4yU"
PUBLIC = "https://safecity.seoul.go.kr"


def test_development_is_the_default_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = Settings(data_dir=tmp_path, mqtt=MqttSettings(enabled=False))
    assert s.mode is Mode.dev and production_problems(s) == []
    app = create_app(s, start_services=False)
    app.state.platform.store.close()
    out = capsys.readouterr()
    assert "development mode" in out.out + out.err and "SAFECITY_MODE=production" in out.out + out.err


def test_production_lists_every_missing_or_placeholder_secret(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as e:
        Settings(
            data_dir=tmp_path,
            mode="production",
            admin_password="changeme",
            warning=WarningSettings(
                smtp=SmtpSettings(host="smtp.seoul.go.kr", from_address="alerts@seoul.go.kr", user="alerts"),
                sms=SmsSettings(gateway_url="https://sms.example/send"),
                mastodon=MastodonSettings(url="https://mastodon.example", token=""),
            ),
        )
    message = str(e.value)
    for setting in (
        "SAFECITY_JWT_SECRET is the built-in development value",
        "SAFECITY_ADMIN_PASSWORD looks like a placeholder",
        "SAFECITY_WARNING__SMTP__PASSWORD is not set",
        "SAFECITY_WARNING__SMS__GATEWAY_KEY is not set",
        "SAFECITY_WARNING__MASTODON__TOKEN is empty",
        "SAFECITY_PUBLIC_URL is not set",
    ):
        assert setting in message, (setting, message)
    assert "openssl rand" in message
    # a short secret is named too; channels that are off need nothing
    with pytest.raises(ValidationError, match="SAFECITY_JWT_SECRET is shorter than 32"):
        Settings(data_dir=tmp_path, mode="production", jwt_secret="too-short-but-real-1", public_url=PUBLIC)
    ok = Settings(data_dir=tmp_path, mode="production", jwt_secret=GOOD, public_url=PUBLIC)
    assert production_problems(ok) == []


def test_create_app_checks_again_for_settings_copied_past_the_validator(tmp_path: Path) -> None:
    s = Settings(
        data_dir=tmp_path,
        mode="production",
        jwt_secret=GOOD,
        mqtt=MqttSettings(enabled=False),
        public_url=PUBLIC,
    )
    weak = s.model_copy(update={"jwt_secret": SecretStr("dev-insecure-jwt-secret-change-me")})
    with pytest.raises(ConfigError, match="SAFECITY_JWT_SECRET is the built-in development value"):
        create_app(weak, start_services=False)
    assert not (tmp_path / "safecity.db").exists()  # refused before the store was opened


def test_serve_refuses_to_start_and_names_the_settings(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SAFECITY_DATA_DIR": str(tmp_path),
        "SAFECITY_MODE": "production",
        "SAFECITY_WARNING__SMS__GATEWAY_URL": "https://sms.example/send",
    }
    for k in ("SAFECITY_STORE_URL", "SAFECITY_JWT_SECRET", "SAFECITY_WARNING__SMS__GATEWAY_KEY"):
        env.pop(k, None)
    r = subprocess.run(
        [sys.executable, "-m", "safecity", "serve"], capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode == 2
    last = r.stderr.strip().splitlines()[-1]
    assert (
        last.startswith("error: ")
        and "SAFECITY_JWT_SECRET" in last
        and "SAFECITY_WARNING__SMS__GATEWAY_KEY" in last
    )


def test_production_needs_the_public_url_and_refuses_a_malformed_one(tmp_path: Path) -> None:
    """Without it, links would come from the client's Host header (issue 13); a URL with a query, a
    fragment or no scheme is refused where it is set, naming the setting."""
    with pytest.raises(ValidationError, match="SAFECITY_PUBLIC_URL is not set"):
        Settings(data_dir=tmp_path, mode="production", jwt_secret=GOOD)
    for bad in ("safecity.seoul.go.kr", "https://safecity.seoul.go.kr/?next=x", "javascript:alert(1)"):
        with pytest.raises(ValidationError, match="public_url"):
            Settings(data_dir=tmp_path, public_url=bad)
    assert Settings(data_dir=tmp_path, public_url="http://10.0.0.5:8000/safecity").public_url
