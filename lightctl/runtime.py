"""The controller: builds every component from settings and owns start-up and shut-down."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lightctl.acoustics.propagation import SourceSpec
from lightctl.audio import ClipStore, SpeechCache, synthesizer_from_settings
from lightctl.audio.lexicon import Lexicon
from lightctl.domain.clock import Clock, utc_now
from lightctl.domain.fanout import GroupBook
from lightctl.geo.groups import memberships as memberships_of
from lightctl.geo.targeting import LanternIndex
from lightctl.mqtt import IncomingMessage, MqttLink
from lightctl.mqtt.consumer import Consumer
from lightctl.paths import LEXICON_PATH, TEMPLATES_DIR
from lightctl.protocol import LanternState, TopicKind, Topics
from lightctl.services.access.ack_trust import AckTrust
from lightctl.services.alerts.commands import EXERCISE_PHRASES
from lightctl.services.alerts.previews import PreviewBook
from lightctl.services.alerts.service import AlertService
from lightctl.services.clip_library import EMPTY_LIBRARY, ClipLibrary
from lightctl.services.coverage import CoverageService
from lightctl.services.delivery.outbox import Outbox
from lightctl.services.events import AlertEvents
from lightctl.services.groups import GroupService
from lightctl.services.guidance import GuidanceService
from lightctl.services.guidance_commands import load_phrases
from lightctl.services.lantern_state import LanternStates
from lightctl.services.replicas import (
    Fingerprint,
    ReplicaMismatch,
    Replicas,
    templates_digest,
)
from lightctl.services.schedules.runner import TICK_S, ScheduleRunner
from lightctl.services.schedules.service import ScheduleService
from lightctl.services.sequence import SequenceCounter
from lightctl.services.speech import Speaker
from lightctl.services.steering.service import SteeringService
from lightctl.services.targets import TargetResolver
from lightctl.settings import Settings, parse_mqtt_urls
from lightctl.signing import CommandSigner, KeyStore, NoSigningKey
from lightctl.store import Database
from lightctl.store import lantern_keys as key_store
from lightctl.store import lanterns as lantern_store
from lightctl.store import plans as plan_store
from lightctl.store.notify import AlertNotifier
from lightctl.store.schema import Migrator
from lightctl.store.serving import ServingClaim, sqlite_file
from lightctl.templates import Template, load_templates

log = logging.getLogger(__name__)


# The lease of the one replica that runs the lighting schedules.
SCHEDULE_LEASE = "schedule-runner"
ACK_LEASE = "ack-ingest"
# Renewed every third of this: a killed replica's acks are taken over within about this long.
ACK_LEASE_S = 6.0


class Runtime:
    """Everything ``lightctl serve`` runs; constructor only assigns, ``start`` does the work."""

    def __init__(
        self, settings: Settings, db: Database | None = None, clock: Clock = utc_now
    ) -> None:
        self.settings = settings
        # The one clock: every service, the outbox, the consumer and the store stamps use it.
        self.clock = clock
        self.db = db or Database(settings.resolved_database_url)
        self.topics = Topics(settings.topic_root)
        self.clips = ClipStore(settings.clip_dir)
        self.speech = SpeechCache(self.clips, synthesizer_from_settings(settings))
        self.lexicon = Lexicon.load(settings.lexicon_path or LEXICON_PATH)
        self.speaker = Speaker(self.speech, self.lexicon)
        self.targets = TargetResolver(self.db, settings.target_max_lanterns, self._reported)
        self.previews = PreviewBook(self.db, self.clock)
        self.groups = GroupService(self.db, self.targets, self.clock)
        # Evacuation guidance (issue 18): the walking graph is built on first use per streets.
        self.guidance = GuidanceService(self.db, self.targets, self.clock)
        self.alerts: AlertService | None = None
        # Visitor flows and schedules (issue 5); schedule changes wake the runner.
        self.steering: SteeringService | None = None
        self.schedule_runner: ScheduleRunner | None = None
        self.schedules: ScheduleService | None = None
        self.lantern_states = LanternStates(self.db, self.clock, self._reported)
        # Acoustic coverage (issue 19): the matrix is built in a thread at start and on change.
        self.coverage = CoverageService(
            self.db,
            settings.data_dir,
            SourceSpec(settings.speaker_level_db, settings.speaker_height_m),
            settings.coverage_spacing_m,
            settings.coverage_radius_m,
            settings.facade_cap_db,
            self._reported,
        )
        # Command signing (issue 6): keys in <data_dir>/keys, the signer built in ``start``.
        self.keys = KeyStore.in_data_dir(settings.data_dir, self.clock)
        self.signer: CommandSigner | None = None
        self.link: MqttLink | None = None
        self.outbox: Outbox | None = None
        self.consumer: Consumer | None = None
        self.events: AlertEvents | None = None
        self.notifier: AlertNotifier | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.templates: dict[str, Template] | None = None
        self._warmup: asyncio.Future[int] | None = None
        self._graph_warmup: asyncio.Future[None] | None = None
        self.library: ClipLibrary | None = None
        self._claim: ServingClaim | None = None
        self.replicas: Replicas | None = None
        # Protocol v2 fan-out: who listens to which group, and each lantern's own groups.
        self.fanout = GroupBook()
        self._memberships: tuple[LanternIndex, dict[str, tuple[str, ...]]] | None = None

    def memberships(self) -> dict[str, tuple[str, ...]]:
        """Every lantern's fan-out groups, from the lantern index (rebuilt with it)."""
        index = self.targets.refresh()
        cached = self._memberships
        if cached is not None and cached[0] is index:
            return cached[1]
        groups = memberships_of(index)
        self._memberships = (index, groups)
        return groups

    def load_templates(self) -> dict[str, Template]:
        """Read and check every template; ``TemplateInvalid`` names each bad file and key."""
        if self.templates is None:
            self.templates = load_templates(self.settings.templates_dir or TEMPLATES_DIR)
        return self.templates

    def claim_database(self) -> None:
        """SQLite serves one process: refuse (``DatabaseInUse``) if another one serves it."""
        path = sqlite_file(self.db.url)
        if path is not None and self._claim is None:
            claim = ServingClaim(path)
            claim.acquire()
            self._claim = claim

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.claim_database()
        templates = self.load_templates()
        await asyncio.to_thread(self.db.create_all, self.settings.database_auto_upgrade)
        await asyncio.to_thread(self.targets.refresh)  # the lantern index, before any request
        self.coverage.start()
        self.signer = await asyncio.to_thread(self._signer)
        await asyncio.to_thread(self._report_ack_keys)
        self.replicas = Replicas(self.db, self.clock, await asyncio.to_thread(self._fingerprint))
        await self.replicas.start()  # refuses to join replicas configured differently
        self.events = AlertEvents(loop)
        # Viewers on every replica hear of acks any replica ingests (PostgreSQL NOTIFY).
        self.notifier = AlertNotifier(self.db, self.replicas.id, self.events.notify)
        self.notifier.start()
        queue: asyncio.Queue[IncomingMessage] = asyncio.Queue()
        (host, port), *alternates = parse_mqtt_urls(self.settings.mqtt_url)
        self.link = MqttLink(
            host,
            port,
            self.settings.mqtt_client_id,
            [
                self.topics.all_lanterns(TopicKind.ACK),
                self.topics.all_lanterns(TopicKind.AVAILABILITY),
                self.topics.all_lanterns(TopicKind.STATE),
                self.topics.all_gateways(),
                self.topics.all_gateway_acks(),
            ],
            queue,
            loop,
            username=self.settings.mqtt_username,
            password=self.settings.mqtt_secret(),
            tls=self.settings.mqtt_tls,
            ca_file=str(self.settings.mqtt_ca_file) if self.settings.mqtt_ca_file else None,
            alternates=alternates,
            qos=self.settings.mqtt_qos,
        )
        self.outbox = Outbox(
            self.db,
            self.link,
            self.topics,
            self.settings.ack_timeout_s,
            self.clock,
            self._changed,
            signer=self.signer,
            backlog=queue.qsize,
            groups=self.fanout,
            memberships=self.memberships,
            rows_chunk=self.settings.delivery_rows_chunk,
        )
        self.consumer = Consumer(
            self.db,
            queue,
            self.topics,
            self.clock,
            self._changed,
            self.outbox.resend,
            trust=AckTrust(self.settings.acks_must_be_signed),
            groups=self.fanout,
            memberships=self.memberships,
            on_provision=self.outbox.provision,
            ack_timeout_s=self.settings.ack_timeout_s,
        )
        self.link.on_session_lost = self.outbox.resend_all
        self.alerts = AlertService(
            self.db,
            self.settings,
            self.speaker,
            self.clock,
            templates=templates,
            on_stored=self.outbox.wake,
            resolver=self.targets,
            sign=self.signer.sign,
            previews=self.previews,
            guidance=self.guidance,
            features=self.features_of,
        )
        sign = self.signer.sign
        self.steering = SteeringService(
            self.db, self.clock, self.targets, on_stored=self.outbox.wake, sign=sign
        )
        self.schedules = ScheduleService(
            self.db, self.targets, self.clock, on_change=self._schedules_changed, sign=sign
        )
        self.schedule_runner = ScheduleRunner(
            self.db,
            self.schedules,
            self.clock,
            on_stored=self.outbox.wake,
            sign=sign,
            # One replica runs the schedules; another takes over within a lease if it dies.
            should_run=lambda: (
                self.replicas is not None and self.replicas.hold(SCHEDULE_LEASE, 3 * TICK_S)
            ),
        )
        # One replica writes what lanterns report (acks, availability); the lease passes on
        # within ACK_LEASE_S when it dies, and the others keep what came meanwhile.
        self.consumer.leading = await asyncio.to_thread(self._hold_ack_lease)
        self.link.start()
        await self.schedule_runner.start()
        if self.settings.clip_library and self.settings.prerender_templates:
            self.library = self._clip_library(templates)
        # Pre-render every fixed template sentence so a template warning never waits for speech.
        if self.settings.prerender_templates:
            # The follow-the-arrows sentences of evacuations too (keys never clash: prefixed).
            spoken = {**templates, **{f"guidance:{k}": t for k, t in load_phrases().items()}}
            self._warmup = loop.run_in_executor(None, self.speaker.warm, spoken, EXERCISE_PHRASES)
        # The walking graph of evacuation guidance, built before the first evacuation needs it.
        self._graph_warmup = loop.run_in_executor(None, self._warm_graph)
        self._tasks = [
            asyncio.create_task(self.outbox.run(), name="outbox"),
            asyncio.create_task(self._ack_lease_loop(), name="ack-lease"),
            asyncio.create_task(self.consumer.run(), name="consumer"),
        ]
        if self.library is not None:
            self._tasks.append(asyncio.create_task(self.library.run(), name="clip-library"))
        log.info("lightctl runtime started (broker %s, db %s)", self.settings.mqtt_url, self.db.url)

    def _warm_graph(self) -> None:
        try:
            self.guidance.street_graph()
        except Exception:  # the first evacuation builds it again and reports what is wrong
            log.exception("could not build the walking graph")

    def _clip_library(self, templates: dict[str, Template]) -> ClipLibrary:
        link, outbox = self.link, self.outbox
        if link is None or outbox is None:
            raise RuntimeError("the clip library needs the MQTT link and the outbox")

        def publish(topic: str, payload: bytes) -> object:
            return link.publish(topic, payload, retain=True)

        def size(sha256: str, ext: str) -> int:
            return self.clips.path_for(sha256, ext).stat().st_size

        return ClipLibrary(
            self.db,
            self.speaker,
            templates,
            self.topics,
            base_url=self.settings.resolved_public_url,
            clip_size=size,
            publish=publish,
            activity=lambda: outbox.published_total,
            reported=self._all_reported,
            languages=self.settings.clip_library_languages,
            city_languages=self.settings.city_languages,
            only=self.settings.clip_library_templates,
            pace_s=self.settings.clip_library_pace_s,
            quiet_s=self.settings.clip_library_quiet_s,
        )

    def _all_reported(self) -> dict[str, LanternState]:
        for _ in range(3):  # the consumer's thread may add a lantern while we copy
            try:
                return dict(self.consumer.reported) if self.consumer else {}
            except RuntimeError:
                continue
        return {}

    def clip_library_summary(self) -> dict[str, Any]:
        if self.library is None:
            return {**EMPTY_LIBRARY, "lanterns_reporting": 0}
        return {"enabled": True, **self.library.summary()}

    def _hold_ack_lease(self) -> bool:
        return self.replicas is not None and self.replicas.hold(ACK_LEASE, ACK_LEASE_S)

    async def _ack_lease_loop(self) -> None:
        while True:
            await asyncio.sleep(ACK_LEASE_S / 3)
            try:
                leading = await asyncio.to_thread(self._hold_ack_lease)
            except Exception:  # a database hiccup: keep the last answer, ask again soon
                log.exception("could not renew the ack lease")
                continue
            if self.consumer is not None and leading != self.consumer.leading:
                log.info(
                    "%s what lanterns report", "now writing" if leading else "no longer writing"
                )
                self.consumer.leading = leading

    def _changed(self, alert_ids: set[str]) -> None:
        """Delivery counts of these alerts moved: tell this replica's viewers and the others'."""
        if self.events is not None:
            self.events.notify(alert_ids)
        if self.notifier is not None:
            self.notifier.publish(alert_ids)

    async def stop(self) -> None:
        if self.events:
            self.events.close()  # open progress streams end instead of holding shut-down
        if self.schedule_runner:
            await self.schedule_runner.stop()
        if self.outbox:
            self.outbox.stop()
        if self.consumer:
            self.consumer.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:  # a task that failed earlier must not stop the shutdown
                log.exception("task %s had failed; shutting down anyway", task.get_name())
        if self.link:
            self.link.stop()
        if self.notifier:
            await asyncio.to_thread(self.notifier.stop)
        if self.replicas:
            await self.replicas.stop()
        self.db.dispose()
        if self._claim is not None:
            self._claim.release()
            self._claim = None

    def _signer(self) -> CommandSigner:
        """The signer; in development the first start creates the keys, production needs
        ``lightctl keys generate`` first (a key made by accident is a key nobody provisioned)."""
        if self.settings.environment == "production":
            if not self.keys.exists():
                raise NoSigningKey("life_safety", self.keys.directory)
        else:
            for key in self.keys.ensure():
                log.warning("generated %s signing key %s (development)", key.scope, key.kid)
        return CommandSigner(self.keys, self.clock, SequenceCounter(0).next)

    def _report_ack_keys(self) -> None:
        """Say at start how many lanterns' acks are believed without a signature."""
        with self.db.session() as session:
            total = lantern_store.count_lanterns(session)
            keyed = key_store.count_keyed(session)
        if keyed < total:
            refused = "refused" if self.settings.acks_must_be_signed else "believed unsigned"
            log.warning(
                "%d of %d lanterns have no ack key: their acks are %s "
                "(provision keys with `lightctl mqtt credentials`, store them with "
                "`lightctl mqtt lantern-keys`)",
                total - keyed,
                total,
                refused,
            )

    def check_replicas(self) -> None:
        """Refuse (``ReplicaMismatch``) when a live replica on this database is configured
        differently; ``start`` checks again when it registers."""
        differences = Replicas(self.db, self.clock, self._fingerprint()).check()
        if differences:
            raise ReplicaMismatch(differences)

    def _fingerprint(self) -> Fingerprint:
        registry = self.keys.load()
        kids = sorted(k.kid for k in registry.keys if k.revoked_at is None)
        return Fingerprint(
            signing_kids=",".join(kids),
            templates_digest=templates_digest(self.settings.templates_dir or TEMPLATES_DIR),
            schema_revision=Migrator(self.db).head(),
        )

    def metrics(self) -> dict[str, int]:
        """Counters of delivery and input hygiene (GET /api/v1/metrics)."""
        out: dict[str, int] = {}
        if self.consumer is not None:
            for _ in range(3):  # the consumer's thread may add a key while we copy
                try:
                    stats = dict(self.consumer.stats)
                    break
                except RuntimeError:
                    stats = {}
            out.update({f"consumer_{k}": v for k, v in stats.items()})
        if self.outbox is not None:
            out["outbox_published"] = self.outbox.published_total
            out["outbox_resent"] = self.outbox.resent_total
            out["outbox_asked_again"] = self.outbox.asked_again_total
            out["outbox_expired"] = self.outbox.expired_total
            out["outbox_unreachable"] = self.outbox.unreachable_total
            out["outbox_group_published"] = self.outbox.group_published_total
            out["outbox_group_covered"] = self.outbox.group_covered_total
            out["outbox_groups_provisioned"] = self.outbox.provisioned_total
            out["outbox_rows_written"] = self.outbox.rows_written_total
            with self.db.session() as session:  # lanterns of large alerts without a row yet
                out["delivery_rows_pending"] = plan_store.pending(session)
            out["fanout_v2_lanterns"] = len(self.fanout)
            # Reporting exactly the groups the inventory gives them: reachable by group copies.
            out["fanout_confirmed"] = self.fanout.confirmed(self.memberships())
            out["fanout_ready"] = int(self.fanout.ready)
        if self.signer is not None:
            out["signer_signed"] = self.signer.signed_total
            out["signer_refreshed"] = self.signer.refreshed_total
        if self.notifier is not None:
            out["notify_received"] = self.notifier.received_total
            out["notify_sent"] = self.notifier.sent_total
        out["ack_leader"] = int(self.consumer is not None and self.consumer.leading)
        out["mqtt_connected"] = int(self.link is not None and self.link.connected)
        return out

    def _schedules_changed(self) -> None:
        if self.schedule_runner is not None:
            self.schedule_runner.wake()

    def _reported(self, lantern_id: str) -> LanternState | None:
        return self.consumer.reported.get(lantern_id) if self.consumer else None

    def features_of(self, lantern_id: str) -> frozenset[str]:
        """The optional protocol fields a lantern's firmware understands, as its last state
        says (none before it reported: it is then sent nothing it might refuse)."""
        state = self._reported(lantern_id)
        return frozenset(state.features or ()) if state is not None else frozenset()

    def health(self) -> dict[str, str]:
        mqtt_ok = self.link is not None and self.link.connected
        db_ok = self.db.ping()
        problems = self.replicas.problems if self.replicas is not None else []
        refused = self.link.subscription_problem if self.link is not None else None
        mqtt = "connected" if mqtt_ok else f"disconnected ({self._mqtt_error()})"
        return {
            "status": "ok" if mqtt_ok and db_ok and not problems and not refused else "degraded",
            "mqtt": f"connected, but {refused}" if refused else mqtt,
            "db": "ok" if db_ok else "unreachable",
            "replicas": "; ".join(problems) if problems else "consistent",
        }

    def _mqtt_error(self) -> str:
        if self.link is None or self.link.last_error is None:
            return "connecting"
        return self.link.last_error
