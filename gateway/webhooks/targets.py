"""Where a webhook may be sent: the subscriber's URL checked against server-side request forgery.

A subscriber names a URL; the gateway, inside the DMO's network, sends to it. Unless
``webhooks_allow_private`` (a local demo), every address the host resolves to must be a
public one: not loopback, link-local (cloud metadata at 169.254.169.254), private,
shared (100.64/10), multicast, reserved or unspecified, IPv4-mapped IPv6 included. The
check runs when subscribing and again at every send, and the send goes to the address just
checked (``Host`` and TLS name kept), so a name re-pointed after the check (DNS rebinding)
reaches nothing new. Redirects are never followed (see ``sender.py``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The URL may not be sent to; the message says why (for the caller and the delivery log)."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where one attempt goes: ``url`` (the address itself when pinned) and what to tell the server."""

    url: str
    host_header: str | None = None
    tls_name: str | None = None


def parse(url: str) -> SplitResult:
    """The URL's parts, or ``Refused`` when it is no absolute http(s) URL a webhook can use."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise Refused("must be an http:// or https:// URL")
    if not parts.hostname:
        raise Refused("must name a host")
    if parts.username is not None or parts.password is not None:
        raise Refused("must not carry credentials (user:password@)")
    if parts.fragment:
        raise Refused("must not have a #fragment")
    if port == 0:
        raise Refused("port 0 is no port")
    return parts


# IPv6 prefixes that carry an IPv4 address inside (NAT64, 6to4, Teredo): Python calls some of
# them global, but they reach the IPv4 address they embed, which must be public itself.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # (server, client): the client is where it leads
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and (embedded := _embedded_ipv4(address)) is not None:
        if any(address in net for net in _NAT64[1:]):
            return False  # the local-use NAT64 prefix: translated inside the operator's own network
        address = embedded
    return address.is_global and not address.is_multicast


async def addresses(host: str) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.split("%", 1)[0])]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"the host {host!r} does not resolve ({exc})") from None
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))


async def resolve(url: str, *, allow_private: bool) -> Target:
    """Where to send ``url`` now; ``Refused`` when any address its host has is not public."""
    parts = parse(url)
    if allow_private:
        return Target(url)
    host = parts.hostname or ""
    found = await addresses(host)
    refused = [str(a) for a in found if not public(a)]
    if refused or not found:
        raise Refused(f"the host {host!r} is (or resolves to) a loopback, link-local, private or reserved "
                      f"address ({', '.join(refused) or 'none'}): only public addresses may receive webhooks")
    pinned = found[0]
    netloc = f"[{pinned}]" if pinned.version == 6 else str(pinned)
    if parts.port is not None:
        netloc += f":{parts.port}"
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Target(parts._replace(netloc=netloc).geturl(), host_header=host_header,
                  tls_name=host if parts.scheme == "https" else None)
