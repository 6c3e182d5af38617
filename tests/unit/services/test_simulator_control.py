"""Fault injection through firmware-sim's control API: the spec sent, and every refusal named."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import ValidationError

from lightctl.api.schemas import SimulatorFaultIn
from lightctl.errors import Conflict, InvalidRequest, ServiceUnavailable
from lightctl.services.simulator import SimulatorControl
from lightctl.settings import Settings

BASE = "http://sim.test:9"


def _recording(
    status: int = 200, body: object | None = None
) -> tuple[SimulatorControl, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"lanterns": 148, "gateways_connected": 2})
        return httpx.Response(status, json=body if body is not None else {"applied": {}})

    return SimulatorControl(BASE, httpx.MockTransport(handle)), seen


@pytest.mark.parametrize(
    ("fault", "seconds", "spec"),
    [
        ("offline", 30, "offline=30@L1,L2"),
        ("offline", 2.5, "offline=2.5@L1,L2"),
        ("speaker_broken", None, "broken=speaker@L1,L2"),
        ("lamp_broken", None, "broken=lamp@L1,L2"),
        ("projector_broken", None, "broken=projector@L1,L2"),
        ("drop_acks", None, "drop_acks@L1,L2"),
        ("reboot", None, "reboot@L1,L2"),
        ("clear", None, "clear@L1,L2"),
    ],
)
def test_each_fault_is_one_clause_for_the_chosen_lanterns(
    fault: str, seconds: float | None, spec: str
) -> None:
    control, seen = _recording(body={"applied": {"x": ["L1", "L2"]}})
    applied = control.inject(["L1", "L2"], fault, seconds)  # type: ignore[arg-type]
    assert applied == {"x": ["L1", "L2"]}
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/faults")
    assert json.loads(request.content) == {"spec": spec}


def test_offline_needs_seconds() -> None:
    control, seen = _recording()
    with pytest.raises(InvalidRequest, match="seconds"):
        control.inject(["L1"], "offline")
    assert seen == []


def test_a_lantern_the_fleet_does_not_simulate_is_a_422_naming_it() -> None:
    control, _ = _recording(422, {"detail": "@L9: not in this fleet: L9"})
    with pytest.raises(InvalidRequest) as caught:
        control.inject(["L9"], "reboot")
    assert "not in this fleet: L9" in str(caught.value)
    assert caught.value.problems[0].loc == ("lanterns",)


def test_without_a_configured_simulator_nothing_is_sent() -> None:
    control = SimulatorControl("")
    assert control.status().configured is False
    with pytest.raises(Conflict, match="simulator_control_url"):
        control.inject(["L1"], "reboot")


def test_a_simulator_that_does_not_answer_is_unavailable_not_a_crash() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    control = SimulatorControl(BASE, httpx.MockTransport(refuse))
    status = control.status()
    assert (status.configured, status.reachable) == (True, False)
    with pytest.raises(ServiceUnavailable, match="does not answer"):
        control.inject(["L1"], "reboot")


def test_status_reports_the_simulated_fleet_size() -> None:
    control, _ = _recording()
    status = control.status()
    assert (status.configured, status.reachable, status.lanterns) == (True, True, 148)


@pytest.mark.parametrize("bad", ["L1;broken=speaker", "L1@all", "L1,L2", "", "x" * 65])
def test_lantern_ids_cannot_smuggle_spec_syntax(bad: str) -> None:
    with pytest.raises(ValidationError):
        SimulatorFaultIn(lanterns=[bad], fault="reboot")


def test_the_configured_token_goes_with_every_request_and_a_refusal_names_the_setting() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("authorization") != "Bearer s3cret-token-of-the-simulator":
            return httpx.Response(401, json={"detail": "wrong control API token"})
        return httpx.Response(200, json={"lanterns": 3, "applied": {"reboot": ["L1"]}})

    settings = Settings(
        simulator_control_url=BASE, simulator_control_token="s3cret-token-of-the-simulator"
    )
    control = SimulatorControl.from_settings(settings)
    control._transport = httpx.MockTransport(handle)
    assert control.status().lanterns == 3
    assert control.inject(["L1"], "reboot") == {"reboot": ["L1"]}
    assert {r.headers["authorization"] for r in seen} == {"Bearer s3cret-token-of-the-simulator"}

    stale = SimulatorControl(BASE, httpx.MockTransport(handle), token="an-old-token")
    assert stale.status().reachable is False
    with pytest.raises(ServiceUnavailable, match="simulator_control_token"):
        stale.inject(["L1"], "reboot")
