"""`lightctl demo` as a user runs it: its broker refuses an anonymous client (the issue's attacker
published forged acks there), and a warning still completes `done` on signed simulated lanterns."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support import ROOT, fixed_env, free_port, have_mosquitto

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

START_S = 180  # 3,533 lanterns imported and simulated on a small, shared machine


class Demo:
    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/v1"
        self.out = tmp_path / "demo.out"
        with self.out.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from lightctl.cli import app; app()",
                    "demo",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(tmp_path / "demo"),
                    "--speed",
                    "50",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=fixed_env({**os.environ, "PYTHONPATH": str(ROOT)}),
                cwd=tmp_path,
            )

    def wait_ready(self) -> tuple[str, int]:
        """The dispatcher token and the broker port, once the API answers."""
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.out.read_text()
            text = self.out.read_text(errors="replace")
            token = re.search(r"LIGHTCTL_TOKEN=(\S+)", text)
            broker = re.search(r"broker: \w+ on mqtt://127\.0\.0\.1:(\d+)", text)
            if token and broker:
                try:
                    if httpx.get(f"{self.url}/healthz", timeout=2).json()["status"] == "ok":
                        return token.group(1), int(broker.group(1))
                except httpx.HTTPError:
                    pass
            time.sleep(0.5)
        raise AssertionError(f"the demo did not start:\n{self.out.read_text()[-3000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    if not have_mosquitto():
        pytest.skip("mosquitto binary not installed")
    running = Demo(tmp_path)
    yield running
    running.stop()


def connack(port: int, user: str | None = None, password: str | None = None) -> str:
    """What the broker answers a client's CONNECT ("Success" or why not)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, "anonymous-probe", protocol=mqtt.MQTTv5)
    if user is not None:
        client.username_pw_set(user, password)
    answered = threading.Event()
    answer: list[str] = []

    def on_connect(_c: object, _u: object, _f: object, reason: object, _p: object) -> None:
        answer.append(str(reason))
        answered.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    answered.wait(10)
    client.loop_stop()
    client.disconnect()
    assert answer, "the broker never answered CONNECT"
    return answer[0]


def test_the_demo_broker_refuses_anonymous_clients_and_signed_lanterns_complete(
    demo: Demo,
) -> None:
    token, broker_port = demo.wait_ready()
    refused = {"Not authorized", "Bad user name or password"}
    assert connack(broker_port) in refused
    assert connack(broker_port, "lightctl-service", "guessed") in refused
    http = httpx.Client(base_url=demo.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    lanterns = [row["id"] for row in http.get("/lanterns", params={"limit": 3}).json()][:3]
    response = http.post(
        "/alerts", json={"target": {"lanterns": lanterns}, "messages": {"de": "Probe."}}
    )
    assert response.status_code == 201, response.text
    alert_id = response.json()["id"]
    deadline = time.monotonic() + 90
    body = http.get(f"/alerts/{alert_id}").json()
    while body["counts"] != {"done": len(lanterns)} and time.monotonic() < deadline:
        time.sleep(0.5)
        body = http.get(f"/alerts/{alert_id}").json()
    assert body["counts"] == {"done": len(lanterns)}, body
    counters = http.get("/metrics").json()["counters"]
    assert counters["consumer_ack_signed"] >= 3 * len(lanterns)  # received, playing, done each
    assert not {k: v for k, v in counters.items() if k.startswith("consumer_ack_refused_")}

    # A whole street goes out over its protocol v2 group topic through the locked-down broker:
    # one copy for the street, heard by the lanterns on it.
    rows = http.get("/lanterns", params={"limit": 100_000}).json()
    street = next(row["street"] for row in rows if row["street"])
    deadline = time.monotonic() + 60
    counters = http.get("/metrics").json()["counters"]
    while not (counters["fanout_ready"] and counters["fanout_confirmed"] == len(rows)):
        assert time.monotonic() < deadline, f"not every lantern confirmed its groups: {counters}"
        time.sleep(0.5)
        counters = http.get("/metrics").json()["counters"]
    response = http.post(
        "/alerts", json={"target": {"streets": [street]}, "messages": {"de": "X."}}
    )
    assert response.status_code == 201, response.text
    street_alert = response.json()["id"]
    deadline = time.monotonic() + 90
    body = http.get(f"/alerts/{street_alert}").json()
    while set(body["counts"]) != {"done"} and time.monotonic() < deadline:
        time.sleep(0.5)
        body = http.get(f"/alerts/{street_alert}").json()
    assert set(body["counts"]) == {"done"}, body
    after = http.get("/metrics").json()["counters"]
    assert after["outbox_group_published"] > counters["outbox_group_published"]
    # Had the broker kept the group copy from the lanterns, every one would have needed its own
    # copy again; a loaded machine may time out an ack or two.
    on_street = sum(body["counts"].values())
    assert after["outbox_resent"] - counters["outbox_resent"] < on_street / 2, (after, counters)
