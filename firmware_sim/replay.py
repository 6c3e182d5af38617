"""Replay protection of one lantern: per signing key, the highest seq accepted and a window.

Seq counts microseconds of issue time and rises per issuer. A lantern accepts a seq above the
highest it has seen, or one inside the window below it that it has not seen yet (commands may
arrive out of order: retries, re-sends after a reconnect, a broker restart). It refuses a seq it
has accepted before (``replayed``) and anything below the window (``outside_replay_window``).
The window does not depend on the lantern's clock, so it holds even when a power cut has reset it.

The service never sends a seq older than half the window: it re-signs older envelopes with a
fresh seq before every (re)send (lightctl/signing/signer.py), so genuine commands always pass.
"""

from __future__ import annotations

from collections.abc import Callable

from firmware_sim.effects import Reason

# Seqs remembered per key: a lantern sees a handful of commands per window; past this the oldest
# are dropped and everything at or below them counts as outside the window (fails closed).
SEQ_CAP = 256
_US = 1_000_000


class ReplayGuard:
    """``check`` before acting on a command, ``accept`` once it is taken."""

    def __init__(self, window_s: Callable[[], float]) -> None:
        self._window_s = window_s
        self._high: dict[str, int] = {}
        self._floor: dict[str, int] = {}
        self._seen: dict[str, set[int]] = {}

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

    def after_reboot(self) -> ReplayGuard:
        """What survives a reboot: the highest seq per key (kept in flash), not the recent set."""
        guard = ReplayGuard(self._window_s)
        guard._high = dict(self._high)
        guard._floor = dict(self._floor)
        return guard

    def highest(self, kid: str) -> int | None:
        return self._high.get(kid)

    def _lowest_allowed(self, kid: str, high: int) -> int:
        window_us = int(self._window_s() * _US)
        return max(high - window_us, self._floor.get(kid, 0))
