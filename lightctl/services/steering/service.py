"""Steering from request to lanterns and back: check, resolve, plan per lantern, store (outbox),
release exactly its own slots."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlmodel import Session

from lightctl.domain import steering as rules
from lightctl.domain.clock import Clock
from lightctl.domain.records import Steering
from lightctl.domain.steering import SteeringSpec
from lightctl.domain.targets import target_to_json
from lightctl.errors import Conflict, FieldProblem, Forbidden, InvalidRequest, NotFound, summarise
from lightctl.geo.guidance import RouteGuide, guide, travel_reversed
from lightctl.geo.shapes import line_lonlat
from lightctl.services.alerts import commands as build
from lightctl.services.releases import Sign, release_commands
from lightctl.services.sequence import SequenceCounter
from lightctl.services.steering import commands as plan
from lightctl.services.targets import TargetResolver
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import lanterns as lantern_store
from lightctl.store import steering as steering_store

log = logging.getLogger(__name__)

# Acks that count as delivered for light, projection and path.
DELIVERED = ("applied", "done")


@dataclass(frozen=True, slots=True)
class ChannelReport:
    lanterns: int  # lanterns sent a `set` on this channel
    counts: dict[str, int]  # delivery states of those `set`s
    release_counts: dict[str, int]
    unsupported: int  # targeted lanterns without the hardware (by the inventory), sent nothing

    @property
    def delivered(self) -> int:
        return sum(self.counts.get(s, 0) for s in DELIVERED)


@dataclass(frozen=True, slots=True)
class SteeringReport:
    row: Steering
    channels: dict[str, ChannelReport]
    command_count: int
    now: datetime
    lanterns: list[steering_store.LanternDelivery] | None = None

    @property
    def status(self) -> str:
        """active | released | ended."""
        if self.row.status == "released":
            return "released"
        return "ended" if self.now >= self.row.ends_at else "active"

    @property
    def unsupported(self) -> dict[str, list[str]]:
        return self.row.unsupported


class SteeringService:
    """Visitor flows (slot 10) and emergency guidance (slot 3) on lanterns until an end time."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        resolver: TargetResolver,
        on_stored: Callable[[], None] = lambda: None,
        sign: Sign | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._resolver = resolver
        self._on_stored = on_stored
        # Signs each envelope once, where it is built (as alerts do); one per distinct payload.
        self._sign: Sign = sign or (lambda env: env)
        self._lock = threading.Lock()  # a release and a create never interleave their slots
        with db.session() as session:
            self._seq = SequenceCounter(alert_store.max_seq(session))

    def create(
        self,
        spec: SteeringSpec,
        max_priority: int = rules.DEFAULT_CEILING,
        *,
        role: str,
        owner: str | None = None,
    ) -> SteeringReport:
        """Check everything, then store the steering, its commands and delivery rows at once.

        ``max_priority`` is the caller's ceiling: the highest slot (smallest number) it may write;
        ``role`` the caller's role the envelopes name (lanterns check the ceiling once more);
        ``owner`` who made it (``Principal.owner``), the only city app that sees and ends it.
        """
        now = self._clock()
        problems: list[FieldProblem] = []
        if not spec.channels():
            problems.append(FieldProblem((), "give at least one of light, projection or path"))
        payloads = _collect(problems, lambda: plan.checked_payloads(spec.channels(), _routed(spec)))
        _collect(problems, lambda: rules.check_priority(spec.priority, max_priority))
        ends_at = _collect(problems, lambda: rules.end_time(now, spec.ends_at, spec.ends_in_s))
        reverse = _collect(problems, lambda: self._direction(spec))
        ids = _collect(problems, lambda: self._resolve(spec))
        if problems:
            problems = _once(problems)  # guidance and resolution both read target.route
            raise InvalidRequest(summarise(problems), problems)
        steering_id = f"st_{uuid.uuid4().hex[:16]}"
        with self._db.session() as session:
            caps = lantern_store.capabilities_of(session, list(ids))
            route_guide = self._guide(session, spec, ids, bool(reverse))
        pace = 0.0
        if route_guide is not None and spec.guidance is not None:
            pace = plan.ms_per_metre(route_guide, spec.guidance.chase_speed_mps)
        planned, unsupported = plan.plan(payloads, ids, caps, route_guide, pace)
        commands = [
            (
                build.stored(
                    self._sign(
                        build.envelope(
                            alert_id=steering_id,
                            role=role,
                            channel=p.channel,
                            priority=spec.priority,
                            issued_at=now,
                            expires_at=ends_at,
                            exercise=False,
                            payload=p.payload,
                            seq=self._seq.next(),
                        )
                    )
                ),
                p.lantern_ids,
            )
            for p in planned
        ]
        row = Steering(
            id=steering_id,
            created_at=now,
            updated_at=now,
            status="active",
            priority=spec.priority,
            label=spec.label,
            target=target_to_json(spec.target),
            guidance=_guidance(spec),
            settings=spec.channels(),
            ends_at=ends_at,
            lantern_count=len(ids),
            unsupported=unsupported,
            owner=owner,
        )
        with self._lock, self._db.session() as session:
            steering_store.save_steering(session, row)
            alert_store.save_commands(session, steering_id, commands, now=now)
        log.info(
            "steering %s at slot %d stored: %d lanterns, %d commands",
            steering_id,
            spec.priority,
            len(ids),
            len(commands),
        )
        self._on_stored()
        return self.get(steering_id)

    def release(self, steering_id: str, *, role: str, scope: str | None = None) -> SteeringReport:
        """Empty this steering's slot on its lanterns, unless someone else wrote it since;
        ``role``: the releasing caller's, as the release envelopes name it; ``scope``: the
        only owner whose steering the caller may end (None: any)."""
        with self._lock:
            now = self._clock()
            with self._db.session() as session:
                row = _owned(steering_store.get_steering(session, steering_id), steering_id, scope)
                if row.status == "released":
                    raise Conflict(f"steering {steering_id} is already released", "released")
                if now >= row.ends_at:
                    raise Conflict(f"steering {steering_id} has ended", "ended")
                releases = release_commands(session, steering_id, now, self._seq, self._sign, role)
                alert_store.save_commands(session, steering_id, releases, now=now)
                if not steering_store.mark_released(session, steering_id, now):
                    raise Conflict(f"steering {steering_id} is already released", "released")
        self._on_stored()
        return self.get(steering_id)

    def get(
        self, steering_id: str, with_lanterns: bool = False, scope: str | None = None
    ) -> SteeringReport:
        """One steering; another owner's is refused (403) when ``scope`` names the caller."""
        with self._db.session() as session:
            row = _owned(steering_store.get_steering(session, steering_id), steering_id, scope)
            return self._report(session, row, with_lanterns)

    def recent(
        self, limit: int = 50, offset: int = 0, active: bool = False, scope: str | None = None
    ) -> list[SteeringReport]:
        """Newest first; with ``scope`` only that owner's."""
        now = self._clock()
        with self._db.session() as session:
            rows = steering_store.list_steering(
                session, limit, offset, now if active else None, scope
            )
            return [self._report(session, r, False) for r in rows]

    # ---- helpers ------------------------------------------------------------------------------

    def _resolve(self, spec: SteeringSpec) -> tuple[str, ...]:
        with self._db.session() as session:
            return self._resolver.resolve(session, spec.target).lantern_ids

    def _direction(self, spec: SteeringSpec) -> bool | None:
        """Whether travel runs against the line's order (None: no guidance asked)."""
        if spec.guidance is None:
            return None
        route = spec.target.route
        if route is None:
            raise InvalidRequest.at(
                ("guidance",), "guidance follows target.route: give the route as the target"
            )
        line = line_lonlat(route.line, ("target", "route", "line"))
        g = spec.guidance
        return travel_reversed(line, g.direction, g.destination, route.width_m, ("guidance",))

    def _guide(
        self, session: Session, spec: SteeringSpec, ids: Sequence[str], reverse: bool
    ) -> RouteGuide | None:
        if spec.guidance is None or spec.target.route is None:
            return None
        line = line_lonlat(spec.target.route.line, ("target", "route", "line"))
        positions = steering_store.positions_of(session, ids)
        lons = np.array([positions[i][0] for i in ids], dtype=np.float64)
        lats = np.array([positions[i][1] for i in ids], dtype=np.float64)
        return guide(line, lons, lats, reverse)

    def _report(self, session: Session, row: Steering, with_lanterns: bool) -> SteeringReport:
        counts = steering_store.state_counts(session, row.id)
        settings = row.settings
        unsupported = row.unsupported
        channels = {
            channel: ChannelReport(
                lanterns=sum(counts.get((channel, "set"), {}).values()),
                counts=counts.get((channel, "set"), {}),
                release_counts=counts.get((channel, "release"), {}),
                unsupported=len(unsupported.get(channel, [])),
            )
            for channel in settings
        }
        lanterns = steering_store.lantern_deliveries(session, row.id) if with_lanterns else None
        return SteeringReport(
            row, channels, steering_store.command_count(session, row.id), self._clock(), lanterns
        )


