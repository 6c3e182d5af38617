"""The fleet's clip library bookkeeping costs work in proportion to the lanterns a change concerns.

Issue 14's 3,533-lantern benchmark ended every lantern `expired`: the template warning came
while the library was still arriving, every lantern fetched its 12 clips itself, and each clip
it got was handed again to every lantern whose library names it, each of whose clip reports was
rebuilt over every manifest at once. The simulator's one event loop spent minutes on that
instead of playing and acking. These tests count the reports built, so they fail on that bug
fast instead of timing it.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from firmware_sim import Fleet
from firmware_sim.clips import Download
from firmware_sim.inventory import LanternSpec
from lightctl.protocol import ClipEntry, ClipHolding, ClipManifest, SpeechItem

LANTERNS = 1_000
STREETS = 100
COMMON_CLIPS = 12


def entry(text: str) -> ClipEntry:
    sha = hashlib.sha256(text.encode()).hexdigest()
    url = f"http://clips.invalid/api/v1/audio/{sha}.wav"
    return ClipEntry(sha256=sha, url=url, size=100_000, lang="de", duration_s=2.5)


def manifest(key: str, entries: list[ClipEntry], lanterns: list[str] | None) -> bytes:
    digest = ClipManifest.digest_of(entries)
    return ClipManifest(key=key, digest=digest, entries=entries, lanterns=lanterns).to_bytes()


class CountedReports:
    """Wraps ``LibrarySync.holding``: counts the reports built, and stops a run gone quadratic
    (the old code built one report per lantern for every clip any lantern took)."""

    def __init__(self, fleet: Fleet, limit: int) -> None:
        self.built = 0
        self.limit = limit
        self._holding = fleet.library.holding
        fleet.library.holding = self  # type: ignore[method-assign]

    def __call__(self, lantern_id: str) -> ClipHolding:
        self.built += 1
        if self.built > self.limit:
            raise AssertionError(f"more than {self.limit} clip reports built")
        return self._holding(lantern_id)


class InstantFetcher:
    """The network, injected: every clip arrives at once with the right bytes."""

    def __init__(self) -> None:
        self.requests = 0

    async def fetch(self, clip: SpeechItem, **_kwargs: object) -> Download:
        self.requests += 1
        await asyncio.sleep(0)  # every lantern's request is out before the first answer
        return Download(None, (clip.sha256,), 1, clip.url.encode())


@pytest.fixture
def fleet() -> Fleet:
    specs = [LanternSpec(f"L{i:05d}") for i in range(LANTERNS)]
    return Fleet("mqtt://127.0.0.1:1", specs, per_connection=500)


def streets(fleet: Fleet) -> dict[str, list[str]]:
    ids = fleet.lantern_ids
    return {f"street.{s:03d}": ids[s::STREETS] for s in range(STREETS)}


def test_a_street_manifest_reports_only_the_lanterns_it_names(fleet: Fleet) -> None:
    reports = CountedReports(fleet, limit=3 * LANTERNS)
    common = [entry(f"common {i}") for i in range(COMMON_CLIPS)]
    fleet.library.take("common", manifest("common", common, None))
    for key, ids in streets(fleet).items():
        fleet.library.take(key, manifest(key, [entry(f"{key} {j}") for j in range(3)], ids))
    fleet._report_clips()

    # One report per lantern, however many manifests came before the report round.
    assert reports.built == LANTERNS
    first = fleet.lantern_ids[0]
    report = fleet.lantern(first).clip_report
    assert report is not None
    assert report.missing_count == COMMON_CLIPS + 3  # the common clips and its street's
    assert report.held == 0
    # A later manifest for one street rebuilds only its lanterns' reports.
    key, ids = "street.000", streets(fleet)["street.000"]
    fleet.library.take(key, manifest(key, [entry("new sentence")], ids))
    fleet._report_clips()
    assert reports.built == LANTERNS + len(ids)


def test_a_warning_fetched_by_every_lantern_gives_each_clip_once(fleet: Fleet) -> None:
    common = [entry(f"common {i}") for i in range(COMMON_CLIPS)]
    fleet.library.take("common", manifest("common", common, None))
    fleet._report_clips()
    reports = CountedReports(fleet, limit=3 * LANTERNS)
    fetcher = InstantFetcher()
    fleet.fetcher = fetcher  # type: ignore[assignment]
    deadline = datetime.now(UTC) + timedelta(minutes=4)
    clips = [
        SpeechItem(lang=e.lang, url=e.url, sha256=e.sha256, duration_s=e.duration_s) for e in common
    ]

    async def fetches(lantern_id: str) -> None:
        # What a lantern's playback does with clips it lacks: one after the other.
        unit = fleet.unit(lantern_id)
        for clip in clips:
            if not unit.cache.has(clip.sha256):
                assert await fleet._fetch(unit, clip, deadline) is None

    async def every_lantern_at_once() -> None:
        # The library not yet held when a city-wide warning comes: all lanterns ask together.
        await asyncio.gather(*(fetches(i) for i in fleet.lantern_ids))

    asyncio.run(every_lantern_at_once())
    fleet._report_clips()

    assert fetcher.requests == LANTERNS * COMMON_CLIPS  # each lantern downloads for itself
    for lantern_id in fleet.lantern_ids:
        report = fleet.lantern(lantern_id).clip_report
        assert report is not None
        assert report.held == COMMON_CLIPS
        assert report.missing_count == 0
        assert "common" in report.manifests
    assert reports.built == LANTERNS  # one report round: each lantern's report built once
