"""The clip library on a simulated gateway: manifests in, clips fetched in quiet times, reports out.

The service publishes retained clip manifests (``<root>/v1/clips/<key>/manifest``: the fixed
sentences of every template in every language as ``common``, one per street with the sentences
naming it). A gateway takes each manifest once, downloads every clip its lanterns lack, one or
two at a time and only while none of its lanterns is playing (low priority: a warning's own
downloads and acks come first), checks each against its sha256, and gives it to every lantern
the manifest names, within that lantern's budget. Each lantern reports in its retained state
which manifests it holds completely and which clips it lacks and why (``bad_clip_hash``,
``clip_unavailable``, ``cache_full``, ``cache_unwritable``), so the service knows.

A street's manifest names the few lanterns on that street: taking it touches only them (and a
clip only the lanterns that want it), never the whole fleet. The demo publishes ~400 of them
after start; recomputing all 3,533 lanterns for each kept the fleet's one event loop busy for
minutes, and a warning's acks waited behind it (seconds to tens of seconds).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from firmware_sim.cache import ClipCache, ClipShelf
from firmware_sim.clips import ClipFetcher
from firmware_sim.effects import Reason
from lightctl.protocol import ClipEntry, ClipHolding, ClipManifest, ClipMissing, SpeechItem

log = logging.getLogger(__name__)

# Library downloads in flight per gateway: two keep a quiet link busy without competing with a
# warning (whose own downloads use up to 32).
LIBRARY_CONCURRENCY = 2
# A clip that could not be fetched is tried again after this long (a new manifest: at once).
RETRY_S = 60.0
# Between two library downloads the gateway checks that it is still quiet this often.
QUIET_POLL_S = 0.2
MISSING_LISTED = 32


@dataclass(frozen=True, slots=True)
class Failure:
    reason: Reason
    at: float  # loop time


class LibrarySync:
    """Manifests per key, the clips wanted per lantern, and the download loop."""

    def __init__(
        self,
        caches: Mapping[str, ClipCache],
        shelf: ClipShelf,
        fetcher: ClipFetcher,
        *,
        busy: Callable[[], bool],
        changed: Callable[[Iterable[str]], None],
    ) -> None:
        self.caches = caches
        self.shelf = shelf
        self.fetcher = fetcher
        self.manifests: dict[str, ClipManifest] = {}
        self.stats: Counter[str] = Counter()
        self._busy = busy
        self._changed = changed
        self._failed: dict[str, Failure] = {}
        # Per lantern: manifest clips it could not take, and why (cache full, unwritable).
        self._refused: dict[str, dict[str, Reason]] = {}
        self._wake = asyncio.Event()
        # Who each manifest is for, both ways: keys naming every lantern (``lanterns`` absent)
        # and, per lantern, the keys that name it; and per clip the lanterns pinning it.
        self._for_all: set[str] = set()
        self._keys_of: dict[str, set[str]] = {}
        self._wanting: dict[str, set[str]] = {}

    # ---- manifests ----------------------------------------------------------------------------

    def take(self, key: str, payload: bytes) -> None:
        """A retained manifest arrived (empty: withdrawn). A bad one is logged and counted."""
        if not payload:
            old = self.manifests.pop(key, None)
            if old is not None:
                affected = self._index(key, old, None)
                self._repin(affected)
            return
        try:
            manifest = ClipManifest.from_bytes(payload)
        except ValidationError as exc:
            self.stats["manifest_refused"] += 1
            first = exc.errors()[0]["msg"] if exc.errors() else str(exc)
            log.warning("clip manifest %s refused: %s", key, first)
            return
        if manifest.key != key:
            self.stats["manifest_refused"] += 1
            log.warning("clip manifest on %s names key %s: refused", key, manifest.key)
            return
        old = self.manifests.get(key)
        if old is not None and old.digest == manifest.digest:
            return
        self.manifests[key] = manifest
        self.stats["manifests"] += 1
        # A new version: clips that failed get another chance.
        for entry in manifest.entries:
            self._failed.pop(entry.sha256, None)
        self._repin(self._index(key, old, manifest))

    def keys_of(self, lantern_id: str) -> list[str]:
        """The keys of the manifests naming this lantern (all lanterns, or it by id), sorted."""
        return sorted(self._for_all | self._keys_of.get(lantern_id, set()))

    def wanted(self, lantern_id: str) -> dict[str, ClipEntry]:
        out: dict[str, ClipEntry] = {}
        for key in self.keys_of(lantern_id):
            for entry in self.manifests[key].entries:
                out.setdefault(entry.sha256, entry)
        return out

    def _index(self, key: str, old: ClipManifest | None, new: ClipManifest | None) -> Iterable[str]:
        """Move ``key`` from the lanterns ``old`` named to those ``new`` names; returns the
        lanterns whose wanted clips may have changed (every one, if either names all)."""
        everyone = (old is not None and old.lanterns is None) or (
            new is not None and new.lanterns is None
        )
        self._for_all.discard(key)
        before: set[str] = set()
        if old is not None and old.lanterns is not None:
            before = {lid for lid in old.lanterns if lid in self.caches}
            for lantern_id in before:
                self._keys_of.get(lantern_id, set()).discard(key)
        after: set[str] = set()
        if new is not None:
            if new.lanterns is None:
                self._for_all.add(key)
            else:
                after = {lid for lid in new.lanterns if lid in self.caches}
                for lantern_id in after:
                    self._keys_of.setdefault(lantern_id, set()).add(key)
        return self.caches.keys() if everyone else before | after

    def _repin(self, affected: Iterable[str]) -> None:
        lanterns = list(affected)
        for lantern_id in lanterns:
            cache = self.caches[lantern_id]
            for sha256 in cache.pinned:
                self._wanting.get(sha256, set()).discard(lantern_id)
            cache.repin(set(self.wanted(lantern_id)))
            for sha256 in cache.pinned:
                self._wanting.setdefault(sha256, set()).add(lantern_id)
            self._refused.pop(lantern_id, None)
        self._give_held(lanterns)
        self._changed(lanterns)
        self._wake.set()

    # ---- reports ------------------------------------------------------------------------------

    def holding(self, lantern_id: str) -> ClipHolding:
        cache = self.caches[lantern_id]
        held = cache.held()
        complete: dict[str, str] = {}
        missing: list[ClipMissing] = []
        count = 0
        for key in self.keys_of(lantern_id):
            manifest = self.manifests[key]
            lacking = [e for e in manifest.entries if e.sha256 not in held]
            if not lacking:
                complete[key] = manifest.digest
            for entry in lacking:
                count += 1
                if len(missing) < MISSING_LISTED:
                    missing.append(
                        ClipMissing(sha256=entry.sha256, reason=self._why(lantern_id, entry))
                    )
        problem = cache.fault.value if cache.fault is not None else self.shelf.problem
        return ClipHolding(
            manifests=complete,
            held=len(cache),
            bytes=cache.bytes,
            budget=cache.budget_bytes,
            missing=missing,
            missing_count=count,
            problem=problem,
        )

    def _why(self, lantern_id: str, entry: ClipEntry) -> str:
        refused = self._refused.get(lantern_id, {}).get(entry.sha256)
        if refused is not None:
            return refused.value
        failure = self._failed.get(entry.sha256)
        return failure.reason.value if failure is not None else "pending"

    # ---- downloads ----------------------------------------------------------------------------

    def next_missing(self, now: float) -> ClipEntry | None:
        """A clip some lantern wants, not on the shelf, not failed recently."""
        for manifest in self.manifests.values():
            for entry in manifest.entries:
                if self.shelf.has(entry.sha256):
                    continue
                failure = self._failed.get(entry.sha256)
                if failure is not None and now - failure.at < RETRY_S:
                    continue
                return entry
        return None

    async def run(self) -> None:
        """Download what is missing, one clip after another, only while the gateway is quiet."""
        loop = asyncio.get_running_loop()
        while True:
            entry = self.next_missing(loop.time())
            if entry is None:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), RETRY_S)
                except TimeoutError:
                    pass
                continue
            if self._busy():
                self.stats["paused_for_warning"] += 1
                await asyncio.sleep(QUIET_POLL_S)
                continue
            await self._download(entry, loop.time)

    async def _download(self, entry: ClipEntry, now: Callable[[], float]) -> None:
        item = SpeechItem(
            lang=entry.lang, url=entry.url, sha256=entry.sha256, duration_s=entry.duration_s
        )
        got = await self.fetcher.fetch(item, who="library")
        if got.problem is not None or got.body is None:
            reason = got.problem or Reason.CLIP_UNAVAILABLE
            self._failed[entry.sha256] = Failure(reason, now())
            self.stats[f"clip_{reason.value}"] += 1
            log.warning(
                "library clip %s from %s skipped: %s", entry.sha256, entry.url, reason.value
            )
            self._changed(self._lanterns_wanting(entry.sha256))
            return
        self.stats["downloaded"] += 1
        refused = self.shelf.put(entry.sha256, got.body)
        if refused is not None:
            self._failed[entry.sha256] = Failure(refused, now())
            self.stats[f"clip_{refused.value}"] += 1
            self._changed(self._lanterns_wanting(entry.sha256))
            return
        self._give(entry.sha256, len(got.body))

    def offer(self, sha256: str, size: int) -> None:
        """A clip verified for a warning is on the shelf: lanterns whose library names it
        take it too, so the library does not fetch it again."""
        if self._wanting.get(sha256):
            self._give(sha256, size)

    def _lanterns_wanting(self, sha256: str) -> list[str]:
        return sorted(self._wanting.get(sha256, ()))

    def _give(self, sha256: str, size: int) -> None:
        """A verified clip on the shelf: every lantern that wants it takes it, if it can."""
        changed = []
        for lantern_id in self._lanterns_wanting(sha256):
            cache = self.caches[lantern_id]
            if cache.holds(sha256):
                continue  # holds it already: nothing to take or report (a warning's every
                # fetch of a library clip offers it again, to thousands of lanterns)
            refused = cache.put(sha256, size)
            if refused is not None:
                self._refused.setdefault(lantern_id, {})[sha256] = refused
                self.stats[f"lantern_{refused.value}"] += 1
            changed.append(lantern_id)
        self._changed(changed)

    def _give_held(self, lanterns: Iterable[str]) -> None:
        """After a manifest change: clips already on the shelf go to lanterns now wanting them."""
        for lantern_id in lanterns:
            cache = self.caches[lantern_id]
            wanted = self.wanted(lantern_id)
            for sha256 in cache.pinned:
                if self.shelf.has(sha256) and not cache.has(sha256):
                    entry = wanted.get(sha256)
                    refused = cache.put(sha256, entry.size if entry is not None else 1)
                    if refused is not None:
                        self._refused.setdefault(lantern_id, {})[sha256] = refused
