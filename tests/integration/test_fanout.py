"""Protocol v2 fan-out against a real Mosquitto and simulated lanterns: a street warning goes
out once per group, reaches exactly the preview's lanterns, and a neighbour sharing a map cell
with the street hears nothing; v1 and v2 lanterns in one fleet both complete one warning."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_sim import Fleet, load_inventory
from tests.integration.conftest import LANTERNS, FleetThread, LiveService, simulated_fleet
from tests.integration.resilience import finished, wait_until
from tests.support import MosquittoProcess

pytestmark = [pytest.mark.broker]

GERMAN = "Brand in der Bahnhofstrasse. Schliessen Sie Fenster und Türen."


def heard_by(fleet: Fleet, lantern_id: str) -> list[str]:
    """The audiences of the topics a lantern received commands on, oldest first."""
    return fleet.call(lambda: list(fleet.record(lantern_id).received_on))


def played_by(fleet: Fleet, lantern_id: str) -> list[str]:
    """The commands a lantern played to their end."""
    return fleet.call(lambda: [cmd for cmd, _clips in fleet.record(lantern_id).played])


def provisioned(service: LiveService, fleet: Fleet, ids: list[str]) -> None:
    """Wait until every v2 lantern listens to the groups the service gave it."""
    expected = service.runtime.memberships()

    def ready() -> bool:
        held = fleet.call(lambda: {i: fleet.record(i).groups for i in ids})
        book = service.runtime.fanout
        return book.ready and all(
            held[i] == expected[i] and book.held(i) == expected[i] for i in ids if i in expected
        )

    wait_until(ready, 30, "every lantern provisioned with its groups")


def street_with_shared_cell(service: LiveService) -> tuple[str, set[str], str]:
    """A street (display name), its lanterns, and a cell it shares with another street."""
    groups = service.runtime.memberships()
    by_street: dict[str, set[str]] = {}
    by_cell: dict[str, set[str]] = {}
    for lantern_id, auds in groups.items():
        for aud in auds:
            target = by_street if aud.startswith("groups/street/") else by_cell
            target.setdefault(aud, set()).add(lantern_id)
    for lantern in service.http.get("/lanterns", params={"limit": 1000}).json():
        street = lantern.get("street")
        if not street:
            continue
        on_street = {
            row["id"] for row in service.http.get("/lanterns", params={"street": street}).json()
        }
        if len(on_street) < 3:
            continue
        for cell, members in by_cell.items():
            if members & on_street and members - on_street:
                return street, on_street, cell
    raise AssertionError("the fixture has no street sharing a cell with another street")


def test_street_fan_out_reaches_exactly_the_preview_and_not_the_neighbour_in_its_cell(
    service: LiveService, fleet: Fleet
) -> None:
    ids = fleet.lantern_ids
    provisioned(service, fleet, ids)
    street, on_street, cell = street_with_shared_cell(service)
    preview = service.http.post("/targets/preview", json={"streets": [street]}).json()
    targeted = set(preview["lantern_ids"])
    assert targeted == on_street
    before = service.http.get("/metrics").json()["counters"]

    response = service.http.post(
        "/alerts",
        json={
            "target": {"streets": [street]},
            "preview_id": preview["preview_id"],
            "messages": {"de": GERMAN},
            "expires_in_s": 120,
        },
    )
    assert response.status_code == 201, response.text
    body = service.wait_for(response.json()["id"], finished, 60)
    assert body["counts"] == {"done": len(targeted)}, body["counts"]
    command_ids = {c["id"] for c in body["commands"]}

    def acted(lantern_id: str) -> bool:
        acks = fleet.call(lambda: list(fleet.record(lantern_id).acks))
        return any(a.cmd_id in command_ids for a in acks)

    assert {i for i in ids if acted(i)} == targeted
    neighbours = set(service.runtime.memberships()) - targeted
    in_cell = {i for i in neighbours if cell in service.runtime.memberships()[i]}
    assert in_cell, "the chosen cell holds a lantern of another street"
    for lantern_id in in_cell:
        assert cell not in heard_by(fleet, lantern_id)
        assert not acted(lantern_id)
    # The street went out over its group topic, not one publish per lantern and channel.
    after = service.http.get("/metrics").json()["counters"]
    group_sends = after["outbox_group_published"] - before["outbox_group_published"]
    own_sends = after["outbox_published"] - before["outbox_published"] - group_sends
    assert group_sends >= 1
    assert own_sends < len(body["commands"]) * len(targeted)
    street_aud = next(a for a in service.runtime.memberships()[next(iter(targeted))])
    heard_on_street = [i for i in targeted if street_aud in heard_by(fleet, i)]
    assert heard_on_street, "the street's lanterns heard the command on its group topic"
    print(
        f"\n{street}: {len(targeted)} lanterns, {len(body['commands'])} commands; "
        f"{group_sends} group publishes + {own_sends} per-lantern publishes; "
        f"neighbours in {cell}: {len(in_cell)}, none acted"
    )


@pytest.fixture
def mixed_fleet(
    service: LiveService, mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> Iterator[tuple[FleetThread, FleetThread]]:
    """The fixture lanterns split in two fleets: the first half v1, the second half v2."""
    specs = load_inventory(LANTERNS)
    half = len(specs) // 2
    fleets = []
    for part, version in ((specs[:half], 1), (specs[half:], 2)):
        inventory = tmp_path / f"v{version}.geojson"
        inventory.write_text(
            '{"type": "FeatureCollection", "features": ['
            + ",".join(
                f'{{"type": "Feature", "id": "{s.id}", "geometry": '
                '{"type": "Point", "coordinates": [0, 0]}, "properties": {}}'
                for s in part
            )
            + "]}",
            encoding="utf-8",
        )
        sim = simulated_fleet(
            mosquitto.url,
            topic_root,
            inventory=inventory,
            data_dir=tmp_path / "data",
            gateway_prefix=f"v{version}{uuid.uuid4().hex[:4]}",
            protocol_version=version,
        )
        sim.start()
        fleets.append(sim)
    yield fleets[0], fleets[1]
    for sim in fleets:
        sim.stop()


def test_v1_and_v2_lanterns_in_one_fleet_both_complete_the_same_warning(
    service: LiveService, mixed_fleet: tuple[FleetThread, FleetThread]
) -> None:
    v1, v2 = mixed_fleet
    provisioned(service, v2.fleet, v2.fleet.lantern_ids)
    everyone = set(v1.fleet.lantern_ids) | set(v2.fleet.lantern_ids)
    for lantern_id in v1.fleet.lantern_ids:
        assert service.runtime.fanout.held(lantern_id) is None  # v1: no groups reported
    response = service.http.post(
        "/alerts",
        json={
            "target": {"lanterns": sorted(everyone)},
            "messages": {"de": GERMAN},
            "expires_in_s": 120,
        },
    )
    assert response.status_code == 201, response.text
    body = service.wait_for(response.json()["id"], finished, 90)
    assert body["counts"] == {"done": len(everyone)}, body["counts"]
    audio = next(c["id"] for c in body["commands"] if c["channel"] == "audio")
    for sim, version in ((v1, 1), (v2, 2)):
        fleet = sim.fleet
        heard = {i: heard_by(fleet, i) for i in fleet.lantern_ids}
        played = {i: played_by(fleet, i) for i in fleet.lantern_ids}
        assert all(played[i].count(audio) == 1 for i in fleet.lantern_ids), version
        over_groups = [i for i, auds in heard.items() if any(a.startswith("groups/") for a in auds)]
        if version == 1:
            assert not over_groups  # a v1 lantern never hears a fan-out topic
        else:
            assert over_groups  # the v2 half was reached over groups
    counters = service.http.get("/metrics").json()["counters"]
    assert counters["consumer_ack_batches"] > 0  # the v2 gateways batched their acks