def _collect(problems: list[FieldProblem], step: Callable[[], Any]) -> Any:
    """Run one check; its mistakes join the others so the caller sees every one at once."""
    try:
        return step()
    except InvalidRequest as exc:
        problems.extend(exc.problems or [FieldProblem((), exc.message)])
        return None


def _owned(row: Steering | None, steering_id: str, scope: str | None) -> Steering:
    """The row if the caller may see and end it: any with no scope, else only the scope's own."""
    if row is None:
        raise NotFound("steering", steering_id)
    if scope is not None and row.owner != scope:
        raise Forbidden(
            f"steering {steering_id} was made by someone else: a city app sees and ends only "
            "the steerings it made"
        )
    return row


def _once(problems: list[FieldProblem]) -> list[FieldProblem]:
    """Each mistake named once, in the order found."""
    seen: set[tuple[tuple[str | int, ...], str]] = set()
    out = []
    for problem in problems:
        if (problem.loc, problem.msg) not in seen:
            seen.add((problem.loc, problem.msg))
            out.append(problem)
    return out


def _routed(spec: SteeringSpec) -> bool:
    return spec.guidance is not None and spec.target.route is not None


def _guidance(spec: SteeringSpec) -> dict[str, Any] | None:
    g = spec.guidance
    if g is None:
        return None
    return {
        "direction": g.direction,
        "destination": list(g.destination) if g.destination else None,
        "chase_speed_mps": g.chase_speed_mps,
    }
