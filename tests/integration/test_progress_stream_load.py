"""The progress stream survives its viewers: many clients dropping together leave later streams
live to the end (issue 13, finding 3), over a real socket."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lightctl.services.inventory import import_lanterns, import_streets
from lightctl.store import Database
from tests.integration.conftest import LANTERNS, STREETS, LiveService, make_settings
from tests.integration.resilience import ServeProcess
from tests.support import MosquittoProcess, free_port

pytestmark = [pytest.mark.broker]

VIEWERS = 20
# Whether a round of dropped viewers wedged the old code is a race (over a socket this test
# failed the old code in 3 of 5 runs; tests/unit/services/test_events.py replays the exact
# order every time), so there are many rounds, each followed by a probe stream that must get
# past its first event.
ROUNDS = 25


def _open_stream(service: LiveService, alert_id: str) -> socket.socket:
    return _stream_socket(service.settings.http_port, service.token, alert_id)


def _stream_socket(port: int, token: str, alert_id: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(
        (
            f"GET /api/v1/alerts/{alert_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    return sock


def _read_events(sock: socket.socket, count: int | None) -> tuple[list[dict[str, Any]], bool]:
    """The progress events read until ``count`` arrived (None: until the server ends the
    response), and whether the server ended it (the chunked body's last chunk)."""
    buffer = b""
    events: list[dict[str, Any]] = []
    while count is None or len(events) < count:
        chunk = sock.recv(65536)
        if not chunk:
            return events, True
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            for line in block.decode().splitlines():
                if line.startswith("data: "):
                    events.append(json.loads(line.removeprefix("data: ")))
        if buffer.endswith(b"0\r\n\r\n"):  # the terminating chunk: the stream ended
            return events, True
    return events, False


@pytest.fixture
def fast_service(
    inventory: Database,
    mosquitto: MosquittoProcess,
    topic_root: str,
    tmp_path: Path,
) -> Iterator[LiveService]:
    """The live service with progress streams re-sent every 0.3 s (not 5 s) without a change."""
    # Over 500 streams in a few seconds from one token: above the per-caller burst of 200.
    settings = make_settings(
        tmp_path, mosquitto.url, topic_root, progress_refresh_s=0.3, request_burst=10_000
    )
    live = LiveService(settings, inventory)
    live.start()
    yield live
    live.stop()


def test_viewers_dropping_together_leave_the_next_stream_live_to_the_end(
    fast_service: LiveService,
) -> None:
    service = fast_service
    # No lanterns answer: the alert stays "sending" until it is cancelled below.
    response = service.http.post(
        "/alerts", json={"target": {"streets": ["Poststrasse"]}, "messages": {"en": "Test."}}
    )
    assert response.status_code == 201, response.text
    alert_id = response.json()["id"]

    for _round in range(ROUNDS):
        viewers = [_open_stream(service, alert_id) for _ in range(VIEWERS)]
        for sock in viewers:
            first, _ended = _read_events(sock, 1)
            assert first[0]["status"] == "sending"
        for sock in viewers:  # just connected, all of them: drop them together
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        probe = _open_stream(service, alert_id)
        try:
            # The second event comes only through AlertEvents.wait (the socket's timeout fails
            # a stream gone silent).
            events, _ended = _read_events(probe, 2)
        finally:
            probe.close()
        assert len(events) == 2

    follower = _open_stream(service, alert_id)
    try:
        first, _ended = _read_events(follower, 1)
        assert first[0]["id"] == alert_id
        assert service.http.post(f"/alerts/{alert_id}/cancel").status_code == 200
        # The stream follows the cancelled alert until its releases are confirmed (no lantern
        # answers here, so it goes on): it must report the cancellation, and keep going. The
        # socket timeout (20 s) fails the test if it goes silent instead.
        seen: list[dict[str, Any]] = []
        while not seen or seen[-1]["status"] != "cancelled":
            more, ended = _read_events(follower, 1)
            assert not ended, "the stream ended before it reported the cancellation"
            seen += more
        after, ended = _read_events(follower, 2)
    finally:
        follower.close()
    assert set(seen[-1]["counts"]) == {"cancelled"}
    assert not ended  # still live while the releases are awaited
    assert len(after) == 2


def test_sigterm_ends_open_streams_and_the_process(
    own_mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'lightctl.db'}"
    db = Database(url)
    db.create_all()
    import_streets(db, STREETS)
    import_lanterns(db, LANTERNS)
    db.dispose()
    port, token = free_port(), f"lct_{secrets.token_urlsafe(32)}"
    env = {
        **os.environ,
        "LIGHTCTL_DATA_DIR": str(tmp_path / "data"),
        "LIGHTCTL_DATABASE_URL": url,
        "LIGHTCTL_MQTT_URL": own_mosquitto.url,
        "LIGHTCTL_MQTT_ROOT": topic_root,
        "LIGHTCTL_MQTT_CLIENT_ID": f"svc-{topic_root}"[:60],
        "LIGHTCTL_HTTP_HOST": "127.0.0.1",
        "LIGHTCTL_HTTP_PORT": str(port),
        "LIGHTCTL_PRERENDER_TEMPLATES": "false",
        "LIGHTCTL_BOOTSTRAP_TOKEN": token,
    }
    service = ServeProcess(env, tmp_path / "serve.log", port, token)
    service.start()
    streams: list[socket.socket] = []
    try:
        response = service.http.post(
            "/alerts", json={"target": {"streets": ["Poststrasse"]}, "messages": {"en": "Test."}}
        )
        assert response.status_code == 201, response.text
        alert_id = response.json()["id"]
        streams = [_stream_socket(port, token, alert_id) for _ in range(3)]
        for sock in streams:
            assert _read_events(sock, 1)[0][0]["status"] == "sending"
        assert service.proc is not None
        service.proc.terminate()
        try:
            code = service.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail("lightctl serve did not exit within 15 s of SIGTERM with open streams")
        # uvicorn shuts down cleanly, then raises SIGTERM again with the default handler.
        assert code in (0, -signal.SIGTERM), (tmp_path / "serve.log").read_text()[-2000:]
        assert "Application shutdown complete" in (tmp_path / "serve.log").read_text()
        for sock in streams:  # each stream was ended by the server, not cut by the test
            _events, ended = _read_events(sock, None)
            assert ended
    finally:
        for sock in streams:
            sock.close()
        service.stop()
