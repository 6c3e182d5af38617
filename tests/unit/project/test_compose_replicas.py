"""docker-compose's "replicas" profile is what the replica tests run: two `lightctl serve` on one
PostgreSQL and broker with the same signing keys, each its own MQTT session, behind a balancer
whose address is the only one whose X-Forwarded-For they believe."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; only safe_load is used

from tests.support import ROOT


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_two_replicas_share_database_broker_and_keys_but_not_their_session() -> None:
    services = _compose()["services"]
    a, b = services["lightctl"], services["lightctl-b"]
    assert b["profiles"] == ["replicas"]
    for key in ("LIGHTCTL_DATABASE_URL", "LIGHTCTL_MQTT_URL", "LIGHTCTL_MQTT_USERNAME"):
        assert a["environment"][key] == b["environment"][key], key
    assert (
        a["environment"].get("LIGHTCTL_MQTT_CLIENT_ID")
        != b["environment"]["LIGHTCTL_MQTT_CLIENT_ID"]
    )
    assert "keys:/data/keys" in a["volumes"]
    assert "keys:/data/keys" in b["volumes"]
    assert a["environment"]["LIGHTCTL_DATABASE_URL"].startswith("postgresql://")  # not SQLite


def test_the_balancer_sends_to_both_replicas_and_is_their_only_trusted_proxy() -> None:
    compose = _compose()
    balancer = compose["services"]["balancer"]
    address = balancer["networks"]["front"]["ipv4_address"]
    for name in ("lightctl", "lightctl-b"):
        trusted = json.loads(compose["services"][name]["environment"]["LIGHTCTL_TRUSTED_PROXIES"])
        assert trusted == [f"{address}/32"], name
    config = (ROOT / "config" / "haproxy" / "haproxy.cfg").read_text()
    servers = re.findall(r"^\s*server \S+ (\S+):8000 check", config, flags=re.M)
    assert servers == ["lightctl", "lightctl-b"]
    assert "httpchk GET /api/v1/healthz" in config
