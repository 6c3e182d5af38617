"""The ack ledger: what lanterns answered, judged by the delivery rules and written in one go.

The consumer (``mqtt/``) reads and parses the bytes; this module decides what they mean for
the store. An ack moves its delivery only when it is the lantern's own word (``AckTrust``) and in
order for the command (``domain.delivery.judge_ack``); availability records the lantern's link
and boot, and tells how a lantern came back (``Return``) so the outbox sends it what it lacks.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlmodel import Session

from lightctl.domain.clock import Clock
from lightctl.domain.delivery import (
    AWAITING_FINAL,
    AckedCommand,
    AckRefusal,
    DeliveryState,
    final_ack_due,
    judge_ack,
)
from lightctl.domain.records import LanternPresence
from lightctl.protocol import Ack, AudioPayload, Availability, CommandEnvelope, SpeechItem, Topics
from lightctl.services.access.ack_trust import AckForgery, AckTrust
from lightctl.services.delivery.outbox import Return
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import lantern_keys as key_store
from lightctl.store import lanterns as lantern_store
from lightctl.store.alerts import AckedState
from lightctl.store.db import retrying

# Commands judged acks against, kept parsed: a warning is one to four commands, each acked by
# thousands of lanterns; 4,096 covers every live command of a busy city.
COMMAND_CACHE = 4096

Warn = Callable[..., None]  # (kind, text, *args): the consumer's rate-limited warning


@dataclass(frozen=True, slots=True)
class Seen:
    """One availability message as the consumer read it."""

    lantern_id: str
    status: Availability
    retained: bool
    # It reports other groups than it did before: its answer to the membership the service sent
    # (protocol v2), said on the same link, so not a sign that it was away.
    regrouped: bool = False


class AckLedger:
    """Writes one batch of acks and availability per transaction; counts into ``stats``."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        topics: Topics,
        trust: AckTrust,
        stats: Counter[str],
        warn: Warn,
        ack_timeout_s: float = 10.0,
    ) -> None:
        self._db = db
        self._clock = clock
        # A lantern that has a command but never sent its final ack is asked again this long
        # after the command should have ended (``domain.delivery.final_ack_due``).
        self._ack_timeout_s = ack_timeout_s
        self._topics = topics
        self._trust = trust
        self._stats = stats
        self._warn = warn
        self._commands: OrderedDict[str, AckedCommand | None] = OrderedDict()

    def write(
        self,
        acks: list[Ack],
        availability: Sequence[Seen],
        gateways_down: Sequence[str],
        gateway_online: Mapping[str, bool],
    ) -> tuple[set[str], dict[str, Return]]:
        """Apply a batch (retried whole if the database aborts it for concurrency); returns the
        alert ids whose counts changed and the lanterns that came back, with how."""
        # Sorted so concurrent writers lock delivery rows in one order; a deadlock is retried.
        acks = sorted(acks, key=lambda a: (a.cmd_id, a.lantern))
        return retrying(lambda: self._write(acks, availability, gateways_down, gateway_online))

    def _write(
        self,
        acks: list[Ack],
        availability: Sequence[Seen],
        gateways_down: Sequence[str],
        gateway_online: Mapping[str, bool],
    ) -> tuple[set[str], dict[str, Return]]:
        changed: set[str] = set()
        returned: dict[str, Return] = {}
        now = self._clock()
        with self._db.session() as session:
            known = lantern_store.presence_of(session, [s.lantern_id for s in availability])
            heard: dict[str, LanternPresence] = {}
            for seen in availability:
                lid = seen.lantern_id
                before = heard.get(lid) or known.get(lid)
                now_heard, back = self._availability(before, seen, now, gateway_online)
                if now_heard is not None:
                    heard[lid] = now_heard
                if back is not None:
                    returned[lid] = max(back, returned.get(lid, back))
            lantern_store.record_presence(session, heard)
            for gateway in gateways_down:
                lantern_store.set_gateway_offline(session, gateway)
            moves = self._judge(session, acks, changed, now)
            alert_store.record_acks(session, moves, now)
        if returned:
            self._stats["lanterns_returned"] += len(returned)
        return changed, returned

    def _judge(
        self, session: Session, acks: list[Ack], changed: set[str], now: datetime
    ) -> list[AckedState]:
        """The deliveries these acks move on, by the trust and delivery rules (in ack order: a
        later ack of the batch is judged against the state an earlier one moved to)."""
        rows = alert_store.deliveries_by_key(session, [(a.cmd_id, a.lantern) for a in acks])
        states = {key: DeliveryState(d.state) for key, d in rows.items()}
        commands = self._acked_commands(session, {cmd for cmd, _lantern in rows})
        keys = key_store.active_keys(session, [a.lantern for a in acks]) if acks else {}
        strangers = [a.kid for a in acks if a.kid and a.kid not in keys.get(a.lantern, {})]
        owners = key_store.owners(session, strangers) if strangers else {}
        missing = {a.lantern for a in acks if (a.cmd_id, a.lantern) not in rows}
        known = lantern_store.existing_ids(session, sorted(missing)) if missing else set()
        moves: dict[tuple[str, str], AckedState] = {}
        for ack in acks:
            key = (ack.cmd_id, ack.lantern)
            delivery = rows.get(key)
            if delivery is None and ack.lantern not in known:
                self._stats["ack_unknown_lantern"] += 1
                self._warn(
                    "ack_unknown_lantern",
                    "ignored ack for %s: no such lantern in the inventory (command %s)",
                    ack.lantern,
                    ack.cmd_id,
                )
                continue
            if delivery is None:
                self._stats["ack_unknown_command"] += 1
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
            command = commands.get(ack.cmd_id)
            verdict = judge_ack(states[key], ack.status.value, command, ack.played, ack.reason)
            if isinstance(verdict, AckRefusal):
                self._refuse(ack, verdict)
                continue
            if verdict is None:
                self._stats["ack_duplicate"] += 1
                continue
            states[key] = verdict
            verified = ack.sig is not None and ack.kid in keys.get(ack.lantern, {})
            earlier = moves.get(key)
            # No played list in this ack: what an earlier ack of the batch said, or the stored one.
            played = ack.played if ack.played is not None else (earlier.played if earlier else None)
            moves[key] = AckedState(
                ack.cmd_id,
                ack.lantern,
                verdict.value,
                ack.reason,
                None if played is None else tuple(played),
                ack.kid if verified else None,
                final_ack_due(command, now, self._ack_timeout_s)
                if verdict in AWAITING_FINAL
                else None,
            )
            self._stats["ack_applied"] += 1
            if ack.sig is not None:
                self._stats["ack_signed" if verified else "ack_unverified"] += 1
            if delivery.alert_id:
                changed.add(delivery.alert_id)
        return list(moves.values())

    def _refuse(self, ack: Ack, why: AckForgery | AckRefusal) -> None:
        """Count and log an ack that is not believed; the delivery stays as it was."""
        kind = f"ack_refused_{why.value}"
        self._stats[kind] += 1
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

    def _availability(
        self,
        before: LanternPresence | None,
        seen: Seen,
        now: datetime,
        gateway_online: Mapping[str, bool],
    ) -> tuple[LanternPresence | None, Return | None]:
        """What is heard of one lantern now (written with the batch; None for a lantern not in
        the inventory), and how it came back (None when nothing is to be re-sent)."""
        status = seen.status
        online = status.online
        if online and seen.retained and gateway_online.get(status.gateway or "") is False:
            # A retained "online" from before its gateway died (the will names the gateway only).
            online = False
        if before is None:
            self._stats["availability_unknown_lantern"] += 1
            return None, None
        was_online, old_boot = before.online, before.boot
        heard = LanternPresence(online, status.boot, status.gateway, now)
        if not online:
            return heard, None
        if old_boot is not None and old_boot != status.boot:
            return heard, Return.REBOOT
        if was_online is False:
            return heard, Return.BACK
        if not seen.retained and seen.regrouped and was_online and old_boot == status.boot:
            # A groups update after provisioning: treating it as a reconnect re-sent every live
            # command of 2,000 lanterns provisioned just before a warning.
            return heard, None
        if not seen.retained or was_online is None:
            return heard, Return.RECONNECT  # announced live, or seen for the first time
        return heard, None


def acked_command(envelope: str) -> AckedCommand | None:
    """What an ack is judged against, from the stored envelope (None when it is unreadable)."""
    try:
        env = CommandEnvelope.from_bytes(envelope)
    except (ValidationError, ValueError):
        return None
    clips: tuple[str, ...] | None = None
    play_s = 0.0
    begins = [env.starts_at] if env.starts_at is not None else []
    if env.op == "set" and isinstance(env.payload, AudioPayload):
        spoken = [item.sha256 for item in env.payload.program if isinstance(item, SpeechItem)]
        clips = tuple(spoken * env.payload.repeat)
        play_s = env.payload.duration_s()
        if env.payload.speech_at is not None:
            begins.append(env.payload.speech_at)
    return AckedCommand(
        env.channel, env.op, clips, env.starts_at is not None, play_s, max(begins, default=None)
    )
