"""Fault specs: parsed and checked before anything is applied, selectors exact and repeatable."""

from __future__ import annotations

import pytest

from firmware_sim.faults import Faults, FaultSpecError, corrupt, parse_faults, select

IDS = [f"L{i:03d}" for i in range(200)]


def test_a_spec_with_every_fault_parses_and_applies() -> None:
    clauses = parse_faults(
        "drop_acks=0.25; delay_acks=1.5@L001,L002; duplicate; corrupt_clips;"
        "broken=speaker@L003; broken=lamp@L003; offline=10@30%; reboot@L004; clear@L005"
    )
    assert [c.name for c in clauses] == [
        "drop_acks",
        "delay_acks",
        "duplicate",
        "corrupt_clips",
        "broken",
        "broken",
        "offline",
        "reboot",
        "clear",
    ]
    faults = Faults()
    for clause in clauses:
        faults = clause.apply(faults)
    assert faults == Faults()  # the last clause clears
    faults = Faults()
    for clause in clauses[:6]:
        faults = clause.apply(faults)
    assert faults.drop_acks == 0.25
    assert faults.delay_acks_s == 1.5
    assert faults.duplicate
    assert faults.corrupt_clips == 1.0
    assert faults.broken_channels() == {"audio": "speaker_broken", "light": "lamp_broken"}
    assert clauses[6].seconds() == 10.0
    assert clauses[6].selector == "30%"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("explode", "unknown fault 'explode'"),
        ("drop_acks=2", "probability must be 0-1"),
        ("drop_acks=lots", "not a number"),
        ("delay_acks", "give a number of seconds"),
        ("offline=-1", "seconds must be"),
        ("broken=wheel", "choose one of speaker, lamp, projector, path"),
        ("reboot=3", "reboot takes no value"),
        ("duplicate=maybe", "use on or off"),
        (" ; ", "empty fault spec"),
    ],
)
def test_bad_specs_name_the_clause_and_the_problem(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        parse_faults(spec)


def test_selectors_pick_exact_repeatable_shares_and_refuse_unknown_ids() -> None:
    thirty = select("30%", IDS)
    assert len(thirty) == 60
    assert thirty == select("30%", IDS)  # the same lanterns every time
    assert thirty != select("30%", IDS, seed="other")
    assert set(select("10%", IDS)) <= set(select("30%", IDS))  # shares nest
    assert select("all", IDS) == IDS
    assert select("0%", IDS) == []
    assert select("L007,L002", IDS) == ["L007", "L002"]
    with pytest.raises(FaultSpecError, match="not in this fleet: NOPE"):
        select("L001,NOPE", IDS)
    with pytest.raises(FaultSpecError, match="percentage"):
        select("150%", IDS)


def test_corruption_changes_exactly_one_byte() -> None:
    data = bytes(range(256)) * 4
    bad = corrupt(data)
    assert len(bad) == len(data)
    assert sum(a != b for a, b in zip(data, bad, strict=True)) == 1
    assert corrupt(b"") != b""
