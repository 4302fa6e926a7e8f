"""The address guard: which addresses third-party URLs may reach. A host that resolves to a
loopback, private, link-local, shared (CGNAT) or otherwise non-public address is refused before
any connection is made, unless it lies in `allow_private_networks`; odd numeric forms of IPv4
addresses are refused whatever the allowed ranges. Used by `monitor.fetch`'s guarded session:
its resolver, and its socket factory, which sees the very address each socket connects to."""

from __future__ import annotations

import inspect
import ipaddress
import socket
from collections.abc import Sequence

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressRefused(OSError):
    """Raised inside the resolver: the host's address is not public and not allowed."""


NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# Not public, though this Python's ipaddress may not say so: deprecated site-local (RFC 3879)
# and the 2024 documentation prefix (RFC 9637).
NOT_PUBLIC = (ipaddress.ip_network("fec0::/10"), ipaddress.ip_network("3fff::/20"))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries: mapped (::ffff:), 6to4 (2002::/16), Teredo,
    NAT64 (64:ff9b::/96) and the deprecated IPv4-compatible form (::a.b.c.d)."""
    found = []
    if ip.ipv4_mapped:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour:
        found.append(ip.sixtofour)
    if ip.teredo:
        found.extend(ip.teredo)
    if any(ip in network for network in NAT64) or (int(ip) >> 32 == 0 and int(ip) > 1):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def address_allowed(address: str, allowed: Sequence[Network]) -> bool:
    """Whether connecting to `address` is allowed for an untrusted URL: public unicast only,
    unless the address is in one of the `allowed` ranges."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0].strip("[]"))
    except ValueError:
        return False
    if any(ip in network for network in allowed):
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded:
            return all(address_allowed(str(inner), allowed) for inner in embedded)
    if any(ip in network for network in NOT_PUBLIC):
        return False
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


class GuardedResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, then refuses non-public addresses."""

    def __init__(self, allowed: Sequence[Network], inner: AbstractResolver | None = None):
        self.inner = inner or DefaultResolver()
        self.allowed = tuple(allowed)

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        for result in results:
            if not address_allowed(result["host"], self.allowed):
                raise AddressRefused(f"{host} resolves to {result['host']}, a non-public address "
                                     "(allow it with [newsmon] allow_private_networks)")
        return results

    async def close(self) -> None:
        await self.inner.close()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%")[0].strip("[]"))
        return True
    except ValueError:
        return False


def _odd_ipv4(host: str) -> bool:
    """A host that socket calls would read as an IPv4 address but that is not written as a
    standard dotted quad: `127.1`, `0x7f.1`, `2130706433`, `017700000001`, `0`, `127.0.0.1.`."""
    bare = host.rstrip(".")
    if _is_ip(bare) and bare == host:
        return False
    try:
        socket.inet_aton(bare)
        return True
    except (OSError, ValueError):
        return bare.replace(".", "").isdigit()  # all digits: never a name, whatever inet_aton says


SOCKET_FACTORY = "socket_factory" in inspect.signature(aiohttp.TCPConnector).parameters  # aiohttp >= 3.12


def _refusing_socket_factory(allowed: tuple[Network, ...]):
    """The last check, at the moment a socket is made for a guarded connection: the address it
    will connect to must be allowed (whatever path the host took to get there)."""
    def factory(addr_info) -> socket.socket:
        family, type_, proto, _canonname, address = addr_info
        if not address_allowed(str(address[0]), allowed):
            raise AddressRefused(f"{address[0]} is a non-public address "
                                 "(allow it with [newsmon] allow_private_networks)")
        return socket.socket(family=family, type=type_, proto=proto)
    return factory
