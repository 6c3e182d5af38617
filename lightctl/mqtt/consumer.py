"""Consumes acks, availability and state from lanterns; moves deliveries; never crashes on junk.

Anything unusable (a foreign topic, an oversized or non-JSON payload, an ack that fails the wire
model, names another lantern than its topic, or acks a command we never sent it) is logged with
its topic, counted in ``stats`` (``GET /api/v1/metrics``) and ignored. A batch the database
refuses is retried one message at a time, so one poisonous message cannot take 499 good ones
with it.

An ack for a command we did send that lantern is still refused (``ack_refused_<why>``, logged)
when it is not the lantern's own word: unsigned or wrongly signed from a lantern with an ack key
(``services/access/ack_trust.py``), or out of order for the command
(``domain/delivery.judge_ack``: a delivery held for approval, a status that kind of command
never gets, a `done` without exactly the clips sent).

Availability also drives re-sending: a lantern that comes back (announces itself live after a
reconnect, changes its boot number, or was offline) gets its live commands again (``on_return``).

Protocol v2: a lantern's availability lists the fan-out groups it listens to (``GroupBook``); a
name that does not parse as ``groups/<kind>/<key>`` is skipped and counted
(``dropped_bad_group``), and a lantern that holds other groups than its inventory gives it is
provisioned again (``on_provision``). A gateway's ``AckBatch`` is taken ack by ack as if each
came on its lantern's own topic; an ack for a lantern the inventory does not know is skipped and
counted (``ack_unknown_lantern``, logged with the gateway's topic).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlmodel import Session

from lightctl.domain.delivery import AckedCommand, AckRefusal, DeliveryState, judge_ack
from lightctl.domain.fanout import GroupBook
from lightctl.mqtt.link import IncomingMessage
from lightctl.protocol import (
    Ack,
    AckBatch,
    AudioPayload,
    Availability,
    CommandEnvelope,
    LanternState,
    SpeechItem,
    TopicKind,
    Topics,
    parse_group_audience,
)
from lightctl.services.access.ack_trust import AckForgery, AckTrust
from lightctl.services.delivery.outbox import Return
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import lantern_keys as key_store
from lightctl.store import lanterns as lantern_store
from lightctl.store.db import retrying
from lightctl.store.tables import LanternRow

log = logging.getLogger(__name__)

# Acks are ~150 bytes; anything far larger is not an ack and is dropped unparsed.
MAX_PAYLOAD_BYTES = 16384
# A gateway's batch holds up to 500 acks of ~200-400 bytes (signed ones are longer).
MAX_BATCH_BYTES = 262144
# The retained reports of a whole fleet arrive in the first seconds after connecting; groups are
# used once the queue has run dry this long after the consumer started (GroupBook.ready).
GROUPS_WARM_S = 2.0
# Apply up to this many messages per transaction: one commit per ack would cap SQLite near 500/s.
BATCH = 500
# A flood of junk must not flood the log: one warning per kind of problem per 10 s, the rest
# counted (and logged at DEBUG).
LOG_EVERY_S = 10.0
# Reported states kept in memory: one per lantern, capped so junk lantern ids cannot grow it.
REPORTED_CAP = 200_000
# Commands judged acks against, kept parsed: a warning is one to four commands, each acked by
# thousands of lanterns; 4,096 covers every live command of a busy city.
COMMAND_CACHE = 4096
# What a replica without the ack lease keeps: longer than the lease takes to pass on (LEASE).
HOLD_S = 30.0
HOLD_CAP = 200_000


@dataclass(frozen=True, slots=True)
class _Seen:
    """One availability message as the batch read it."""

    lantern_id: str
    status: Availability
    retained: bool


class Consumer:
    def __init__(
        self,
        db: Database,
        queue: asyncio.Queue[IncomingMessage],
        topics: Topics,
        clock: Callable[[], datetime],
        on_change: Callable[[set[str]], None] = lambda _ids: None,
        on_return: Callable[[dict[str, Return]], None] = lambda _ids: None,
        trust: AckTrust | None = None,
        groups: GroupBook | None = None,
        memberships: Callable[[], Mapping[str, tuple[str, ...]]] = dict,
        on_provision: Callable[[list[str]], None] = lambda _ids: None,
    ) -> None:
        self._db = db
        self.groups = groups if groups is not None else GroupBook()
        self._memberships = memberships
        self._on_provision = on_provision
        self._started = time.monotonic()
        self._trust = trust or AckTrust()
        self._commands: OrderedDict[str, AckedCommand | None] = OrderedDict()
        self._queue = queue
        self._topics = topics
        self._clock = clock
        self._on_change = on_change
        self._on_return = on_return
        self.stats: Counter[str] = Counter()
        self.reported: dict[str, LanternState] = {}
        self._gateway_online: dict[str, bool] = {}
        self._last_warning: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()
        self._stopping = False
        # Replicas on one database: only the holder of the ack lease writes what lanterns report
        # (see Runtime); the others keep the last HOLD_S seconds of it to take over without loss.
        self.leading = True
        self._held: deque[tuple[float, Ack | _Seen | str]] = deque()

    async def run(self) -> None:
        self._started = time.monotonic()
        while not self._stopping:
            try:
                first = await asyncio.wait_for(self._queue.get(), timeout=GROUPS_WARM_S)
            except TimeoutError:
                self._warm()
                continue
            batch = [first]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            changed = await self._apply_safely(batch)
            if changed:
                self._on_change(changed)
            if self._queue.empty():
                self._warm()

    def _warm(self) -> None:
        """The retained reports have been read: fan-out groups may be used from now on."""
        if not self.groups.ready and time.monotonic() - self._started >= GROUPS_WARM_S:
            self.groups.ready = True
            log.info("fan-out groups in use: %d v2 lanterns report theirs", len(self.groups))

    def stop(self) -> None:
        self._stopping = True

    async def _apply_safely(self, batch: list[IncomingMessage]) -> set[str]:
        try:
            return await asyncio.to_thread(self.apply, batch)
        except Exception:
            log.exception("could not apply %d messages; applying them one by one", len(batch))
            self.stats["batch_failed"] += 1
        changed: set[str] = set()
        for msg in batch:
            try:
                changed |= await asyncio.to_thread(self.apply, [msg])
            # BLE001: whatever this one message breaks, it is counted and consuming goes on.
            except Exception as exc:  # noqa: BLE001
                self._drop(msg, "unprocessable", f"{type(exc).__name__}: {exc}"[:200])
        return changed

    def apply(self, batch: list[IncomingMessage]) -> set[str]:
        """Apply one batch in one transaction; returns the alert ids whose counts changed."""
        acks: list[Ack] = []
        availability: list[_Seen] = []
        gateways_down: list[str] = []
        for msg in batch:
            self.stats["messages"] += 1
            parsed = self._topics.parse(msg.topic)
            if parsed is None:
                self._drop(msg, "foreign_topic")
                continue
            limit = MAX_BATCH_BYTES if parsed.kind is TopicKind.ACKS else MAX_PAYLOAD_BYTES
            if len(msg.payload) > limit:
                self._drop(msg, "oversized", f"{len(msg.payload)} bytes")
                continue
            if not msg.payload:
                continue  # a cleared retained message
            try:
                if parsed.kind is TopicKind.ACKS and parsed.gateway_id is not None:
                    acks += self._batch(msg, parsed.gateway_id)
                elif parsed.gateway_id is not None:
                    gateway = Availability.from_bytes(msg.payload)
                    self._gateway_online[parsed.gateway_id] = gateway.online
                    if not gateway.online:
                        gateways_down.append(parsed.gateway_id)
                elif parsed.kind is TopicKind.ACK and parsed.lantern_id:
                    ack = Ack.from_bytes(msg.payload)
                    if ack.lantern != parsed.lantern_id:
                        self._drop(msg, "lantern_mismatch", f"ack names {ack.lantern!r}")
                        continue
                    acks.append(ack)
                elif parsed.kind is TopicKind.AVAILABILITY and parsed.lantern_id:
                    status = Availability.from_bytes(msg.payload)
                    availability.append(_Seen(parsed.lantern_id, status, msg.retain))
                    self._groups_of(msg, parsed.lantern_id, status)
                elif parsed.kind is TopicKind.STATE and parsed.lantern_id:
                    state = LanternState.from_bytes(msg.payload)
                    if state.lantern != parsed.lantern_id:
                        self._drop(msg, "lantern_mismatch", f"state names {state.lantern!r}")
                        continue
                    self._report(parsed.lantern_id, state)
                else:
                    self._drop(msg, "unexpected_topic")
            except (ValidationError, ValueError, UnicodeDecodeError) as exc:
                self._drop(msg, "malformed", str(exc).splitlines()[0][:200])
        if not self.leading:
            # Another replica ingests (it holds the ack lease); keep what arrived for a while so
            # that, should it die, this one takes over without a gap.
            self._hold(acks, availability, gateways_down)
            return set()
        if self._held:
            acks, availability, gateways_down = self._with_held(acks, availability, gateways_down)
        if not (acks or availability or gateways_down):
            return set()
        # Sorted so concurrent writers lock delivery rows in one order; a deadlock is retried.
        acks.sort(key=lambda a: (a.cmd_id, a.lantern))
        return retrying(lambda: self._write(acks, availability, gateways_down))

    def _batch(self, msg: IncomingMessage, gateway_id: str) -> list[Ack]:
        """The acks of a gateway's batch (protocol v2); the batch must name its topic's gateway."""
        batch = AckBatch.from_bytes(msg.payload)
        if batch.gateway != gateway_id:
            self._drop(msg, "gateway_mismatch", f"batch names {batch.gateway!r}")
            return []
        self.stats["ack_batches"] += 1
        return list(batch.acks)

    def _groups_of(self, msg: IncomingMessage, lantern_id: str, status: Availability) -> None:
        """Record the groups a v2 lantern listens to; ask for its own when they differ."""
        if status.groups is None:
            self.groups.report(lantern_id, None)
            return
        valid: list[str] = []
        for name in status.groups:
            if parse_group_audience(name) is None:
                # It may listen there, but no fan-out of ours will ever use that name.
                self._drop(msg, "bad_group", f"group {name[:80]!r} does not parse")
                continue
            valid.append(name)
        self.groups.report(lantern_id, valid)
        if not self.leading:
            return
        expected = self._memberships().get(lantern_id)
        if expected is not None and set(expected) != set(valid):
            self.stats["groups_provisioned"] += 1
            self._on_provision([lantern_id])

    def _hold(self, acks: list[Ack], seen: list[_Seen], gateways_down: list[str]) -> None:
        now = time.monotonic()
        items: list[Ack | _Seen | str] = [*acks, *seen, *gateways_down]
        self._held.extend((now, item) for item in items)
        while self._held and (self._held[0][0] < now - HOLD_S or len(self._held) > HOLD_CAP):
            self._held.popleft()
        self.stats["held_for_leader"] += len(acks) + len(seen) + len(gateways_down)

    def _with_held(
        self, acks: list[Ack], seen: list[_Seen], gateways_down: list[str]
    ) -> tuple[list[Ack], list[_Seen], list[str]]:
        """This replica just took the lease over: what it kept comes first (applying an ack
        twice changes nothing, the delivery rules keep states moving forward)."""
        held = [item for _at, item in self._held]
        self._held.clear()
        self.stats["taken_over"] += len(held)
        return (
            [i for i in held if isinstance(i, Ack)] + acks,
            [i for i in held if isinstance(i, _Seen)] + seen,
            [i for i in held if isinstance(i, str)] + gateways_down,
        )

    def _write(
        self,
        acks: list[Ack],
        availability: list[_Seen],
        gateways_down: list[str],
    ) -> set[str]:
        changed: set[str] = set()
        returned: dict[str, Return] = {}
        now = self._clock()
        with self._db.session() as session:
            lanterns = lantern_store.rows_by_id(session, [s.lantern_id for s in availability])
            for seen in availability:
                back = self._availability(lanterns.get(seen.lantern_id), seen, now)
                if back is not None:
                    returned[seen.lantern_id] = max(back, returned.get(seen.lantern_id, back))
            for gateway in gateways_down:
                lantern_store.set_gateway_offline(session, gateway)
            rows = alert_store.deliveries_by_key(session, [(a.cmd_id, a.lantern) for a in acks])
            commands = self._acked_commands(session, {cmd for cmd, _lantern in rows})
            keys = key_store.active_keys(session, [a.lantern for a in acks]) if acks else {}
            strangers = [a.kid for a in acks if a.kid and a.kid not in keys.get(a.lantern, {})]
            owners = key_store.owners(session, strangers) if strangers else {}
            missing = {a.lantern for a in acks if (a.cmd_id, a.lantern) not in rows}
            known = lantern_store.existing_ids(session, sorted(missing)) if missing else set()
            for ack in acks:
                row = rows.get((ack.cmd_id, ack.lantern))
                if row is None and ack.lantern not in known:
                    self.stats["ack_unknown_lantern"] += 1
                    self._warn(
                        "ack_unknown_lantern",
                        "ignored ack for %s: no such lantern in the inventory (command %s)",
                        ack.lantern,
                        ack.cmd_id,
                    )
                    continue
                if row is None:
                    self.stats["ack_unknown_command"] += 1
                    self._warn(
                        "ack_unknown_command",
                        "ignored ack on %s: unknown command %s",
                        self._topics.ack(ack.lantern),
                        ack.cmd_id,
                    )
                    continue
                owner = owners.get(ack.kid) if ack.kid else None
                forgery = self._trust.check(ack, keys.get(ack.lantern), owner)
                if forgery is not None:
                    self._refuse(ack, forgery)
                    continue
                verdict = judge_ack(
                    DeliveryState(row.state),
                    ack.status.value,
                    commands.get(ack.cmd_id),
                    ack.played,
                    ack.reason,
                )
                if isinstance(verdict, AckRefusal):
                    self._refuse(ack, verdict)
                    continue
                if verdict is None:
                    self.stats["ack_duplicate"] += 1
                    continue
                row.state = verdict.value
                row.reason = ack.reason
                row.updated_at = now
                if ack.played is not None:
                    row.played_json = list(ack.played)
                verified = ack.sig is not None and ack.kid in keys.get(ack.lantern, {})
                row.ack_kid = ack.kid if verified else None
                session.add(row)
                self.stats["ack_applied"] += 1
                if ack.sig is not None:
                    self.stats["ack_signed" if verified else "ack_unverified"] += 1
                if row.alert_id:
                    changed.add(row.alert_id)
        if returned:
            self.stats["lanterns_returned"] += len(returned)
            self._on_return(returned)
        return changed

    def _refuse(self, ack: Ack, why: AckForgery | AckRefusal) -> None:
        """Count and log an ack that is not believed; the delivery stays as it was."""
        kind = f"ack_refused_{why.value}"
        self.stats[kind] += 1
        self._warn(
            kind,
            "refused ack on %s: %s %s for command %s (%s)",
            self._topics.ack(ack.lantern),
            ack.status.value,
            "signed " + ack.kid if ack.kid else "unsigned",
            ack.cmd_id,
            why.value,
        )

    def _acked_commands(
        self, session: Session, command_ids: set[str]
    ) -> dict[str, AckedCommand | None]:
        """What each command sent was (cached: commands never change what they carry)."""
        missing = [c for c in command_ids if c not in self._commands]
        if missing:
            for cmd_id, envelope in alert_store.envelopes_by_id(session, missing).items():
                self._commands[cmd_id] = acked_command(envelope)
            while len(self._commands) > COMMAND_CACHE:
                self._commands.popitem(last=False)
        return {c: self._commands.get(c) for c in command_ids}

    def _availability(self, row: LanternRow | None, seen: _Seen, now: datetime) -> Return | None:
        """Store one lantern's availability (in ``row``, written with the batch); how it came
        back, or None when nothing is to be re-sent."""
        status = seen.status
        online = status.online
        if online and seen.retained and self._gateway_online.get(status.gateway or "") is False:
            # A retained "online" from before its gateway died (the will names the gateway only).
            online = False
        if row is None:
            self.stats["availability_unknown_lantern"] += 1
            return None
        was_online, old_boot = row.online, row.boot
        row.online, row.boot, row.gateway, row.last_seen = online, status.boot, status.gateway, now
        if not online:
            return None
        if old_boot is not None and old_boot != status.boot:
            return Return.REBOOT
        if was_online is False:
            return Return.BACK
        if not seen.retained or was_online is None:
            return Return.RECONNECT  # announced live, or seen for the first time
        return None

    def _report(self, lantern_id: str, state: LanternState) -> None:
        if lantern_id not in self.reported and len(self.reported) >= REPORTED_CAP:
            self.stats["state_dropped_cap"] += 1
            return
        self.reported[lantern_id] = state

    def _drop(self, msg: IncomingMessage, why: str, detail: str = "") -> None:
        self.stats[f"dropped_{why}"] += 1
        self._warn(why, "ignored message on %s: %s %s", msg.topic[:200], why, detail)

    def _warn(self, kind: str, text: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last_warning.get(kind, -LOG_EVERY_S) >= LOG_EVERY_S:
            self._last_warning[kind] = now
            suppressed = self._suppressed.pop(kind, 0)
            if suppressed:
                text += f" ({suppressed} more like it not logged)"
            log.warning(text, *args)
        else:
            self._suppressed[kind] += 1
            log.debug(text, *args)


def acked_command(envelope: str) -> AckedCommand | None:
    """What an ack is judged against, from the stored envelope (None when it is unreadable)."""
    try:
        env = CommandEnvelope.from_bytes(envelope)
    except (ValidationError, ValueError):
        return None
    clips: tuple[str, ...] | None = None
    if env.op == "set" and isinstance(env.payload, AudioPayload):
        spoken = [item.sha256 for item in env.payload.program if isinstance(item, SpeechItem)]
        clips = tuple(spoken * env.payload.repeat)
    return AckedCommand(env.channel, env.op, clips, env.starts_at is not None)
