"""Feeds the service polls: a NINA dashboard for ARS keys, or a CAP/Atom feed URL.

Each poll sends ``If-None-Match``/``If-Modified-Since`` from the last answer; a failing feed
waits twice as long after each failure (at most an hour) and its health line says why. A
message that is refused is logged and counted; the feed goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import httpx

from lightctl.cap.intake import CapIntake
from lightctl.cap.outcomes import Caller
from lightctl.cap.xmlread import CAP11_NS, CAP12_NS, CapRefused, safe_xml
from lightctl.domain.clock import Clock
from lightctl.domain.records import CapFeed
from lightctl.errors import InvalidRequest, LightctlError
from lightctl.store import Database
from lightctl.store import cap as cap_store

log = logging.getLogger(__name__)

ATOM_NS = "http://www.w3.org/2005/Atom"
# NINA's public API (warnung.bund.de); the operator may point a feed at a mirror.
NINA_BASE = "https://warnung.bund.de/api31"
# Back-off: the interval doubles with every consecutive failure, up to an hour.
MAX_BACKOFF_S = 3600
# A feed counts as failing on /healthz after this many failures in a row (a blip is not news).
FAILING_AFTER = 3
# Feed entries remembered per feed so an unchanged entry is not fetched again.
SEEN_MAX = 1000
# The poller itself, as the audit trail names it.
FEED_SUBJECT = "feed-poller"


class FeedFailed(LightctlError):
    code = "feed_failed"


@dataclass(frozen=True, slots=True)
class FeedSpec:
    name: str
    kind: str  # nina | cap
    url: str
    ars: tuple[str, ...] = ()
    interval_s: int = 60


def add_feed(db: Database, spec: FeedSpec, now: datetime) -> CapFeed:
    if spec.kind not in ("nina", "cap"):
        raise InvalidRequest.at(("kind",), "must be nina or cap", spec.kind)
    if not spec.url.startswith(("http://", "https://")):
        raise InvalidRequest.at(("url",), "must be an http:// or https:// URL", spec.url)
    if spec.kind == "nina":
        bad = [a for a in spec.ars if not (a.isdigit() and len(a) == 12)]
        if not spec.ars or bad:
            raise InvalidRequest.at(("ars",), "give 12-digit ARS keys", bad[0] if bad else None)
    if spec.interval_s < 1:
        raise InvalidRequest.at(("interval_s",), "must be at least 1 s", spec.interval_s)
    feed = CapFeed(
        name=spec.name,
        kind=spec.kind,
        url=spec.url.rstrip("/") if spec.kind == "nina" else spec.url,
        ars=tuple(spec.ars),
        interval_s=spec.interval_s,
        enabled=True,
        created_at=now,
        validators={},
        next_poll_at=now,
    )
    with db.session() as session:
        if cap_store.get_feed(session, spec.name) is not None:
            raise InvalidRequest.at(("name",), "a feed of this name exists", spec.name)
        cap_store.add_feed(session, feed)
    return feed


def feeds(db: Database) -> list[CapFeed]:
    with db.session() as session:
        return cap_store.all_feeds(session)


def remove_feed(db: Database, name: str) -> bool:
    with db.session() as session:
        return cap_store.delete_feed(session, name)


def health_line(row: CapFeed, now: datetime) -> str:
    """``ok``, ``waiting for the first poll``, or ``failing (n in a row): why; next in s``."""
    if row.failures >= FAILING_AFTER:
        wait = max(0, int(((row.next_poll_at or now) - now).total_seconds()))
        return f"failing ({row.failures} in a row): {row.last_error}; next try in {wait} s"
    if row.last_ok_at is None:
        return "waiting for the first poll" if not row.failures else f"retrying: {row.last_error}"
    age = int((now - row.last_ok_at).total_seconds())
    return f"ok (polled {age} s ago; {row.accepted} accepted, {row.refused} refused)"


class FeedPoller:
    """Polls every due feed once per ``poll_due`` call; the caller schedules the calls."""

    def __init__(
        self,
        db: Database,
        intake: Callable[[], CapIntake],
        clock: Clock,
        client: httpx.Client | None = None,
    ) -> None:
        self._db = db
        self._intake = intake
        self._clock = clock
        self._client = client or httpx.Client(timeout=10.0, follow_redirects=True)
        self._caller = Caller(FEED_SUBJECT, ("feed",), "feed")

    def close(self) -> None:
        self._client.close()

    def health(self) -> dict[str, str]:
        now = self._clock()
        return {row.name: health_line(row, now) for row in feeds(self._db) if row.enabled}

    def has_work(self) -> bool:
        """Any enabled feed, or a held message waiting for its hold to end."""
        with self._db.session() as session:
            feed = cap_store.any_enabled_feed(session)
            held = cap_store.any_held(session)
        return feed or held

    def poll_due(self) -> int:
        """Poll every enabled feed whose time has come; returns how many were polled."""
        now = self._clock()
        due = [
            f
            for f in feeds(self._db)
            if f.enabled and (f.next_poll_at is None or f.next_poll_at <= now)
        ]
        for row in due:
            self.poll(row.name)
        self._intake().release_holds(self._caller)
        return len(due)

    def poll(self, name: str) -> None:
        with self._db.session() as session:
            row = cap_store.get_feed(session, name)
        if row is None:
            return
        validators: dict[str, Any] = copy.deepcopy(row.validators)
        caller = self._caller
        via = f"feed:{row.name}"
        counts = {"accepted": 0, "refused": 0, "not_modified": 0}
        try:
            if row.kind == "nina":
                self._poll_nina(row, validators, via, caller, counts)
            else:
                self._poll_cap(row, validators, via, caller, counts)
        except (httpx.HTTPError, FeedFailed, CapRefused, ValueError) as exc:
            reason = (
                exc.message if isinstance(exc, LightctlError) else f"{type(exc).__name__}: {exc}"
            )
            self._finish(row.name, validators, counts, reason[:500])
            log.warning("feed %s failed: %s", row.name, reason)
            return
        self._finish(row.name, validators, counts, None)

    # ---- one poll -----------------------------------------------------------------------------

    def _get(self, url: str, validators: dict[str, Any]) -> bytes | None:
        """The body, or None for 304 Not Modified; FeedFailed for any other non-200."""
        headers = {"Accept": "application/json, application/cap+xml, application/atom+xml"}
        etag, modified = (validators.get(url) or [None, None])[:2]
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        response = self._client.get(url, headers=headers)
        if response.status_code == 304:
            return None
        if response.status_code != 200:
            raise FeedFailed(f"{url} answered HTTP {response.status_code}")
        validators[url] = [response.headers.get("etag"), response.headers.get("last-modified")]
        return response.content

    def _poll_nina(
        self,
        row: CapFeed,
        validators: dict[str, Any],
        via: str,
        caller: Caller,
        counts: dict[str, int],
    ) -> None:
        for ars in row.ars:
            body = self._get(f"{row.url}/dashboard/{ars}.json", validators)
            if body is None:
                counts["not_modified"] += 1
                continue
            items = json.loads(body)
            if not isinstance(items, list):
                raise FeedFailed(f"dashboard {ars} is not a list")
            for item in items:
                ident = item.get("id") if isinstance(item, dict) else None
                if not isinstance(ident, str) or self._known(ident):
                    continue
                try:
                    detail = self._get(f"{row.url}/warnings/{ident}.json", validators)
                except FeedFailed as exc:  # one missing warning does not stop the others
                    log.warning("feed %s: %s", row.name, exc.message)
                    continue
                if detail is None:
                    continue
                geojson = self._client.get(f"{row.url}/warnings/{ident}.geojson")
                wrapped = json.dumps(
                    {
                        "warning": json.loads(detail),
                        "geojson": geojson.json() if geojson.status_code == 200 else None,
                    }
                ).encode()
                self._deliver(wrapped, "application/json", via, caller, counts)

    def _poll_cap(
        self,
        row: CapFeed,
        validators: dict[str, Any],
        via: str,
        caller: Caller,
        counts: dict[str, int],
    ) -> None:
        body = self._get(row.url, validators)
        if body is None:
            counts["not_modified"] += 1
            return
        root, _warnings = safe_xml(body)
        if root.tag in (f"{{{CAP12_NS}}}alert", f"{{{CAP11_NS}}}alert"):
            self._deliver(body, "application/cap+xml", via, caller, counts)
            return
        if root.tag != f"{{{ATOM_NS}}}feed":
            raise FeedFailed(f"{row.url} is neither a CAP message nor an Atom feed")
        seen: list[str] = validators.setdefault("seen", [])
        for entry in root.findall(f"{{{ATOM_NS}}}entry"):
            entry_id = (entry.findtext(f"{{{ATOM_NS}}}id") or "").strip()
            updated = (entry.findtext(f"{{{ATOM_NS}}}updated") or "").strip()
            key = f"{entry_id}|{updated}"
            if key in seen:
                continue
            link = _cap_link(entry)
            if link is None:
                continue
            message = self._get(urljoin(row.url, link), validators)
            if message is not None:
                self._deliver(message, "application/cap+xml", via, caller, counts)
            seen.append(key)
        del seen[:-SEEN_MAX]

    def _deliver(
        self, body: bytes, kind: str, via: str, caller: Caller, counts: dict[str, int]
    ) -> None:
        try:
            self._intake().receive(body, kind, caller, via)
        except InvalidRequest as exc:  # refused: audited by the intake, counted here
            counts["refused"] += 1
            log.warning("%s: message refused: %s", via, exc.message)
            return
        counts["accepted"] += 1

    def _known(self, identifier: str) -> bool:
        with self._db.session() as session:
            return cap_store.known_identifier(session, identifier)

    def _finish(
        self, name: str, validators: dict[str, Any], counts: dict[str, int], error: str | None
    ) -> None:
        now = self._clock()
        with self._db.session() as session:
            row = cap_store.get_feed(session, name)
            if row is None:
                return
            last_ok_at: datetime | None = None  # None: as it was
            if error is None:
                failures, last_error, last_ok_at = 0, "", now
                next_poll_at = now + timedelta(seconds=row.interval_s)
            else:
                failures, last_error = row.failures + 1, error
                wait = min(row.interval_s * 2**failures, MAX_BACKOFF_S)
                next_poll_at = now + timedelta(seconds=wait)
            cap_store.record_poll(
                session,
                name,
                validators,
                counts,
                now,
                failures=failures,
                last_error=last_error,
                last_ok_at=last_ok_at,
                next_poll_at=next_poll_at,
            )


def _cap_link(entry: Any) -> str | None:
    links = entry.findall(f"{{{ATOM_NS}}}link")
    for link in links:
        if "cap" in (link.get("type") or "").lower() and link.get("href"):
            return str(link.get("href"))
    for link in links:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link.get("href"))
    return None


class FeedRunner:
    """Runs ``poll_due`` every ``tick_s`` on one replica (a lease), off the event loop."""

    def __init__(self, poller: FeedPoller, may_run: Callable[[], bool], tick_s: float) -> None:
        self.poller = poller
        self._may_run = may_run
        self._tick_s = tick_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="cap-feeds")

    async def _run(self) -> None:
        while True:
            try:
                if await asyncio.to_thread(self._may_run):
                    await asyncio.to_thread(self.poller.poll_due)
            except Exception:  # a broken feed or database blip must not end the polling
                log.exception("CAP feed polling failed; retrying")
            await asyncio.sleep(self._tick_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await asyncio.to_thread(self.poller.close)
