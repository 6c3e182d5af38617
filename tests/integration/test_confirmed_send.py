"""Confirmed = sent: an alert carrying a preview_id goes only to the lanterns that preview showed,
and a retried request with the same Idempotency-Key answers the alert it made, never a second."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx
import pytest

from tests.integration.conftest import LiveService
from tests.integration.inventory_support import add_lantern_on

pytestmark = [pytest.mark.broker]

STREET = "Bahnhofstrasse"


def preview(service: LiveService, target: dict[str, Any]) -> dict[str, Any]:
    response = service.http.post("/targets/preview", params={"geojson": False}, json=target)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def warning(target: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"target": target, "messages": {"de": "Test", "en": "Test"}, **extra}


def alert_count(service: LiveService) -> int:
    return len(service.http.get("/alerts", params={"limit": 500}).json())


def test_preview_names_its_frozen_set(service: LiveService) -> None:
    first = preview(service, {"streets": [STREET]})
    assert first["preview_id"].startswith("pv_")
    # The same set is the same id, however it was chosen.
    again = preview(service, {"lanterns": list(reversed(first["lantern_ids"]))})
    assert again["preview_id"] == first["preview_id"]
    other = preview(service, {"lanterns": first["lantern_ids"][:-1]})
    assert other["preview_id"] != first["preview_id"]

    sent = service.http.post(
        "/alerts", json=warning({"streets": [STREET]}, preview_id=first["preview_id"])
    )
    assert sent.status_code == 201, sent.text
    alert = service.http.get(f"/alerts/{sent.json()['id']}", params={"lanterns": True}).json()
    assert sorted(d["lantern"] for d in alert["lanterns"]) == first["lantern_ids"]


def test_a_changed_target_is_refused_naming_the_change(service: LiveService) -> None:
    confirmed = preview(service, {"streets": [STREET]})
    new_id = add_lantern_on(service, STREET)
    before = alert_count(service)

    refused = service.http.post(
        "/alerts", json=warning({"streets": [STREET]}, preview_id=confirmed["preview_id"])
    )
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["code"] == "target_changed"
    assert problem["preview_id"] == confirmed["preview_id"]
    assert problem["confirmed_count"] == confirmed["lantern_count"]
    assert problem["lantern_count"] == confirmed["lantern_count"] + 1
    assert (problem["added"], problem["added_count"], problem["removed_count"]) == (
        [new_id],
        1,
        0,
    )
    assert problem["streets"] == [{"name": STREET, "added": 1, "removed": 0}]
    assert f"{STREET} +1" in problem["detail"]
    assert alert_count(service) == before  # nothing stored, nothing sent

    # The dispatcher confirms the new set: it is sent, the new lantern with it.
    fresh = preview(service, {"streets": [STREET]})
    assert new_id in fresh["lantern_ids"]
    sent = service.http.post(
        "/alerts", json=warning({"streets": [STREET]}, preview_id=fresh["preview_id"])
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["lantern_count"] == confirmed["lantern_count"] + 1


def test_a_removed_lantern_is_named_too(service: LiveService) -> None:
    confirmed = preview(service, {"streets": [STREET]})
    dropped = confirmed["lantern_ids"][0]
    target = {"streets": [STREET], "exclude": {"lanterns": [dropped]}}
    refused = service.http.post("/alerts", json=warning(target, preview_id=confirmed["preview_id"]))
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert (problem["removed"], problem["added_count"]) == ([dropped], 0)
    assert problem["streets"] == [{"name": STREET, "added": 0, "removed": 1}]


def test_preview_ids_that_are_malformed_or_unknown(service: LiveService) -> None:
    target = {"streets": [STREET]}
    malformed = service.http.post("/alerts", json=warning(target, preview_id="pv_nope"))
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["loc"] == ["preview_id"]
    unknown = "pv_" + "0" * 48
    refused = service.http.post("/alerts", json=warning(target, preview_id=unknown))
    assert refused.status_code == 409
    assert refused.json()["code"] == "target_changed"
    assert "preview and confirm again" in refused.json()["detail"]


def test_a_retry_with_the_same_key_answers_the_same_alert(service: LiveService) -> None:
    body = warning({"streets": [STREET]})
    key = {"Idempotency-Key": f"console-{uuid.uuid4()}"}
    before = alert_count(service)
    first = service.http.post("/alerts", json=body, headers=key)
    assert first.status_code == 201, first.text
    retry = service.http.post("/alerts", json=body, headers=key)
    assert retry.status_code == 200, retry.text
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    assert alert_count(service) == before + 1

    # The same key with another request: refused, naming the header; nothing sent.
    other = service.http.post("/alerts", json=warning({"streets": ["Talstrasse"]}), headers=key)
    assert other.status_code == 422, other.text
    assert other.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert alert_count(service) == before + 1

    # Another caller's key of the same name is theirs: a new alert.
    stranger = service.make_token("other-dispatcher", "dispatcher")
    theirs = service.http.post(
        "/alerts", json=body, headers={**key, "Authorization": f"Bearer {stranger}"}
    )
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["id"] != first.json()["id"]

    bad = service.http.post("/alerts", json=body, headers={"Idempotency-Key": "with space"})
    assert bad.status_code == 422


def test_racing_retries_store_one_alert(service: LiveService) -> None:
    """Four copies of one request at the same moment (a client retrying on a lost answer while
    the first is still being stored): one alert, every answer names it."""
    body = warning({"streets": [STREET]})
    headers = {"Idempotency-Key": f"race-{uuid.uuid4()}", **service.http.headers}
    before = alert_count(service)
    answers: list[httpx.Response] = []
    start = threading.Barrier(4)

    def post() -> None:
        with httpx.Client(base_url=str(service.http.base_url), timeout=30) as client:
            start.wait()
            answers.append(client.post("/alerts", json=body, headers=headers))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert alert_count(service) == before + 1


def test_the_words_shown_before_confirming_are_the_words_sent(service: LiveService) -> None:
    details = {"params": {"street": STREET}, "languages": ["de", "en", "tr"]}
    shown = service.http.post("/templates/gas_leak/render", json=details)
    assert shown.status_code == 200, shown.text
    words = shown.json()
    assert words["languages"] == ["de", "en", "tr"]
    assert all(STREET in words["messages"][lang] for lang in ("de", "en", "tr"))
    sent = service.http.post(
        "/alerts", json={"target": {"streets": [STREET]}, "template": "gas_leak", **details}
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["messages"] == words["messages"]

    missing = service.http.post("/templates/gas_leak/render", json={"languages": ["de"]})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["loc"] == ["params", "street"]
    unknown = service.http.post("/templates/gas_lek/render", json=details)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["suggestions"] == ["gas_leak"]
