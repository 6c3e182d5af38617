"""A lantern's clip memory: content-addressed, within a byte budget, library clips kept first.

Each lantern keeps an index of the clips it holds (sha256 -> size) and a byte budget. Clips of
the clip library (the manifests it was sent) are *pinned*: only clips fetched for a free-text
warning, least recently used first, are evicted to make room; a pinned clip goes only when no
manifest names it any more. The bytes live once per simulated gateway in a ``ClipShelf`` (an
edge gateway caching for its lanterns; 3,533 lanterns x 300 clips would be 100 GB on disk),
while every budget, eviction and refusal stays per lantern, as on real firmware.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections import OrderedDict
from pathlib import Path

from firmware_sim.effects import Reason

log = logging.getLogger(__name__)

# A lantern's flash for clips: 64 MB holds ~650 clips of 100 KB (10 templates x 9 languages x
# 3 sentences, plus its streets' sentences) with room for a free-text warning's.
DEFAULT_BUDGET_BYTES = 64 * 1024 * 1024


class ClipShelf:
    """The bytes of verified clips, once per gateway: in ``directory`` or, without one, only
    their hashes in memory (the simulator plays by waiting and needs no bytes)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self._known: set[str] = set()
        self.problem: str | None = None

    def has(self, sha256: str) -> bool:
        return sha256 in self._known

    def put(self, sha256: str, data: bytes) -> Reason | None:
        """Keep the bytes of a verified clip; the refusal reason when the directory fails."""
        if sha256 in self._known:
            return None
        if self.directory is not None:
            try:
                self._write(self.directory / sha256, data)
            except OSError as exc:
                self.problem = f"{Reason.CACHE_UNWRITABLE}: {exc.strerror or exc}"[:200]
                log.warning("clip cache %s cannot take %s: %s", self.directory, sha256, exc)
                return Reason.CACHE_UNWRITABLE
        self.problem = None
        self._known.add(sha256)
        return None

    def forget(self, sha256: str) -> None:
        self._known.discard(sha256)
        if self.directory is not None:
            with contextlib.suppress(OSError):
                (self.directory / sha256).unlink()

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


class ClipCache:
    """One lantern's index of the clips it holds, with its budget and an injected fault."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self._held: OrderedDict[str, int] = OrderedDict()  # least recently used first
        self._bytes = 0  # the sum of _held's sizes, kept as it changes (asked per clip taken)
        self.pinned: set[str] = set()  # named by a manifest this lantern should hold
        # Fault injection (``cache=full`` / ``cache=unwritable``): refuses every new clip.
        self.fault: Reason | None = None
        self.evicted = 0

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._held)

    def has(self, sha256: str) -> bool:
        if sha256 not in self._held:
            return False
        self._held.move_to_end(sha256)
        return True

    def holds(self, sha256: str) -> bool:
        """Like ``has``, without counting as a use (a report asks, nobody plays it)."""
        return sha256 in self._held

    def held(self) -> set[str]:
        return set(self._held)

    def put(self, sha256: str, size: int) -> Reason | None:
        """Take a verified clip (evicting to fit); the refusal reason when it cannot."""
        if sha256 in self._held:
            self._held.move_to_end(sha256)
            return None
        if self.fault is not None:
            return self.fault
        if size > self.budget_bytes:
            return Reason.CACHE_FULL
        free = self.budget_bytes - self.bytes
        if free < size:
            # Free-text clips first (oldest use first), then library clips no manifest names.
            victims = [s for s in self._held if s not in self.pinned]
            for victim in victims:
                if free >= size:
                    break
                gone = self._held.pop(victim)
                self._bytes -= gone
                free += gone
                self.evicted += 1
            if free < size:
                return Reason.CACHE_FULL
        self._held[sha256] = size
        self._bytes += size
        return None

    def repin(self, wanted: set[str]) -> None:
        """The manifests now name ``wanted``: other library clips become evictable."""
        self.pinned = set(wanted)
