"""The simulated clip library touches only the lanterns a manifest names: a street's manifest
changes what its few lanterns want and report, never the whole fleet's."""

from __future__ import annotations

import hashlib

import pytest

from firmware_sim.cache import ClipCache, ClipShelf
from firmware_sim.clips import ClipFetcher
from firmware_sim.library import LibrarySync
from lightctl.protocol import ClipEntry, ClipManifest


def _entry(text: str) -> ClipEntry:
    sha = hashlib.sha256(text.encode()).hexdigest()
    return ClipEntry(sha256=sha, url=f"http://x/{sha}.wav", size=100, lang="de", duration_s=1.0)


def _manifest(key: str, entries: list[ClipEntry], lanterns: list[str] | None) -> bytes:
    return ClipManifest(
        key=key, digest=ClipManifest.digest_of(entries), entries=entries, lanterns=lanterns
    ).to_bytes()


@pytest.fixture
def fleet() -> tuple[LibrarySync, list[list[str]]]:
    caches = {f"L{i}": ClipCache() for i in range(50)}
    calls: list[list[str]] = []
    sync = LibrarySync(
        caches,
        ClipShelf(None),
        ClipFetcher(1),
        busy=lambda: False,
        changed=lambda ids: calls.append(sorted(ids)),
    )
    return sync, calls


def test_a_street_manifest_touches_only_its_lanterns(
    fleet: tuple[LibrarySync, list[list[str]]],
) -> None:
    sync, calls = fleet
    common, street_a, street_b = _entry("Achtung."), _entry("Badweg."), _entry("Seeweg.")
    sync.take("common", _manifest("common", [common], None))
    assert len(calls[-1]) == 50  # names every lantern
    sync.take("street.a", _manifest("street.a", [street_a], ["L1", "L2"]))
    assert calls[-1] == ["L1", "L2"]
    sync.take("street.b", _manifest("street.b", [street_b], ["L2", "L3"]))
    assert calls[-1] == ["L2", "L3"]
    assert set(sync.wanted("L2")) == {common.sha256, street_a.sha256, street_b.sha256}
    assert set(sync.wanted("L9")) == {common.sha256}
    # A new version of a street naming other lanterns: the old and the new ones are touched.
    sync.take("street.a", _manifest("street.a", [street_a, _entry("Neu.")], ["L4"]))
    assert calls[-1] == ["L1", "L2", "L4"]
    assert set(sync.wanted("L1")) == {common.sha256}
    # Withdrawn (an empty retained message): only its lanterns again.
    sync.take("street.b", b"")
    assert calls[-1] == ["L2", "L3"]
    assert set(sync.wanted("L3")) == {common.sha256}
    assert set(sync.wanted("L2")) == {common.sha256}  # street.a now names only L4


def test_a_clip_goes_only_to_the_lanterns_that_want_it(
    fleet: tuple[LibrarySync, list[list[str]]],
) -> None:
    sync, calls = fleet
    street = _entry("Badweg.")
    sync.take("street.a", _manifest("street.a", [street], ["L1", "L2"]))
    sync.shelf.put(street.sha256, b"x" * 100)
    sync.offer(street.sha256, 100)
    assert calls[-1] == ["L1", "L2"]
    assert sync.caches["L1"].has(street.sha256)
    assert not sync.caches["L3"].has(street.sha256)
    holding = sync.holding("L1")
    assert holding.manifests == {"street.a": ClipManifest.digest_of([street])}
    assert holding.missing_count == 0
    assert sync.holding("L3").manifests == {}
