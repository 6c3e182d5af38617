"""Fault injection into a simulated fleet through firmware-sim's control API (rehearsals only:
real lanterns have no such API, so this never reaches one)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import httpx

from lightctl.errors import Conflict, InvalidRequest, ServiceUnavailable
from lightctl.settings import Settings

log = logging.getLogger(__name__)

Fault = Literal[
    "offline", "speaker_broken", "lamp_broken", "projector_broken", "drop_acks", "reboot", "clear"
]
# Each fault as a clause of firmware-sim's spec language (firmware_sim/faults.py).
_CLAUSES: dict[str, str] = {
    "offline": "offline={seconds:g}",
    "speaker_broken": "broken=speaker",
    "lamp_broken": "broken=lamp",
    "projector_broken": "broken=projector",
    "drop_acks": "drop_acks",
    "reboot": "reboot",
    "clear": "clear",
}
# The simulator answers from memory on its own loop: a second is plenty, and the console waits.
TIMEOUT_S = 5.0
PING_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class SimulatorStatus:
    configured: bool
    reachable: bool
    lanterns: int | None = None


class SimulatorControl:
    """A client of one simulator's control API; ``base_url`` empty means none is configured."""

    def __init__(
        self, base_url: str, transport: httpx.BaseTransport | None = None, *, token: str = ""
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._transport = transport
        self._token = token

    @classmethod
    def from_settings(cls, settings: Settings) -> SimulatorControl:
        token = settings.simulator_control_token
        return cls(settings.simulator_control_url, token=token.get_secret_value() if token else "")

    def status(self) -> SimulatorStatus:
        if not self.base_url:
            return SimulatorStatus(configured=False, reachable=False)
        try:
            with self._client(PING_TIMEOUT_S) as client:
                answer = client.get("/healthz")
            if answer.status_code == 401:
                log.warning(
                    "the simulator at %s refuses our token (simulator_control_token)", self.base_url
                )
            answer.raise_for_status()
            lanterns = answer.json().get("lanterns")
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            log.info("simulator control API at %s does not answer: %s", self.base_url, exc)
            return SimulatorStatus(configured=True, reachable=False)
        return SimulatorStatus(True, True, lanterns if isinstance(lanterns, int) else None)

    def inject(
        self, lanterns: Sequence[str], fault: Fault, seconds: float | None = None
    ) -> dict[str, list[str]]:
        """Apply one fault to the given lanterns; returns the lanterns each fault reached."""
        if not self.base_url:  # real lanterns only: nothing to inject faults into, ever
            raise Conflict(
                "no simulator control API is configured (simulator_control_url)", "no_simulator"
            )
        if fault == "offline" and seconds is None:
            raise InvalidRequest.at(("seconds",), "offline needs how many seconds")
        clause = _CLAUSES[fault].format(seconds=seconds or 0)
        spec = f"{clause}@{','.join(lanterns)}"
        try:
            with self._client(TIMEOUT_S) as client:
                answer = client.post("/faults", json={"spec": spec})
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"the simulator control API at {self.base_url} does not answer: {exc}"
            ) from None
        if answer.status_code == 401:
            raise ServiceUnavailable(
                f"the simulator control API at {self.base_url} refused lightctl's token: set "
                "simulator_control_token to the token firmware-sim printed at start"
            )
        if answer.status_code == 422:  # e.g. a lantern this fleet does not simulate
            raise InvalidRequest.at(("lanterns",), f"the simulator refused: {_detail(answer)}")
        if answer.status_code != 200:
            raise ServiceUnavailable(
                f"the simulator control API answered {answer.status_code}: {_detail(answer)}"
            )
        applied = answer.json().get("applied", {})
        log.info("simulator fault %s on %d lanterns", fault, len(lanterns))
        return {str(k): [str(i) for i in v] for k, v in applied.items()}

    def _client(self, timeout_s: float) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        return httpx.Client(
            base_url=self.base_url, timeout=timeout_s, transport=self._transport, headers=headers
        )


def _detail(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("detail", answer.text))
    except ValueError:
        return answer.text[:200]
