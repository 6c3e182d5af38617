"""Which fan-out groups a command may use (protocol v2): the rule that keeps fan-out precise.

Every v2 lantern reports the groups it listens to (its availability). A group may carry a copy
of a command only while every lantern that listens to it still needs that copy: then no lantern
outside the command's target can receive one addressed to a group it belongs to. Lanterns
provisioned with a group count as listening from the moment the service sends the membership
(before they confirm it), so a group never goes out to a lantern the book does not know of.
The inventory's members of a group count too, heard from or not: a lantern whose report has not
reached this service (lost, or still queued behind a fleet's retained reports) may hold the
membership it was given earlier and must not hear a copy meant for its neighbours.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FanOutPlan:
    """Group audiences with the lanterns each covers, and the lanterns left to their own topic."""

    groups: dict[str, frozenset[str]] = field(default_factory=dict)
    singles: frozenset[str] = frozenset()


class GroupBook:
    """Thread-safe: the consumer writes what lanterns report, the outbox plans from it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, tuple[str, ...]] = {}
        # Groups sent to a lantern that it has not confirmed yet: it may listen to them any
        # moment, so they count until it reports exactly them.
        self._pending: dict[str, tuple[str, ...]] = {}
        self._holders: dict[str, set[str]] = {}
        self._indexed: dict[str, frozenset[str]] = {}
        # The inventory's members per group, built once per inventory mapping (by identity).
        self._inventory: tuple[object, dict[str, frozenset[str]]] = (None, {})
        # Until the retained reports of the fleet have been read, a group's listeners are not
        # all known: no group is used before ``ready``.
        self._ready = False
        # Bumped whenever who listens to what may have changed: a plan that found no group
        # for a set of lanterns finds none again until then.
        self.version = 0

    @property
    def ready(self) -> bool:
        return self._ready

    @ready.setter
    def ready(self, value: bool) -> None:
        self._ready = value
        self.version += 1

    def __len__(self) -> int:
        return len(self._held)

    def held(self, lantern_id: str) -> tuple[str, ...] | None:
        """The groups the lantern listens to (None: a v1 lantern, or never heard of)."""
        return self._held.get(lantern_id)

    def holders(self, audience: str) -> frozenset[str]:
        with self._lock:
            return frozenset(self._holders.get(audience, ()))

    def confirmed(self, expected: Mapping[str, Collection[str]]) -> int:
        """How many lanterns of ``expected`` report listening to exactly their groups: those a
        group copy can reach. Lanterns that reported none yet, or others than they were sent,
        only ever get their own copy, so a fan-out measured before this reaches every lantern
        measures the per-lantern path (issue 14: at 100,000 the benchmark did)."""
        with self._lock:
            return sum(
                1
                for lantern_id, wanted in expected.items()
                if (held := self._held.get(lantern_id))
                and (held == wanted or set(held) == set(wanted))
            )

    def report(self, lantern_id: str, groups: Iterable[str] | None) -> bool:
        """What a lantern listens to now (None: it speaks protocol v1, no group reaches it).
        True when it had reported other groups before: a change of groups, not a first report."""
        with self._lock:
            before = self._held.get(lantern_id)
            changed = False
            if groups is None:
                self._held.pop(lantern_id, None)
            else:
                ordered = tuple(dict.fromkeys(groups))
                changed = before is not None and set(before) != set(ordered)
                self._held[lantern_id] = ordered
                pending = self._pending.get(lantern_id)
                if pending is not None and set(pending) == set(ordered):
                    del self._pending[lantern_id]
                    self.version += 1
            self._reindex(lantern_id)
            if before != self._held.get(lantern_id):
                self.version += 1
        return changed

    def provisioning(self, lantern_id: str, groups: Iterable[str]) -> None:
        """The service is about to send the lantern these groups: it counts as listening to
        them from now on, as well as to what it held, until it reports holding exactly them."""
        with self._lock:
            self._pending[lantern_id] = tuple(dict.fromkeys(groups))
            self._reindex(lantern_id)
            self.version += 1

    def listening(self, lantern_id: str) -> tuple[str, ...]:
        """Every group the lantern may receive: what it reported, then what it was sent."""
        return (*self._held.get(lantern_id, ()), *self._pending.get(lantern_id, ()))

    def _reindex(self, lantern_id: str) -> None:
        for old in self._indexed.pop(lantern_id, ()):
            members = self._holders.get(old)
            if members is not None:
                members.discard(lantern_id)
                if not members:
                    del self._holders[old]
        now = frozenset(self.listening(lantern_id))
        if now:
            self._indexed[lantern_id] = now
        for aud in now:
            self._holders.setdefault(aud, set()).add(lantern_id)

    def _members(self, expected: Mapping[str, Collection[str]]) -> dict[str, frozenset[str]]:
        """The inventory's lanterns per group (``expected``: each lantern's groups)."""
        seen, members = self._inventory
        if seen is not expected:
            by_group: dict[str, set[str]] = {}
            for lantern_id, groups in expected.items():
                for aud in groups:
                    by_group.setdefault(aud, set()).add(lantern_id)
            members = {aud: frozenset(ids) for aud, ids in by_group.items()}
            self._inventory = (expected, members)
        return members

    def plan(
        self, targets: Collection[str], expected: Mapping[str, Collection[str]] | None = None
    ) -> FanOutPlan:
        """Cover ``targets`` with groups all of whose listeners are in it; the rest are singles.
        ``expected``: the inventory's groups per lantern, whose members count as listeners.

        Each lantern is covered by the first of its groups (street before cell) that qualifies,
        so no lantern is sent the same command over two groups."""
        wanted = targets if isinstance(targets, (set, frozenset)) else set(targets)
        if not self.ready:
            return FanOutPlan({}, frozenset(wanted))
        inventory = self._members(expected) if expected is not None else {}
        usable: dict[str, bool] = {}
        covered: dict[str, set[str]] = {}
        singles: set[str] = set()
        with self._lock:
            for lantern_id in wanted:
                chosen = None
                for aud in self._held.get(lantern_id, ()):
                    ok = usable.get(aud)
                    if ok is None:
                        ok = usable[aud] = self._holders.get(aud, set()) <= wanted and (
                            inventory.get(aud, frozenset()) <= wanted
                        )
                    if ok:
                        chosen = aud
                        break
                if chosen is None:
                    singles.add(lantern_id)
                else:
                    covered.setdefault(chosen, set()).add(lantern_id)
        # A group whose listeners all chose another group of theirs is not worth a publish; one
        # that covers a single lantern costs the same as that lantern's own topic.
        groups: dict[str, frozenset[str]] = {}
        for aud, members in covered.items():
            if len(members) < 2:
                singles |= members
            else:
                groups[aud] = frozenset(members)
        return FanOutPlan(groups, frozenset(singles))
