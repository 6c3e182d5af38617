"""What an update of an alert carries over: a lantern whose light, projection or running light
would get exactly what it already holds keeps the command it has, instead of a new copy.

An edited hazard turns only the arrows whose way got worse or much better (the hysteresis in
``services/guidance_plan.py``); the warning light and most arrows stay as they are. Sending them
all again cost one signature, one publish and one ack per lantern and channel, and on the demo
fleet that was most of the time from the edit to the arrows applied. Audio is always sent anew
(its shared speech clock starts again), and so is everything whose slot, expiry, issuer role,
exercise flag or payload differs, and everything whose earlier delivery did not succeed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lightctl.domain.records import Command

# Channels whose effect is a state the lantern holds until expiry: the same command twice is
# the same sight. (Audio plays a program in time: a new one starts it again.)
HELD_CHANNELS = frozenset({"light", "projection", "path"})

# What makes two commands show the same: everything signed except who, when and which copy.
_IDENTITY = frozenset({"id", "seq", "issued_at", "kid", "sig", "aud", "alert_id"})


@dataclass(slots=True)
class Carried:
    """The update's commands with the carried-over lanterns taken out, and per earlier command
    the lanterns that keep it (they are neither superseded nor released)."""

    commands: list[tuple[Command, Sequence[str]]]
    kept: dict[str, set[str]] = field(default_factory=dict)

    @property
    def kept_count(self) -> int:
        return sum(len(ids) for ids in self.kept.values())


def sight(row: Command) -> str | None:
    """What a held command makes a lantern show, as comparable text (None: not a held `set`)."""
    if row.op != "set" or row.channel not in HELD_CHANNELS:
        return None
    body: dict[str, Any] = json.loads(row.envelope)
    if body.get("starts_at") is not None:
        return None  # sent ahead: a schedule's, not an alert's
    same = {k: v for k, v in body.items() if k not in _IDENTITY}
    return json.dumps(same, sort_keys=True, separators=(",", ":"))


def carry_over(
    previous: Sequence[Command],
    commands: Sequence[tuple[Command, Sequence[str]]],
    holding: Mapping[str, set[str]],
) -> Carried:
    """Take out of ``commands`` every lantern that already holds an earlier command showing
    the same (``holding``: per earlier command, the lanterns whose delivery of it is still
    open or applied); those lanterns keep the earlier one."""
    by_sight: dict[str, list[Command]] = {}
    for row in previous:
        key = sight(row)
        if key is not None and holding.get(row.id):
            by_sight.setdefault(key, []).append(row)
    carried = Carried([])
    for row, ids in commands:
        key = sight(row)
        earlier = by_sight.get(key) if key is not None else None
        if not earlier:
            carried.commands.append((row, ids))
            continue
        left: list[str] = []
        for lantern_id in ids:
            holder = next((p for p in earlier if lantern_id in holding[p.id]), None)
            if holder is None:
                left.append(lantern_id)
            else:
                carried.kept.setdefault(holder.id, set()).add(lantern_id)
        if left:
            carried.commands.append((row, left))
    return carried
