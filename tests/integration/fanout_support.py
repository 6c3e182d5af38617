"""Helpers of the protocol v2 fan-out tests at scale: a synthetic city as dense as the 100,000
lantern benchmark's, a broker-side count of group copies, and the wait for confirmed groups."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from lightctl.domain.delivery import DeliveryState, is_terminal
from lightctl.protocol import CommandEnvelope, Topics

# The 100,000-lantern benchmark spreads its lanterns over Zürich (0.177 x 0.115 degrees, about
# 13.4 x 12.8 km, ~580 per km2) on synthetic streets: 60 m bands cut in 1.2 km pieces, ~18
# lanterns each. A smaller city at the same density has the same streets and 250 m cells (~36
# lanterns each), so its groups are as full as at 100,000.
CITY_LANTERNS = 100_000
CITY_LON_DEG, CITY_LAT_DEG = 0.177, 0.115
WEST, SOUTH = 8.50, 47.36
BAND_LAT, BAND_LON, PIECE = 60 / 111_200, 60 / 75_300, 0.012
# A circle that holds every synthetic lantern: the city-wide warning.
CITY_WIDE = {"circle": {"lon": 8.54, "lat": 47.372, "radius_m": 20_000}, "confirm_large": True}


def synthetic_city(path: Path, count: int, seed: int = 14) -> Path:
    """``count`` lanterns (ids SYN000000...) at the 100,000 benchmark's density, each with a
    ``street`` property, as GeoJSON; import with ``street_field="street"``."""
    side = (count / CITY_LANTERNS) ** 0.5
    rng = np.random.default_rng(seed)
    lons = rng.uniform(WEST, WEST + CITY_LON_DEG * side, count)
    lats = rng.uniform(SOUTH, SOUTH + CITY_LAT_DEG * side, count)
    east_west = rng.random(count) < 0.5
    band = np.where(east_west, (lats - SOUTH) // BAND_LAT, (lons - WEST) // BAND_LON)
    piece = np.where(east_west, (lons - WEST) // PIECE, (lats - SOUTH) // PIECE)
    features = [
        {
            "type": "Feature",
            "id": f"SYN{i:06d}",
            "geometry": {"type": "Point", "coordinates": [round(x, 7), round(y, 7)]},
            "properties": {"street": f"{'Quer' if ew else 'Laengs'}strasse {int(b)}-{int(p)}"},
        }
        for i, (x, y, ew, b, p) in enumerate(
            zip(
                lons.tolist(),
                lats.tolist(),
                east_west.tolist(),
                band.tolist(),
                piece.tolist(),
                strict=True,
            )
        )
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


class GroupCopies:
    """Every command copy the broker hands on over a fan-out group topic of ``root``: which
    command, to which group (read from the signed envelope), counted by a client of our own.
    It subscribes again after a broker restart. At the ``at``-th copy it runs ``then`` (in
    paho's thread, the moment the broker handed that copy on) and sets ``reached``."""

    def __init__(
        self, broker_url: str, root: str, at: int = 0, then: Callable[[], None] | None = None
    ) -> None:
        self._topics = Topics(root)
        self._lock = threading.Lock()
        self.copies: list[tuple[str, str]] = []  # (command id, group audience), in order
        self.bad: list[str] = []
        self._at = at
        self._then = then
        self.reached = threading.Event()
        host, port = broker_url.removeprefix("mqtt://").split(":")
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"copies-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(1, 2)
        self._host, self._port = host, int(port)
        self._subscribed = threading.Event()

    def start(self) -> None:
        self._client.connect(self._host, self._port)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            raise AssertionError("the group-copy counter could not subscribe")

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            return
        client.subscribe(f"{self._topics.base_v2}/groups/+/+/cmd", qos=1)
        self._subscribed.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        audience = self._topics.audience_of_cmd(message.topic)
        try:
            env = CommandEnvelope.from_bytes(bytes(message.payload))
        except ValueError:
            with self._lock:
                self.bad.append(message.topic)
            return
        with self._lock:
            # A copy names its group inside what is signed; one that does not is a defect.
            if audience is None or env.aud != audience:
                self.bad.append(message.topic)
                return
            self.copies.append((env.id, audience))
            now_reached = bool(self._at) and len(self.copies) == self._at
        if now_reached:
            if self._then is not None:
                self._then()
            self.reached.set()

    def snapshot(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self.copies)

    def per_command(self) -> Counter[str]:
        return Counter(cmd for cmd, _aud in self.snapshot())


def wait_groups_confirmed(http: httpx.Client, count: int, timeout_s: float = 90) -> float:
    """Wait until ``count`` lanterns listen to exactly the groups the service gave them and the
    service uses groups; returns how long that took. Before it, a group copy cannot reach them
    and a city-wide warning goes out lantern by lantern (the first 100,000-lantern run)."""
    started = time.monotonic()
    counters: dict[str, int] = {}
    while time.monotonic() - started < timeout_s:
        try:
            counters = http.get("/metrics").json()["counters"]
        except (httpx.HTTPError, ValueError, KeyError):
            counters = {}
        if counters.get("fanout_ready") and counters.get("fanout_confirmed", 0) >= count:
            return time.monotonic() - started
        time.sleep(0.25)
    confirmed = counters.get("fanout_confirmed")
    raise AssertionError(f"{confirmed} of {count} lanterns confirmed their groups in {timeout_s} s")


class Progress:
    """The alert's counts and the fan-out counters every second, on a thread of its own (the
    service may be down meanwhile): printed with the test's figures, so a slow run says where
    its time went."""

    def __init__(self, http: httpx.Client, alert_id: str) -> None:
        self._http = httpx.Client(base_url=http.base_url, headers=http.headers, timeout=5)
        self._alert_id = alert_id
        self._started = time.monotonic()
        self._stop = threading.Event()
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> str:
        self._stop.set()
        self._thread.join(timeout=10)
        self._http.close()
        return "\n".join(self.lines)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            at = time.monotonic() - self._started
            try:
                body = self._http.get(f"/alerts/{self._alert_id}").json()
                counters = self._http.get("/metrics").json()["counters"]
            except (httpx.HTTPError, ValueError, KeyError):
                self.lines.append(f"{at:6.1f} s  service not answering")
                continue
            # Per channel, the lanterns not ended yet (the audio's counts in full).
            open_ = {
                c["channel"]: {
                    k: v for k, v in c["counts"].items() if not is_terminal(DeliveryState(k))
                }
                for c in body.get("commands", [])
                if c["channel"] != "audio"
            }
            sent = {k: counters.get(k, 0) for k in ("outbox_published", "outbox_group_published")}
            self.lines.append(f"{at:6.1f} s  {body.get('counts')}  {open_}  {sent}")


def every_command_ended(body: dict[str, Any]) -> bool:
    """Every command of the alert (not only its audio, which the alert's status follows) has
    every lantern in a terminal state: light and projection may end after the audio."""
    return bool(body.get("commands")) and all(
        is_terminal(DeliveryState(state)) for c in body["commands"] for state in c["counts"]
    )
