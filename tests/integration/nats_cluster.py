"""A three-node nats-server cluster the test owns (its MQTT interface on JetStream), run with
``config/nats/cluster.conf``, the file docker-compose's ``replicas`` profile runs too."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support import ROOT, fixed_env, free_port, wait_for_port

CONF = ROOT / "config" / "nats" / "cluster.conf"
NODES = 3


def nats_binary() -> str | None:
    found = shutil.which("nats-server")
    if found is None and Path("/usr/sbin/nats-server").exists():
        found = "/usr/sbin/nats-server"
    return found


@dataclass(slots=True)
class NatsNode:
    name: str
    mqtt: int
    client: int
    cluster: int
    http: int
    store: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None


class NatsCluster:
    """Three nodes on free ports of 127.0.0.1; ``url`` names their MQTT listeners."""

    def __init__(self, workdir: Path) -> None:
        self.nodes = [
            NatsNode(
                f"n{i + 1}",
                free_port(),
                free_port(),
                free_port(),
                free_port(),
                workdir / f"n{i + 1}",
                workdir / f"n{i + 1}.log",
            )
            for i in range(NODES)
        ]
        self.url = "mqtt://" + ",".join(f"127.0.0.1:{n.mqtt}" for n in self.nodes)

    def _env(self, node: NatsNode) -> dict[str, str]:
        routes = {
            f"NATS_ROUTE_{i + 1}": f"nats://127.0.0.1:{other.cluster}"
            for i, other in enumerate(self.nodes)
        }
        return {
            "NATS_NAME": node.name,
            "NATS_CLIENT": f"127.0.0.1:{node.client}",
            "NATS_MQTT": f"127.0.0.1:{node.mqtt}",
            "NATS_CLUSTER": f"127.0.0.1:{node.cluster}",
            "NATS_HTTP": f"127.0.0.1:{node.http}",
            "NATS_STORE": str(node.store),
            **routes,
        }

    def start(self, timeout_s: float = 30) -> None:
        binary = nats_binary()
        assert binary is not None, "nats-server not installed"
        for node in self.nodes:
            node.store.mkdir(parents=True, exist_ok=True)
            with node.log.open("ab") as log:
                node.proc = subprocess.Popen(
                    [binary, "-c", str(CONF)],
                    env=fixed_env(self._env(node)),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        for node in self.nodes:
            wait_for_port(node.mqtt, timeout_s)
        deadline = time.monotonic() + timeout_s
        # /healthz answers 200 once the node has JetStream up and a meta leader in the cluster.
        while not all(self._healthy(node) for node in self.nodes):
            if time.monotonic() > deadline:
                tails = {n.name: n.log.read_text(errors="replace")[-1500:] for n in self.nodes}
                raise TimeoutError(f"nats cluster not healthy after {timeout_s} s: {tails}")
            time.sleep(0.2)

    @staticmethod
    def _healthy(node: NatsNode) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{node.http}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, index: int) -> None:
        """SIGKILL one node: no goodbye to its clients or its peers."""
        proc = self.nodes[index].proc
        assert proc is not None
        proc.kill()
        proc.wait(timeout=10)
        self.nodes[index].proc = None

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None:
                node.proc.terminate()
        for node in self.nodes:
            if node.proc is not None:
                try:
                    node.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait(timeout=10)
                node.proc = None
