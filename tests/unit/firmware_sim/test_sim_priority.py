"""The 16-slot priority array on its own: writes, releases and expiry against a plain model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.priority import PriorityArray

T0 = datetime(2025, 3, 1, tzinfo=UTC)

events = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.integers(1, 16), st.integers(1, 100)),
        st.tuples(st.just("release"), st.integers(1, 16), st.just(0)),
        st.tuples(st.just("expire"), st.just(0), st.integers(0, 60)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(events)
def test_effective_is_highest_live_slot_and_release_touches_one_slot(
    sequence: list[tuple[str, int, int]],
) -> None:
    array: PriorityArray[str] = PriorityArray()
    model: dict[int, tuple[str, datetime]] = {}
    now = T0
    for n, (kind, priority, amount) in enumerate(sequence):
        if kind == "set":
            value, expires = f"v{n}", now + timedelta(seconds=amount)
            array.set(priority, value, expires)
            model[priority] = (value, expires)
        elif kind == "release":
            others = {p: array.get(p) for p in range(1, 17) if p != priority}
            removed = array.release(priority)
            assert (removed.value if removed else None) == model.pop(priority, (None,))[0]
            assert {p: array.get(p) for p in range(1, 17) if p != priority} == others
        else:
            now += timedelta(seconds=amount)
            gone = array.expire(now)
            assert [s.priority for s in gone] == sorted(p for p, v in model.items() if v[1] <= now)
            model = {p: v for p, v in model.items() if v[1] > now}
        top = array.effective()
        if model:
            assert top is not None
            assert (top.priority, top.value) == (min(model), model[min(model)][0])
        else:
            assert top is None
        assert array.next_expiry() == (min(v[1] for v in model.values()) if model else None)


def test_priority_outside_1_to_16_is_refused() -> None:
    array: PriorityArray[str] = PriorityArray()
    with pytest.raises(ValueError, match=r"1\.\.16"):
        array.set(0, "x", T0)
    with pytest.raises(ValueError, match=r"1\.\.16"):
        array.release(17)
