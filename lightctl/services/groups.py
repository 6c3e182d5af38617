"""Named groups of lanterns: define once ("Marktplatz" by its polygon), target by name."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from lightctl.domain.clock import Clock, utc_now
from lightctl.domain.targets import GroupDefinition
from lightctl.errors import Conflict, InvalidRequest, NotFound
from lightctl.geo.targeting import LanternIndex
from lightctl.services.targets import TargetResolver
from lightctl.store import Database
from lightctl.store import groups as group_store

log = logging.getLogger(__name__)

# Names travel in URLs (/groups/{name}) and CAP areas: letters, digits, '_', '.', '-'.
_NAME = re.compile(r"^\w[\w.\-]{0,99}$")


@dataclass(frozen=True, slots=True)
class GroupReport:
    """A group's definition and who it reaches with today's inventory."""

    group: GroupDefinition
    created_at: datetime
    updated_at: datetime
    lantern_ids: tuple[str, ...] | None  # None when the group cannot be resolved right now
    problem: str | None = None


class GroupService:
    def __init__(self, db: Database, targets: TargetResolver, clock: Clock = utc_now) -> None:
        self._db = db
        self._targets = targets
        self._clock = clock

    def list(self) -> list[GroupReport]:
        with self._db.session() as session:
            stored = group_store.all_groups(session)
            index = self._targets.index(session)
        groups = {d.name: d for d, _row in stored}
        return [self._report(d, row.created_at, row.updated_at, groups, index) for d, row in stored]

    def get(self, name: str) -> GroupReport:
        with self._db.session() as session:
            found = group_store.get_group(session, name)
            if found is None:
                raise NotFound("group", name)
            groups = group_store.definitions(session)
            index = self._targets.index(session)
        definition, row = found
        return self._report(definition, row.created_at, row.updated_at, groups, index)

    def create(self, group: GroupDefinition) -> GroupReport:
        return self._save(group, must_be_new=True)

    def replace(self, group: GroupDefinition) -> GroupReport:
        """Create the group or replace its definition (alerts already sent keep their lanterns)."""
        return self._save(group, must_be_new=False)

    def delete(self, name: str) -> None:
        with self._db.session() as session:
            groups = group_store.definitions(session)
            if name not in groups:
                raise NotFound("group", name)
            users = sorted(
                g.name
                for g in groups.values()
                if g.target is not None and name in g.target.group_names()
            )
            if users:
                raise Conflict(f"group {name!r} is used by group(s) {', '.join(users)}")
            group_store.delete_group(session, name)
        log.info("group %s deleted", name)

    def _save(self, group: GroupDefinition, must_be_new: bool) -> GroupReport:
        if not _NAME.match(group.name):
            raise InvalidRequest.at(
                ("name",),
                "a group name is 1-100 letters, digits, '_', '.' or '-', starting with a letter "
                "or digit",
                group.name,
            )
        if (group.target is None) == (not group.lanterns):
            raise InvalidRequest.at(("lanterns",), "give either lanterns or target (not both)")
        if group.lanterns:
            group = replace(group, lanterns=tuple(dict.fromkeys(group.lanterns)))
        with self._db.session() as session:
            groups = group_store.definitions(session)
            if must_be_new and group.name in groups:
                raise Conflict(f"group {group.name!r} exists; PUT /groups/{group.name} replaces it")
            index = self._targets.index(session)
            if group.target is None:
                _positions, unknown = index.positions_of(group.lanterns)
                if unknown:
                    raise InvalidRequest.at(
                        ("lanterns", unknown[0]),
                        f"unknown lantern id ({len(unknown)} unknown in all)",
                        group.lanterns[unknown[0]],
                    )
            else:
                # Resolved as it will be used, with this definition in place: a group that reaches
                # itself through others is a cycle. Empty is fine (a square may get lanterns later).
                index.select(group.target, {**groups, group.name: group}, within=(group.name,))
            row = group_store.save_group(session, group, self._clock())
            groups[group.name] = group
        log.info("group %s saved (%s)", group.name, group.kind)
        return self._report(group, row.created_at, row.updated_at, groups, index)

    def _report(
        self,
        group: GroupDefinition,
        created_at: datetime,
        updated_at: datetime,
        groups: dict[str, GroupDefinition],
        index: LanternIndex,
    ) -> GroupReport:
        if group.target is None:
            positions, _missing = index.positions_of(group.lanterns)
        else:
            try:
                positions = index.select(group.target, groups, within=(group.name,))
            except InvalidRequest as exc:  # e.g. a street that no longer has lanterns
                return GroupReport(group, created_at, updated_at, None, exc.message)
        return GroupReport(group, created_at, updated_at, index.ids_at(np.sort(positions)))
