"""Rehearsals: faults injected into the simulated fleet from the console (firmware-sim's API)."""

from __future__ import annotations

from fastapi import APIRouter

from lightctl.api.deps import RuntimeDep
from lightctl.api.schemas import SimulatorFaultIn, SimulatorFaultOut, SimulatorOut
from lightctl.services.simulator import SimulatorControl

router = APIRouter(prefix="/simulator", tags=["simulator"])


@router.get("", response_model=SimulatorOut)
def simulator_status(runtime: RuntimeDep) -> SimulatorOut:
    """Whether a simulator control API is configured and answers."""
    status = SimulatorControl.from_settings(runtime.settings).status()
    return SimulatorOut(
        configured=status.configured, reachable=status.reachable, lanterns=status.lanterns
    )


@router.post("/faults", response_model=SimulatorFaultOut)
def inject_fault(body: SimulatorFaultIn, runtime: RuntimeDep) -> SimulatorFaultOut:
    """Make simulated lanterns go offline, break a part, drop acks, reboot, or heal (clear)."""
    control = SimulatorControl.from_settings(runtime.settings)
    return SimulatorFaultOut(applied=control.inject(body.lanterns, body.fault, body.seconds))
