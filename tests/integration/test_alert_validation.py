"""Bad input is refused with a 422 naming the field, and nothing is stored or published."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from lightctl.protocol import TopicKind, Topics
from tests.integration.conftest import LiveService
from tests.integration.resilience import wait_until
from tests.support import MosquittoProcess

pytestmark = [pytest.mark.broker]


@pytest.fixture
def command_spy(mosquitto: MosquittoProcess, topic_root: str) -> Iterator[list[str]]:
    """Every command topic the service publishes to while the test runs."""
    seen: list[str] = []
    subscribed = threading.Event()
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.on_message = lambda _c, _u, msg: seen.append(msg.topic)
    client.on_subscribe = lambda *_a: subscribed.set()
    client.connect("127.0.0.1", mosquitto.port)
    client.subscribe(Topics(topic_root).all_lanterns(TopicKind.CMD), qos=1)
    client.loop_start()
    assert subscribed.wait(5)
    yield seen
    client.loop_stop()
    client.disconnect()


def _post(service: LiveService, body: object) -> dict[str, object]:
    response = service.http.post("/alerts", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, object] = response.json()
    assert problem["status"] == 422
    return problem


def _locs(problem: dict[str, object]) -> list[list[object]]:
    errors = problem["errors"]
    assert isinstance(errors, list)
    return [e["loc"] for e in errors]


GOOD_TARGET = {"streets": ["Bahnhofstrasse"]}
GOOD_MESSAGES = {"de": "Achtung.", "en": "Attention."}


def test_unknown_street_names_the_street_and_suggests(service: LiveService) -> None:
    problem = _post(service, {"target": {"streets": ["Bahnhofstrase"]}, "messages": GOOD_MESSAGES})
    assert _locs(problem) == [["target", "streets", 0]]
    error = problem["errors"][0]  # type: ignore[index]
    assert error["value"] == "Bahnhofstrase"
    assert "Bahnhofstrasse" in error["suggestions"]


def test_street_names_match_the_way_people_type_them(service: LiveService) -> None:
    for typed in ("bahnhofstr.", "BAHNHOFSTRASSE", "  Bahnhofstraße "):
        response = service.http.post(
            "/alerts", json={"target": {"streets": [typed]}, "messages": GOOD_MESSAGES}
        )
        assert response.status_code == 201, (typed, response.text)
        assert response.json()["lantern_count"] > 20


def test_unknown_lantern_id(service: LiveService) -> None:
    problem = _post(service, {"target": {"lanterns": ["NOPE1"]}, "messages": GOOD_MESSAGES})
    assert _locs(problem) == [["target", "lanterns", 0]]


def test_empty_target(service: LiveService) -> None:
    problem = _post(service, {"target": {}, "messages": GOOD_MESSAGES})
    assert _locs(problem) == [["target"]]


def test_unsupported_language_empty_and_overlong_text(service: LiveService) -> None:
    problem = _post(
        service,
        {"target": GOOD_TARGET, "messages": {"xx": "hello", "de": "   ", "en": "a" * 1001}},
    )
    assert sorted(map(str, _locs(problem))) == sorted(
        map(str, [["messages", "xx"], ["messages", "de"], ["messages", "en"]])
    )
    assert "1001 characters" in str(problem["detail"])


def test_several_mistakes_are_reported_together(service: LiveService) -> None:
    problem = _post(
        service, {"target": {"streets": ["Nowhere Street"]}, "messages": {"xx": "hello"}}
    )
    assert ["target", "streets", 0] in _locs(problem)
    assert ["messages", "xx"] in _locs(problem)


def test_malformed_json(service: LiveService) -> None:
    response = service.http.post(
        "/alerts",
        content=b'{"target": {"streets": ["Bahnhof',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["loc"] == ["body"]
    assert "malformed JSON" in problem["errors"][0]["msg"]


def test_out_of_range_fields_name_the_field(service: LiveService) -> None:
    problem = _post(
        service,
        {"target": GOOD_TARGET, "messages": GOOD_MESSAGES, "priority": 0, "volume": 101},
    )
    assert ["priority"] in _locs(problem)
    assert ["volume"] in _locs(problem)


def test_expiry_in_the_past(service: LiveService) -> None:
    problem = _post(
        service,
        {
            "target": GOOD_TARGET,
            "messages": GOOD_MESSAGES,
            "expires_at": "2020-01-01T00:00:00Z",
        },
    )
    assert _locs(problem) == [["expires_at"]]


def test_refusals_store_and_publish_nothing(service: LiveService, command_spy: list[str]) -> None:
    bad_bodies: list[object] = [
        {"target": {"streets": ["Bahnhofstrase"]}, "messages": GOOD_MESSAGES},
        {"target": {"lanterns": ["NOPE1"]}, "messages": GOOD_MESSAGES},
        {"target": {}, "messages": GOOD_MESSAGES},
        {"target": GOOD_TARGET, "messages": {"xx": "x"}},
        {"target": GOOD_TARGET, "messages": {}},
        {"target": GOOD_TARGET, "template": "no_such_template"},
        {"target": GOOD_TARGET, "template": "evacuation", "params": {}},
    ]
    for body in bad_bodies:
        _post(service, body)
    assert service.http.get("/alerts").json() == []
    # A good alert afterwards is published, so the spy would have seen the bad ones too.
    good = service.http.post("/alerts", json={"target": GOOD_TARGET, "messages": GOOD_MESSAGES})
    assert good.status_code == 201
    count = good.json()["lantern_count"]
    body = service.wait_for(
        good.json()["id"],
        lambda b: all(c["counts"].get("published") == count for c in b["commands"]),
        10,
    )
    # audio, warning light and projection: one command each per lantern, nothing else.
    assert len(body["commands"]) == 3
    # "published" is stored as the outbox hands the messages to the broker; the spy, another
    # client, sees them a moment later. A sentinel from the service's own MQTT connection,
    # published after all of them, reaches the spy after every message published before it.
    link = service.runtime.link
    assert link is not None
    sentinel = Topics(service.settings.topic_root).cmd("SENTINEL")
    link.publish(sentinel, b"")
    wait_until(lambda: sentinel in command_spy, 10, "the sentinel after every command")
    assert len(command_spy) == 3 * count + 1, command_spy


def test_template_alert_speaks_the_approved_texts(service: LiveService) -> None:
    templates = {t["id"]: t for t in service.http.get("/templates").json()}
    assert {"fire_smoke", "evacuation", "all_clear", "test"} <= set(templates)
    response = service.http.post(
        "/alerts",
        json={
            "target": GOOD_TARGET,
            "template": "evacuation",
            "params": {"street": "Bahnhofstrasse", "meeting_point": "Paradeplatz"},
            "languages": ["de", "en", "uk"],
        },
    )
    assert response.status_code == 201, response.text
    alert = response.json()
    assert alert["languages"] == ["de", "en", "uk"]
    assert "Paradeplatz" in alert["messages"]["de"]
    assert "Bahnhofstrasse" in alert["messages"]["en"]
    # Templates are spoken sentence by sentence (fixed sentences are rendered ahead of time).
    langs = [c["lang"] for c in alert["clips"]]
    assert list(dict.fromkeys(langs)) == ["de", "en", "uk"]
    assert langs == sorted(langs, key=["de", "en", "uk"].index)
    assert alert["template"] == "evacuation"


def test_unknown_alert_is_404_problem(service: LiveService) -> None:
    response = service.http.get("/alerts/al_nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
