"""Acoustic coverage over the live stack: a broken speaker, as the lantern reports it, opens
gaps in the preview, and the alert's coverage counts only the lanterns that confirmed."""

from __future__ import annotations

import time
from typing import Any

import pytest

from firmware_sim import Fleet
from firmware_sim.faults import Faults
from tests.integration.conftest import LiveService

pytestmark = [pytest.mark.broker]

STREET = {"streets": ["Bahnhofstrasse"]}


def coverage_of(service: LiveService, target: dict[str, Any]) -> dict[str, Any]:
    response = service.http.post("/targets/preview", params={"geojson": False}, json=target)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()["coverage"]
    return body


def along_the_street(service: LiveService) -> list[str]:
    """The street's lantern ids from south to north."""
    features = service.http.post("/targets/preview", json=STREET).json()["geojson"]["features"]
    ordered = sorted(features, key=lambda f: f["geometry"]["coordinates"][1])
    return [f["id"] for f in ordered]


def break_speakers(fleet: Fleet, ids: list[str]) -> None:
    """``broken=speaker`` on each lantern, applied on the fleet's own loop as its control API
    does; each lantern then republishes its retained state naming the broken speaker."""
    loop = fleet._loop  # the fleet runs on its own thread in these tests
    assert loop is not None
    for lantern_id in ids:
        loop.call_soon_threadsafe(
            fleet.set_faults, lantern_id, Faults(broken=frozenset({"speaker"}))
        )


def wait_for(check: Any, what: str, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_preview_coverage_changes_when_speakers_are_reported_broken(
    service: LiveService, fleet: Fleet
) -> None:
    service.runtime.coverage.refresh()
    before = coverage_of(service, STREET)
    ids = service.http.post("/targets/preview", json=STREET).json()["lantern_ids"]
    assert before["speaker_count"] == len(ids) > 20
    assert before["broken_speaker_count"] == 0
    assert before["length_m"] > 500
    shares = before["intelligible"] + before["audible"] + before["not_covered"]
    assert shares == pytest.approx(1.0, abs=0.001)
    assert before["intelligible"] > 0.5

    # Every lantern in the middle third of the street (it runs north-south) loses its speaker.
    broken = along_the_street(service)[len(ids) // 3 : 2 * len(ids) // 3]
    break_speakers(fleet, broken)
    after = wait_for(
        lambda: (c := coverage_of(service, STREET))["broken_speaker_count"] == len(broken) and c,
        "the broken speakers never reached the preview",
    )
    assert after["speaker_count"] == len(ids) - len(broken)
    assert after["intelligible"] < before["intelligible"]
    assert after["audible"] + after["not_covered"] > before["audible"] + before["not_covered"]
    assert any("reported broken" in w for w in after["warnings"])
    for gap in after["gaps"]:
        assert gap["geometry"]["type"] == "LineString"
        assert gap["length_m"] > 0


def test_preview_counts_and_names_lanterns_whose_speaker_is_reported_broken(
    service: LiveService, fleet: Fleet
) -> None:
    """Before anyone sends: the preview counts the silent speakers and names them, and the
    console's live feed marks them on the map."""
    ids = service.http.post("/targets/preview", json=STREET).json()["lantern_ids"]
    before = service.http.post("/targets/preview", params={"geojson": False}, json=STREET).json()
    assert (before["broken_speaker_count"], before["broken_speaker_ids"]) == (0, [])
    broken = sorted(ids[1:4])
    break_speakers(fleet, broken)
    after = wait_for(
        lambda: (
            (
                p := service.http.post(
                    "/targets/preview", params={"geojson": False}, json=STREET
                ).json()
            )["broken_speaker_count"]
            == len(broken)
            and p
        ),
        "the broken speakers never reached the preview",
    )
    assert sorted(after["broken_speaker_ids"]) == broken
    assert after["lantern_count"] == len(ids)  # still targeted: the light and projection work
    feed = service.http.get("/lanterns/live").json()
    at = feed["fields"].index("broken")
    marked = sorted(r[0] for r in feed["lanterns"] if len(r) > at and r[at] == "speaker")
    assert marked == broken


def test_alert_coverage_counts_only_lanterns_that_confirmed(
    service: LiveService, fleet: Fleet
) -> None:
    service.runtime.coverage.refresh()
    ids = service.http.post("/targets/preview", json=STREET).json()["lantern_ids"]
    broken = ids[::2]
    break_speakers(fleet, broken)
    wait_for(
        lambda: coverage_of(service, STREET)["broken_speaker_count"] == len(broken),
        "the broken speakers never reached the preview",
    )
    response = service.http.post(
        "/alerts", json={"target": STREET, "messages": {"de": "Test", "en": "Test"}}
    )
    assert response.status_code == 201, response.text
    alert_id = response.json()["id"]
    service.wait_for(alert_id, lambda b: b["status"] == "completed", timeout_s=90)
    body = service.http.get(f"/alerts/{alert_id}/coverage").json()
    assert body["speaker_count"] == len(ids) - len(broken)
    assert body["length_m"] > 500
    # The same set from the preview: what was reported broken is what failed.
    assert body["intelligible"] == coverage_of(service, STREET)["intelligible"]


def test_city_coverage_names_streets_and_next_speakers(service: LiveService) -> None:
    service.runtime.coverage.refresh()
    response = service.http.get("/coverage", params={"suggestions": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["speaker_count"] == body["model"]["lanterns"] > 100
    features = body["geojson"]["features"]
    assert len(features) > 100
    assert {f["properties"]["rating"] for f in features} <= {
        "intelligible",
        "audible",
        "not_covered",
    }
    picks = body["suggestions"]
    assert 1 <= len(picks) <= 3
    assert all(p["newly_covered_m"] > 0 for p in picks)
    assert body["night"]["intelligible"] >= body["intelligible"]  # quieter nights


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"suggestions": 500}, "suggestions"),
        ({"level_db": 59}, "level_db"),
        ({"level_db": 131}, "level_db"),
    ],
)
def test_coverage_query_values_are_checked(
    service: LiveService, params: dict[str, Any], field: str
) -> None:
    response = service.http.get("/coverage", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.text


def test_louder_speakers_cover_more(service: LiveService) -> None:
    service.runtime.coverage.refresh()
    quiet = service.http.get("/coverage", params={"level_db": 90, "suggestions": 0}).json()
    loud = service.http.get("/coverage", params={"level_db": 110, "suggestions": 0}).json()
    assert loud["intelligible"] > quiet["intelligible"]
