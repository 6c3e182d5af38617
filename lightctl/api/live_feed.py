"""The fleet's live state for the console's map: positions once, then only what changed.

Every lantern as a JSON object was ~440 KB per poll for the 3,533-lantern demo fleet, polled
every 1.5 s by each open console. Positions hardly ever change and most lanterns do nothing most
of the time, so the feed keeps one versioned snapshot: a client without a cursor gets everything
(positions and state rows), a client with a cursor gets only the lanterns whose state or position
changed since, which is a few dozen bytes while the fleet is quiet.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lightctl.protocol import ChannelState, LanternState

# The columns of one state row; trailing columns equal to their default are left off.
FIELDS = (
    "id",
    "online",  # 1 online, 0 offline, null never reported
    "audio_playing",  # 1 while an audio program holds the speaker
    "light_color",  # "#RRGGBB" while a coloured light is on
    "pictogram",  # what the projector shows (arrow, warning, ...)
    "heading_deg",  # the projected arrow's direction, degrees from north, clockwise
    "projection_color",
    "broken",  # fitted parts reported broken, comma-separated ("speaker"), else null
)
_DEFAULTS: tuple[Any, ...] = (None, None, 0, None, None, None, None, None)
# 6 decimals of a degree are ~0.1 m here: finer than any map drawing needs (lanterns and the
# street basemap alike), and ~15% smaller than full precision.
COORD_DECIMALS = 6
# Many consoles polling at once read the database once per this interval, not once each.
MIN_REFRESH_S = 0.25

Position = tuple[float, float]
StateRow = tuple[Any, ...]
LiveRow = tuple[str, float, float, bool | None]


@dataclass(frozen=True, slots=True)
class LiveChanges:
    """What a client needs to bring its picture from its cursor to ``cursor``."""

    cursor: str
    full: bool  # everything: the client drops lanterns not listed
    positions: dict[str, Position]
    rows: list[list[Any]]
    removed: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "cursor": self.cursor,
            "full": self.full,
            "fields": FIELDS,
            "positions": self.positions,
            "lanterns": self.rows,
            "removed": self.removed,
        }


class LiveFeed:
    """One versioned snapshot of the fleet; ``changes(cursor)`` answers full or delta.

    A cursor is ``<generation>.<version>``: the generation is random per process, so a cursor
    from before a restart or from another replica gets a full answer instead of a wrong delta.
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, min_refresh_s: float = MIN_REFRESH_S
    ) -> None:
        self._clock = clock
        self._min_refresh_s = min_refresh_s
        self._generation = secrets.token_hex(4)
        self._version = 0
        self._refreshed_at = -math.inf
        self._rows: dict[str, StateRow] = {}
        self._positions: dict[str, Position] = {}
        self._row_version: dict[str, int] = {}
        self._position_version: dict[str, int] = {}
        self._removed: dict[str, int] = {}
        self._lock = threading.Lock()  # guards the snapshot
        self._refreshing = threading.Lock()  # one database read at a time, in order

    def refresh_if_due(
        self, load: Callable[[], tuple[Iterable[LiveRow], Mapping[str, LanternState]]]
    ) -> None:
        """Read the fleet again (``load``) unless another caller did so moments ago."""
        with self._refreshing:
            if self._clock() - self._refreshed_at < self._min_refresh_s:
                return
            lanterns, reported = load()
            self.refresh(lanterns, reported)
            self._refreshed_at = self._clock()

    def refresh(self, lanterns: Iterable[LiveRow], reported: Mapping[str, LanternState]) -> None:
        """Take the fleet as it is now: (id, lon, lat, online) rows and the reported states."""
        rows: dict[str, StateRow] = {}
        positions: dict[str, Position] = {}
        for lantern_id, lon, lat, online in lanterns:
            rows[lantern_id] = state_row(lantern_id, online, reported.get(lantern_id))
            positions[lantern_id] = (round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS))
        with self._lock:
            version = self._version + 1
            changed = False
            for lantern_id, row in rows.items():
                if self._rows.get(lantern_id) != row:
                    self._row_version[lantern_id] = version
                    changed = True
                if self._positions.get(lantern_id) != positions[lantern_id]:
                    self._position_version[lantern_id] = version
                    changed = True
                self._removed.pop(lantern_id, None)
            for lantern_id in self._rows.keys() - rows.keys():
                self._removed[lantern_id] = version
                del self._row_version[lantern_id]
                del self._position_version[lantern_id]
                changed = True
            self._rows, self._positions = rows, positions
            if changed:
                self._version = version

    def changes(self, cursor: str | None) -> LiveChanges:
        """Everything (no cursor, or one this feed did not issue), else what changed since."""
        with self._lock:
            since = self._version_of(cursor)
            now = f"{self._generation}.{self._version}"
            if since is None:
                return LiveChanges(
                    now, True, dict(self._positions), [_trim(r) for r in self._rows.values()], []
                )
            return LiveChanges(
                now,
                False,
                {i: self._positions[i] for i, v in self._position_version.items() if v > since},
                [_trim(self._rows[i]) for i, v in self._row_version.items() if v > since],
                [i for i, v in self._removed.items() if v > since],
            )

    def _version_of(self, cursor: str | None) -> int | None:
        if not cursor:
            return None
        generation, _, version = cursor.partition(".")
        if generation != self._generation or not version.isdigit():
            return None
        number = int(version)
        return number if number <= self._version else None


def state_row(lantern_id: str, online: bool | None, state: LanternState | None) -> StateRow:
    """One lantern's row in ``FIELDS`` order (untrimmed)."""
    channels = state.channels if state is not None else {}
    sound = _value(channels.get("audio"))
    light = _value(channels.get("light"))
    shown = _value(channels.get("projection"))
    color = light.get("color") if light.get("on") else None
    pictogram = shown.get("pictogram")
    heading = shown.get("heading_deg")
    projection_color = shown.get("color")
    has_projection = isinstance(pictogram, str)
    return (
        lantern_id,
        None if online is None else int(online),
        # A program holds the speaker from the command's arrival until playback ends or expires.
        1 if sound.get("program") else 0,
        color if isinstance(color, str) else None,
        pictogram if has_projection else None,
        round(float(heading), 1) if has_projection and isinstance(heading, int | float) else None,
        projection_color if has_projection and isinstance(projection_color, str) else None,
        ",".join(sorted(state.broken)) if state is not None and state.broken else None,
    )


def _trim(row: StateRow) -> list[Any]:
    end = len(row)
    while end > 2 and row[end - 1] == _DEFAULTS[end - 1]:
        end -= 1
    if end == 2 and row[1] is None:
        end = 1
    return list(row[:end])


def _value(channel: ChannelState | None) -> dict[str, Any]:
    return channel.value if channel is not None and channel.value is not None else {}
