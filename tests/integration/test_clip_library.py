"""Clips on the lantern before the emergency (issue 14): the service pushes the clip library,
lanterns report what they hold, and a template warning then plays without one HTTP request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware_sim import Fleet
from lightctl.store import Database
from tests.integration.conftest import LiveService, make_settings, simulated_fleet
from tests.support import MosquittoProcess

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

STREET = "Bahnhofstrasse"


def poll(predicate: Any, timeout_s: float, what: str) -> Any:
    """Poll until ``predicate()`` returns something true; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def library_service(
    sqlite_inventory: Database, mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> Iterator[LiveService]:
    settings = make_settings(tmp_path, mosquitto.url, topic_root).model_copy(
        update={
            "prerender_templates": True,
            "clip_library": True,
            # Two templates in two languages keep the test's speech synthesis short.
            "clip_library_templates": ("fire_smoke", "gas_leak"),
            "clip_library_languages": ("de", "en"),
            "clip_library_pace_s": 0.0,
            "clip_library_quiet_s": 0.5,
        }
    )
    live = LiveService(settings, sqlite_inventory)
    live.start()
    yield live
    live.stop()


@pytest.fixture
def library_fleet(mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path) -> Iterator[Fleet]:
    sim = simulated_fleet(
        mosquitto.url, topic_root, data_dir=tmp_path / "data", clip_dir=tmp_path / "sim-clips"
    )
    sim.start()
    yield sim.fleet
    sim.stop()


def library_held(service: LiveService, lanterns: int) -> dict[str, Any] | None:
    """The library summary once every manifest is held completely by all its lanterns."""
    body: dict[str, Any] = service.http.get("/clips/library").json()
    manifests = body["manifests"]
    if not manifests or body["lanterns_reporting"] < lanterns:
        return None
    if any(m["complete"] != (m["lanterns"] or lanterns) for m in manifests):
        return None
    return body


def test_a_lantern_holding_the_library_plays_a_template_warning_without_any_http_request(
    library_service: LiveService, library_fleet: Fleet
) -> None:
    fleet = library_fleet
    count = len(fleet.lantern_ids)
    summary = poll(lambda: library_held(library_service, count), 120, "the library on every lantern")
    keys = {m["key"] for m in summary["manifests"]}
    assert "common" in keys and any(k.startswith("street.") for k in keys), keys
    assert summary["incomplete_count"] == 0
    # The gateway fetched each library clip once for its lanterns (and no lantern on its own).
    library_clips = {m["key"]: m["clips"] for m in summary["manifests"]}
    assert fleet.library_fetcher.requests == len(
        {sha for m in fleet.library.manifests.values() for sha in (e.sha256 for e in m.entries)}
    ), library_clips
    before = fleet.fetcher.requests + fleet.library_fetcher.requests
    assert fleet.fetcher.requests == 0

    response = library_service.http.post(
        "/alerts",
        json={
            "target": {"streets": [STREET]},
            "template": "gas_leak",
            "params": {"street": STREET},
            "languages": ["de", "en"],
        },
    )
    assert response.status_code == 201, response.text
    alert = response.json()
    done = library_service.wait_for(alert["id"], lambda b: b["status"] != "sending", 60)
    assert done["counts"] == {"done": alert["lantern_count"]}, done["counts"]

    # Not one HTTP request for the whole warning: every clip was on the lanterns already.
    assert fleet.fetcher.requests + fleet.library_fetcher.requests == before
    sent = [c["sha256"] for c in alert["clips"]]
    audio_id = next(c["id"] for c in done["commands"] if c["channel"] == "audio")
    on_street = [lid for lid in fleet.lantern_ids if fleet.record(lid).played]
    assert len(on_street) == alert["lantern_count"] > 5
    for lantern_id in on_street:
        record = fleet.record(lantern_id)
        assert not record.fetched, lantern_id
        assert [played for cmd, played in record.played if cmd == audio_id] == [tuple(sent)]
        statuses = [a.status.value for a in record.acks if a.cmd_id == audio_id]
        assert statuses == ["received", "playing", "done"], (lantern_id, statuses)
