"""The console's live feed: a full answer without a cursor, afterwards only what changed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lightctl.api.live_feed import FIELDS, LiveFeed, state_row
from lightctl.protocol import ChannelState, LanternState

AT = datetime(2025, 1, 1, tzinfo=UTC)


def _state(lantern_id: str, **channels: dict[str, Any]) -> LanternState:
    return LanternState(
        lantern=lantern_id,
        at=AT,
        channels={name: ChannelState(priority=10, value=value) for name, value in channels.items()},
    )


def _feed() -> LiveFeed:
    feed = LiveFeed(min_refresh_s=0)
    feed.refresh([("a", 8.5, 47.3, True), ("b", 8.6, 47.4, None), ("c", 8.7, 47.5, False)], {})
    return feed


def test_first_answer_lists_every_lantern_with_its_position() -> None:
    first = _feed().changes(None)
    assert first.full
    assert first.positions == {"a": (8.5, 47.3), "b": (8.6, 47.4), "c": (8.7, 47.5)}
    # Trailing defaults are left off: online idle, never reported, offline idle.
    assert first.rows == [["a", 1], ["b"], ["c", 0]]
    assert first.as_json()["fields"] == FIELDS


def test_a_quiet_fleet_answers_nothing_and_a_change_only_that_lantern() -> None:
    feed = _feed()
    cursor = feed.changes(None).cursor
    feed.refresh([("a", 8.5, 47.3, True), ("b", 8.6, 47.4, None), ("c", 8.7, 47.5, False)], {})
    quiet = feed.changes(cursor)
    assert (quiet.full, quiet.positions, quiet.rows, quiet.removed) == (False, {}, [], [])
    assert quiet.cursor == cursor

    arrow = {"pictogram": "arrow", "heading_deg": 92.46, "color": "#22D3EE"}
    feed.refresh(
        [("a", 8.5, 47.3, True), ("b", 8.6, 47.4, True), ("c", 8.7, 47.5, False)],
        {"a": _state("a", projection=arrow, light={"on": True, "color": "#FF0000"})},
    )
    delta = feed.changes(cursor)
    assert not delta.full
    assert delta.positions == {}
    assert sorted(delta.rows) == [["a", 1, 0, "#FF0000", "arrow", 92.5, "#22D3EE"], ["b", 1]]
    # An older cursor sees the same; the new cursor sees nothing.
    assert feed.changes(delta.cursor).rows == []


def test_moved_and_removed_lanterns_are_named() -> None:
    feed = _feed()
    cursor = feed.changes(None).cursor
    feed.refresh([("a", 8.51, 47.3, True), ("b", 8.6, 47.4, None), ("d", 8.8, 47.6, True)], {})
    delta = feed.changes(cursor)
    assert delta.positions == {"a": (8.51, 47.3), "d": (8.8, 47.6)}
    assert delta.removed == ["c"]
    assert sorted(delta.rows) == [["d", 1]]


def test_a_cursor_from_another_process_or_the_future_gets_everything() -> None:
    feed = _feed()
    generation, _, version = feed.changes(None).cursor.partition(".")
    assert feed.changes(f"{'0' * 8 if generation != '0' * 8 else '1' * 8}.{version}").full
    assert feed.changes(f"{generation}.{int(version) + 5}").full
    assert feed.changes(f"{generation}.x").full


def test_refresh_if_due_reads_at_most_once_per_interval() -> None:
    now = [0.0]
    feed = LiveFeed(clock=lambda: now[0], min_refresh_s=0.25)
    reads: list[float] = []

    def load() -> tuple[list[tuple[str, float, float, bool | None]], dict[str, LanternState]]:
        reads.append(now[0])
        return [("a", 8.5, 47.3, True)], {}

    feed.refresh_if_due(load)
    now[0] = 0.1
    feed.refresh_if_due(load)
    now[0] = 0.3
    feed.refresh_if_due(load)
    assert reads == [0.0, 0.3]


def test_state_row_reads_speaker_light_and_projection() -> None:
    state = _state(
        "x",
        audio={"program": [{"kind": "tone", "signal": "warning"}]},
        light={"on": False, "color": "#FF0000"},
        projection={"pictogram": "warning"},
    )
    assert state_row("x", True, state) == ("x", 1, 1, None, "warning", None, None, None)
    assert state_row("x", None, None) == ("x", None, 0, None, None, None, None, None)


def test_a_speaker_reported_broken_is_named_in_its_row_until_it_is_repaired() -> None:
    feed = _feed()
    cursor = feed.changes(None).cursor
    lanterns = [("a", 8.5, 47.3, True), ("b", 8.6, 47.4, None), ("c", 8.7, 47.5, False)]
    broken = LanternState(lantern="a", at=AT, broken=["speaker"])
    feed.refresh(lanterns, {"a": broken})
    delta = feed.changes(cursor)
    assert delta.rows == [["a", 1, 0, None, None, None, None, "speaker"]]
    feed.refresh(lanterns, {"a": LanternState(lantern="a", at=AT)})
    assert feed.changes(delta.cursor).rows == [["a", 1]]
