"""Priority arbitration on the lantern, as properties over any sequence of events:

- the effective value of every output channel is the highest live slot (else the default, 16);
- a release at one priority never changes another slot, on any channel;
- after an all-clear at slot 1 and its expiry, the channel shows whatever still lives beneath;
- a release naming its command never clears another's, and a command sent ahead takes its slot
  at its start, on the lantern's own clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.lantern import Lantern
from lightctl.protocol import (
    Channel,
    CommandEnvelope,
    EmptyPayload,
    LightPayload,
    PathPayload,
    ProjectionPayload,
    ReleasePayload,
)

T0 = datetime(2025, 6, 1, 21, 0, tzinfo=UTC)
CHANNELS: tuple[Channel, ...] = ("light", "projection", "path")
PAYLOAD: dict[str, Any] = {
    "light": LightPayload(on=True, color="#00C853"),
    "projection": ProjectionPayload(pictogram="arrow", heading_deg=90),
    "path": PathPayload(level=50, mode="chase"),
}


def _send(
    lantern: Lantern, cmd_id: str, channel: str, op: str, priority: int, now: datetime, ttl: int
) -> None:
    env = CommandEnvelope(
        id=cmd_id,
        channel=channel,
        op=op,
        priority=priority,
        issued_at=now,
        expires_at=now + timedelta(seconds=ttl),
        payload=EmptyPayload() if op == "release" else PAYLOAD[channel],
        seq=1,
    )
    lantern.handle(env.to_bytes(), now)


Model = dict[str, dict[int, tuple[str, datetime]]]  # channel -> slot -> (cmd id, expires_at)


def _check(lantern: Lantern, model: Model, now: datetime) -> None:
    state = lantern.state(now)
    for channel in CHANNELS:
        live = {p: v for p, v in model[channel].items() if v[1] > now}
        shown = state.channels[channel]
        if live:
            top = min(live)
            assert (shown.priority, shown.cmd_id) == (top, live[top][0]), channel
        else:  # light and path have a default at slot 16, projection shows nothing
            assert shown.cmd_id is None
            assert shown.priority == (None if channel == "projection" else 16)


events = st.lists(
    st.one_of(
        st.tuples(
            st.just("set"), st.sampled_from(CHANNELS), st.integers(1, 16), st.integers(1, 300)
        ),
        st.tuples(st.just("release"), st.sampled_from(CHANNELS), st.integers(1, 16), st.just(0)),
        st.tuples(st.just("advance"), st.just("light"), st.just(0), st.integers(1, 120)),
    ),
    max_size=50,
)


@settings(max_examples=200, deadline=None)
@given(events)
def test_every_channel_shows_its_highest_live_slot_and_releases_touch_one_slot(
    sequence: list[tuple[str, str, int, int]],
) -> None:
    lantern = Lantern("L1")
    model: Model = {c: {} for c in CHANNELS}
    now = T0
    for n, (kind, channel, priority, amount) in enumerate(sequence):
        before = {(c, p): lantern.slot(c, p) for c in CHANNELS for p in range(1, 17)}
        if kind == "set":
            _send(lantern, f"c{n}", channel, "set", priority, now, amount)
            model[channel][priority] = (f"c{n}", now + timedelta(seconds=amount))
        elif kind == "release":
            _send(lantern, f"r{n}", channel, "release", priority, now, 60)
            model[channel].pop(priority, None)
            after = {(c, p): lantern.slot(c, p) for c in CHANNELS for p in range(1, 17)}
            assert {k: v for k, v in after.items() if k != (channel, priority)} == {
                k: v for k, v in before.items() if k != (channel, priority)
            }
        else:
            now += timedelta(seconds=amount)
            lantern.tick(now)
            model = {c: {p: v for p, v in s.items() if v[1] > now} for c, s in model.items()}
        _check(lantern, model, now)


beneath = st.lists(
    st.tuples(st.sampled_from(CHANNELS), st.integers(3, 16), st.integers(60, 7200)),
    max_size=12,
)
warnings = st.lists(
    st.tuples(st.sampled_from(CHANNELS), st.sampled_from(["set", "release"]), st.integers(1, 2)),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(beneath, warnings, st.integers(5, 50))
def test_after_an_all_clear_expires_each_channel_returns_to_what_lives_beneath(
    below: list[tuple[str, int, int]], warns: list[tuple[str, str, int]], clear_s: int
) -> None:
    """Steering (3..16) and schedules live beneath; warnings come and go at 1 and 2; the
    all-clear takes slot 1 on every channel for ``clear_s`` and is released by nobody."""
    lantern = Lantern("L1")
    model: Model = {c: {} for c in CHANNELS}
    now = T0
    for n, (channel, priority, ttl) in enumerate(below):
        _send(lantern, f"b{n}", channel, "set", priority, now, ttl)
        model[channel][priority] = (f"b{n}", now + timedelta(seconds=ttl))
    for n, (channel, op, priority) in enumerate(warns):
        _send(lantern, f"w{n}", channel, op, priority, now, 30)
        if op == "set":
            model[channel][priority] = (f"w{n}", now + timedelta(seconds=30))
        else:
            model[channel].pop(priority, None)
    for channel in CHANNELS:  # the all-clear: slot 1 everywhere, expiring by itself
        _send(lantern, f"clear-{channel}", channel, "set", 1, now, clear_s)
        model[channel][1] = (f"clear-{channel}", now + timedelta(seconds=clear_s))
    _check(lantern, model, now)
    now += timedelta(seconds=max(clear_s, 30))  # the all-clear and every warning have expired
    lantern.tick(now)
    assert all(lantern.slot(c, p) is None for c in CHANNELS for p in (1, 2))
    _check(lantern, model, now)


# ---- named releases and commands sent ahead ----------------------------------------------------

Held = tuple[str, str, int, datetime, datetime, int]  # id, channel, priority, starts, expires, n


def _release_named(
    lantern: Lantern, cmd_id: str, channel: str, priority: int, named: str, now: datetime
) -> None:
    env = CommandEnvelope(
        id=cmd_id,
        channel=channel,
        op="release",
        priority=priority,
        issued_at=now,
        expires_at=now + timedelta(seconds=60),
        payload=ReleasePayload(cmd_id=named),
        seq=1,
    )
    lantern.handle(env.to_bytes(), now)


def _run_clock(lantern: Lantern, now: datetime, target: datetime) -> None:
    """Let the lantern's own timer fire at every deadline up to ``target``, as the fleet does."""
    while (deadline := lantern.next_deadline()) is not None and deadline <= target:
        assert deadline >= now
        lantern.tick(deadline)
        now = deadline
    lantern.tick(target)


