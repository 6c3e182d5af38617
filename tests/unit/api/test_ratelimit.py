"""Failed-attempt back-off: free tries, then doubling waits, forgotten after a quiet while."""

from __future__ import annotations

import pytest

from lightctl.api.ratelimit import FailureBackoff
from lightctl.errors import RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_free_failures_then_doubling_back_off_up_to_the_cap() -> None:
    clock = Clock()
    backoff = FailureBackoff("tries", free=3, base_s=1, max_s=8, forget_s=60, clock=clock)
    assert [backoff.failed("k") for _ in range(3)] == [0, 0, 0]
    backoff.check("k")  # still free
    assert [backoff.failed("k") for _ in range(5)] == [1, 2, 4, 8, 8]
    with pytest.raises(RateLimited) as refused:
        backoff.check("k")
    assert refused.value.retry_after_s == 8
    backoff.check("other")  # keys are independent
    clock.now += 8
    backoff.check("k")  # the back-off ran out; the count stays
    assert backoff.failed("k") == 8


def test_success_and_a_quiet_while_forget_the_failures() -> None:
    clock = Clock()
    backoff = FailureBackoff("tries", free=1, base_s=1, max_s=100, forget_s=60, clock=clock)
    backoff.failed("a")
    backoff.failed("a")
    backoff.succeeded("a")
    assert backoff.failures("a") == 0
    backoff.failed("b")
    assert backoff.failed("b") == 1
    clock.now += 60
    assert backoff.failures("b") == 0
    assert backoff.failed("b") == 0  # clean again: the first failure is free
