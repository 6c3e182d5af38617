"""Non-volatile memory of a simulated fleet: what each lantern's replay guard must never forget.

A real lantern keeps the highest accepted ``seq`` per signing key (and the seqs it accepted
inside the replay window) in flash, so neither a reboot nor a power cut lets a captured command
play again. The simulator keeps the same image per lantern in one file per fleet,
``<state_dir>/replay.<gateway_prefix>.json``, loaded at start; a simulated ``reboot`` fault boots
the lantern from its image, not from what it had in RAM.

Every accepted seq updates the image at once (in memory: what a reboot fault reads) and the file
within ``FLUSH_S``: atomically (temp file, fsync, rename, fsync of the directory). Writing before
acting, as firmware does, would cost one fsync per lantern of a fan-out (3,533 of them, seconds on
the fleet's one loop), so a simulator process killed within ``FLUSH_S`` of accepting a seq may
boot without it. Real firmware writes before it acts; the simulated ``reboot`` fault and a clean
stop (SIGTERM) lose nothing.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware_sim.replay import ReplayGuard, ReplayImageError

log = logging.getLogger(__name__)

# Longest an accepted seq waits for the file: a fan-out to 3,000 lanterns arrives over ~1 s, so
# it is written about ten times instead of 3,000, each write well under a megabyte.
FLUSH_S = 0.1
FORMAT_VERSION = 1


class FlashError(ValueError):
    """The replay memory file cannot be used; the message names the file and the problem."""


class ReplayFlash:
    """Per lantern, the stored replay image; ``guard`` boots one, ``flush`` writes the file."""

    def __init__(self, path: Path | None, window_s: Callable[[], float]) -> None:
        self.path = path
        self._window_s = window_s
        # lantern id -> the JSON text of its image (re-serialised only when that lantern changes).
        self._images: dict[str, str] = {}
        self._guards: dict[str, ReplayGuard] = {}
        self._dirty = False
        # Called on the first change after a flush: the owner arranges ``flush`` soon.
        self.on_dirty: Callable[[], None] = lambda: None
        self.writes = 0
        if path is not None:
            self._load(path)

    @property
    def dirty(self) -> bool:
        return self._dirty

    def guard(self, lantern_id: str) -> ReplayGuard:
        """A replay guard booted from this lantern's stored image (empty for a new lantern)."""
        text = self._images.get(lantern_id)
        image = json.loads(text) if text is not None else {}
        guard = ReplayGuard.from_json(self._window_s, image)
        guard.on_change = lambda: self._changed(lantern_id, guard)
        self._guards[lantern_id] = guard
        return guard

    def image(self, lantern_id: str) -> dict[str, Any]:
        """The stored image of one lantern (for tests and the control API)."""
        text = self._images.get(lantern_id)
        return dict(json.loads(text)) if text is not None else {}

    def flush(self) -> None:
        """Write every image to the file if anything changed since the last write."""
        if not self._dirty:
            return
        self._dirty = False
        if self.path is None:
            return
        body = ",".join(f"{json.dumps(k)}:{v}" for k, v in sorted(self._images.items()))
        data = f'{{"v":{FORMAT_VERSION},"lanterns":{{{body}}}}}'.encode()
        _atomic_write(self.path, data)
        self.writes += 1

    def _changed(self, lantern_id: str, guard: ReplayGuard) -> None:
        if self._guards.get(lantern_id) is not guard:
            return  # a guard from before the latest reboot: not what flash holds any more
        self._images[lantern_id] = json.dumps(guard.to_json(), separators=(",", ":"))
        if not self._dirty:
            self._dirty = True
            self.on_dirty()

    def _load(self, path: Path) -> None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            log.info("no replay memory at %s yet: lanterns start with none", path)
            return
        except OSError as exc:
            raise FlashError(f"cannot read replay memory {path}: {exc}") from None
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise FlashError(f"{path}: not JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("v") != FORMAT_VERSION:
            raise FlashError(f"{path}: not a replay memory file of version {FORMAT_VERSION}")
        lanterns = data.get("lanterns")
        if not isinstance(lanterns, dict):
            raise FlashError(f"{path}: 'lanterns' must be an object")
        for lantern_id, image in lanterns.items():
            try:
                ReplayGuard.from_json(self._window_s, image)
            except ReplayImageError as exc:
                raise FlashError(f"{path}: lantern {lantern_id}: {exc}") from None
            self._images[str(lantern_id)] = json.dumps(image, separators=(",", ":"))
        log.info("replay memory of %d lanterns loaded from %s", len(self._images), path)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write beside ``path``, fsync, rename over it, fsync the directory (survives power loss)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
