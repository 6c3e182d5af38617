"""A warning to every lantern of the city, measured the way a dispatcher lives it.

Run against a running stack (``lightctl demo`` prints the URL and the dispatcher's token):

    export LIGHTCTL_TOKEN=lct_...            # from the demo's banner
    python benchmarks/citywide_alert.py [--url http://127.0.0.1:8000] [--radius-m 6000]

Prints the preview count, how long the POST took, the time until every lantern was
``received`` and until every lantern ended, the final counts, and what the console's map
downloads: the first ``/lanterns/live`` answer, a poll while the warning plays and a poll once
the fleet is quiet again (raw and gzip bytes).
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import time
from typing import Any

import httpx

# Zürich's centre; 6 km reaches every lantern of the demo inventory.
CENTRE = {"lon": 8.54, "lat": 47.372}
MESSAGES = {
    "de": "Grossbrand. Schliessen Sie Fenster und Türen.",
    "en": "Major fire. Close windows and doors.",
}
TERMINAL = {"done", "failed", "rejected", "expired", "unreachable", "cancelled", "superseded"}


def feed_bytes(client: httpx.Client, since: str | None) -> tuple[int, int, str]:
    """Raw and gzip size of one live-feed answer, and the cursor for the next poll."""
    params = {"since": since} if since else {}
    response = client.get("/lanterns/live", params=params, headers={"Accept-Encoding": "identity"})
    response.raise_for_status()
    raw = response.content
    return len(raw), len(gzip.compress(raw)), str(response.json()["cursor"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--radius-m", type=float, default=6000)
    parser.add_argument("--timeout-s", type=float, default=900)
    args = parser.parse_args()
    token = os.environ.get("LIGHTCTL_TOKEN")
    if not token:
        print("set LIGHTCTL_TOKEN to the dispatcher token the demo printed", file=sys.stderr)
        return 2
    client = httpx.Client(
        base_url=f"{args.url.rstrip('/')}/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    target: dict[str, Any] = {"circle": {**CENTRE, "radius_m": args.radius_m}}
    preview = client.post("/targets/preview", json=target)
    preview.raise_for_status()
    print(f"preview: {preview.json()['lantern_count']} lanterns")
    first_raw, first_gz, cursor = feed_bytes(client, None)

    started = time.monotonic()
    response = client.post("/alerts", json={"target": target, "messages": MESSAGES})
    if response.status_code != 201:
        print(f"refused: {response.status_code} {response.text}", file=sys.stderr)
        return 1
    alert = response.json()
    took = time.monotonic() - started
    print(f"POST /alerts: 201 in {took:.2f} s, {alert['lantern_count']} lanterns")
    all_received: float | None = None
    busy_raw = busy_gz = 0
    while True:
        body = client.get(f"/alerts/{alert['id']}").json()
        counts: dict[str, int] = body["counts"]
        elapsed = time.monotonic() - started
        heard = sum(n for state, n in counts.items() if state not in ("planned", "published"))
        if all_received is None and heard == alert["lantern_count"]:
            all_received = elapsed
        if body["status"] != "sending" or set(counts) <= TERMINAL:
            break
        if elapsed > args.timeout_s:
            print(f"gave up after {elapsed:.0f} s: {counts}", file=sys.stderr)
            return 1
        raw, gz, cursor = feed_bytes(client, cursor)
        busy_raw, busy_gz = max(busy_raw, raw), max(busy_gz, gz)
        time.sleep(1.0)
    ended = time.monotonic() - started
    time.sleep(3.0)  # the fleet's retained state settles
    _raw, _gz, cursor = feed_bytes(client, cursor)
    quiet_raw, quiet_gz, _cursor = feed_bytes(client, cursor)
    print(f"every lantern acknowledged receipt after {all_received or ended:.1f} s")
    print(f"every lantern ended after {ended:.1f} s: {body['status']} {counts}")
    print(f"live feed, first answer: {first_raw:,} bytes ({first_gz:,} gzip)")
    print(f"live feed, largest poll while playing: {busy_raw:,} bytes ({busy_gz:,} gzip)")
    print(f"live feed, poll of a quiet fleet: {quiet_raw:,} bytes ({quiet_gz:,} gzip)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
