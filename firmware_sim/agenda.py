"""Commands sent ahead of their time: held until ``starts_at``, then handed to their slot. Pure.

A schedule sends a night's switching commands hours ahead, so a lantern cut off from the service
still switches on, dims and goes dark on time: its own clock moves a command from here into its
priority array, with no message from the service. Held commands live in RAM only; a reboot loses
them and the service sends them again (it re-sends everything live to a rebooted lantern).
"""

from __future__ import annotations

from datetime import datetime

from lightctl.protocol import CommandEnvelope

# Held commands per lantern. A schedule sends about five per night (a light command per dimming
# step and one path command), 24 h ahead; 64 leave room for several issuers and bound the memory
# (~1 KB per envelope) a sender flooding far-future commands could take.
PENDING_CAP = 64


class Agenda:
    """Commands waiting for their start, in arrival order."""

    __slots__ = ("_waiting",)

    def __init__(self) -> None:
        self._waiting: dict[str, CommandEnvelope] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def __contains__(self, cmd_id: object) -> bool:
        return cmd_id in self._waiting

    @property
    def full(self) -> bool:
        return len(self._waiting) >= PENDING_CAP

    def hold(self, cmd: CommandEnvelope) -> None:
        """Keep ``cmd`` (it must carry a ``starts_at``) until its start."""
        if cmd.starts_at is None:
            raise ValueError(f"command {cmd.id} has no starts_at to hold it until")
        self._waiting[cmd.id] = cmd

    def drop(self, cmd_id: str, channel: str, priority: int) -> CommandEnvelope | None:
        """Forget a held command (released before its start) if it is for that slot."""
        cmd = self._waiting.get(cmd_id)
        if cmd is None or cmd.channel != channel or cmd.priority != priority:
            return None
        return self._waiting.pop(cmd_id)

    def due(self, now: datetime) -> list[CommandEnvelope]:
        """Take out every command whose start has come, earliest start first (ties: arrival)."""
        ready = [
            c for c in self._waiting.values() if c.starts_at is not None and c.starts_at <= now
        ]
        for cmd in ready:
            del self._waiting[cmd.id]
        return sorted(ready, key=lambda c: c.starts_at or now)  # sorted() is stable: arrival

    def next_start(self) -> datetime | None:
        """When ``due`` next has work (None: nothing is held)."""
        starts = [c.starts_at for c in self._waiting.values() if c.starts_at is not None]
        return min(starts) if starts else None

    def held(self) -> list[CommandEnvelope]:
        """Every command waiting, in arrival order (for tests and the control API)."""
        return list(self._waiting.values())
