"""Clip downloads of a simulated fleet: bounded concurrency, retries with backoff, hash checks.

Under load (3,000 lanterns fetching the same two clips) a single timeout used to fail a lantern
with ``clip_unavailable``; a real lantern retries. Transport errors, 5xx, 429 and a body whose
hash does not match (a corrupted download) are retried up to ``ATTEMPTS`` times with doubling
backoff (capped) and jitter; a 4xx such as 404 is final at once. No retry starts past the
command's expiry (``deadline``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from firmware_sim.effects import Reason
from firmware_sim.faults import corrupt
from lightctl.protocol import SpeechItem

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0
# 8 attempts, waiting 0.5, 1, 2, 4, then 5 s (+ up to 25% jitter) between them: ~23 s of
# patience rides out a restart of the service that serves the clips (5-10 s, measured in the
# SIGKILL test) or a burst of 3,000 requests, inside a warning's lifetime (the deadline cuts it).
ATTEMPTS = 8
BACKOFF_S = 0.5
MAX_BACKOFF_S = 5.0
JITTER = 0.25
# A body with the wrong hash is tried 3 times (1.5 s): a corrupted transfer is fixed by fetching
# again, a server that keeps serving other bytes is not fixed by waiting.
HASH_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Download:
    """The outcome of fetching one clip: ``problem`` None means good; ``digests`` per body got."""

    problem: Reason | None
    digests: tuple[str, ...]
    attempts: int
    body: bytes | None = None  # the verified bytes (problem None)


class ClipFetcher:
    """One HTTP client and a semaphore for a whole fleet; ``fetch`` never raises on the network."""

    def __init__(
        self,
        concurrency: int,
        *,
        timeout_s: float = TIMEOUT_S,
        attempts: int = ATTEMPTS,
        backoff_s: float = BACKOFF_S,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.retries = 0
        self.requests = 0  # HTTP requests sent (a template warning with the library sends none)
        self._rng = rng or random.Random()  # noqa: S311 (retry jitter and test faults, not secrets)
        self._clock = clock
        self._http: httpx.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None

    async def start(self) -> None:
        self._http = httpx.AsyncClient(
            timeout=self.timeout_s,
            limits=httpx.Limits(
                max_connections=self.concurrency, max_keepalive_connections=self.concurrency
            ),
        )
        self._slots = asyncio.Semaphore(self.concurrency)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def fetch(
        self,
        clip: SpeechItem,
        *,
        deadline: datetime | None = None,
        corrupt_share: float = 0.0,
        who: str = "",
    ) -> Download:
        """Download until the hash matches, a final error, ``attempts`` or ``deadline``."""
        digests: list[str] = []
        problem: Reason = Reason.CLIP_UNAVAILABLE
        for attempt in range(1, self.attempts + 1):
            body, final = await self._get(clip, who)
            if body is not None:
                if corrupt_share and self._rng.random() < corrupt_share:
                    body = corrupt(body)
                digest = hashlib.sha256(body).hexdigest()
                digests.append(digest)
                if digest == clip.sha256:
                    return Download(None, tuple(digests), attempt, body)
                log.info("lantern %s: clip %s has sha256 %s", who, clip.url, digest)
                problem = Reason.BAD_CLIP_HASH
                final = final or len(digests) >= HASH_ATTEMPTS
            else:
                problem = Reason.CLIP_UNAVAILABLE
            if final or attempt == self.attempts:
                break
            pause = min(self.backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S)
            pause *= 1 + self._rng.random() * JITTER
            if deadline is not None and (deadline - self._clock()).total_seconds() <= pause:
                break
            self.retries += 1
            await asyncio.sleep(pause)
        return Download(problem, tuple(digests), attempt)

    async def _get(self, clip: SpeechItem, who: str) -> tuple[bytes | None, bool]:
        """(body, final): body None on failure; final when retrying cannot help (4xx)."""
        http, slots = self._http, self._slots
        if http is None or slots is None:
            raise RuntimeError("clip fetcher used before start()")
        async with slots:  # held only for the request, never across a backoff pause
            self.requests += 1
            try:
                response = await http.get(clip.url)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                log.info("lantern %s cannot fetch %s: %s", who, clip.url, exc)
                return None, isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol)
        if response.status_code >= 400:
            retryable = response.status_code >= 500 or response.status_code == 429
            log.info("lantern %s: %s answered %d", who, clip.url, response.status_code)
            return None, not retryable
        return response.content, False