def _model_clock(model: Model, waiting: list[Held], target: datetime) -> None:
    """The same time passing in the model: at each instant expiries first, then starts."""
    while True:
        times = [v[1] for s in model.values() for v in s.values() if v[1] <= target]
        times += [h[3] for h in waiting if h[3] <= target]
        if not times:
            return
        at = min(times)
        for slots in model.values():
            for p in [p for p, v in slots.items() if v[1] <= at]:
                del slots[p]
        for h in sorted((h for h in waiting if h[3] <= at), key=lambda h: (h[3], h[5])):
            waiting.remove(h)
            if h[4] > at:
                model[h[1]][h[2]] = (h[0], h[4])


ahead_events = st.lists(
    st.one_of(
        st.tuples(
            st.just("set"), st.sampled_from(CHANNELS), st.integers(1, 16), st.integers(1, 300)
        ),
        st.tuples(
            st.just("ahead"), st.sampled_from(CHANNELS), st.integers(1, 16), st.integers(1, 300)
        ),
        st.tuples(st.just("release"), st.sampled_from(CHANNELS), st.integers(1, 16), st.just(0)),
        st.tuples(
            st.just("named"), st.sampled_from(CHANNELS), st.integers(1, 16), st.integers(0, 60)
        ),
        st.tuples(st.just("advance"), st.just("light"), st.just(0), st.integers(1, 120)),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(ahead_events)
def test_named_releases_and_commands_sent_ahead_keep_the_highest_live_slot_in_force(
    sequence: list[tuple[str, str, int, int]],
) -> None:
    """A release naming a command empties its slot only while that command holds it (or drops
    it while it waits) and never touches another slot; a command sent ahead takes its slot at
    its start on the lantern's clock, exactly as if it had arrived then."""
    lantern = Lantern("L1")
    model: Model = {c: {} for c in CHANNELS}
    waiting: list[Held] = []
    sent: list[str] = []
    now = T0
    for n, (kind, channel, priority, amount) in enumerate(sequence):
        before = {(c, p): lantern.slot(c, p) for c in CHANNELS for p in range(1, 17)}
        if kind == "set":
            _send(lantern, f"c{n}", channel, "set", priority, now, amount)
            model[channel][priority] = (f"c{n}", now + timedelta(seconds=amount))
            sent.append(f"c{n}")
        elif kind == "ahead":
            starts = now + timedelta(seconds=amount)
            held: Held = (f"c{n}", channel, priority, starts, starts + timedelta(seconds=90), n)
            env = CommandEnvelope(
                id=f"c{n}",
                channel=channel,
                op="set",
                priority=priority,
                issued_at=now,
                starts_at=starts,
                expires_at=held[4],
                payload=PAYLOAD[channel],
                seq=1,
            )
            lantern.handle(env.to_bytes(), now)
            waiting.append(held)
            sent.append(f"c{n}")
        elif kind in ("release", "named"):
            named = sent[amount % len(sent)] if kind == "named" and sent else None
            if named is None:
                _send(lantern, f"r{n}", channel, "release", priority, now, 60)
                model[channel].pop(priority, None)
            else:
                _release_named(lantern, f"r{n}", channel, priority, named, now)
                match = [h for h in waiting if (h[0], h[1], h[2]) == (named, channel, priority)]
                if match:
                    waiting.remove(match[0])
                elif model[channel].get(priority, ("", now))[0] == named:
                    del model[channel][priority]
            after = {(c, p): lantern.slot(c, p) for c in CHANNELS for p in range(1, 17)}
            assert {k: v for k, v in after.items() if k != (channel, priority)} == {
                k: v for k, v in before.items() if k != (channel, priority)
            }
        else:
            target = now + timedelta(seconds=amount)
            _run_clock(lantern, now, target)
            _model_clock(model, waiting, target)
            now = target
        _check(lantern, model, now)
