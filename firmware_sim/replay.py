"""Replay protection of one lantern: per signing key, the highest seq accepted and a window.

Seq counts microseconds of issue time and rises per issuer. A lantern accepts a seq above the
highest it has seen, or one inside the window below it that it has not seen yet (commands may
arrive out of order: retries, re-sends after a reconnect, a broker restart). It refuses a seq it
has accepted before (``replayed``) and anything below the window (``outside_replay_window``).
The window does not depend on the lantern's clock, so it holds even when a power cut has reset it.

What the guard knows lives in non-volatile memory (``firmware_sim/flash.py``): ``to_json`` is the
image written there after every accepted seq, ``from_json`` what a lantern boots with, so a
reboot forgets no seq (a command id seen before is RAM only; see ``seen.py``).

The service never sends a seq older than half the window: it re-signs older envelopes with a
fresh seq before every (re)send (lightctl/signing/signer.py), and re-signs everything it sends
again to a rebooted lantern, so genuine commands always pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from firmware_sim.effects import Reason

# Seqs remembered per key: a lantern sees a handful of commands per window; past this the oldest
# are dropped and everything at or below them counts as outside the window (fails closed).
SEQ_CAP = 256
_US = 1_000_000


class ReplayImageError(ValueError):
    """A stored replay image that cannot be read back; the message says what is wrong."""


class ReplayGuard:
    """``check`` before acting on a command, ``accept`` once it is taken."""

    def __init__(
        self, window_s: Callable[[], float], on_change: Callable[[], None] | None = None
    ) -> None:
        self._window_s = window_s
        self._high: dict[str, int] = {}
        self._floor: dict[str, int] = {}
        self._seen: dict[str, set[int]] = {}
        # Called after every accepted seq: the owner writes the image to non-volatile memory.
        self.on_change = on_change

    def check(self, kid: str, seq: int) -> Reason | None:
        high = self._high.get(kid)
        if high is None:
            return None
        if seq < self._lowest_allowed(kid, high):
            return Reason.OUTSIDE_REPLAY_WINDOW
        if seq in self._seen.get(kid, ()):
            return Reason.REPLAYED
        return None

    def accept(self, kid: str, seq: int) -> None:
        seen = self._seen.setdefault(kid, set())
        seen.add(seq)
        high = max(seq, self._high.get(kid, seq))
        self._high[kid] = high
        lowest = self._lowest_allowed(kid, high)
        if min(seen) < lowest:
            seen.difference_update([s for s in seen if s < lowest])
        if len(seen) > SEQ_CAP:
            dropped = sorted(seen)[: len(seen) - SEQ_CAP]
            seen.difference_update(dropped)
            self._floor[kid] = max(self._floor.get(kid, 0), dropped[-1] + 1)
        if self.on_change is not None:
            self.on_change()

    def highest(self, kid: str) -> int | None:
        return self._high.get(kid)

    # ---- the image kept in non-volatile memory ------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """Per key: the highest seq, the floor below which all is refused, the seqs seen."""
        return {
            kid: {
                "high": high,
                "floor": self._floor.get(kid, 0),
                "seen": sorted(self._seen.get(kid, ())),
            }
            for kid, high in self._high.items()
        }

    @classmethod
    def from_json(
        cls,
        window_s: Callable[[], float],
        image: Any,
        on_change: Callable[[], None] | None = None,
    ) -> ReplayGuard:
        """The guard a lantern boots with; ``ReplayImageError`` names what does not read back."""
        guard = cls(window_s, on_change)
        if not isinstance(image, dict):
            raise ReplayImageError("a replay image must be an object of key ids")
        for kid, entry in image.items():
            if not isinstance(entry, dict):
                raise ReplayImageError(f"key {kid!r}: not an object")
            high, floor, seen = entry.get("high"), entry.get("floor", 0), entry.get("seen", [])
            if not isinstance(high, int) or not _is_seq(high) or not _is_seq(floor):
                raise ReplayImageError(f"key {kid!r}: high and floor must be seqs (integers >= 0)")
            if not isinstance(seen, list) or not all(_is_seq(s) for s in seen):
                raise ReplayImageError(f"key {kid!r}: seen must be a list of seqs")
            guard._high[str(kid)] = high
            if floor:
                guard._floor[str(kid)] = floor
            guard._seen[str(kid)] = set(seen[-SEQ_CAP:])
        return guard

    def _lowest_allowed(self, kid: str, high: int) -> int:
        window_us = int(self._window_s() * _US)
        return max(high - window_us, self._floor.get(kid, 0))


def _is_seq(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
