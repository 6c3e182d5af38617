"""A simulated fleet: lantern state machines behind a few gateway connections, effects carried out.

The state machines (``lantern.py``) decide; the fleet does what they ask: publishes acks and
state, fetches and checks clips, "plays" programs for their duration divided by ``speed``, and
wakes each lantern at its next expiry so expired slots empty themselves. Everything runs on one
asyncio loop; paho's threads only hand bytes over.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from firmware_sim.cache import DEFAULT_BUDGET_BYTES, ClipCache, ClipShelf
from firmware_sim.clips import ClipFetcher
from firmware_sim.control import apply_clauses
from firmware_sim.effects import (
    Dropped,
    Effect,
    PublishState,
    Reason,
    SendAck,
    StartAudio,
    StopAudio,
    Verifier,
)
from firmware_sim.envelopes import EnvelopeCache
from firmware_sim.faults import FaultClause, Faults, parse_faults
from firmware_sim.flash import FLUSH_S, ReplayFlash
from firmware_sim.inventory import InventoryError, LanternSpec, load_inventory
from firmware_sim.lantern import Capability, Lantern
from firmware_sim.library import LIBRARY_CONCURRENCY, LibrarySync
from firmware_sim.link import LanternLink
from firmware_sim.replay import ReplayGuard
from firmware_sim.timeline import plan as speech_plan
from firmware_sim.transport import BrokerAddress, Gateway
from firmware_sim.unit import LanternRecord, Unit
from firmware_sim.verifier import TrustFile, TrustVerifier
from lightctl.protocol import (
    Ack,
    AudioPayload,
    CommandEnvelope,
    SpeechItem,
    ToneItem,
    Topics,
    group_audience,
    lantern_audience,
)
from lightctl.security.ack_keys import AckKey

__all__ = ["Fleet", "InventoryError", "LanternRecord", "LanternSpec", "load_inventory"]

log = logging.getLogger(__name__)

T = TypeVar("T")

Clock = Callable[[], datetime]

# State reports are coalesced per lantern over this window: a burst of commands (set, interrupt,
# set) yields one retained report instead of three.
STATE_FLUSH_S = 0.25
# What a lantern holds of the clip library is reported at most this often: one clip of the
# common manifest changes the report of every lantern of the fleet, and rebuilding 3,533 reports
# (~1 ms each) every STATE_FLUSH_S while the library comes in kept the fleet's loop busy.
CLIP_REPORT_S = 2.0
# Clip downloads in flight per fleet: enough to keep a local audio server busy, few enough that
# 3,000 lanterns fetching at once do not open 3,000 sockets.
FETCH_CONCURRENCY = 32
# A running fleet looks at its trust file this often: a rotation reaches it within a second.
TRUST_POLL_S = 1.0
# Wake a lantern a little past its expiry so the wall clock has surely reached it. One timer per
# lantern on the loop's heap costs nothing while idle; scanning 3,000 lanterns 5 times a second
# cost 5 ms a scan.
EXPIRY_MARGIN_S = 0.005
# Ack.played holds at most this many hashes (protocol v1: 64 program items x 10 repeats); the
# service believes a `done` only when it lists every clip sent.
PLAYED_MAX = 640


def utc_now() -> datetime:
    return datetime.now(UTC)


# At speed > 1 the program shrinks, but clip downloads do not: a sped-up fleet starts the speech
# no sooner than this after the signal began (real time, the same on every lantern), so lanterns
# fetching many clips from a busy service still join the first sentence (tests run at speed
# 20-50).
SIGNAL_FLOOR_S = 3.0


class Fleet:
    """Many simulated lanterns over ``ceil(n / per_connection)`` MQTT connections."""

    def __init__(
        self,
        broker_url: str,
        lanterns: Sequence[LanternSpec],
        *,
        speed: float = 1.0,
        per_connection: int = 500,
        topics: Topics | None = None,
        clock: Clock = utc_now,
        gateway_prefix: str = "sim",
        verifier: Verifier | None = None,
        fetch_concurrency: int = FETCH_CONCURRENCY,
        boot: int | None = None,
        trust: TrustFile | None = None,
        faults: str | None = None,
        seed: int = 0,
        passwords: Mapping[str, str] | None = None,
        ca_file: str | None = None,
        state_dir: Path | None = None,
        ack_keys: Mapping[str, AckKey] | None = None,
        protocol_version: int = 2,
        clip_dir: Path | None = None,
        clip_budget_bytes: int = DEFAULT_BUDGET_BYTES,
        library: bool = True,
        signal_floor_s: float = SIGNAL_FLOOR_S,
        projection_flash: bool = True,
        qos: int = 1,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        if per_connection < 1:
            raise ValueError(f"per_connection must be >= 1, got {per_connection}")
        ids = [spec.id for spec in lanterns]
        if len(set(ids)) != len(ids):
            raise ValueError("lantern ids must be unique")
        self.broker = BrokerAddress.parse(broker_url)
        self.topics = topics or Topics()
        self.speed = speed
        self.signal_floor_s = signal_floor_s
        # False: firmware from before projection flashing (issue 18), see Lantern.
        self.projection_flash = projection_flash
        self.clock = clock
        self.fetch_concurrency = fetch_concurrency
        # A boot number that rises with every start without storage: a restart loses all slots,
        # and the service notices by the changed boot in the retained availability.
        self.boot = boot if boot is not None else int(clock().timestamp())
        # Signed mode: the trust file's verifier, and a replay guard in every lantern.
        self.trust = trust
        self.verifier = trust.verifier if trust is not None else verifier
        # Replay memory in "flash": per lantern, kept across reboots, in a file per fleet under
        # ``state_dir`` (without one, only for as long as this process runs).
        # (Unsigned development fleets check no seqs: their window is never asked for.)
        checker = self.verifier
        window = (
            (lambda: checker.replay_window_s)
            if isinstance(checker, TrustVerifier)
            else (lambda: 600.0)
        )
        flash_path = state_dir / f"replay.{gateway_prefix}.json" if state_dir else None
        self.flash = ReplayFlash(flash_path, window)
        self.flash.on_dirty = self._flush_flash_soon
        self._rng = random.Random(seed)  # noqa: S311 (seeded fault injection, not secrets)
        # Per-lantern ack keys it was provisioned with: each lantern signs its own acks.
        self.ack_keys = dict(ack_keys or {})
        self.fetcher = ClipFetcher(fetch_concurrency, rng=self._rng, clock=clock)
        # The clip library (issue 14): its own, smaller HTTP client, verified bytes once per
        # fleet (in ``clip_dir``, else only their hashes), a budget and an index per lantern.
        self.library_fetcher = ClipFetcher(LIBRARY_CONCURRENCY, rng=self._rng, clock=clock)
        self.shelf = ClipShelf(clip_dir)
        self._library_on = library
        self.envelopes = EnvelopeCache()  # one parse per copy, shared by the lanterns it reaches
        self._startup_faults: list[FaultClause] = parse_faults(faults) if faults else []
        self.gateways: list[Gateway] = []
        self._units: dict[str, Unit] = {}
        for start in range(0, len(lanterns), per_connection):
            chunk = lanterns[start : start + per_connection]
            gateway_id = f"{gateway_prefix}-{len(self.gateways):02d}"
            gateway = Gateway(
                gateway_id,
                self.broker,
                self.topics,
                [spec.id for spec in chunk],
                self._on_command,
                boot=self.boot,
                on_connected=self._on_gateway_connected,
                password=(passwords or {}).get(gateway_id),
                ca_file=ca_file,
                node=len(self.gateways),  # spread over the nodes of a clustered broker
                protocol_version=protocol_version,
                on_membership=self._on_membership,
                on_manifest=self._on_manifest if library else None,
                qos=qos,
            )
            self.gateways.append(gateway)
            for spec in chunk:
                link = LanternLink(spec.id, gateway, self.boot, self._rng)
                lantern = self.new_lantern(spec.id, spec.capabilities)
                lantern.groups = frozenset(group_audience(k, v) for k, v in spec.groups)
                if lantern.groups and protocol_version >= 2:
                    gateway.set_groups(spec.id, tuple(sorted(lantern.groups)))
                cache = ClipCache(clip_budget_bytes)
                self._units[spec.id] = Unit(lantern, gateway, link, cache=cache)
        self._dirty: dict[str, None] = {}
        self._clips_dirty: set[str] = set()  # lanterns whose clip report is out of date
        self._tasks: list[asyncio.Task[None]] = []
        # Every playback task until it ends, also those already cancelled: stop() awaits them
        # all, so none is left for the garbage collector once the loop has closed.
        self._playbacks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.library = LibrarySync(
            {lid: unit.cache for lid, unit in self._units.items()},
            self.shelf,
            self.library_fetcher,
            busy=lambda: bool(self._playbacks),
            changed=self._clips_changed,
        )

    @property
    def lantern_ids(self) -> list[str]:
        return list(self._units)

    def lantern(self, lantern_id: str) -> Lantern:
        return self._units[lantern_id].lantern

    def record(self, lantern_id: str) -> LanternRecord:
        """Fetches, programs played and acks sent by one lantern, oldest first."""
        return self._units[lantern_id].record

    def new_lantern(
        self,
        lantern_id: str,
        capabilities: frozenset[Capability],
        replay: ReplayGuard | None = None,
    ) -> Lantern:
        """Fresh firmware for one lantern (at start, and on a simulated reboot); in signed mode
        its replay guard boots from the lantern's image in flash."""
        verifier = self.verifier
        if replay is None and isinstance(verifier, TrustVerifier):
            replay = self.flash.guard(lantern_id)
        return Lantern(
            lantern_id,
            capabilities,
            verifier,
            replay=replay,
            projection_flash=self.projection_flash,
            parse=self.envelopes.parse,
        )

    def unit(self, lantern_id: str) -> Unit:
        return self._units[lantern_id]

    def call(self, job: Callable[[], T], timeout_s: float = 10) -> T:
        """Run ``job`` on the fleet's event loop from another thread and return its result:
        lantern state and fault timers are only touched there."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the fleet has not been started")

        async def run() -> T:
            return job()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout_s)

    async def start(self) -> None:
        """Open the HTTP client and every gateway connection; returns without waiting for them."""
        await self.fetcher.start()
        await self.library_fetcher.start()
        self._loop = asyncio.get_running_loop()
        for gateway in self.gateways:
            await gateway.start()
        self._tasks = [
            asyncio.create_task(self._every(STATE_FLUSH_S, self._flush_states), name="fleet-state"),
            asyncio.create_task(self._every(CLIP_REPORT_S, self._report_clips), name="fleet-clips"),
        ]
        trust = self.trust
        if trust is not None:
            poll = asyncio.create_task(self._every(TRUST_POLL_S, trust.poll), name="fleet-trust")
            self._tasks.append(poll)
        if self._library_on:
            sync = asyncio.create_task(self.library.run(), name="fleet-library")
            self._tasks.append(sync)
        if self._startup_faults:
            apply_clauses(self, self._startup_faults)
        log.info(
            "simulating %d lanterns over %d connections to %s:%d (speed %.3g)",
            len(self._units),
            len(self.gateways),
            self.broker.host,
            self.broker.port,
            self.speed,
        )

    async def wait_connected(self, timeout_s: float = 10.0) -> bool:
        """True once every gateway is subscribed (SUBACKs in) and has announced itself online."""
        results = await asyncio.gather(*(g.wait_connected(timeout_s) for g in self.gateways))
        return all(results)

    async def stop(self) -> None:
        """Stop playback, report state, publish availability offline, close the connections."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for unit in self._units.values():
            if unit.timer is not None:
                unit.timer.cancel()
            unit.timer, unit.deadline = None, None
        await self._cancel_playbacks()
        for unit in self._units.values():
            unit.link.close()
        self._report_clips()
        self._flush_states()
        try:
            await asyncio.gather(*(g.stop() for g in self.gateways))
        finally:
            # Whatever happens to the connections, every seq accepted is in the file.
            self._flush_flash()
        # A command that arrived while the gateways closed may have started one more.
        await self._cancel_playbacks()
        await self.fetcher.close()
        await self.library_fetcher.close()

    def _flush_flash_soon(self) -> None:
        """First seq accepted since the last write: write the replay memory within FLUSH_S."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # driven without a loop (tests): write at once
            self.flash.flush()
            return
        loop.call_later(FLUSH_S, self._flush_flash)

    def _flush_flash(self) -> None:
        try:
            self.flash.flush()
        except OSError:
            # Keep serving: the image stays dirty in memory and is written with the next change.
            log.exception("cannot write the replay memory %s", self.flash.path)

    async def _cancel_playbacks(self) -> None:
        playbacks = list(self._playbacks)
        for task in playbacks:
            task.cancel()
        await asyncio.gather(*playbacks, return_exceptions=True)

    def passer_by(self, lantern_id: str) -> None:
        """Someone walks past the lantern (a path in motion mode lights up for its hold time).

        Safe from any thread: the event is handed to the fleet's loop.
        """
        unit = self._units[lantern_id]
        if self._loop is None:
            raise RuntimeError("fleet not started")
        self._loop.call_soon_threadsafe(self._motion, unit)

    # ---- faults (firmware_sim/control.py applies specs through these) --------------------------

    def set_faults(self, lantern_id: str, faults: Faults) -> None:
        unit = self._units[lantern_id]
        unit.link.faults = faults
        unit.lantern.broken = faults.broken_channels()
        unit.cache.fault = faults.cache_fault()
        self._clips_changed([lantern_id])
        self._dirty[lantern_id] = None  # the retained state names the broken parts

    def reboot(self, lantern_id: str) -> None:
        """Restart one lantern: slots, queue, playback and seen ids are lost; its replay memory
        (highest seq and seqs seen per key) and its clip cache boot from flash; a new boot
        number is announced."""
        unit = self._units[lantern_id]
        old = unit.lantern
        if unit.timer is not None:
            unit.timer.cancel()
        unit.timer, unit.deadline = None, None
        if unit.playback is not None:
            unit.playback.cancel()
        unit.playback, unit.playback_id = None, None
        replay = self.flash.guard(lantern_id) if old.replay is not None else None
        unit.lantern = self.new_lantern(lantern_id, old.capabilities, replay)
        unit.lantern.broken = dict(old.broken)
        unit.lantern.groups = old.groups  # provisioned, like its id: kept across a reboot
        unit.lantern.clip_report = old.clip_report
        unit.link.rebooted(unit.link.boot + 1)
        self._dirty[lantern_id] = None
        log.info("lantern %s rebooted (boot %d)", lantern_id, unit.link.boot)

    # ---- inputs -------------------------------------------------------------------------------

    def _motion(self, unit: Unit) -> None:
        now = self.clock()
        unit.record.motion.append(now)
        self._apply(unit, unit.lantern.motion(now))

    def _on_membership(self, lantern_id: str, groups: tuple[str, ...]) -> None:
        """The service provisioned the lantern's groups (protocol v2): it acts on them now."""
        unit = self._units[lantern_id]
        unit.lantern.groups = frozenset(groups)
        unit.record.groups = groups

    def _on_command(self, lantern_id: str, payload: bytes, arrived_on: str = "") -> None:
        unit = self._units[lantern_id]
        if not unit.link.online:
            unit.record.dropped.append("link down: command lost")
            return
        # The audience of the topic it arrived on: the lantern's own, or one of its groups.
        arrived_on = arrived_on or lantern_audience(lantern_id)
        unit.record.received_on.append(arrived_on)
        for _ in range(2 if unit.link.faults.duplicate else 1):
            self._apply(unit, unit.lantern.handle(payload, self.clock(), arrived_on))

    def _on_manifest(self, key: str, payload: bytes) -> None:
        self.library.take(key, payload)

    def _clips_changed(self, lantern_ids: Iterable[str]) -> None:
        """What a lantern holds changed: a retained state within CLIP_REPORT_S says so."""
        self._clips_dirty.update(lantern_ids)

    def _report_clips(self) -> None:
        """Build the clip report of every lantern whose clips changed since the last one, and
        have its state published with it."""
        dirty, self._clips_dirty = self._clips_dirty, set()
        has_manifests = bool(self.library.manifests)
        for lantern_id in dirty:
            unit = self._units[lantern_id]
            if has_manifests or unit.cache.fault is not None:
                unit.lantern.clip_report = self.library.holding(lantern_id)
            else:
                unit.lantern.clip_report = None
            self._dirty[lantern_id] = None

    def _on_gateway_connected(self, gateway: Gateway) -> None:
        # The broker may have lost retained state (restart without persistence): report it again.
        for lantern_id in gateway.lantern_ids:
            self._dirty[lantern_id] = None

    def _expire(self, unit: Unit) -> None:
        unit.timer, unit.deadline = None, None
        self._apply(unit, unit.lantern.tick(self.clock()))

    # ---- effects ------------------------------------------------------------------------------

    def _apply(self, unit: Unit, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, SendAck):
                self._send_ack(unit, effect)
            elif isinstance(effect, StartAudio):
                self._start_playback(unit, effect.cmd, effect.program)
            elif isinstance(effect, StopAudio):
                self._stop_playback(unit, effect.cmd_id)
            elif isinstance(effect, PublishState):
                self._dirty[unit.lantern.id] = None
            elif isinstance(effect, Dropped):
                log.info("lantern %s dropped a command: %s", unit.lantern.id, effect.reason)
                unit.record.dropped.append(effect.reason)
        self._schedule(unit)

    def _schedule(self, unit: Unit) -> None:
        """Keep one timer per lantern at its next slot expiry (after every change)."""
        deadline = unit.lantern.next_deadline()
        if deadline == unit.deadline:
            return
        if unit.timer is not None:
            unit.timer.cancel()
        unit.timer, unit.deadline = None, deadline
        if deadline is not None:
            delay_s = max((deadline - self.clock()).total_seconds(), 0) + EXPIRY_MARGIN_S
            unit.timer = asyncio.get_running_loop().call_later(delay_s, self._expire, unit)

    def _send_ack(self, unit: Unit, effect: SendAck) -> None:
        played = list(effect.played[:PLAYED_MAX]) if effect.played is not None else None
        ack = Ack(
            cmd_id=effect.cmd_id,
            lantern=unit.lantern.id,
            status=effect.status,
            reason=effect.reason,
            at=self.clock(),
            played=played,
        )
        key = self.ack_keys.get(unit.lantern.id)
        if key is not None:
            ack = key.sign(ack)
        unit.link.send(ack)
        unit.record.acks.append(ack)

    def _flush_states(self) -> None:
        dirty, self._dirty = self._dirty, {}
        now = self.clock()
        for lantern_id in dirty:
            unit = self._units[lantern_id]
            if not unit.link.online:
                self._dirty[lantern_id] = None  # reported once the link is back
                continue
            unit.gateway.publish_state(unit.lantern.state(now))

    # ---- audio playback -----------------------------------------------------------------------

    def _start_playback(self, unit: Unit, cmd: CommandEnvelope, program: AudioPayload) -> None:
        previous = unit.playback
        if previous is not None and previous is not asyncio.current_task():
            previous.cancel()  # the lantern stops audio before starting more; be safe anyway
        unit.playback_id = cmd.id
        task = asyncio.create_task(
            self._play(unit, cmd, program), name=f"play-{unit.lantern.id}-{cmd.id}"
        )
        unit.playback = task
        self._playbacks.add(task)
        task.add_done_callback(self._playbacks.discard)

    def _stop_playback(self, unit: Unit, cmd_id: str) -> None:
        task = unit.playback
        if task is None or unit.playback_id != cmd_id:
            return
        unit.playback, unit.playback_id = None, None
        if task is not asyncio.current_task():
            task.cancel()

    async def _play(self, unit: Unit, cmd: CommandEnvelope, program: AudioPayload) -> None:
        """Sound first, then speech in step (firmware_sim/timeline.py): ack ``playing`` as the
        signal starts, fetch and check the clips meanwhile, join the alert's speech at the first
        sentence boundary after they are ready, play to the end of that run."""
        lantern = unit.lantern
        try:
            received = self.clock()
            sounds = any(isinstance(item, ToneItem) for item in program.program)
            if sounds:
                unit.record.sounded.append((cmd.id, received))
                self._apply(unit, lantern.audio_started(cmd.id, received))
            clips = [item for item in program.program if isinstance(item, SpeechItem)]
            for clip in clips:
                if not unit.cache.has(clip.sha256):
                    problem = await self._fetch(unit, clip, cmd.expires_at)
                    if problem is not None:
                        self._apply(unit, lantern.audio_failed(cmd.id, self.clock(), problem))
                        return
            plan = speech_plan(program, received, self.clock(), self.speed, self.signal_floor_s)
            await self._until(plan.speech_from)
            if not sounds:
                self._apply(unit, lantern.audio_started(cmd.id, self.clock()))
            if plan.played:
                late = self.clock() - plan.speech_from  # how far this loop woke up late
                first = self._first_speech_index(program, plan.first_item)
                unit.record.speech.append((cmd.id, first, plan.first_speech_at + late))
            # Expiry first? The lantern's timer ticks it, which stops (cancels) this playback.
            await self._until(plan.ends)
            reason = Reason.JOINED_LATE if plan.skipped else None
            effects = lantern.audio_finished(cmd.id, self.clock(), plan.played, reason)
            if effects:
                unit.record.played.append((cmd.id, plan.played))
            self._apply(unit, effects)
        except Exception:
            # Never leave a command without a final ack (no silent loss), even on a bug here.
            log.exception("lantern %s: playback of %s failed", lantern.id, cmd.id)
            self._apply(unit, lantern.audio_failed(cmd.id, self.clock(), Reason.INTERNAL_ERROR))
        finally:
            if unit.playback is asyncio.current_task():
                unit.playback, unit.playback_id = None, None

    @staticmethod
    def _first_speech_index(program: AudioPayload, first_item: int) -> int:
        """Index (over spoken items, repeats counted) of the first spoken item at or after
        program item ``first_item`` (repeats counted)."""
        per_run = len(program.program)
        spoken = 0
        for index in range(per_run * program.repeat):
            item = program.program[index % per_run]
            if isinstance(item, SpeechItem):
                if index >= first_item:
                    return spoken
                spoken += 1
        return spoken

    async def _until(self, when: datetime) -> None:
        delay_s = (when - self.clock()).total_seconds()
        if delay_s > 0:
            await asyncio.sleep(delay_s)

    async def _fetch(self, unit: Unit, clip: SpeechItem, deadline: datetime) -> Reason | None:
        """Download one clip (with retries) and check its hash; None when good. The lantern
        keeps it if its cache can (else it plays it from memory and says why it could not)."""
        got = await self.fetcher.fetch(
            clip,
            deadline=deadline,
            corrupt_share=unit.link.faults.corrupt_clips,
            who=unit.lantern.id,
        )
        for digest in got.digests:
            unit.record.fetched.append((clip.url, digest))
        if got.problem is None and got.body is not None:
            new = not self.shelf.has(clip.sha256)
            refused = self.shelf.put(clip.sha256, got.body) or unit.cache.put(
                clip.sha256, len(got.body)
            )
            if refused is None and new:
                self.library.offer(clip.sha256, len(got.body))
            if refused is not None:
                log.warning(
                    "lantern %s cannot keep clip %s (%s): playing it from memory",
                    unit.lantern.id,
                    clip.sha256,
                    refused.value,
                )
                unit.record.cache_refusals.append((clip.sha256, refused.value))
                self._clips_changed([unit.lantern.id])
        return got.problem

    @staticmethod
    async def _every(period_s: float, job: Callable[[], object]) -> None:
        while True:
            await asyncio.sleep(period_s)
            try:
                job()
            except Exception:  # one bad round must not stop state reports for good
                log.exception("fleet job %s failed", getattr(job, "__name__", job))
