# SPDX-License-Identifier: Apache-2.0
"""Webhooks reach only public addresses, in every spelling, checked again when the connection opens
(issue 13); a city's own receivers are reached through the allow-list setting."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from safecity.app import build_platform, create_app
from safecity.geo.importer import import_layer
from safecity.hygiene.egress import EgressPolicy, EgressRefused, guarded_transport
from safecity.settings import Settings
from safecity.warning import subscription_router
from safecity.warning.channels import PermanentFailure, build_channels
from safecity.warning.channels.webhook import WebhookChannel
from safecity.warning.message import Recipient
from safecity.warning.targeting import TargetIndex
from tests.geo.data import DONGS_2021, MOIS_DISTRICTS
from tests.warning.test_channels import Receiver, sample_message
from tests.warning.test_subscriptions import anonymous

LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "[::1]",
    "[::ffff:127.0.0.1]",
]
OTHER_PRIVATE = [
    "10.0.0.5",
    "192.168.1.1",
    "169.254.169.254",
    "[fe80::1]",
    "[fc00::1]",
    "100.64.0.1",
    "0.0.0.0",
]


def _own_name() -> str:
    """A DNS name of this machine that resolves to a loopback or private address."""
    name = socket.gethostname()
    if EgressPolicy().permitted(ipaddress.ip_address(socket.gethostbyname(name))):
        pytest.skip(f"{name} resolves to a public address here")
    return name


@pytest.fixture
def public(sqlite_settings: Settings) -> Iterator[TestClient]:
    """The subscription API as an anonymous caller meets it (the store plays no part in the check)."""
    platform = build_platform(sqlite_settings)
    import_layer(platform, MOIS_DISTRICTS, "districts")
    import_layer(platform, DONGS_2021, "dongs")
    app = create_app(sqlite_settings, platform, start_services=False)
    app.include_router(subscription_router.router)
    with platform.store.engine.connect() as conn:
        app.state.warning_targets = TargetIndex.from_store(conn)
    with TestClient(app) as client:
        yield client
    platform.bus.stop()
    platform.store.close()


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS + OTHER_PRIVATE)
def test_a_public_subscription_cannot_name_a_private_address(public: TestClient, host: str) -> None:
    body = anonymous(channels=[{"channel": "webhook", "address": f"https://{host}/hook"}])
    r = public.post("/subscriptions", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["where"] == "channels[0].address"


def test_a_name_resolving_to_a_private_address_is_refused(public: TestClient) -> None:
    body = anonymous(channels=[{"channel": "webhook", "address": f"https://{_own_name()}/hook"}])
    r = public.post("/subscriptions", json=body)
    assert r.status_code == 400, r.text
    assert "non-public" in r.json()["message"]


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f000001", "[::ffff:127.0.0.1]", "name"])
def test_delivery_refuses_a_private_receiver_in_any_spelling(host: str, tmp_path: Path) -> None:
    receiver = Receiver().start()
    try:
        if host == "name":
            host = _own_name()
        url = f"http://{host}:{receiver.port}/hook"
        channel = build_channels(Settings(data_dir=tmp_path))["webhook"]
        assert isinstance(channel, WebhookChannel)
        with pytest.raises(PermanentFailure, match="non-public"):
            channel.send(sample_message(), _recipient(url), "k")
        # the connection itself is guarded too (a name may resolve differently when it is used)
        with (
            httpx.Client(transport=guarded_transport(EgressPolicy())) as client,
            pytest.raises(httpx.ConnectError),
        ):
            client.post(url, content=b"{}")
        assert receiver.requests == []
        channel.close()
    finally:
        receiver.stop()


def test_the_allow_list_reaches_a_citys_own_receiver(tmp_path: Path) -> None:
    receiver = Receiver().start()
    try:
        settings = Settings(data_dir=tmp_path, webhook_allow_networks=["127.0.0.0/8"])
        channel = build_channels(settings)["webhook"]
        result = channel.send(sample_message(), _recipient(f"http://127.1:{receiver.port}/hook"), "k")
        channel.close()
        assert result.status == "delivered" and len(receiver.requests) == 1
    finally:
        receiver.stop()


def test_a_bad_allow_list_entry_is_named() -> None:
    with pytest.raises(ValueError, match=r"10\.0\.0\.0/33"):
        Settings(data_dir=Path("."), webhook_allow_networks=["10.0.0.0/33"])


def test_the_policy_reads_every_spelling() -> None:
    policy = EgressPolicy()
    for host in [
        "127.1",
        "2130706433",
        "0x7f000001",
        "::1",
        "::ffff:127.0.0.1",
        "64:ff9b::7f00:1",
        "169.254.169.254",
    ]:
        with pytest.raises(EgressRefused):
            policy.addresses(host, 80)
    assert policy.addresses("8.8.8.8", 443) == ["8.8.8.8"]
    assert EgressPolicy(["10.20.0.0/16"]).addresses("10.20.3.4", 80) == ["10.20.3.4"]


def _recipient(url: str) -> Recipient:
    return Recipient(1, "webhook", url, "ko")
