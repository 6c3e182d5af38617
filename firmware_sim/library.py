"""The clip library on a simulated gateway: manifests in, clips fetched in quiet times, reports out.

The service publishes retained clip manifests (``<root>/v1/clips/<key>/manifest``: the fixed
sentences of every template in every language as ``common``, one per street with the sentences
naming it). A gateway takes each manifest once, downloads every clip its lanterns lack, one or
two at a time and only while none of its lanterns is playing (low priority: a warning's own
downloads and acks come first), checks each against its sha256, and gives it to every lantern
the manifest names, within that lantern's budget. Each lantern reports in its retained state
which manifests it holds completely and which clips it lacks and why (``bad_clip_hash``,
``clip_unavailable``, ``cache_full``, ``cache_unwritable``), so the service knows.
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
        # Indexes, so that one manifest or one clip costs work in proportion to the lanterns it
        # concerns: a street manifest names ~10 of 3,533 lanterns, and walking every lantern
        # times every manifest per clip kept a 3,533-lantern fleet busy for minutes (issue 14).
        self._common: set[str] = set()  # keys of manifests for every lantern
        self._keys_of: dict[str, set[str]] = {}  # lantern -> keys of its own manifests
        self._named_by: dict[str, set[str]] = {}  # clip sha256 -> keys of manifests naming it
        self._missing_items: dict[tuple[str, str], ClipMissing] = {}

    # ---- manifests ----------------------------------------------------------------------------

    def take(self, key: str, payload: bytes) -> None:
        """A retained manifest arrived (empty: withdrawn). A bad one is logged and counted."""
        if not payload:
            self._withdraw(key)
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
        affected = set(self._applies(old)) if old is not None else set()
        self._unindex(key)
        self.manifests[key] = manifest
        self._index(key, manifest)
        self.stats["manifests"] += 1
        # A new version: clips that failed get another chance.
        for entry in manifest.entries:
            self._failed.pop(entry.sha256, None)
        self._repin(affected | set(self._applies(manifest)))

    def _withdraw(self, key: str) -> None:
        old = self.manifests.get(key)
        if old is not None:
            self._unindex(key)  # reads the manifest: before it goes
            del self.manifests[key]
            self._repin(set(self._applies(old)))

    def _index(self, key: str, manifest: ClipManifest) -> None:
        if manifest.lanterns is None:
            self._common.add(key)
        else:
            for lantern_id in manifest.lanterns:
                if lantern_id in self.caches:
                    self._keys_of.setdefault(lantern_id, set()).add(key)
        for entry in manifest.entries:
            self._named_by.setdefault(entry.sha256, set()).add(key)

    def _unindex(self, key: str) -> None:
        old = self.manifests.get(key)
        if old is None:
            return
        self._common.discard(key)
        for lantern_id in old.lanterns or ():
            keys = self._keys_of.get(lantern_id)
            if keys is not None:
                keys.discard(key)
        for entry in old.entries:
            named = self._named_by.get(entry.sha256)
            if named is not None:
                named.discard(key)
                if not named:
                    del self._named_by[entry.sha256]

    def _manifests_of(self, lantern_id: str) -> list[ClipManifest]:
        """The manifests a lantern should hold, in key order."""
        keys = sorted(self._common | self._keys_of.get(lantern_id, set()))
        return [self.manifests[k] for k in keys]

    def wanted(self, lantern_id: str) -> dict[str, ClipEntry]:
        out: dict[str, ClipEntry] = {}
        for manifest in self._manifests_of(lantern_id):
            for entry in manifest.entries:
                out.setdefault(entry.sha256, entry)
        return out

    def _applies(self, manifest: ClipManifest) -> Iterable[str]:
        if manifest.lanterns is None:
            return self.caches.keys()
        return (lid for lid in manifest.lanterns if lid in self.caches)

    def _repin(self, lantern_ids: set[str]) -> None:
        """The manifests of these lanterns changed: pin what they now name, give them what the
        shelf holds already, report them."""
        for lantern_id in lantern_ids:
            self.caches[lantern_id].repin(set(self.wanted(lantern_id)))
            self._refused.pop(lantern_id, None)
        self._give_held(lantern_ids)
        self._changed(lantern_ids)
        self._wake.set()

    # ---- reports ------------------------------------------------------------------------------

    def holding(self, lantern_id: str) -> ClipHolding:
        cache = self.caches[lantern_id]
        complete: dict[str, str] = {}
        missing: list[ClipMissing] = []
        count = 0
        for manifest in self._manifests_of(lantern_id):
            lacking = [e for e in manifest.entries if not cache.holds(e.sha256)]
            if not lacking:
                complete[manifest.key] = manifest.digest
            count += len(lacking)
            for entry in lacking[: MISSING_LISTED - len(missing)]:
                missing.append(self._missing(entry.sha256, self._why(lantern_id, entry)))
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

    def _missing(self, sha256: str, reason: str) -> ClipMissing:
        """One (frozen) ClipMissing per clip and reason, shared by every lantern's report: a
        whole fleet's reports are rebuilt every few seconds while the library comes in."""
        key = (sha256, reason)
        item = self._missing_items.get(key)
        if item is None:
            item = self._missing_items[key] = ClipMissing(sha256=sha256, reason=reason)
        return item

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
        """A clip verified for a warning is new on the shelf: lanterns whose library names it
        take it too, so the library does not fetch it again. (Called once per clip, when the
        shelf first takes it: the lanterns that want it took it then.)"""
        if sha256 in self._named_by:
            self._give(sha256, size)

    def _lanterns_wanting(self, sha256: str) -> list[str]:
        keys = self._named_by.get(sha256, set())
        if keys & self._common:
            return list(self.caches)
        out: dict[str, None] = {}
        for key in sorted(keys):
            out.update((lid, None) for lid in self._applies(self.manifests[key]))
        return list(out)

    def _give(self, sha256: str, size: int) -> None:
        """A verified clip on the shelf: every lantern that wants it takes it, if it can."""
        changed = []
        for lantern_id in self._lanterns_wanting(sha256):
            refused = self.caches[lantern_id].put(sha256, size)
            if refused is not None:
                self._refused.setdefault(lantern_id, {})[sha256] = refused
                self.stats[f"lantern_{refused.value}"] += 1
            changed.append(lantern_id)
        self._changed(changed)

    def _give_held(self, lantern_ids: Iterable[str]) -> None:
        """After a manifest change: clips already on the shelf go to lanterns now wanting them."""
        for lantern_id in lantern_ids:
            cache = self.caches[lantern_id]
            for sha256, entry in self.wanted(lantern_id).items():
                if self.shelf.has(sha256) and not cache.has(sha256):
                    refused = cache.put(sha256, entry.size)
                    if refused is not None:
                        self._refused.setdefault(lantern_id, {})[sha256] = refused
