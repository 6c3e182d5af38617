"""A three-node broker cluster (nats-server's MQTT interface, JetStream replicated over three
nodes): one node is SIGKILLed in the middle of a fan-out to 2,000 lanterns spread over all three.
The service and the gateways of the dead node move to the others; every lantern ends `done`, or
`unreachable` if its gateway never came back, and none plays the warning twice.

Service and lanterns speak QoS 0 here, as lightctl runs on nats (README, "Brokers"): nats's QoS 1
is a JetStream consumer per subscription on a random node, and a third of them die unnoticed
with any node. ``LIGHTCTL_CLUSTER_QOS=1`` runs the same test at QoS 1 to see that.
"""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from firmware_sim import load_inventory
from lightctl.geo.groups import memberships
from lightctl.protocol import parse_group_audience
from lightctl.services.inventory import import_lanterns
from lightctl.services.targets import TargetResolver
from lightctl.store import Database
from tests.integration.nats_cluster import NatsCluster, nats_binary
from tests.integration.resilience import (
    GERMAN,
    ServeProcess,
    audio_command,
    demo_lanterns,
    finished,
    on_fleet,
    signed_fleet,
    wait_until,
)
from tests.support import free_port

pytestmark = [
    pytest.mark.broker,
    pytest.mark.e2e,
    # One worker runs both 2,000-lantern kill tests, one after the other (--dist=loadgroup).
    pytest.mark.xdist_group("fleet-2000"),
]

FLEET = int(os.environ.get("LIGHTCTL_CLUSTER_FLEET", "2000"))
QOS = os.environ.get("LIGHTCTL_CLUSTER_QOS", "0")
PER_GATEWAY = 100


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    if nats_binary() is None:
        pytest.skip("nats-server not installed")
    nats = NatsCluster(tmp_path / "nats")
    nats.start()
    yield nats
    nats.stop()


def test_a_broker_node_killed_mid_fan_out_leaves_every_lantern_truthful(
    cluster: NatsCluster, topic_root: str, tmp_path: Path
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'lightctl.db'}")
    inventory = demo_lanterns(tmp_path, FLEET)
    db.create_all()
    import_lanterns(db, inventory)
    # Lanterns that hold their groups already (provisioned by an earlier start): provisioning
    # them here would be 2,000 retained memberships, a JetStream write each on nats (22-44 s).
    expected = memberships(TargetResolver(db).refresh())
    db.dispose()
    lanterns = [
        replace(spec, groups=frozenset(filter(None, map(parse_group_audience, expected[spec.id]))))
        for spec in load_inventory(inventory)
    ]
    ids = [spec.id for spec in lanterns]
    token = f"lct_{secrets.token_urlsafe(32)}"
    port = free_port()
    service = ServeProcess(
        {
            **os.environ,
            "LIGHTCTL_DATA_DIR": str(tmp_path / "data"),
            "LIGHTCTL_DATABASE_URL": f"sqlite:///{tmp_path / 'lightctl.db'}",
            "LIGHTCTL_MQTT_URL": cluster.url,
            "LIGHTCTL_MQTT_ROOT": topic_root,
            "LIGHTCTL_MQTT_CLIENT_ID": f"svc-{port}",
            "LIGHTCTL_HTTP_HOST": "127.0.0.1",
            "LIGHTCTL_HTTP_PORT": str(port),
            "LIGHTCTL_PRERENDER_TEMPLATES": "false",
            "LIGHTCTL_BOOTSTRAP_TOKEN": token,
            "LIGHTCTL_ACK_TIMEOUT_S": "3",
            "LIGHTCTL_MQTT_QOS": QOS,
        },
        tmp_path / "serve.log",
        port,
        token,
    )
    sim = signed_fleet(
        cluster.url,
        inventory,
        topic_root,
        tmp_path / "data",
        speed=10,
        per_connection=PER_GATEWAY,
        qos=int(QOS),
        lanterns=lanterns,
    )
    try:
        started = time.monotonic()
        service.start()
        sim.start()
        subscribed = time.monotonic() - started
        spread = Counter(g.node[1] for g in sim.fleet.gateways)
        assert set(spread) == {n.mqtt for n in cluster.nodes}, spread
        print(spread)
        # Every lantern reported the groups it listens to, so the fan-out goes by group.
        wait_until(
            lambda: service.metrics()["fanout_v2_lanterns"] == FLEET, 30, "every lantern's groups"
        )
        reported = time.monotonic() - started
        response = service.http.post(
            "/alerts",
            json={"target": {"lanterns": ids}, "messages": {"de": GERMAN}, "expires_in_s": 300},
        )
        assert response.status_code == 201, response.text
        alert_id = response.json()["id"]

        def sent() -> int:
            counts = service.alert(alert_id)["counts"]
            return FLEET - int(counts.get("planned", 0))

        wait_until(lambda: sent() >= FLEET // 4, 30, "the fan-out to be under way")
        at_kill = sent()
        killed_at = time.monotonic()
        cluster.kill(0)  # the node the service and every third gateway are on

        seen: list[dict[str, int]] = []

        def progress() -> bool:
            body = service.alert(alert_id)
            if not seen or seen[-1] != body["counts"]:
                seen.append(body["counts"])
                print(f"{time.monotonic() - killed_at:5.1f} s after the kill: {body['counts']}")
            return finished(body)

        wait_until(progress, 180, "every lantern to finish")
        body = service.alert(alert_id)
        took = time.monotonic() - killed_at
        counts = body["counts"]
        assert set(counts) <= {"done", "unreachable"}, counts
        audio_id = audio_command(body)
        played = on_fleet(
            sim,
            lambda: {
                lid: sum(1 for cmd, _ in sim.fleet.record(lid).played if cmd == audio_id)
                for lid in ids
            },
            timeout_s=30,
        )
        assert max(played.values()) == 1, Counter(played.values())
        # ... and each lantern the service counts `done` did play it (once).
        assert sum(1 for n in played.values() if n == 1) >= counts.get("done", 0), Counter(played)
        metrics = service.metrics()
        print(
            f"\nsubscribed in {subscribed:.1f} s, groups reported in {reported:.1f} s; {at_kill} "
            f"sent when node 1 was killed; finished {took:.1f} s later: {counts}; "
            f"re-sent {metrics['outbox_resent']}, asked again {metrics['outbox_asked_again']}"
        )
    finally:
        try:
            sim.stop()
        finally:
            service.stop()  # also when the fleet would not stop: no service outlives the test
