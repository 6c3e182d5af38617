"""Fault injection for rehearsals and tests: what may go wrong with one simulated lantern.

A spec is a ``;``-separated list of clauses ``NAME[=VALUE][@SELECTOR]``:

- ``drop_acks[=P]``: drop each ack with probability P (default 1: every ack)
- ``delay_acks=S``: send each ack S seconds late
- ``duplicate``: handle every command twice and send every ack twice (QoS 1 at its worst)
- ``corrupt_clips[=P]``: flip a byte in each clip download with probability P (default 1)
- ``broken=PART``: ``speaker``, ``lamp``, ``projector`` or ``path``; its commands ack ``failed``
- ``cache=full`` / ``cache=unwritable``: the lantern's clip cache takes no clip (clips still play
  from memory; the retained state reports the problem and every library clip it lacks)
- ``offline[=S]``: lose the link now (availability offline), back after S s (default: never)
- ``reboot``: restart now; every slot and queue is lost (the clip cache, in flash, stays), a new
  boot number is announced
- ``clear``: remove every fault of the selected lanterns (an offline one comes back)

``SELECTOR`` is ``all`` (the default), ``N%`` (that share of the fleet, the same lanterns every
time for the same fleet), or a comma-separated list of lantern ids. Example:
``offline=10@30%;drop_acks=0.2;broken=speaker@LEU1,LEU2``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from firmware_sim.effects import Reason
from lightctl.protocol import Channel

# Which channel each breakable part serves, and the reason its commands are failed with.
PARTS: dict[str, tuple[Channel, Reason]] = {
    "speaker": ("audio", Reason.SPEAKER_BROKEN),
    "lamp": ("light", Reason.LAMP_BROKEN),
    "projector": ("projection", Reason.PROJECTOR_BROKEN),
    "path": ("path", Reason.PATH_LIGHT_BROKEN),
}
SETTINGS = ("drop_acks", "delay_acks", "duplicate", "corrupt_clips", "broken", "cache")
CACHE_FAULTS: dict[str, Reason] = {"full": Reason.CACHE_FULL, "unwritable": Reason.CACHE_UNWRITABLE}
ACTIONS = ("offline", "reboot", "clear")
# Longest delay or offline period a spec may ask for: a day covers any rehearsal.
MAX_SECONDS = 86400.0


class FaultSpecError(ValueError):
    """The fault spec cannot be used; the message names the clause and what is wrong."""


@dataclass(frozen=True, slots=True)
class Faults:
    """The standing faults of one lantern (actions like offline and reboot are not kept here)."""

    drop_acks: float = 0.0
    delay_acks_s: float = 0.0
    duplicate: bool = False
    corrupt_clips: float = 0.0
    broken: frozenset[str] = field(default_factory=frozenset)
    cache: str | None = None  # "full" or "unwritable"

    @property
    def any(self) -> bool:
        return self != Faults()

    def broken_channels(self) -> dict[Channel, str]:
        """Channel -> ack reason, for ``Lantern.broken``."""
        return {PARTS[p][0]: PARTS[p][1].value for p in sorted(self.broken)}

    def to_json(self) -> dict[str, Any]:
        return {
            "drop_acks": self.drop_acks,
            "delay_acks_s": self.delay_acks_s,
            "duplicate": self.duplicate,
            "corrupt_clips": self.corrupt_clips,
            "broken": sorted(self.broken),
            "cache": self.cache,
        }

    def cache_fault(self) -> Reason | None:
        return CACHE_FAULTS[self.cache] if self.cache is not None else None


@dataclass(frozen=True, slots=True)
class FaultClause:
    name: str
    value: str | None
    selector: str

    def apply(self, faults: Faults) -> Faults:
        """The standing faults after this clause (``clear`` and actions handled by the fleet)."""
        if self.name == "drop_acks":
            return replace(faults, drop_acks=_probability(self))
        if self.name == "delay_acks":
            return replace(faults, delay_acks_s=self.seconds(required=True) or 0.0)
        if self.name == "duplicate":
            return replace(faults, duplicate=_flag(self))
        if self.name == "corrupt_clips":
            return replace(faults, corrupt_clips=_probability(self))
        if self.name == "broken":
            return replace(faults, broken=faults.broken | {self._part()})
        if self.name == "cache":
            if self.value not in CACHE_FAULTS:
                raise FaultSpecError(f"cache={self.value}: choose one of {', '.join(CACHE_FAULTS)}")
            return replace(faults, cache=self.value)
        if self.name == "clear":
            return Faults()
        return faults

    def seconds(self, required: bool = False) -> float | None:
        if self.value is None:
            if required:
                raise FaultSpecError(f"{self.name}: give a number of seconds ({self.name}=S)")
            return None
        number = _number(self)
        if not 0 <= number <= MAX_SECONDS:
            raise FaultSpecError(f"{self.name}={self.value}: seconds must be 0-{MAX_SECONDS:g}")
        return number

    def _part(self) -> str:
        if self.value not in PARTS:
            raise FaultSpecError(f"broken={self.value}: choose one of {', '.join(PARTS)}")
        return self.value


def parse_faults(spec: str) -> list[FaultClause]:
    """Clauses of a spec, checked (values and names) before anything is applied."""
    clauses: list[FaultClause] = []
    for raw in spec.split(";"):
        text = raw.strip()
        if not text:
            continue
        head, _, selector = text.partition("@")
        name, eq, value = head.partition("=")
        name = name.strip()
        if name not in SETTINGS + ACTIONS:
            known = ", ".join(SETTINGS + ACTIONS)
            raise FaultSpecError(f"unknown fault {name!r} in {text!r} (known: {known})")
        clause = FaultClause(name, value.strip() if eq else None, selector.strip() or "all")
        clause.apply(Faults())  # raises on a bad value
        if name in ("offline",):
            clause.seconds()
        elif name in ("reboot", "clear") and clause.value is not None:
            raise FaultSpecError(f"{name} takes no value (got {text!r})")
        clauses.append(clause)
    if not clauses:
        raise FaultSpecError("empty fault spec")
    return clauses


def select(selector: str, lantern_ids: Sequence[str], seed: str = "") -> list[str]:
    """The lanterns a selector names, in fleet order; unknown ids are an error."""
    if selector in ("all", "*"):
        return list(lantern_ids)
    if selector.endswith("%"):
        try:
            share = float(selector[:-1]) / 100
        except ValueError:
            raise FaultSpecError(f"@{selector}: not a percentage") from None
        if not 0 <= share <= 1:
            raise FaultSpecError(f"@{selector}: percentage must be 0-100")
        count = math.floor(len(lantern_ids) * share + 0.5)
        ranked = sorted(lantern_ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).digest())
        chosen = set(ranked[:count])
        return [i for i in lantern_ids if i in chosen]
    wanted = [part.strip() for part in selector.split(",") if part.strip()]
    known = set(lantern_ids)
    unknown = [i for i in wanted if i not in known]
    if unknown:
        raise FaultSpecError(f"@{selector}: not in this fleet: {', '.join(unknown[:5])}")
    return wanted


def corrupt(data: bytes) -> bytes:
    """The bytes with one flipped in the middle (what a broken download looks like)."""
    if not data:
        return b"\x00"
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]


def _number(clause: FaultClause) -> float:
    try:
        number = float(clause.value or "")
    except ValueError:
        raise FaultSpecError(f"{clause.name}={clause.value}: not a number") from None
    if math.isnan(number):
        raise FaultSpecError(f"{clause.name}={clause.value}: not a number")
    return number


def _probability(clause: FaultClause) -> float:
    if clause.value is None:
        return 1.0
    number = _number(clause)
    if not 0 <= number <= 1:
        raise FaultSpecError(f"{clause.name}={clause.value}: probability must be 0-1")
    return number


def _flag(clause: FaultClause) -> bool:
    if clause.value is None:
        return True
    if clause.value.lower() in ("1", "true", "on", "yes"):
        return True
    if clause.value.lower() in ("0", "false", "off", "no"):
        return False
    raise FaultSpecError(f"{clause.name}={clause.value}: use on or off")
