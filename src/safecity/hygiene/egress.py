# SPDX-License-Identifier: Apache-2.0
"""Where the server may send a request on a caller's behalf (webhooks): public addresses only (issue 13).

A webhook URL once reached loopback, private and metadata addresses because only a literal IP in
Python's own spelling was checked: ``127.1``, ``2130706433``, ``0x7f000001``, IPv6 forms and DNS names
resolving to such addresses went through. Here every host is resolved the way the connection will
resolve it (``getaddrinfo``, which reads all those spellings), each address must be global, and the
check is made again when the connection is opened, against the address actually connected to (a name
that resolved to a public address at subscription time may resolve to a private one later).

``allow``: networks a city's own receivers live in (``SAFECITY_WEBHOOK_ALLOW_NETWORKS``), permitted
even though they are private.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: NAT64 (RFC 6052): an IPv6 address carrying an IPv4 one, which is what gets reached.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class EgressRefused(Exception):
    """The host is (or resolves to) an address the server may not call; the message says which.
    ``unresolved``: the name did not resolve at all (a subscription may be checked again later)."""

    def __init__(self, message: str, *, unresolved: bool = False) -> None:
        super().__init__(message)
        self.unresolved = unresolved


class EgressPolicy:
    def __init__(self, allow: Iterable[str | IPNetwork] = ()) -> None:
        self.allow: list[IPNetwork] = [ipaddress.ip_network(n, strict=False) for n in allow]

    def permitted(self, ip: IPAddress) -> bool:
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            elif ip.sixtofour is not None:
                ip = ip.sixtofour
            elif ip in _NAT64:
                ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if any(ip in net for net in self.allow):
            return True
        return ip.is_global and not ip.is_multicast

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses ``host`` resolves to, all permitted; raises EgressRefused otherwise."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as e:
            raise EgressRefused(f"{host} cannot be resolved ({e})", unresolved=True) from None
        found: list[str] = []
        for *_, sockaddr in infos:
            address = str(sockaddr[0])
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if not self.permitted(ip):
                raise EgressRefused(
                    f"{host} is {ip}, a loopback, private, link-local or otherwise non-public address; "
                    "a city's own receivers need their network in SAFECITY_WEBHOOK_ALLOW_NETWORKS"
                )
            if address not in found:
                found.append(address)
        if not found:
            raise EgressRefused(f"{host} has no address")
        return found

    def check_url(self, url: str) -> None:
        """Raise EgressRefused unless every address of the URL's host is permitted."""
        parts = urlsplit(url)
        if not parts.hostname:
            raise EgressRefused(f"{url!r} names no host")
        self.addresses(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


class _GuardedBackend(httpcore.NetworkBackend):
    """Opens a connection only to an address the policy permits, checked at connect time."""

    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self._policy.addresses(host, port)
        except EgressRefused as e:
            raise httpcore.ConnectError(str(e)) from None
        # the checked address itself, so a second resolution cannot answer differently
        return self._backend.connect_tcp(addresses[0], port, timeout, local_address, socket_options)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not a webhook destination")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def guarded_transport(policy: EgressPolicy) -> httpx.HTTPTransport:
    """An httpx transport that connects only where ``policy`` permits, with no proxy from the
    environment (the check must see the receiver, not a proxy)."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx does not take a network backend; its connection pool does (httpcore 1.x, locked)
    transport._pool._network_backend = _GuardedBackend(policy)
    return transport
