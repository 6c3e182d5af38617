"""The link between one simulated lantern and its gateway, where network faults are injected.

A real lantern reaches its edge gateway over powerline or a radio mesh; that hop can drop, delay or
repeat messages, or fail for a while. ``LanternLink`` carries the lantern's acks to the gateway
through the faults set on it and says whether commands get through. While the link is down the
gateway announces the lantern offline (retained), commands for it are lost, and its acks wait in
the lantern (up to ``HELD_ACKS``) to go out when the link returns, as firmware with a send queue
does.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque

from firmware_sim.faults import Faults
from firmware_sim.transport import Gateway
from lightctl.protocol import Ack

log = logging.getLogger(__name__)

# Acks a lantern keeps while its link is down; a warning produces at most a handful per command.
HELD_ACKS = 256


class LanternLink:
    """Ack path and reachability of one lantern; runs on the fleet's event loop."""

    def __init__(self, lantern_id: str, gateway: Gateway, boot: int, rng: random.Random) -> None:
        self.lantern_id = lantern_id
        self.gateway = gateway
        self.boot = boot
        self.faults = Faults()
        self.online = True
        self.acks_dropped = 0
        self._rng = rng
        self._held: deque[Ack] = deque(maxlen=HELD_ACKS)
        self._back: asyncio.TimerHandle | None = None

    def send(self, ack: Ack) -> None:
        """Hand one ack to the gateway, through whatever faults the link has."""
        if not self.online:
            self._held.append(ack)
            return
        faults = self.faults
        copies = 2 if faults.duplicate else 1
        for _ in range(copies):
            if faults.drop_acks and self._rng.random() < faults.drop_acks:
                self.acks_dropped += 1
                continue
            if faults.delay_acks_s > 0:
                loop = asyncio.get_running_loop()
                loop.call_later(faults.delay_acks_s, self._publish_if_online, ack)
            else:
                self.gateway.publish_ack(ack)

    def go_offline(self, seconds: float | None) -> None:
        """Lose the link now; come back after ``seconds`` (None: until ``come_back``)."""
        self._cancel_return()
        if self.online:
            self.online = False
            self.gateway.set_lantern_status(self.lantern_id, False, self.boot)
            log.info("lantern %s: link down", self.lantern_id)
        if seconds is not None:
            loop = asyncio.get_running_loop()
            self._back = loop.call_later(seconds, self.come_back)

    def come_back(self) -> None:
        """Link restored: announce online (same boot), then send the acks held meanwhile."""
        self._cancel_return()
        if self.online:
            return
        self.online = True
        self.gateway.set_lantern_status(self.lantern_id, True, self.boot)
        log.info("lantern %s: link up, %d acks held", self.lantern_id, len(self._held))
        held, self._held = list(self._held), deque(maxlen=HELD_ACKS)
        for ack in held:
            self.send(ack)

    def rebooted(self, boot: int) -> None:
        """The lantern restarted: acks it held are gone, the new boot number is announced."""
        self.boot = boot
        self._held.clear()
        if self.online:
            self.gateway.set_lantern_status(self.lantern_id, True, boot)

    def close(self) -> None:
        self._cancel_return()

    def _publish_if_online(self, ack: Ack) -> None:
        if self.online:
            self.gateway.publish_ack(ack)
        else:
            self._held.append(ack)

    def _cancel_return(self) -> None:
        if self._back is not None:
            self._back.cancel()
            self._back = None
