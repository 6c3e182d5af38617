"""How far apart neighbouring lanterns speak (issue 14): the spread of one sentence's start.

    python benchmarks/speech_sync.py --lanterns 600 --late-share 0.1

Simulated demo lanterns (real Zürich positions) at real time (speed 1) on a private Mosquitto
get one warning: a 5 s signal, then three 3 s sentences from a shared ``speech_at``. A share of
them fetch their first clip slowly (two 503 answers first, ~1.5 s of retries), so they join at
a later sentence boundary. For every pair of lanterns within 50 m (LV95 metres) and every
sentence both spoke, the difference of its start on the two is the spread; printed as median,
p95 and maximum, with the machine's load average.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# E402: run as a script from a checkout, the project is importable only after the line above.
from pyproj import Transformer  # noqa: E402

from firmware_sim.fleet import Fleet  # noqa: E402
from firmware_sim.inventory import LanternSpec  # noqa: E402
from firmware_sim.probe import ClipServer, ServiceProbe  # noqa: E402
from firmware_sim.timeline import expanded  # noqa: E402
from lightctl.protocol import AudioPayload, CommandEnvelope, SpeechItem, ToneItem, Topics  # noqa: E402
from tests.support import MosquittoProcess  # noqa: E402

SENTENCES = 3
SENTENCE_S = 3.0
NEIGHBOUR_M = 50.0


def positions(n: int) -> dict[str, tuple[float, float]]:
    data = json.loads((ROOT / "config/demo/lanterns.geojson").read_text(encoding="utf-8"))
    to_lv95 = Transformer.from_crs("EPSG:4326", "EPSG:2056", always_xy=True)
    out: dict[str, tuple[float, float]] = {}
    for feature in data["features"][:n]:
        lon, lat = feature["geometry"]["coordinates"]
        out[str(feature["id"])] = to_lv95.transform(lon, lat)
    return out


def command(clips: ClipServer, late: bool, issued: datetime) -> CommandEnvelope:
    speech = [
        SpeechItem(
            lang="de",
            url=clips.url(f"/late{i}.wav" if late and i == 0 else f"/s{i}.wav"),
            sha256=hashlib.sha256(f"sentence {i}".encode() * 500).hexdigest(),
            duration_s=SENTENCE_S,
        )
        for i in range(SENTENCES)
    ]
    return CommandEnvelope(
        id="sync-1",
        channel="audio",
        op="set",
        priority=1,
        issued_at=issued,
        expires_at=issued + timedelta(seconds=120),
        seq=1,
        payload=AudioPayload(
            program=[ToneItem(signal="warning", duration_s=5), *speech],
            speech_at=issued + timedelta(seconds=5),
        ),
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


async def measure(n: int, late_share: float, url: str) -> None:
    where = positions(n)
    ids = list(where)
    bodies = {f"/s{i}.wav": f"sentence {i}".encode() * 500 for i in range(SENTENCES)}
    late_count = int(len(ids) * late_share)
    late_ids = set(ids[:: max(1, len(ids) // late_count)][:late_count]) if late_count else set()
    clips = ClipServer(
        {**bodies, "/late0.wav": bodies["/s0.wav"]}, failures={"/late0.wav": 2 * len(late_ids)}
    ).start()
    topics = Topics("bench")
    probe = ServiceProbe(url, topics)
    probe.start()
    fleet = Fleet(url, [LanternSpec(i) for i in ids], speed=1, topics=topics, library=False)
    await fleet.start()
    try:
        assert await fleet.wait_connected(30)
        issued = datetime.now(UTC)
        for lantern_id in ids:
            probe.send(lantern_id, command(clips, lantern_id in late_ids, issued))
        done = await asyncio.to_thread(
            probe.wait_for, lambda: probe.count("done") + probe.count("failed") >= len(ids), 90
        )
        print(f"all ended: {done}; done {probe.count('done')}, failed {probe.count('failed')}")
    finally:
        await fleet.stop()
        probe.stop()
        clips.stop()
    payload = command(clips, False, issued).payload
    assert isinstance(payload, AudioPayload)
    offsets = [off for off, item in expanded(payload) if isinstance(item, SpeechItem)]
    # Keyed by (run of the shared clock, sentence): a lantern that joined the next run speaks
    # when the others are silent, so only the same sentence of the same run is compared.
    period = payload.duration_s()
    anchor = payload.speech_at or issued
    starts: dict[str, dict[tuple[int, int], datetime]] = {}
    joined_late = 0
    for lantern_id in ids:
        record = fleet.record(lantern_id).speech
        if not record:
            continue
        _cmd, first, at = record[0]
        joined_late += first > 0
        since = (at - anchor).total_seconds() - (offsets[first] - offsets[0])
        run = math.floor(since / period + 0.5)
        starts[lantern_id] = {
            (run, k): at + timedelta(seconds=offsets[k] - offsets[first])
            for k in range(first, SENTENCES)
        }
    spreads: list[float] = []
    pairs = 0
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            (xa, ya), (xb, yb) = where[a], where[b]
            if math.hypot(xa - xb, ya - yb) > NEIGHBOUR_M or a not in starts or b not in starts:
                continue
            pairs += 1
            for k in set(starts[a]) & set(starts[b]):
                spreads.append(abs((starts[a][k] - starts[b][k]).total_seconds()) * 1000)
    first_at = [s[(0, 0)] for s in starts.values() if (0, 0) in s]
    runs = sorted({run for s in starts.values() for run, _k in s})
    print(f"runs of the shared clock joined: {runs}")
    print(f"lanterns {len(ids)}, slow first clip {len(late_ids)}, joined late {joined_late}")
    print(
        f"neighbour pairs within {NEIGHBOUR_M:.0f} m: {pairs}, "
        f"sentence starts compared: {len(spreads)}"
    )
    if spreads:
        print(
            "spread of one sentence's start between neighbours: "
            f"median {percentile(spreads, 0.5):.1f} ms,"
            f" p95 {percentile(spreads, 0.95):.1f} ms, max {max(spreads):.1f} ms"
        )
    if first_at:
        late_by = [
            (t - payload.speech_at).total_seconds() * 1000 for t in first_at if payload.speech_at
        ]
        print(
            "on-time lanterns: first sentence after speech_at by median "
            f"{percentile(late_by, 0.5):.1f} ms, max {max(late_by):.1f} ms"
        )
    print(f"load average {os.getloadavg()[0]:.1f} (cores {os.cpu_count()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanterns", type=int, default=600)
    parser.add_argument("--late-share", type=float, default=0.1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker = MosquittoProcess(Path(tmp))
        broker.start()
        try:
            asyncio.run(measure(args.lanterns, args.late_share, broker.url))
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
