"""Resolve Targets against the inventory held in memory, and preview who a target reaches."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from lightctl.domain.targets import ResolvedTarget, TargetSpec
from lightctl.geo.limits import check_preview_size
from lightctl.geo.shapes import Loc
from lightctl.geo.targeting import DEFAULT_MAX_LANTERNS, LanternIndex
from lightctl.protocol import LanternState
from lightctl.store import Database
from lightctl.store import groups as group_store
from lightctl.store import lanterns as lantern_store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TargetPreview:
    """What a dispatcher sees before sending: who, with what, and who is offline right now."""

    lantern_ids: tuple[str, ...]
    capabilities: dict[str, int]
    offline: int
    availability_unknown: int
    streets: list[tuple[str, int]]
    without_street: int
    features: dict[str, Any] | None
    # Lanterns whose retained state names their speaker broken: they would stay silent.
    broken_speakers: tuple[str, ...] = ()


class TargetResolver:
    """Owns the lantern index of the stored inventory; rebuilds it when the inventory changed.

    Every resolution first reads the inventory's version (one primary-key lookup), which every
    import and street assignment raises, so changes by the CLI or another replica are seen too.
    """

    def __init__(
        self,
        db: Database,
        max_lanterns: int = DEFAULT_MAX_LANTERNS,
        reported: Callable[[str], LanternState | None] | None = None,
    ) -> None:
        self._db = db
        self._max_lanterns = max_lanterns
        # Each lantern's retained state as last reported (the ack consumer's memory), if known.
        self._reported = reported
        # (index, inventory version it was built from), swapped as one so readers never pair an
        # index with another index's version.
        self._current: tuple[LanternIndex, int | None] | None = None
        self._building = threading.Lock()

    def refresh(self) -> LanternIndex:
        """Build the index now if the inventory changed (at start-up, after an import)."""
        with self._db.session() as session:
            return self.index(session)

    def invalidate(self) -> None:
        """Forget the version: the next resolution rebuilds the index."""
        current = self._current
        if current is not None:
            self._current = (current[0], None)

    def index(self, session: Session) -> LanternIndex:
        """The index of the inventory as stored; rebuilt first if the version moved.

        While one thread rebuilds (1,000,000 lanterns take seconds), the others go on with the
        previous index rather than hold up a warning: the inventory as it was a moment ago.
        """
        version = lantern_store.inventory_version(session)
        current = self._current
        if current is not None and (current[1] == version or self._building.locked()):
            return current[0]
        with self._building:
            current = self._current
            if current is not None and current[1] == version:
                return current[0]  # another thread built it while this one waited
            started = time.perf_counter()
            rows = lantern_store.index_rows(session)
            index = LanternIndex(
                rows.ids,
                rows.lons,
                rows.lats,
                rows.street_keys,
                rows.capabilities,
                rows.online,
                rows.street_names,
            )
            self._current = (index, version)
        log.info(
            "lantern index built: %d lanterns, %d streets in %.2f s",
            len(index),
            len(rows.street_names),
            time.perf_counter() - started,
        )
        return index

    def resolve(self, session: Session, spec: TargetSpec, loc: Loc = ("target",)) -> ResolvedTarget:
        """The frozen lantern set of ``spec`` (422 on bad input, empty or too large results)."""
        index = self.index(session)
        groups = group_store.definitions(session) if spec.group_names() else {}
        return index.resolve(spec, groups, max_lanterns=self._max_lanterns, loc=loc)

    def outside_groups(self, lantern_ids: Iterable[str], groups: Iterable[str]) -> list[str]:
        """The given lanterns that none of ``groups`` reaches today, sorted: what a caller
        limited to those groups (a city app's own streets or area) may not touch."""
        with self._db.session() as session:
            known = group_store.definitions(session)
            own = tuple(sorted(g for g in groups if g in known))
            held: set[str] = set()
            if own:
                # Membership only, nothing is sent: no emptiness or size limits apply.
                spec = TargetSpec(groups=own, allow_empty=True, confirm_large=True)
                held = set(self.index(session).resolve(spec, known).lantern_ids)
        return sorted(set(lantern_ids) - held)

    def preview(self, spec: TargetSpec, with_features: bool = True, loc: Loc = ()) -> TargetPreview:
        """``resolve`` plus what the lanterns can do and who is offline now; ``loc`` is where the
        target sits in the request (the preview's body is the target itself)."""
        with self._db.session() as session:
            index = self.index(session)
            groups = group_store.definitions(session) if spec.group_names() else {}
            positions = index.resolve_positions(
                spec, groups, max_lanterns=self._max_lanterns, loc=loc
            )
            if with_features:
                check_preview_size(len(positions), ("query", "geojson"))
            ids = index.ids_at(positions)
            online = lantern_store.availability_of(session, ids)
        streets = index.street_counts(positions)
        return TargetPreview(
            lantern_ids=ids,
            capabilities=index.capability_counts(positions),
            offline=sum(1 for i in ids if online.get(i) is False),
            availability_unknown=sum(1 for i in ids if online.get(i) is None),
            streets=streets,
            without_street=len(ids) - sum(n for _name, n in streets),
            features=index.features(positions, online) if with_features else None,
            broken_speakers=self.broken_speakers(ids),
        )

    def broken_speakers(self, lantern_ids: Iterable[str]) -> tuple[str, ...]:
        """Those of the lanterns whose last reported state names the speaker broken, in order."""
        reported = self._reported
        if reported is None:
            return ()
        out = []
        for lantern_id in lantern_ids:
            state = reported(lantern_id)
            if state is not None and "speaker" in state.broken:
                out.append(lantern_id)
        return tuple(out)
