"""The outbox publisher: sends every stored delivery that no lantern has acknowledged yet.

Everything it sends was committed first (alerts, commands, one delivery row per lantern), so a
killed service resumes where it stopped. Beyond the due rows it re-sends on request:

- ``resend(lanterns)``: a lantern back after a reconnect gets the live commands it never
  confirmed; after a reboot (new boot number, every slot lost) it gets every live command again,
  held light and projection included. The lantern's de-duplication by command id and its
  priority array make that idempotent;
- ``resend_all()``: the broker lost our session (restart without persistence), so acks sent
  meanwhile may be gone: every live, unfinished delivery goes out again, and a lantern answers a
  command it already has with its last ack, so nothing stays unconfirmed.

A lantern that confirmed a command (`received`, `playing`) but whose final ack has not come
when the command should have ended is asked again with the same envelope and answers with its
last ack: a final ack lost with a broker node, or at QoS 0 while the service moved node, is
recovered instead of ending `expired`.

Expired commands are never re-sent (the queries exclude them) and every publish carries an MQTT 5
message expiry equal to the command's remaining lifetime. Before anything goes out its envelope is
checked with the signer: unsigned, signed by a key that no longer signs, or with a seq past half
the lanterns' replay window, it is re-signed once (fresh seq, same id) and stored again. Each copy
then names its lantern (``aud``) inside what is signed, one signature per lantern, so a copy
captured on one lantern's topic is refused by every other lantern. What goes again to a rebooted
lantern is re-signed with a fresh seq: the lantern keeps every seq it accepted across the reboot
(so a captured copy cannot play twice) but forgets command ids.

Protocol v2 (broker-side fan-out): a command's first send covers its not-yet-sent lanterns by the
groups (street, map cell) all of whose listening lanterns are among them (``GroupBook.plan``),
one copy per group addressed to it (``aud`` = ``groups/<kind>/<key>``), and sends the ragged
edge and v1 lanterns their own copy. Every covered lantern's delivery row is claimed and marked
published in the same transaction, so acks, retries (always on the lantern's own topic) and
expiry stay per lantern. ``provision`` sends lanterns their groups (retained ``Membership``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime, timedelta
from enum import IntEnum

from pydantic import ValidationError
from sqlmodel import Session

from lightctl.domain.delivery import (
    AWAITING_FINAL,
    AWAITING_RECEIPT,
    FINAL_ACK_GRACE_S,
    DeliveryState,
    Verdict,
    next_attempt_at,
    overdue,
)
from lightctl.domain.fanout import GroupBook
from lightctl.errors import PriorityAboveCeiling
from lightctl.mqtt.link import MqttLink, PublishHandle, await_broker
from lightctl.protocol import CommandEnvelope, Membership, Topics, lantern_audience
from lightctl.signing import CommandSigner, NoSigningKey
from lightctl.store import Database
from lightctl.store import alerts as alert_store
from lightctl.store import lanterns as lantern_store
from lightctl.store import plans as plan_store
from lightctl.store.alerts import DueDelivery

log = logging.getLogger(__name__)

# One pump publishes at most this many due commands, then commits; keeps each transaction short.
BATCH = 1000
# A lantern that played to the end acks `done` at expiry at the latest; after this grace the
# service stops waiting and records what it knows (no silent loss).
# A lantern's "online" and a command to it can cross on the way (processing lag of the consumer
# is well under a second); commands younger than this are left to the ack timeout on its return.
RECENT_S = 2.0
# Unread acks beyond which retries wait: the consumer reads 500 per transaction, so a backlog of
# a few hundred clears within a second or two.
BACKLOG_HOLD = 200
_RETRY_STATES = ("planned", "published")
# Due in these, a lantern has the command but its final ack is overdue: asked again, it
# answers with its last ack (domain.delivery.final_ack_due).
_FINAL_STATES = ("received", "playing")
# How long a pump waits for the broker to confirm its last publish before committing anyway.
BROKER_CONFIRM_S = 2.0


class Return(IntEnum):
    """How a lantern came back, and so what it needs again (a larger value needs more)."""

    # Announced itself live while we thought it online (its gateway reconnected): it may have
    # missed what was sent while the link was down; what crossed its announcement is recent.
    RECONNECT = 1
    # Online again after we knew it offline: everything sent meanwhile was lost.
    BACK = 2
    # A new boot number: every slot is gone, held light and projection included.
    REBOOT = 3


class Outbox:
    def __init__(
        self,
        db: Database,
        link: MqttLink,
        topics: Topics,
        ack_timeout_s: float,
        clock: Callable[[], datetime],
        on_change: Callable[[set[str]], None] = lambda _ids: None,
        signer: CommandSigner | None = None,
        backlog: Callable[[], int] = lambda: 0,
        groups: GroupBook | None = None,
        memberships: Callable[[], Mapping[str, tuple[str, ...]]] = dict,
        rows_chunk: int = 5_000,
    ) -> None:
        self._db = db
        self._link = link
        self._topics = topics
        self._ack_timeout_s = ack_timeout_s
        self._clock = clock
        self._on_change = on_change
        self._signer = signer
        self._backlog = backlog
        # Protocol v2: who listens to which group, and the groups each lantern should hold.
        self.groups = groups if groups is not None else GroupBook()
        self._memberships = memberships
        self._rows_chunk = rows_chunk
        self.rows_written_total = 0
        self._provision: set[str] = set()
        # Commands whose never-sent lanterns no group could cover, with the group book's
        # version then: not claimed again for a group until who listens to what changes.
        # Without it a 100,000-lantern command of unconfirmed lanterns re-read all of its
        # remaining rows on every pump of 1,000 (quadratic).
        self._ungrouped: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._lock = threading.Lock()
        self._resend: dict[str, Return] = {}
        self._resend_all = False
        self.published_total = 0
        self.resent_total = 0
        self.asked_again_total = 0  # lanterns asked again for an overdue final ack
        self.expired_total = 0
        self.unreachable_total = 0
        self.group_published_total = 0
        self.group_covered_total = 0
        self.provisioned_total = 0

    _loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Called after a commit (from any thread) so new deliveries go out at once."""
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._wake.set)

    def resend(self, lanterns: dict[str, Return]) -> None:
        """Lanterns back online: their live commands go out again (from any thread)."""
        with self._lock:
            for lantern_id, how in lanterns.items():
                self._resend[lantern_id] = max(how, self._resend.get(lantern_id, how))
        self.wake()

    def provision(self, lantern_ids: Iterable[str]) -> None:
        """These v2 lanterns hold other groups than they should: send them theirs (any thread)."""
        with self._lock:
            self._provision.update(lantern_ids)
        self.wake()

    def resend_all(self) -> None:
        """The broker lost our session: ask every lantern with unfinished work again."""
        with self._lock:
            self._resend_all = True
        self.wake()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                while await asyncio.to_thread(self.pump) >= BATCH:
                    pass
            except Exception:  # a database hiccup must not end the publisher
                log.exception("outbox pump failed; retrying in 1 s")
                await asyncio.sleep(1.0)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def pump(self) -> int:
        """Write a chunk of planned rows, publish what is due, end what expired; returns how
        many due deliveries it claimed (``BATCH`` while planned rows remain to be written)."""
        now = self._clock()
        changed: set[str] = set()
        # Rows of large alerts come after the answer (store/plans.py): a chunk per pump, in its
        # own transaction, so publishing starts with the first chunk, not after all of them.
        with self._db.session() as session:
            written, alerts = plan_store.write_planned(session, now, self._rows_chunk)
        self.rows_written_total += written
        changed.update(alerts)
        claimed = self._publish(now, changed)
        return max(claimed, BATCH) if written else claimed

    def _publish(self, now: datetime, changed: set[str]) -> int:
        self._end_overdue(now, changed)
        if not self._link.connected:
            if changed:
                self._on_change(changed)
            return 0
        with self._lock:
            lanterns, self._resend = self._resend, {}
            everyone, self._resend_all = self._resend_all, False
            provision, self._provision = self._provision, set()
        if provision:
            self._send_memberships(provision, now)
        # One transaction from claiming the due rows to recording them published: another
        # replica skips what this one claimed, and a cancel waits until these went out.
        with self._db.session() as session:
            due = alert_store.due_deliveries(session, now, BATCH)
            extra = self._resends(session, now, lanterns, everyone)
            if self._backlog() > BACKLOG_HOLD:
                # Acks are waiting to be read: a retry now would mostly repeat commands the
                # lanterns already have. First sends and re-sends go; retries wait.
                due = [d for d in due if d.attempts == 0]
            claimed = len(due)
            keys = {(d.command_id, d.lantern_id) for d in due}
            resends = [d for d in extra if (d.command_id, d.lantern_id) not in keys]
            # A rebooted lantern remembers every seq it accepted (in flash) but no command id:
            # what it gets again needs a fresh seq, or it would refuse our re-send as a replay.
            rebooted = {i for i, how in lanterns.items() if how is Return.REBOOT}
            renew = {d.command_id for d in resends if d.lantern_id in rebooted}
            sent: list[tuple[str, str, int, datetime]] = []
            asked: list[tuple[str, str, int, datetime]] = []  # again, for a final ack
            published = 0
            last: PublishHandle | None = None
            groups_before = self.group_published_total
            # Each command parsed (and re-signed, if it must be) once per pump, for its group
            # copies and its lanterns' own alike.
            parsed: dict[str, CommandEnvelope | str] = {}
            covered, last = self._fan_out(session, due, now, sent, parsed)
            published += self.group_published_total - groups_before
            due = [d for d in due if (d.command_id, d.lantern_id) not in covered]
            envelopes = self._envelopes(session, due + resends, now, renew, parsed)
            for d in due + resends:
                remaining = (d.expires_at - now).total_seconds()
                if remaining <= 0:
                    continue  # _end_overdue will record it on the next pass
                topic = self._topics.cmd(d.lantern_id)
                payload = envelopes[(d.command_id, d.lantern_id)]
                last = self._link.publish(topic, payload, expiry_s=int(remaining))
                published += 1
                again = (
                    d.command_id,
                    d.lantern_id,
                    d.attempts + 1,
                    next_attempt_at(now, d.attempts + 1, self._ack_timeout_s),
                )
                if d.state in _RETRY_STATES:
                    sent.append(again)
                elif d.state in _FINAL_STATES and (d.command_id, d.lantern_id) in keys:
                    asked.append(again)
            if last is not None:
                # Held until the broker has the batch: a cancel committed on another replica
                # after this commit can then never be overtaken by one of these commands.
                await_broker(last, BROKER_CONFIRM_S)
            alert_store.mark_asked_again(session, asked)
            if sent:
                alert_store.mark_published_many(session, sent, now)
                ids = alert_store.alert_ids_for_commands(session, list({s[0] for s in sent}))
                changed.update(a for a in ids.values() if a)
        self.published_total += published
        self.resent_total += len(resends)
        self.asked_again_total += len(asked)
        if resends:
            log.info("re-sent %d live commands (%d lanterns back)", len(resends), len(lanterns))
        if changed:
            self._on_change(changed)
        return claimed

    def _fan_out(
        self,
        session: Session,
        due: list[DueDelivery],
        now: datetime,
        sent: list[tuple[str, str, int, datetime]],
        parsed: dict[str, CommandEnvelope | str],
    ) -> tuple[set[tuple[str, str]], PublishHandle | None]:
        """First sends by group: per command with lanterns never sent it, claim all of those,
        cover what groups allow, publish one copy per group. Returns the (command, lantern)
        pairs covered (already in ``sent``) and the last publish."""
        first: dict[str, DueDelivery] = {}
        never_sent: dict[str, list[str]] = {}
        for d in due:
            if d.attempts == 0 and d.state == "planned":
                first.setdefault(d.command_id, d)
                never_sent.setdefault(d.command_id, []).append(d.lantern_id)
        covered: set[tuple[str, str]] = set()
        last: PublishHandle | None = None
        if not first or not self.groups.ready:
            return covered, last
        # A batch short of BATCH holds every due row, so every never-sent lantern of each
        # command, already claimed: no query per command (an evacuation edit has ~80 commands,
        # one per heading and phase, 1-3 ms each). A full batch may have cut a command short:
        # its never-sent lanterns are claimed in full, so a group can cover all of them.
        complete = len(due) < BATCH
        next_at = next_attempt_at(now, 1, self._ack_timeout_s)
        version = self.groups.version
        # The inventory's groups, looked up once per pump (each lookup checks the inventory's
        # version in the database: an evacuation edit has ~80 commands).
        inventory: Mapping[str, tuple[str, ...]] | None = None
        for command_id, sample in first.items():
            remaining = (sample.expires_at - now).total_seconds()
            if remaining <= 0 or self._ungrouped.get(command_id) == version:
                continue
            if complete:
                claimed = never_sent[command_id]
            else:
                claimed = alert_store.claim_first_sends(session, command_id)
            if inventory is None:
                inventory = self._memberships()
            plan = self.groups.plan(claimed, inventory)
            if not plan.groups:
                if not complete:
                    if len(self._ungrouped) >= 10_000:
                        self._ungrouped.clear()  # old commands; a forgotten one is re-read once
                    self._ungrouped[command_id] = version
                continue
            stored = self._stored(session, [sample], now, (), parsed).get(command_id)
            if not isinstance(stored, CommandEnvelope):
                continue  # unreadable or unsignable: each lantern gets it as stored instead
            copies = self._addressed(stored, plan.groups)
            for aud, data in copies.items():
                last = self._link.publish(
                    self._topics.audience_cmd(aud), data, expiry_s=int(remaining)
                )
                self.group_published_total += 1
                for lantern_id in plan.groups[aud]:
                    covered.add((command_id, lantern_id))
                    sent.append((command_id, lantern_id, 1, next_at))
        self.group_covered_total += len(covered)
        return covered, last

    def _send_memberships(self, lantern_ids: set[str], now: datetime) -> None:
        """Retained ``Membership`` per lantern; the book counts it as listening from now on."""
        expected = self._memberships()
        for lantern_id in sorted(lantern_ids):
            groups = expected.get(lantern_id)
            if groups is None:
                continue  # not in the inventory (any more): nothing to provision
            self.groups.provisioning(lantern_id, groups)
            body = Membership(lantern=lantern_id, groups=list(groups), issued_at=now)
            self._link.publish(self._topics.groups(lantern_id), body.to_bytes(), retain=True)
            self.provisioned_total += 1

    def _resends(
        self, session: Session, now: datetime, lanterns: dict[str, Return], everyone: bool
    ) -> list[DueDelivery]:
        out: list[DueDelivery] = []
        if everyone:
            unfinished = ("published", "received", "playing")
            out += alert_store.live_deliveries(session, now, unfinished)
        by_kind = {kind: [i for i, k in lanterns.items() if k is kind] for kind in Return}
        unconfirmed = alert_store.RESEND_STATES
        if by_kind[Return.REBOOT]:
            everything = alert_store.RESEND_AFTER_REBOOT
            out += alert_store.live_deliveries(session, now, everything, by_kind[Return.REBOOT])
        if by_kind[Return.BACK]:
            out += alert_store.live_deliveries(session, now, unconfirmed, by_kind[Return.BACK])
        if by_kind[Return.RECONNECT]:
            # Sent in the last moments, it may have crossed the lantern's announcement on the
            # way; the ack timeout covers it if it was lost, without a needless duplicate.
            recent = now - timedelta(seconds=min(self._ack_timeout_s, RECENT_S))
            ids = by_kind[Return.RECONNECT]
            out += alert_store.live_deliveries(session, now, unconfirmed, ids, recent)
        return out

    def _envelopes(
        self,
        session: Session,
        work: Iterable[DueDelivery],
        now: datetime,
        renew: Collection[str] = (),
        parsed: dict[str, CommandEnvelope | str] | None = None,
    ) -> dict[tuple[str, str], bytes]:
        """The bytes to publish per (command, lantern): the stored command addressed to that
        lantern (``aud``) and signed for it. A stored envelope a lantern could refuse, or one in
        ``renew``, is re-signed first (fresh seq, same id) and stored again, once per command."""
        work = list(work)
        commands = self._stored(session, work, now, renew, parsed)
        lanterns: dict[str, list[str]] = {}
        for d in work:
            lanterns.setdefault(d.command_id, []).append(d.lantern_id)
        out: dict[tuple[str, str], bytes] = {}
        for command_id, ids in lanterns.items():
            stored = commands[command_id]
            if isinstance(stored, str):
                out.update(((command_id, lid), stored.encode()) for lid in ids)
                continue
            audiences = {lantern_audience(lid): lid for lid in ids}
            out.update(
                ((command_id, audiences[aud]), data)
                for aud, data in self._addressed(stored, audiences).items()
            )
        return out

    def _stored(
        self,
        session: Session,
        work: Iterable[DueDelivery],
        now: datetime,
        renew: Collection[str] = (),
        parsed: dict[str, CommandEnvelope | str] | None = None,
    ) -> dict[str, CommandEnvelope | str]:
        """Each command's envelope as it goes out: re-signed first (and stored again) when a
        lantern could refuse it or it is in ``renew``; the stored text when it cannot be.
        ``parsed``: what this pump already made of its commands, added to and returned."""
        commands: dict[str, CommandEnvelope | str] = parsed if parsed is not None else {}
        renewed: list[tuple[str, str, int]] = []
        seen: set[str] = set()
        for d in work:
            # What the pump parsed for group copies is reused, unless it must be renewed here.
            if d.command_id in seen or (d.command_id in commands and d.command_id not in renew):
                continue
            seen.add(d.command_id)
            try:
                env = CommandEnvelope.from_bytes(d.envelope)
                signer = self._signer
                if signer is not None and (d.command_id in renew or signer.stale(env, now)):
                    env = signer.refresh(env)
                    renewed.append((d.command_id, env.to_bytes().decode(), env.seq))
                commands[d.command_id] = env
            except (ValidationError, NoSigningKey, PriorityAboveCeiling) as exc:
                log.error("sending command %s as stored, cannot re-sign it: %s", d.command_id, exc)
                commands[d.command_id] = d.envelope
        for command_id, text, seq in renewed:
            alert_store.replace_envelope(session, command_id, text, seq)
        return commands

    def _addressed(self, env: CommandEnvelope, audiences: Iterable[str]) -> dict[str, bytes]:
        """One copy of ``env`` per audience, each naming it inside what is signed."""
        if self._signer is not None:
            try:
                return self._signer.address(env, audiences)
            except (NoSigningKey, PriorityAboveCeiling) as exc:
                log.error("command %s goes out unsigned: %s", env.id, exc)
        return {aud: env.model_copy(update={"aud": aud}).to_bytes() for aud in audiences}

    def _end_overdue(self, now: datetime, changed: set[str]) -> None:
        """Deliveries whose command ran out get ``domain.delivery.overdue``'s verdict:
        `unreachable` if never received and the lantern is offline, else `expired`."""
        with self._db.session() as session:
            waiting = [
                r
                for r in alert_store.overdue_deliveries(session, now, BATCH * 10)
                if DeliveryState(r[2]) in AWAITING_RECEIPT
            ]
            # Received, final ack missing: asked only once the final-ack grace has passed too.
            grace = now - timedelta(seconds=FINAL_ACK_GRACE_S)
            silent = [
                r
                for r in alert_store.overdue_deliveries(session, grace, BATCH * 10)
                if DeliveryState(r[2]) in AWAITING_FINAL
            ]
            if not waiting and not silent:
                return
            offline = lantern_store.offline_ids(session, [lid for _c, lid, _s, _e in waiting])
            verdicts: dict[Verdict, list[tuple[str, str]]] = {}
            for command_id, lantern_id, state, expires_at in waiting + silent:
                verdict = overdue(DeliveryState(state), expires_at, now, lantern_id not in offline)
                if verdict is not None:
                    verdicts.setdefault(verdict, []).append((command_id, lantern_id))
            for verdict, keys in verdicts.items():
                alert_store.force_state(session, keys, verdict.state.value, verdict.reason, now)
            ended = [c for keys in verdicts.values() for c, _lid in keys]
            ids = alert_store.alert_ids_for_commands(session, list(set(ended)))
        for verdict, keys in verdicts.items():
            if verdict.state is DeliveryState.UNREACHABLE:
                self.unreachable_total += len(keys)
            else:
                self.expired_total += len(keys)
        changed.update(a for a in ids.values() if a)
