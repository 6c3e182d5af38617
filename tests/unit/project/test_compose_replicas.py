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


def test_the_broker_cluster_is_three_nats_nodes_running_the_file_the_test_runs() -> None:
    """Three nodes of one cluster, each with every variable config/nats/cluster.conf reads, a
    name of its own, routes to all three; the cluster test starts nodes from the same file."""
    from tests.integration import nats_cluster

    compose = _compose()
    services = compose["services"]
    conf = ROOT / "config" / "nats" / "cluster.conf"
    assert conf == nats_cluster.CONF
    wanted = set(re.findall(r"\$(NATS_[A-Z0-9_]+)", conf.read_text()))
    names = ["nats-1", "nats-2", "nats-3"]
    for name in names:
        node = services[name]
        assert node["profiles"] == ["replicas"]
        assert node["image"].startswith("nats:2.9")
        assert node["command"] == ["-c", "/etc/nats/cluster.conf"]
        assert "./config/nats/cluster.conf:/etc/nats/cluster.conf:ro" in node["volumes"]
        env = node["environment"]
        assert set(env) == wanted, name
        assert env["NATS_NAME"] == name
        routes = sorted(v for k, v in env.items() if k.startswith("NATS_ROUTE_"))
        assert routes == [f"nats://{n}:6222" for n in names]
    # The test's harness sets the same variables for its nodes.
    harness = nats_cluster.NatsCluster(ROOT / "unused")
    assert wanted <= set(harness._env(harness.nodes[0]))
    # The replicas and the fleet are pointed at one broker by one variable.
    url = "${LIGHTCTL_COMPOSE_MQTT_URL:-mqtts://mosquitto:8883}"
    for name in ("lightctl", "lightctl-b"):
        assert services[name]["environment"]["LIGHTCTL_MQTT_URL"] == url, name
    assert f"--broker {url}" in services["firmware-sim"]["command"]
    # ... and at one QoS (0 on nats, where QoS 1 is a JetStream consumer per subscription).
    qos = "${LIGHTCTL_COMPOSE_MQTT_QOS:-1}"
    for name in ("lightctl", "lightctl-b"):
        assert services[name]["environment"]["LIGHTCTL_MQTT_QOS"] == qos, name
    assert f"--qos {qos}" in services["firmware-sim"]["command"]
    comment = (ROOT / "docker-compose.yml").read_text()
    assert "LIGHTCTL_COMPOSE_MQTT_URL=mqtt://nats-1:1883,nats-2:1883,nats-3:1883" in comment
    assert "LIGHTCTL_COMPOSE_MQTT_QOS=0" in comment
