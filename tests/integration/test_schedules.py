"""Schedules at slot 15: defined over the API, previewed against astral, sent to simulated
lanterns ahead by the runner, followed by the lanterns on their own clocks."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from astral import Observer
from astral import sun as astral_sun

from firmware_sim import Fleet, load_inventory
from firmware_sim.verifier import TrustFile
from lightctl.protocol import ChannelState, Topics
from lightctl.signing import KeyStore
from lightctl.store import Database
from tests.integration.conftest import LANTERNS, FleetThread, LiveService, make_settings
from tests.support import MosquittoProcess

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


def _light(fleet: Fleet, lantern_id: str) -> ChannelState:
    return fleet.lantern(lantern_id).state(fleet.clock()).channels["light"]


def _at_step(fleet: Fleet, ids: list[str], brightness: int) -> Callable[[], bool]:
    def check() -> bool:
        lights = [_light(fleet, i) for i in ids]
        return all(
            s.priority == 15 and s.value is not None and s.value.get("brightness") == brightness
            for s in lights
        )

    return check


def test_the_runner_sends_the_nights_steps_ahead_once_and_a_change_takes_back_the_old_ones(
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
    # altstadt: the 23:00 step in force, 01:00 ahead, and the next evening's first two steps;
    # city: tonight's and the next night's one step.
    assert runner.run_once(late.astimezone(UTC)) >= 6
    assert runner.run_once(late.astimezone(UTC)) == 0  # nothing is sent twice

    _until(_at_step(fleet, post, 50), "the 23:00 step on Poststrasse")
    other = next(i for i in fleet.lantern_ids if i not in post)
    _until(_at_step(fleet, [other], 70), "the default schedule elsewhere")
    lantern = fleet.lantern(post[0])
    _until(lambda: len(lantern.waiting()) == 3, "the steps sent ahead")
    one_am = datetime.combine(tomorrow + timedelta(days=1), clock_time(1, 0), ZONE)
    observer = Observer(latitude=47.3697, longitude=8.5398)
    sunrise = astral_sun.sunrise(observer, tomorrow + timedelta(days=1), tzinfo=ZONE)
    first = lantern.waiting()[0]
    assert first.starts_at == one_am
    assert abs(first.expires_at - sunrise) <= timedelta(seconds=90)  # the night's last step
    assert first.payload.model_dump(exclude_none=True) == {
        "on": True,
        "brightness": 30,
        "cct_k": 3000,
        "effect": "steady",
    }
    assert lantern.next_deadline() == one_am  # the lantern wakes itself for the next step

    view = service.http.get(f"/lanterns/{post[0]}").json()["channels"]["light"]
    assert view["desired"]["holder_kind"] == "schedule"
    assert view["desired"]["holder_id"] == "sc_altstadt"
    assert view["desired"]["priority"] == 15
    assert view["desired"]["value"]["brightness"] == 50  # held steps are not desired yet

    # A change: what was sent ahead under the old rules is taken back on every lantern, the
    # new rules go out in their place.
    _put(service, "altstadt", {**DIMMING, "default": {"brightness": 80}})
    _until(lambda: lantern.waiting() == [], "the old steps taken back")
    assert runner.run_once(late.astimezone(UTC)) >= 2
    _until(_at_step(fleet, post, 80), "the new rule in force")
    _until(lambda: len(lantern.waiting()) == 1, "the new rule's next night sent ahead")
    assert lantern.waiting()[0].payload.brightness == 80  # type: ignore[union-attr]

    # Deleting the schedule gives slot 15 back: Poststrasse shows the lantern default again,
    # and nothing it sent ahead is left to switch the lanterns later.
    assert service.http.delete("/schedules/altstadt").status_code == 204

    def dark() -> bool:
        return all(_light(fleet, i).priority == 16 for i in post)

    _until(dark, "the release of slot 15")
    _until(lambda: all(fleet.lantern(i).waiting() == [] for i in post), "nothing left ahead")
    assert _at_step(fleet, [other], 70)()  # the other schedule is untouched


class ShiftedClock:
    """The simulated lanterns' clock, set to a chosen night while real seconds pass."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def set(self, at: datetime) -> None:
        self.offset = at - datetime.now(UTC)


