"""Flashing evacuation arrows over a real broker (issue 18): lanterns whose firmware says it
can flash project the arrow flashing at the computed heading; lanterns with firmware from
before flashing are sent the same arrow steady and apply it (nothing refused)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from firmware_sim import Fleet
from lightctl.protocol import FEATURE_PROJECTION_FLASH, ChannelState
from lightctl.store.tables import AlertRow
from tests.integration.conftest import LANTERNS, FleetThread, LiveService, simulated_fleet
from tests.support import MosquittoProcess

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

FIRE = {"lon": 8.5392, "lat": 47.3715}
LINDENHOF = {"name": "Lindenhof", "lon": 8.5410, "lat": 47.3728}
FLASH = {"period_ms": 1000, "on_ms": 700, "phase_ms": 0}


def _until(check: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _half(tmp_path: Path, name: str, keep: int) -> Path:
    """Every other fixture lantern (``keep`` 0 or 1) as an inventory file of its own."""
    doc = json.loads(LANTERNS.read_text(encoding="utf-8"))
    doc["features"] = doc["features"][keep::2]
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.fixture
def fleets(
    mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> Iterator[tuple[Fleet, Fleet]]:
    """Half the fixture lanterns on current firmware, half on firmware from before flashing,
    both checking every signature against the ``service`` fixture's keys."""
    runs: list[FleetThread] = []
    for name, keep, flash in (("new.geojson", 0, True), ("old.geojson", 1, False)):
        sim = simulated_fleet(
            mosquitto.url,
            topic_root,
            inventory=_half(tmp_path, name, keep),
            data_dir=tmp_path / "data",
            projection_flash=flash,
        )
        sim.start()
        runs.append(sim)
    yield runs[0].fleet, runs[1].fleet
    for sim in runs:
        sim.stop()


def _projection(fleet: Fleet, lantern_id: str) -> ChannelState:
    return fleet.lantern(lantern_id).state(datetime.now(UTC)).channels["projection"]


def _shown(service: LiveService, alert_id: str) -> dict[str, list[Any]]:
    with service.runtime.db.session() as session:
        row = session.get(AlertRow, alert_id)
        assert row is not None
        assert row.guidance_json is not None
        shown: dict[str, list[Any]] = row.guidance_json["shown"]
    return shown


def test_evacuation_arrows_flash_at_their_heading_and_older_firmware_shows_them_steady(
    service: LiveService, fleets: tuple[Fleet, Fleet]
) -> None:
    new, old = fleets
    on_new, on_old = set(new.lantern_ids), set(old.lantern_ids)
    # A positive sign that the service has read what every lantern's firmware understands.
    _until(
        lambda: (
            all(service.runtime.features_of(i) == {FEATURE_PROJECTION_FLASH} for i in on_new)
            and all(service.runtime._reported(i) is not None for i in on_old)
        ),
        "every lantern's retained state at the service",
    )
    assert not any(service.runtime.features_of(i) for i in on_old)

    response = service.http.post(
        "/alerts",
        json={
            "target": {"circle": {**FIRE, "radius_m": 90}},
            "template": "evacuation",
            "params": {"street": "Bahnhofstrasse"},
            "languages": ["de", "en"],
            "expires_in_s": 600,
            "evacuation": {"meeting_points": [LINDENHOF]},
        },
    )
    assert response.status_code == 201, response.text
    alert = response.json()
    shown = _shown(service, alert["id"])
    arrows = {lid: heading for lid, (kind, heading, _at, _exit) in shown.items() if kind == "arrow"}
    assert arrows.keys() & on_new, "no arrow on current firmware"
    assert arrows.keys() & on_old, "no arrow on firmware from before flashing"

    def applied() -> bool:
        for lid, heading in arrows.items():
            state = _projection(new if lid in on_new else old, lid)
            if state.priority != 1 or not isinstance(state.value, dict):
                return False
            if state.value.get("heading_deg") != heading:
                return False
        return True

    _until(applied, "every arrow applied at its heading")
    for lid in arrows:
        value = _projection(new if lid in on_new else old, lid).value
        assert isinstance(value, dict)
        assert value["pictogram"] == "arrow"
        if lid in on_new:
            assert value["flash"] == FLASH, lid
        else:
            assert "flash" not in value, lid
    # Nothing else that lanterns project flashes (both ways, exit, no entry, shelter).
    for lid, (kind, _heading, _at, _exit) in shown.items():
        if kind not in ("arrow", "safe", "no_street") and lid in on_new:
            value = _projection(new, lid).value
            assert isinstance(value, dict), (lid, kind)
            assert "flash" not in value, (lid, kind)
    # No lantern refused its projection (older firmware would refuse a flash it cannot parse).
    body = service.http.get(f"/alerts/{alert['id']}").json()
    for command in body["commands"]:
        if command["channel"] == "projection":
            assert not command["counts"].get("rejected"), command

    # The preview says the same per lantern: flashing where the alert sent a flash.
    preview = service.http.post(
        "/guidance/preview",
        json={
            "hazard": alert["target"],
            "meeting_points": [LINDENHOF],
            "lanterns": {"lanterns": sorted(arrows)},
        },
    ).json()
    for row in preview["lanterns"]:
        if row["id"] in arrows and row["kind"] == "arrow":
            expected = FLASH if row["id"] in on_new else None
            assert row["flash"] == expected, row
