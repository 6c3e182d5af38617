"""A BACnet-style priority array: 16 slots per channel, the highest non-empty slot drives it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")

# Slot 1 is life safety, slot 16 the lantern's configured default (ARCHITECTURE.md, Priorities).
HIGHEST = 1
LOWEST = 16


@dataclass(frozen=True, slots=True)
class Slot(Generic[T]):
    """What one priority holds and until when."""

    priority: int
    value: T
    expires_at: datetime


class PriorityArray(Generic[T]):
    """Sixteen slots; writing or releasing one slot never touches another.

    Expiry is lazy and explicit: ``expire(now)`` empties every slot whose time has come, so the
    caller decides when time passes (the lantern state machine passes it in; tests use fake time).
    """

    __slots__ = ("_slots",)

    def __init__(self) -> None:
        self._slots: list[Slot[T] | None] = [None] * LOWEST

    @staticmethod
    def _index(priority: int) -> int:
        if not HIGHEST <= priority <= LOWEST:
            raise ValueError(f"priority must be {HIGHEST}..{LOWEST}, got {priority}")
        return priority - 1

    def set(self, priority: int, value: T, expires_at: datetime) -> Slot[T] | None:
        """Write one slot; returns what it held before (a displaced command), if anything."""
        i = self._index(priority)
        old = self._slots[i]
        self._slots[i] = Slot(priority, value, expires_at)
        return old

    def release(self, priority: int) -> Slot[T] | None:
        """Empty exactly one slot; returns what it held."""
        i = self._index(priority)
        old = self._slots[i]
        self._slots[i] = None
        return old

    def release_if(self, priority: int, holds: Callable[[T], bool]) -> Slot[T] | None:
        """Empty one slot only if ``holds`` says its value is the one meant; returns what it
        held then (None: empty, or someone else's, and left as it was)."""
        i = self._index(priority)
        old = self._slots[i]
        if old is None or not holds(old.value):
            return None
        self._slots[i] = None
        return old

    def get(self, priority: int) -> Slot[T] | None:
        return self._slots[self._index(priority)]

    def expire(self, now: datetime) -> list[Slot[T]]:
        """Empty every slot expired at ``now`` (expires_at <= now); returns them, highest first."""
        gone: list[Slot[T]] = []
        for i, slot in enumerate(self._slots):
            if slot is not None and slot.expires_at <= now:
                gone.append(slot)
                self._slots[i] = None
        return gone

    def effective(self) -> Slot[T] | None:
        """The highest non-empty slot, or None when the channel falls back to its default."""
        for slot in self._slots:
            if slot is not None:
                return slot
        return None

    def next_expiry(self) -> datetime | None:
        """The earliest expiry among occupied slots: when ``expire`` next has work to do."""
        times = [slot.expires_at for slot in self._slots if slot is not None]
        return min(times) if times else None

    def __iter__(self) -> Iterator[Slot[T]]:
        """Occupied slots, highest priority first."""
        return (slot for slot in self._slots if slot is not None)

    def __len__(self) -> int:
        return sum(1 for slot in self._slots if slot is not None)