@pytest.fixture
def lone_service(
    sqlite_inventory: Database, mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> Iterator[LiveService]:
    """A service the test may stop (SQLite only: the test waits out a minute of real time)."""
    live = LiveService(make_settings(tmp_path, mosquitto.url, topic_root), sqlite_inventory)
    live.start()
    yield live
    live.stop()


@pytest.fixture
def night() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
def night_fleet(
    mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path, night: ShiftedClock
) -> Iterator[Fleet]:
    """The fixture lanterns, signed mode, on the shifted clock."""
    keys = KeyStore.in_data_dir(tmp_path / "data")
    keys.ensure()
    sim = FleetThread(
        Fleet(
            mosquitto.url,
            load_inventory(LANTERNS),
            per_connection=100,
            topics=Topics(topic_root),
            gateway_prefix=f"n{uuid.uuid4().hex[:6]}",
            trust=TrustFile.open(keys.trust_path, [keys.ensure_root().public()]),
            clock=night,
        )
    )
    sim.start()
    yield sim.fleet
    sim.stop()


def test_a_lantern_cut_off_from_the_service_dims_on_time_then_falls_back_to_its_default(
    lone_service: LiveService, night_fleet: Fleet, night: ShiftedClock
) -> None:
    """The service sends tonight's steps and stops; the lanterns switch on their own clocks."""
    service, fleet = lone_service, night_fleet
    _stop_background_runner(service)
    post = _group(service, "post", "Poststrasse")
    short_night = {
        "group": "post",
        "timezone": "Europe/Zurich",
        "default": {
            "switch_on": {"at": "23:00"},
            "brightness": 100,
            "steps": [{"at": "23:01", "brightness": 40}],
            "switch_off": {"at": "23:02"},
        },
    }
    _put(service, "short", short_night)
    day = datetime.now(ZONE).date() + timedelta(days=1)
    dims_at = datetime.combine(day, clock_time(23, 1), ZONE)
    off_at = datetime.combine(day, clock_time(23, 2), ZONE)
    # 30 s before the step: enough to deliver, see it held and stop the service first, also on a
    # loaded machine (12 s was not, with two CI runs sharing two cores). The lanterns' timers run
    # on real seconds, so this lead is waited out.
    night.set(dims_at - timedelta(seconds=30))
    runner = service.runtime.schedule_runner
    assert runner is not None
    assert runner.run_once(fleet.clock()) == 3  # 100 now, 40 ahead, the next night's first

    _until(_at_step(fleet, post, 100), "switched on by the service")
    _until(lambda: all(len(fleet.lantern(i).waiting()) == 2 for i in post), "the step held")
    service.stop()
    stopped = fleet.clock()
    assert stopped < dims_at, "the service must be gone before the step is due"
    acks_before = {i: len(fleet.record(i).acks) for i in post}

    _until(_at_step(fleet, post, 40), "the 23:01 step without the service", timeout_s=60)
    assert fleet.clock() >= dims_at

    def applied_since(lid: str) -> list[Any]:
        acks = list(fleet.record(lid).acks)[acks_before[lid] :]
        return [a for a in acks if a.status == "applied"]

    # The ack is recorded as it goes out, a moment after the light changed.
    _until(lambda: all(applied_since(i) for i in post), "each lantern's applied ack")
    for lid in post:
        applied = applied_since(lid)
        assert len(applied) == 1, lid
        assert applied[0].at >= dims_at, lid  # on the lantern's own clock

    def default() -> bool:
        return all(
            (s.priority, s.cmd_id, s.value) == (16, None, {"on": False})
            for s in (_light(fleet, i) for i in post)
        )

    _until(default, "the default after the last expiry", timeout_s=90)
    assert fleet.clock() >= off_at
    # What is left is the next night's switch-on, sent ahead too.
    tomorrow_on = datetime.combine(day + timedelta(days=1), clock_time(23, 0), ZONE)
    assert {c.starts_at for i in post for c in fleet.lantern(i).waiting()} == {tomorrow_on}
