"""More refusals: synthesis failure, template languages, expired alerts, program too long,
and the sandbox that keeps rehearsals away from real lanterns."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from lightctl.errors import SynthesisFailed
from lightctl.store import Database
from tests.integration.conftest import LiveService, make_settings
from tests.integration.resilience import wait_until
from tests.support import MosquittoProcess

pytestmark = [pytest.mark.broker]

TARGET = {"streets": ["Poststrasse"]}


class BrokenSpeech:
    def get_or_render(self, text: str, lang: str) -> object:
        raise SynthesisFailed(lang, "engine crashed (test)", "espeak-ng")


def test_synthesis_failure_is_a_503_the_dispatcher_sees_and_nothing_is_stored(
    service: LiveService,
) -> None:
    service.runtime.speaker.source = BrokenSpeech()  # type: ignore[assignment]
    response = service.http.post("/alerts", json={"target": TARGET, "messages": {"de": "Neu."}})
    assert response.status_code == 503
    problem = response.json()
    assert problem["code"] == "synthesis_failed"
    assert problem["lang"] == "de"
    assert "engine crashed" in problem["detail"]
    assert service.http.get("/alerts").json() == []


def test_template_without_the_language_and_unknown_parameter(service: LiveService) -> None:
    response = service.http.post(
        "/alerts",
        json={"target": TARGET, "template": "fire_smoke", "languages": ["de", "es"]},
    )
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["loc"] == ["languages", 1]
    assert "de-LS" in error["suggestions"]
    response = service.http.post(
        "/alerts",
        json={"target": TARGET, "template": "gas_leak", "params": {"stret": "Poststrasse"}},
    )
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["errors"]]
    assert ["params", "street"] in locs
    assert ["params", "stret"] in locs


def test_program_longer_than_the_maximum_is_refused(service: LiveService) -> None:
    service.settings.max_program_s = 120  # the operator's configured maximum
    response = service.http.post(
        "/alerts",
        json={
            "target": TARGET,
            "messages": {"de": "Achtung. " * 100},
            "repeat": 5,
            "interval_s": 30,
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["repeat"]
    assert "longer than the allowed" in response.json()["detail"]


def test_update_or_cancel_after_expiry_is_409_with_the_state(service: LiveService) -> None:
    response = service.http.post(
        "/alerts", json={"target": TARGET, "messages": {"de": "Kurz."}, "expires_in_s": 10}
    )
    alert = response.json()
    # The service's own clock passes the expiry: the alert reports itself expired.
    service.wait_for(alert["id"], lambda b: b["status"] == "expired", 30)
    for action, body in (("cancel", None), ("update", {"messages": {"de": "Neu."}})):
        result = service.http.post(f"/alerts/{alert['id']}/{action}", json=body)
        assert result.status_code == 409, result.text
        assert result.json()["state"] == "expired"


def test_update_of_unknown_alert_is_404(service: LiveService) -> None:
    assert service.http.post("/alerts/al_nope/cancel").status_code == 404


@pytest.fixture
def spy_all(mosquitto: MosquittoProcess) -> Iterator[list[str]]:
    seen: list[str] = []
    ready = threading.Event()
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.on_message = lambda _c, _u, msg: seen.append(msg.topic)
    client.on_subscribe = lambda *_a: ready.set()
    client.connect("127.0.0.1", mosquitto.port)
    client.subscribe("#", qos=0)
    client.loop_start()
    assert ready.wait(5)
    yield seen
    client.loop_stop()
    client.disconnect()


def test_sandbox_sends_exercises_to_the_sandbox_topics_only(
    inventory: Database, mosquitto: MosquittoProcess, tmp_path: Path, spy_all: list[str]
) -> None:
    root = f"city{uuid.uuid4().hex[:6]}"
    live = LiveService(make_settings(tmp_path, mosquitto.url, root, sandbox=True), inventory)
    live.start()
    try:
        response = live.http.post("/alerts", json={"target": TARGET, "messages": {"de": "Probe."}})
        assert response.status_code == 201
        alert = response.json()
        assert alert["exercise"] is True
        n = alert["lantern_count"]
        live.wait_for(
            alert["id"], lambda b: sum(b["counts"].values()) == b["counts"].get("published"), 10
        )
        # A sentinel from the service's own connection, after every command: once the spy has
        # it, it has every message the service published before.
        link = live.runtime.link
        assert link is not None
        sentinel = f"{root}-sandbox/test-sentinel"
        link.publish(sentinel, b"")
        wait_until(lambda: sentinel in spy_all, 10, "the sentinel")
        ours = [t for t in spy_all if t.startswith(root) and t != sentinel]
        assert len(ours) >= n
        assert ours
        assert all(t.startswith(f"{root}-sandbox/") for t in ours)
    finally:
        live.stop()
