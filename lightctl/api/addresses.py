"""The caller's real address: the TCP peer, or what a trusted proxy says the peer was.

``X-Forwarded-For`` and ``Forwarded`` are text anyone can send. They count only when the peer is
one of ``settings.trusted_proxies`` (CIDRs), and then only as far as the chain of trusted proxies
goes: the address is the right-most entry that is not itself a trusted proxy (the one the
outermost trusted proxy saw). Anything a client put further left is ignored.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence

from starlette.types import Scope

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Where the resolved address is kept for the request (ASGI scope["state"]).
STATE_KEY = "client_address"
UNKNOWN = "unknown"
# `Forwarded: for=192.0.2.1;proto=https, for="[2001:db8::1]:4711"` (RFC 7239).
_FORWARDED_FOR = re.compile(r'(?i)(?:^|[;,\s])for=("[^"]*"|[^;,\s]*)')


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs (or single addresses); ValueError naming the first one that is not."""
    networks: list[IPNetwork] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an address or CIDR: {value!r}") from None
    return tuple(networks)


class AddressResolver:
    """Resolve a request's client address once, with the configured trusted proxies."""

    def __init__(self, trusted: Sequence[IPNetwork]) -> None:
        self._trusted = tuple(trusted)

    def trusted(self, address: IPAddress | None) -> bool:
        return address is not None and any(address in net for net in self._trusted)

    def resolve(self, scope: Scope) -> str:
        state = scope.setdefault("state", {})
        known = state.get(STATE_KEY)
        if isinstance(known, str):
            return known
        address = self._resolve(scope)
        state[STATE_KEY] = address
        return address

    def _resolve(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = str(client[0]) if client else UNKNOWN
        if not self._trusted or not self.trusted(_ip(peer)):
            return peer
        hops = _forwarded_hops(scope.get("headers") or [])
        for hop in reversed(hops):
            ip = _ip(hop)
            if ip is None:
                return peer  # a garbled chain: trust nothing in it
            if not self.trusted(ip):
                return str(ip)
        return peer if not hops else str(_ip(hops[0]))


def _forwarded_hops(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """The client chain, left (first client) to right (nearest proxy). ``Forwarded`` wins over
    ``X-Forwarded-For`` when both are present (it is the standard one)."""
    forwarded: list[str] = []
    x_forwarded: list[str] = []
    for name, value in headers:
        text = value.decode("latin-1")
        if name == b"forwarded":
            forwarded += [m.strip('"') for m in _FORWARDED_FOR.findall(text)]
        elif name == b"x-forwarded-for":
            x_forwarded += [part.strip() for part in text.split(",") if part.strip()]
    return forwarded or x_forwarded


def _ip(text: str) -> IPAddress | None:
    """An address out of ``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80`` or ``::1``; else None."""
    value = text.strip()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None
