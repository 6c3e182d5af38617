"""Feed pollers against a local HTTP server (nothing reaches the internet): NINA dashboards by
ARS and a CAP Atom feed, with ETag / If-Modified-Since, back-off and a health line per feed."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lightctl.cap.feeds import FeedPoller, FeedSpec, add_feed, feeds
from lightctl.cli import app as cli
from lightctl.store import Database
from tests.integration.cap_support import NORTH, POLICY, SENDER, cap_time, info, message
from tests.integration.conftest import LiveService, make_settings
from tests.integration.resilience import wait_until
from tests.support import FIXTURES, FakeClock, MosquittoProcess

pytestmark = [pytest.mark.broker]

NINA = FIXTURES / "cap" / "nina" / "ha-fixture-warning-details-mowas-dwd-biwapp.json"
DASHBOARD = FIXTURES / "cap" / "nina" / "ha-fixture-dashboard-sample_warnings.json"
ARS = "081110000000"
LAST_MODIFIED = "Wed, 02 Dec 2026 10:00:00 GMT"


class Site:
    """Serves fixed documents; answers 304 to a matching If-None-Match / If-Modified-Since and
    records every request's path and conditional headers."""

    def __init__(self) -> None:
        self.docs: dict[str, tuple[bytes, str]] = {}
        self.requests: list[tuple[str, str | None, str | None]] = []
        self.fail = False
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers answer

            def empty(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                inm = self.headers.get("If-None-Match")
                ims = self.headers.get("If-Modified-Since")
                site.requests.append((self.path, inm, ims))
                if site.fail:
                    self.empty(500)
                    return
                doc = site.docs.get(self.path)
                if doc is None:
                    self.empty(404)
                    return
                body, kind = doc
                etag = f'"{abs(hash(body))}"'
                if inm == etag or ims == LAST_MODIFIED:
                    self.empty(304)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", LAST_MODIFIED)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.stop()


@pytest.fixture
def feed_service(
    inventory: Database, mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> Iterator[LiveService]:
    # A sender not named in the policy is trusted as far as the feed it came through is.
    policy = {**POLICY, "feed:atom-test": {"auto": True}}
    settings = make_settings(
        tmp_path, mosquitto.url, topic_root, cap_sources=policy, cap_feed_tick_s=0.2
    )
    live = LiveService(settings, inventory)
    live.start()
    yield live
    live.stop()


def nina_warning() -> tuple[str, bytes]:
    """The real MoWaS detail JSON, made current, for the northern fixture lanterns."""
    details = json.loads(NINA.read_text(encoding="utf-8"))
    warning = dict(details["mow.DE-BW-S-SE018-20211102-18-001"])
    now = datetime.now(UTC).replace(microsecond=0)
    ident = f"mow.TEST-{uuid.uuid4().hex[:8]}"
    warning.update(identifier=ident, sender=SENDER, msgType="Alert", sent=cap_time(now))
    warning.pop("references")
    german = dict(warning["info"][0], severity="Severe", expires=cap_time(now + timedelta(hours=1)))
    german["area"] = [{"areaDesc": "Bahnhofstrasse", "polygon": [NORTH]}]
    warning["info"] = [german]
    return ident, json.dumps(warning).encode()


def _messages(service: LiveService) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = service.http.get("/cap/messages").json()
    return found


def test_a_nina_dashboard_feed_plays_its_warning_then_polls_conditionally(
    feed_service: LiveService, inventory: Database, site: Site
) -> None:
    ident, warning = nina_warning()
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    dashboard[0]["id"] = ident
    site.docs[f"/api/dashboard/{ARS}.json"] = (json.dumps(dashboard).encode(), "application/json")
    site.docs[f"/api/warnings/{ident}.json"] = (warning, "application/json")
    add_feed(
        inventory, FeedSpec("nina-test", "nina", f"{site.url}/api", (ARS,), 1), datetime.now(UTC)
    )
    wait_until(
        lambda: any(
            m["identifier"] == ident and m["decision"] != "received"
            for m in _messages(feed_service)
        ),
        30,
        "the feed's warning to arrive and be decided",
    )
    got = next(m for m in _messages(feed_service) if m["identifier"] == ident)
    assert got["via"] == "feed:nina-test"
    assert got["decision"] == "played", got
    # The dashboard's second item has no detail here (404): the feed reports it and goes on.
    wait_until(
        lambda: any(p == f"/api/dashboard/{ARS}.json" and inm for p, inm, _ in site.requests),
        30,
        "a conditional second poll",
    )
    health = feed_service.http.get("/healthz").json()
    assert "nina-test" in health["feeds"]
    assert health["feeds"]["nina-test"].startswith("ok (polled")
    fetched = [p for p, _inm, _ims in site.requests if p == f"/api/warnings/{ident}.json"]
    assert len(fetched) == 1  # a warning already received is never fetched again
    alerts = feed_service.http.get("/alerts").json()
    assert [a["id"] for a in alerts] == got["alert_ids"]


def test_a_cap_atom_feed_delivers_its_entries_once(
    feed_service: LiveService, inventory: Database, site: Site
) -> None:
    body, ident, _ = message([info("de-DE", "Brand", "Fenster zu.")], sender="kreis@example.org")
    site.docs["/cap/1.xml"] = (body, "application/cap+xml")
    atom = (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<id>urn:test</id><title>t</title><updated>2026-12-02T10:00:00Z</updated>"
        "<entry><id>urn:test:1</id><title>Brand</title><updated>2026-12-02T10:00:00Z</updated>"
        '<link rel="alternate" type="application/cap+xml" href="/cap/1.xml"/></entry></feed>'
    )
    site.docs["/atom.xml"] = (atom.encode(), "application/atom+xml")
    add_feed(
        inventory, FeedSpec("atom-test", "cap", f"{site.url}/atom.xml", (), 1), datetime.now(UTC)
    )
    wait_until(
        lambda: any(
            m["identifier"] == ident and m["decision"] != "received"
            for m in _messages(feed_service)
        ),
        30,
        "the Atom entry's CAP message",
    )
    wait_until(
        lambda: any(p == "/atom.xml" and ims == LAST_MODIFIED for p, _inm, ims in site.requests),
        30,
        "a poll with If-Modified-Since",
    )
    assert [p for p, _i, _m in site.requests].count("/cap/1.xml") == 1
    got = next(m for m in _messages(feed_service) if m["identifier"] == ident)
    assert got["decision"] == "played", got  # by the policy of feed:atom-test
    pushed, _, _ = message([info("de-DE", "Brand", "x")], sender="kreis@example.org")
    direct = feed_service.http.post("/cap", content=pushed)
    assert direct.status_code == 422  # the same sender pushed directly is not in the policy
    row = next(f for f in feeds(inventory) if f.name == "atom-test")
    assert row.accepted == 1
    assert row.not_modified >= 1


def test_a_failing_feed_backs_off_and_says_so(tmp_path: Path, site: Site) -> None:
    db = Database(f"sqlite:///{tmp_path / 'feeds.db'}")
    db.create_all()
    clock = FakeClock(datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
    site.fail = True
    add_feed(db, FeedSpec("down", "cap", f"{site.url}/atom.xml", (), 60), clock())

    class Holds:
        def release_holds(self, _caller: Any) -> int:
            return 0

    poller = FeedPoller(db, lambda: Holds(), clock)  # type: ignore[arg-type,return-value]
    waits = []
    for _ in range(4):
        assert poller.poll_due() == 1
        row = feeds(db)[0]
        assert row.next_poll_at is not None
        wait = (row.next_poll_at.replace(tzinfo=UTC) - clock()).total_seconds()
        waits.append(wait)
        assert poller.poll_due() == 0  # not due again before its back-off ends
        clock.now += timedelta(seconds=wait)
    assert waits == [120, 240, 480, 960]
    line = poller.health()["down"]
    assert line.startswith("failing (4 in a row): ")
    assert "HTTP 500" in line
    site.fail = False
    site.docs["/atom.xml"] = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><id>x</id></feed>',
        "application/atom+xml",
    )
    poller.poll_due()
    assert poller.health()["down"].startswith("ok")
    poller.close()
    db.dispose()


def test_cli_adds_lists_and_removes_feeds(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    added = runner.invoke(cli, ["feeds", "add", "bonn", "--nina-ars", ARS, "--database-url", url])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(cli, ["feeds", "list", "--database-url", url])
    assert "bonn [nina]" in " ".join(listed.output.split())
    assert "waiting for the first poll" in " ".join(listed.output.split())
    bad = runner.invoke(cli, ["feeds", "add", "x", "--nina-ars", "0811", "--database-url", url])
    assert bad.exit_code == 2
    assert "ars" in bad.output
    neither = runner.invoke(cli, ["feeds", "add", "y", "--database-url", url])
    assert neither.exit_code == 2
    removed = runner.invoke(cli, ["feeds", "remove", "bonn", "--database-url", url])
    assert removed.exit_code == 0
