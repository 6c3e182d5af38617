"""Clips on the lantern before the emergency (issue 14): the service pushes the clip library,
lanterns report what they hold, and a template warning then plays without one HTTP request."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from firmware_sim import Fleet
from firmware_sim.inventory import LanternSpec
from firmware_sim.probe import ClipServer, ServiceProbe
from lightctl.protocol import (
    AudioPayload,
    ClipEntry,
    ClipHolding,
    ClipManifest,
    ClipMissing,
    CommandEnvelope,
    SpeechItem,
    ToneItem,
    Topics,
)
from lightctl.store import Database
from tests.integration.conftest import LiveService, make_settings, simulated_fleet
from tests.support import MosquittoProcess

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

STREET = "Bahnhofstrasse"


def poll(predicate: Any, timeout_s: float, what: str) -> Any:
    """Poll until ``predicate()`` returns something true; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def library_service(
    sqlite_inventory: Database, mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> Iterator[LiveService]:
    settings = make_settings(tmp_path, mosquitto.url, topic_root).model_copy(
        update={
            "prerender_templates": True,
            "clip_library": True,
            # Two templates in two languages keep the test's speech synthesis short.
            "clip_library_templates": ("fire_smoke", "gas_leak"),
            "clip_library_languages": ("de", "en"),
            "clip_library_pace_s": 0.0,
            "clip_library_quiet_s": 0.5,
        }
    )
    live = LiveService(settings, sqlite_inventory)
    live.start()
    yield live
    live.stop()


@pytest.fixture
def library_fleet(mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path) -> Iterator[Fleet]:
    sim = simulated_fleet(
        mosquitto.url, topic_root, data_dir=tmp_path / "data", clip_dir=tmp_path / "sim-clips"
    )
    sim.start()
    yield sim.fleet
    sim.stop()


def library_held(service: LiveService, lanterns: int) -> dict[str, Any] | None:
    """The library summary once every manifest is held completely by all its lanterns."""
    body: dict[str, Any] = service.http.get("/clips/library").json()
    manifests = body["manifests"]
    if not manifests or body["lanterns_reporting"] < lanterns:
        return None
    if any(m["complete"] != (m["lanterns"] or lanterns) for m in manifests):
        return None
    return body


def test_a_lantern_holding_the_library_plays_a_template_warning_without_any_http_request(
    library_service: LiveService, library_fleet: Fleet
) -> None:
    fleet = library_fleet
    count = len(fleet.lantern_ids)
    summary = poll(
        lambda: library_held(library_service, count), 120, "the library on every lantern"
    )
    keys = {m["key"] for m in summary["manifests"]}
    assert "common" in keys, keys
    assert any(k.startswith("street.") for k in keys), keys
    assert summary["incomplete_count"] == 0
    assert summary["published"]  # the service says every manifest is out
    # The gateway fetched each library clip once for its lanterns (and no lantern on its own).
    library_clips = {m["key"]: m["clips"] for m in summary["manifests"]}
    assert fleet.library_fetcher.requests == len(
        {sha for m in fleet.library.manifests.values() for sha in (e.sha256 for e in m.entries)}
    ), library_clips
    before = fleet.fetcher.requests + fleet.library_fetcher.requests
    assert fleet.fetcher.requests == 0

    response = library_service.http.post(
        "/alerts",
        json={
            "target": {"streets": [STREET]},
            "template": "gas_leak",
            "params": {"street": STREET},
            "languages": ["de", "en"],
        },
    )
    assert response.status_code == 201, response.text
    alert = response.json()
    done = library_service.wait_for(alert["id"], lambda b: b["status"] != "sending", 60)
    assert done["counts"] == {"done": alert["lantern_count"]}, done["counts"]

    # Not one HTTP request for the whole warning: every clip was on the lanterns already.
    assert fleet.fetcher.requests + fleet.library_fetcher.requests == before
    sent = [c["sha256"] for c in alert["clips"]]
    audio_id = next(c["id"] for c in done["commands"] if c["channel"] == "audio")
    on_street = [lid for lid in fleet.lantern_ids if fleet.record(lid).played]
    assert len(on_street) == alert["lantern_count"] > 5
    for lantern_id in on_street:
        record = fleet.record(lantern_id)
        assert not record.fetched, lantern_id
        assert [played for cmd, played in record.played if cmd == audio_id] == [tuple(sent)]
        statuses = [a.status.value for a in record.acks if a.cmd_id == audio_id]
        assert statuses == ["received", "playing", "done"], (lantern_id, statuses)


# ---- the lantern side alone: a probe publishes manifests, a clip server counts requests -------

LIB = {f"/c{i}.wav": f"RIFF library clip {i} ".encode() * 300 for i in range(1, 5)}
LIB_SHA = {path: hashlib.sha256(body).hexdigest() for path, body in LIB.items()}
# Served under a name whose manifest entry claims the hash of other bytes.
TAMPERED = "/tampered.wav"


def entry(server: ClipServer, path: str, sha: str | None = None) -> ClipEntry:
    return ClipEntry(
        sha256=sha or LIB_SHA[path],
        url=server.url(path),
        size=len(LIB.get(path, b"x")),
        lang="de",
        duration_s=2.0,
    )


def manifest(key: str, entries: list[ClipEntry]) -> ClipManifest:
    return ClipManifest(key=key, digest=ClipManifest.digest_of(entries), entries=entries)


def holding(probe: ServiceProbe, lantern_id: str) -> ClipHolding | None:
    state = probe.state(lantern_id)
    return state.clips if state is not None else None


def free_text(server: ClipServer, path: str) -> CommandEnvelope:
    issued = datetime.now(UTC)
    return CommandEnvelope(
        id=f"free-{path.strip('/')}",
        channel="audio",
        op="set",
        priority=1,
        issued_at=issued,
        expires_at=issued + timedelta(seconds=60),
        seq=1,
        payload=AudioPayload(
            program=[
                ToneItem(signal="warning", duration_s=1),
                SpeechItem(lang="de", url=server.url(path), sha256=LIB_SHA[path], duration_s=1),
            ],
            speech_at=issued + timedelta(seconds=0.5),
        ),
    )


@pytest.fixture
def lib_server() -> Iterator[ClipServer]:
    server = ClipServer({**LIB, TAMPERED: LIB["/c2.wav"] + b"!"})
    server.start()
    yield server
    server.stop()


def test_library_clips_are_checked_budgeted_refreshed_and_every_refusal_is_reported(
    mosquitto: MosquittoProcess,
    topic_root: str,
    probe: ServiceProbe,
    lib_server: ClipServer,
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        specs = [LanternSpec(i) for i in ("ok", "full")]
        fleet = Fleet(
            mosquitto.url,
            specs,
            speed=20,
            topics=Topics(topic_root),
            clip_dir=tmp_path / "clips",
            faults="cache=full@full",
        )
        await fleet.start()
        try:
            assert await fleet.wait_connected(10)
            bad = entry(lib_server, TAMPERED, sha=LIB_SHA["/c3.wav"])
            first = manifest(
                "common", [entry(lib_server, "/c1.wav"), entry(lib_server, "/c2.wav"), bad]
            )
            # A manifest whose digest does not match its entries: refused, counted, logged.
            forged = first.model_dump(mode="json")
            forged["digest"] = "0" * 64
            probe.publish_manifest("forged", json.dumps(forged).encode())
            probe.publish_manifest("common", first.to_bytes())

            def settled() -> bool:
                ok, full = holding(probe, "ok"), holding(probe, "full")
                return bool(
                    ok
                    and full
                    and ok.held == 2
                    and full.missing_count == 3
                    and {m.reason for m in ok.missing} == {"bad_clip_hash"}
                    and {m.reason for m in full.missing} == {"cache_full", "bad_clip_hash"}
                )

            assert await asyncio.to_thread(probe.wait_for, settled, 20), (
                holding(probe, "ok"),
                holding(probe, "full"),
            )
            ok, full = holding(probe, "ok"), holding(probe, "full")
            assert ok is not None
            assert full is not None
            # The bad hash is skipped with its reason; the good clips are held, not the manifest.
            assert ok.manifests == {}
            assert ok.missing == [ClipMissing(sha256=LIB_SHA["/c3.wav"], reason="bad_clip_hash")]
            assert full.problem == "cache_full"
            assert full.held == 0
            assert {m.reason for m in full.missing} == {"cache_full", "bad_clip_hash"}
            assert fleet.library.stats["manifest_refused"] == 1
            assert "common" in fleet.library.manifests
            assert "forged" not in fleet.library.manifests

            # A template changed: a new version drops c2 and the bad clip, adds c4. Only c4 is
            # downloaded; the lantern then holds the new version completely.
            second = manifest(
                "common", [entry(lib_server, "/c1.wav"), entry(lib_server, "/c4.wav")]
            )
            probe.publish_manifest("common", second.to_bytes())
            assert await asyncio.to_thread(
                probe.wait_for,
                lambda: (
                    (h := holding(probe, "ok")) is not None
                    and h.manifests == {"common": second.digest}
                ),
                20,
            ), holding(probe, "ok")
            assert lib_server.requests["/c1.wav"] == 1
            assert lib_server.requests["/c4.wav"] == 1

            # The full cache does not stop a warning: the clip plays from memory, and says so.
            probe.send("full", free_text(lib_server, "/c2.wav"))
            assert await asyncio.to_thread(
                probe.wait_for, lambda: "done" in probe.statuses("full"), 20
            ), probe.acks
            assert list(fleet.record("full").cache_refusals) == [(LIB_SHA["/c2.wav"], "cache_full")]
            # A clip the library holds plays without a request.
            before = sum(lib_server.requests.values())
            probe.send("ok", free_text(lib_server, "/c4.wav"))
            assert await asyncio.to_thread(
                probe.wait_for, lambda: "done" in probe.statuses("ok"), 20
            )
            assert sum(lib_server.requests.values()) == before
        finally:
            await fleet.stop()
            probe.publish_manifest("common", b"")

    asyncio.run(scenario())


def test_an_unwritable_cache_directory_is_reported_and_the_warning_still_plays(
    mosquitto: MosquittoProcess,
    topic_root: str,
    probe: ServiceProbe,
    lib_server: ClipServer,
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the clip directory should be")

    async def scenario() -> None:
        fleet = Fleet(
            mosquitto.url,
            [LanternSpec("solo")],
            speed=20,
            topics=Topics(topic_root),
            clip_dir=blocker / "clips",
        )
        await fleet.start()
        try:
            assert await fleet.wait_connected(10)
            probe.publish_manifest(
                "common", manifest("common", [entry(lib_server, "/c1.wav")]).to_bytes()
            )

            def reported() -> bool:
                h = holding(probe, "solo")
                return bool(h and h.problem and h.problem.startswith("cache_unwritable"))

            assert await asyncio.to_thread(probe.wait_for, reported, 20), holding(probe, "solo")
            h = holding(probe, "solo")
            assert h is not None
            assert h.missing[0].reason == "cache_unwritable"
            probe.send("solo", free_text(lib_server, "/c1.wav"))
            assert await asyncio.to_thread(
                probe.wait_for, lambda: "done" in probe.statuses("solo"), 20
            )
            assert fleet.record("solo").cache_refusals[0][1] == "cache_unwritable"
        finally:
            await fleet.stop()
            probe.publish_manifest("common", b"")

    asyncio.run(scenario())


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_clips_are_served_for_any_cache_immutable_with_etag_and_ranges(
    service: LiveService,
) -> None:
    data = b"RIFF a clip any CDN may keep " * 100
    clip = service.runtime.clips.put(data, "wav")
    url = f"{service.url}/api/v1/audio/{clip.filename}"
    with httpx.Client() as http:  # lanterns and caches fetch without credentials
        whole = http.get(url)
        assert whole.status_code == 200
        assert whole.content == data
        etag = whole.headers["etag"]
        assert etag == f'"{clip.sha256}"'
        assert whole.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert whole.headers["accept-ranges"] == "bytes"
        again = http.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        part = http.get(url, headers={"Range": "bytes=100-199", "If-Range": etag})
        assert part.status_code == 206
        assert part.content == data[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
        past = http.get(url, headers={"Range": f"bytes={len(data)}-"})
        assert past.status_code == 416
        assert past.headers["content-type"].startswith("application/problem+json")
        assert past.json()["errors"][0]["loc"] == ["header", "Range"]
        assert past.headers["content-range"] == f"bytes */{len(data)}"
