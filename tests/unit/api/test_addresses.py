"""The client address: the peer, or what a trusted proxy says; never a header from anyone else."""

from __future__ import annotations

from typing import Any

import pytest

from lightctl.api.addresses import AddressResolver, parse_networks


def _scope(peer: str, **headers: str) -> dict[str, Any]:
    return {
        "client": (peer, 50000),
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }


PROXIES = AddressResolver(parse_networks(["10.0.0.0/8", "2001:db8::/32"]))


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    resolver = AddressResolver(())
    assert resolver.resolve(_scope("127.0.0.1", x_forwarded_for="203.0.113.9")) == "127.0.0.1"


def test_an_untrusted_peer_cannot_name_another_address() -> None:
    scope = _scope("192.0.2.1", x_forwarded_for="203.0.113.9", forwarded="for=203.0.113.8")
    assert PROXIES.resolve(scope) == "192.0.2.1"


def test_a_trusted_proxy_names_the_right_most_untrusted_hop() -> None:
    chain = "198.51.100.1, 203.0.113.9, 10.1.1.1"  # spoofed, real client, inner proxy
    assert PROXIES.resolve(_scope("10.2.2.2", x_forwarded_for=chain)) == "203.0.113.9"


def test_forwarded_wins_and_its_ports_and_brackets_are_read() -> None:
    scope = _scope(
        "2001:db8::5",
        forwarded='for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.3',
        x_forwarded_for="198.51.100.1",
    )
    assert PROXIES.resolve(scope) == "2001:db8:cafe::17"
    assert PROXIES.resolve(_scope("10.0.0.1", forwarded="for=203.0.113.4:80")) == "203.0.113.4"


def test_a_garbled_chain_or_no_header_leaves_the_peer() -> None:
    assert PROXIES.resolve(_scope("10.0.0.1", x_forwarded_for="unknown, _hidden")) == "10.0.0.1"
    assert PROXIES.resolve(_scope("10.0.0.1")) == "10.0.0.1"
    assert PROXIES.resolve({"headers": []}) == "unknown"


def test_the_answer_is_kept_for_the_request() -> None:
    scope = _scope("10.0.0.1", x_forwarded_for="203.0.113.9")
    assert PROXIES.resolve(scope) == "203.0.113.9"
    scope["headers"] = []
    assert PROXIES.resolve(scope) == "203.0.113.9"


def test_a_bad_cidr_is_named() -> None:
    with pytest.raises(ValueError, match=r"10\.0\.0\.0/33"):
        parse_networks(["10.0.0.0/33"])
