"""Schedules at slot 15: defined over the API, previewed against astral, sent to simulated
lanterns by the runner with the night's switch-off as expiry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from astral import Observer
from astral import sun as astral_sun

from firmware_sim import Fleet
from tests.integration.conftest import LiveService

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

ZONE = ZoneInfo("Europe/Zurich")
DIMMING = {
    "group": "post",
    "default": {
        "brightness": 100,
        "cct_k": 3000,
        "steps": [{"at": "23:00", "brightness": 50}, {"at": "01:00", "brightness": 30}],
    },
    "special_days": {},
}


def _ids(service: LiveService, street: str) -> list[str]:
    return [r["id"] for r in service.http.get("/lanterns", params={"street": street}).json()]


def _until(check: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _group(service: LiveService, name: str, street: str) -> list[str]:
    ids = _ids(service, street)
    response = service.http.post("/groups", json={"name": name, "lanterns": ids})
    assert response.status_code == 201, response.text
    return ids


def _put(service: LiveService, name: str, body: dict[str, Any]) -> dict[str, Any]:
    response = service.http.put(f"/schedules/{name}", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_preview_follows_astral_and_special_days_take_precedence(service: LiveService) -> None:
    ids = _group(service, "post", "Poststrasse")
    body = {
        **DIMMING,
        "weekdays": {"fri": {"brightness": 80}},
        "special_days": {"2025-12-26": {"switch_on": {"event": "dusk", "offset_min": -10}}},
    }
    created = _put(service, "altstadt", body)
    assert created["lantern_count"] == len(ids)
    nights = service.http.get(
        "/schedules/altstadt/nights", params={"start": "2025-12-19", "days": 8}
    ).json()
    # 19 and 26 December 2025 are Fridays: the special day wins over the Friday rule.
    assert [n["plan"] for n in nights] == ["weekday", *["default"] * 6, "special"]

    rows = [r for r in service.http.get("/lanterns", params={"limit": 1000}).json()]
    mine = [r for r in rows if r["id"] in ids]
    lon = sum(r["lon"] for r in mine) / len(mine)
    lat = sum(r["lat"] for r in mine) / len(mine)
    observer = Observer(latitude=lat, longitude=lon)
    for n in nights[:2]:
        day = date.fromisoformat(n["date"])
        sunset = astral_sun.sunset(observer, day, tzinfo=ZONE)
        sunrise = astral_sun.sunrise(observer, day + timedelta(days=1), tzinfo=ZONE)
        assert abs(datetime.fromisoformat(n["switch_on"]) - sunset) <= timedelta(seconds=30)
        assert abs(datetime.fromisoformat(n["switch_off"]) - sunrise) <= timedelta(seconds=30)
    dusk = astral_sun.dusk(observer, date(2025, 12, 26), tzinfo=ZONE) - timedelta(minutes=10)
    assert abs(datetime.fromisoformat(nights[7]["switch_on"]) - dusk) <= timedelta(seconds=30)
    assert [s["brightness"] for s in nights[0]["steps"]] == [80]  # Fridays: no dimming
    steps = [
        (datetime.fromisoformat(s["from"]).astimezone(ZONE).strftime("%H:%M"), s["brightness"])
        for s in nights[1]["steps"]
    ]
    assert steps == [(steps[0][0], 100), ("23:00", 50), ("01:00", 30)]


BAD: list[tuple[dict[str, Any], list[str] | None]] = [
    ({"group": "nowhere"}, ["group"]),
    ({"group": "post", "timezone": "Mars/Olympus"}, ["timezone"]),
    ({"group": "post", "weekdays": {"monday": {}}}, ["weekdays", "monday", "[key]"]),
    ({"group": "post", "special_days": {"31.12.2025": {}}}, ["special_days", "31.12.2025"]),
    ({"group": "post", "default": {"steps": [{"at": "1am", "brightness": 5}]}}, None),
    ({"group": "post", "default": {"brightness": 101}}, ["default", "brightness"]),
    ({"group": "post", "default": {"switch_on": {}}}, ["default", "switch_on"]),
]


def test_bad_schedules_are_refused_naming_the_field(service: LiveService) -> None:
    _group(service, "post", "Poststrasse")
    for body, loc in BAD:
        response = service.http.put("/schedules/bad", json=body)
        assert response.status_code == 422, (body, response.text)
        locs = [e["loc"] for e in response.json()["errors"]]
        if loc is None:
            assert any(lc[:3] == ["default", "steps", 0] for lc in locs), locs
        else:
            assert any(lc[: len(loc)] == loc for lc in locs), (body, locs)
    assert service.http.get("/schedules").json() == []
    second = service.http.put("/schedules/one", json={"group": "post"})
    assert second.status_code == 200, second.text
    clash = service.http.put("/schedules/two", json={"group": "post"})
    assert clash.status_code == 422
    assert clash.json()["errors"][0]["loc"] == ["group"]
    assert service.http.post("/schedules", json={"name": "one"}).status_code == 409


def _stop_background_runner(service: LiveService) -> None:
    """The test drives the runner with its own clock; the live one would use the real night."""
    runner = service.runtime.schedule_runner
    assert runner is not None
    loop = runner._loop
    assert loop is not None
    asyncio.run_coroutine_threadsafe(runner.stop(), loop).result(10)


def test_the_runner_sends_each_step_once_and_lanterns_keep_it_until_switch_off(
    service: LiveService, fleet: Fleet
) -> None:
    _stop_background_runner(service)
    post = _group(service, "post", "Poststrasse")
    _put(service, "altstadt", DIMMING)
    _put(service, "city", {"default": {"brightness": 70}})  # the rest of the city
    runner = service.runtime.schedule_runner
    assert runner is not None

    tomorrow = datetime.now(ZONE).date() + timedelta(days=1)
    late = datetime.combine(tomorrow, datetime.min.time(), ZONE) + timedelta(hours=23, minutes=30)
    assert runner.run_once(late.astimezone(UTC)) >= 2  # one light command per schedule at least
    assert runner.run_once(late.astimezone(UTC)) == 0  # nothing is sent twice

    def at_step(ids: list[str], brightness: int) -> Callable[[], bool]:
        def check() -> bool:
            now = datetime.now(UTC)
            lights = [fleet.lantern(i).state(now).channels["light"] for i in ids]
            return all(
                s.priority == 15 and s.value is not None and s.value.get("brightness") == brightness
                for s in lights
            )

        return check

    _until(at_step(post, 50), "the 23:00 step on Poststrasse")
    other = next(i for i in fleet.lantern_ids if i not in post)
    _until(at_step([other], 70), "the default schedule elsewhere")
    # The lantern would go dark by itself at tomorrow morning's switch-off (its only expiry).
    observer = Observer(latitude=47.3697, longitude=8.5398)
    sunrise = astral_sun.sunrise(observer, tomorrow + timedelta(days=1), tzinfo=ZONE)
    deadline = fleet.lantern(post[0]).next_deadline()
    assert deadline is not None
    assert abs(deadline - sunrise) <= timedelta(seconds=90)

    view = service.http.get(f"/lanterns/{post[0]}").json()["channels"]["light"]
    assert view["desired"]["holder_kind"] == "schedule"
    assert view["desired"]["holder_id"] == "sc_altstadt"
    assert view["desired"]["priority"] == 15

    small_hours = late + timedelta(hours=2)
    assert runner.run_once(small_hours.astimezone(UTC)) >= 1
    _until(at_step(post, 30), "the 01:00 step")

    # Deleting the schedule gives slot 15 back: Poststrasse shows the lantern default again.
    assert service.http.delete("/schedules/altstadt").status_code == 204

    def dark() -> bool:
        now = datetime.now(UTC)
        return all(fleet.lantern(i).state(now).channels["light"].priority == 16 for i in post)

    _until(dark, "the release of slot 15")
