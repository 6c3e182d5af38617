"""The command ids a lantern has taken, each with the last ack sent for it (de-duplication)."""

from __future__ import annotations

from datetime import datetime

from firmware_sim.effects import SendAck
from lightctl.protocol import AckStatus, CommandEnvelope

# Ids of commands seen are kept until their envelope expires (a replay after that is refused as
# expired anyway). The cap bounds memory if a sender floods long-lived ids: an id costs ~300 bytes,
# so 256 ids × 3,000 lanterns stay under 250 MB in the worst case, while a lantern sees a handful
# of live commands at a time. Beyond the cap the oldest ids go first.
SEEN_CAP = 256


class SeenIds:
    """cmd id -> (last ack sent for it, envelope expiry); insertion order = arrival order."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[str, tuple[SendAck, datetime]] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, cmd_id: object) -> bool:
        return cmd_id in self._seen

    def last_ack(self, cmd_id: str) -> SendAck | None:
        seen = self._seen.get(cmd_id)
        return seen[0] if seen is not None else None

    def remember(self, cmd: CommandEnvelope, now: datetime) -> None:
        """Take a new id; past the cap, expired ids go first, then the oldest."""
        if len(self._seen) >= SEEN_CAP:
            self._seen = {k: v for k, v in self._seen.items() if v[1] > now}
            while len(self._seen) >= SEEN_CAP:
                del self._seen[next(iter(self._seen))]
        self._seen[cmd.id] = (SendAck(cmd.id, AckStatus.RECEIVED), cmd.expires_at)

    def record(self, ack: SendAck) -> SendAck:
        """Remember the last ack per command so a duplicate gets it again."""
        seen = self._seen.get(ack.cmd_id)
        if seen is not None:
            self._seen[ack.cmd_id] = (ack, seen[1])
        return ack
