"""Two ``lightctl serve`` replicas on one PostgreSQL enforce one rate limit together: a caller
spreading requests over both gets the configured burst, not twice it, and so does an address
sending without credentials. (Sign-in back-offs and sessions are database rows already.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from lightctl.api.ratelimit import RateLimiter
from lightctl.errors import RateLimited
from lightctl.store import Database
from lightctl.store.ratelimits import DatabaseBuckets
from tests.integration.resilience import ServeProcess, process_postgres
from tests.integration.test_replica_races import two_replicas
from tests.support import MosquittoProcess

pytestmark = [pytest.mark.broker, pytest.mark.postgres]

# A burst of 12 refilled at one request per 100 s: nothing refills while the test runs.
BURST = 12
# Anonymous writes: 2 at once, one more every 30 s.
ANONYMOUS_PER_MIN = 2


@pytest.fixture
def shared_postgres() -> Iterator[tuple[str, Database]]:
    yield from process_postgres()


def _answers(replicas: list[ServeProcess], count: int, send: object) -> list[int]:
    """Status codes of ``count`` requests sent to the replicas in turn."""
    assert callable(send)
    return [int(send(replicas[i % len(replicas)]).status_code) for i in range(count)]


def test_two_replicas_share_one_request_budget(
    shared_postgres: tuple[str, Database],
    own_mosquitto: MosquittoProcess,
    topic_root: str,
    tmp_path: Path,
) -> None:
    url, db = shared_postgres
    db.create_all()
    replicas = two_replicas(url, own_mosquitto, topic_root, tmp_path)
    for replica in replicas:
        replica.env.update(
            {
                "LIGHTCTL_REQUEST_BURST": str(BURST),
                "LIGHTCTL_REQUESTS_PER_S": "0.01",
                "LIGHTCTL_ANONYMOUS_REQUESTS_PER_MIN": str(ANONYMOUS_PER_MIN),
            }
        )
    try:
        for replica in replicas:
            replica.start()
        codes = _answers(replicas, 2 * BURST, lambda r: r.http.get("/lanterns"))
        assert codes == [200] * BURST + [429] * BURST, codes
        refused = replicas[1].http.get("/lanterns")
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")

        def anonymous(replica: ServeProcess) -> httpx.Response:
            base = str(replica.http.base_url).rstrip("/")
            return httpx.post(f"{base}/alerts", json={}, timeout=30)

        codes = _answers(replicas, 3 * ANONYMOUS_PER_MIN, anonymous)
        assert codes == [401] * ANONYMOUS_PER_MIN + [429] * (2 * ANONYMOUS_PER_MIN), codes
    finally:
        for replica in replicas:
            replica.stop()


def test_a_shared_bucket_never_gives_out_more_than_it_holds(
    shared_postgres: tuple[str, Database],
) -> None:
    """Sixteen threads (standing in for replicas) take from one bucket of 30 at the same
    moment: exactly 30 takes succeed, the rest are told how long to wait."""
    _url, db = shared_postgres
    db.create_all()
    buckets = DatabaseBuckets(db)
    limiter = RateLimiter(30, 0.001, "requests", clock=lambda: 1_000.0, store=buckets)
    start = threading.Barrier(16)

    def takes() -> tuple[int, list[float]]:
        granted, waits = 0, []
        start.wait()
        for _ in range(5):
            try:
                limiter.take("token:shared")
                granted += 1
            except RateLimited as exc:
                waits.append(exc.retry_after_s)
        return granted, waits

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _i: takes(), range(16)))
    assert sum(g for g, _ in results) == 30
    waits = [w for _, ws in results for w in ws]
    assert len(waits) == 16 * 5 - 30
    assert min(waits) > 0
    with pytest.raises(RateLimited):
        limiter.check("token:shared")
