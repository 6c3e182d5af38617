"""Replicas of ``lightctl serve`` on one database: each says it is alive and with which signing
keys and templates, refuses to start beside a live replica that disagrees, reports a later
disagreement on /healthz, and takes leases for the jobs only one of them may run.

A split (two replicas signing with different keys, or speaking different template texts) would
be silent without this: lanterns provisioned with one trust list refuse the other replica's
commands, and the same template warning would sound different depending on which replica a
dispatcher's request landed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from lightctl.domain.clock import Clock
from lightctl.domain.records import Replica
from lightctl.errors import LightctlError
from lightctl.store import Database
from lightctl.store import coordination as store

log = logging.getLogger(__name__)

# A heartbeat every 5 s; a replica unseen for 3 beats is taken for dead (a SIGKILLed replica's
# leases pass to another one within LEASE_S at most).
HEARTBEAT_S = 5.0
ALIVE_S = 15.0
# A lease outlives two missed renewals (renewed every HEARTBEAT_S): a busy replica keeps it, a
# dead one loses it within 15 s.
LEASE_S = 15.0


class ReplicaMismatch(LightctlError):
    """A live replica on the same database signs with other keys or speaks other templates."""

    code = "replica_mismatch"

    def __init__(self, differences: list[str]) -> None:
        super().__init__(
            "another replica on this database is configured differently: "
            + "; ".join(differences)
            + ". Every replica needs the same keys directory contents and templates"
        )
        self.differences = differences


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What every replica must share: the signing keys it may use and its template texts."""

    signing_kids: str
    templates_digest: str
    schema_revision: str

    def differences(self, other: Replica) -> list[str]:
        out = []
        if other.signing_kids != self.signing_kids:
            out.append(
                f"replica {other.id} on {other.host} signs with keys [{other.signing_kids}], "
                f"this one with [{self.signing_kids}]"
            )
        if other.templates_digest != self.templates_digest:
            out.append(
                f"replica {other.id} on {other.host} has other warning templates "
                f"(digest {other.templates_digest[:12]}, this one {self.templates_digest[:12]})"
            )
        if other.schema_revision != self.schema_revision:
            out.append(
                f"replica {other.id} on {other.host} runs schema revision "
                f"{other.schema_revision}, this one {self.schema_revision}"
            )
        return out


def templates_digest(directory: Path) -> str:
    """SHA-256 over every template file's name and bytes, in name order."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.toml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class Replicas:
    """A component: ``start`` registers this replica (refusing a mismatch), ``stop`` signs off."""

    def __init__(self, db: Database, clock: Clock, fingerprint: Fingerprint) -> None:
        self._db = db
        self._clock = clock
        self.fingerprint = fingerprint
        self.id = f"r-{uuid.uuid4().hex[:10]}"
        self.host = f"{socket.gethostname()}:{os.getpid()}"
        self.problems: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._leases: set[str] = set()

    def _record(self, now: datetime) -> Replica:
        return Replica(
            id=self.id,
            host=self.host,
            started_at=now,
            seen_at=now,
            schema_revision=self.fingerprint.schema_revision,
            signing_kids=self.fingerprint.signing_kids,
            templates_digest=self.fingerprint.templates_digest,
        )

    def peers(self) -> list[Replica]:
        since = self._clock() - timedelta(seconds=ALIVE_S)
        with self._db.session() as session:
            return [r for r in store.alive(session, since) if r.id != self.id]

    def check(self) -> list[str]:
        """Every way a live peer differs from this replica (empty: none)."""
        return [d for peer in self.peers() for d in self.fingerprint.differences(peer)]

    def register(self) -> None:
        """Refuse to join a database whose live replicas disagree; otherwise say we are here."""
        differences = self.check()
        if differences:
            raise ReplicaMismatch(differences)
        self.beat()

    def beat(self) -> None:
        now = self._clock()
        with self._db.session() as session:
            store.heartbeat(session, self._record(now))
        self.problems = self.check()
        if self.problems:
            log.error("replicas disagree: %s", "; ".join(self.problems))

    async def start(self) -> None:
        await asyncio.to_thread(self.register)
        self._task = asyncio.create_task(self._run(), name="replica-heartbeat")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await asyncio.to_thread(self.beat)
            except Exception:  # a database hiccup: the next beat tries again
                log.exception("replica heartbeat failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):  # the database may be what is gone
            await asyncio.to_thread(self._sign_off)

    def _sign_off(self) -> None:
        now = self._clock()
        with self._db.session() as session:
            store.mark_stopped(session, self.id, now)
            for name in self._leases:
                store.release_lease(session, name, self.id, now)

    def hold(self, name: str, for_s: float = LEASE_S) -> bool:
        """Take or renew the lease ``name`` for ``for_s``; True while this replica holds it. The
        job it guards renews it well within ``for_s`` (a third of it, say)."""
        now = self._clock()
        with self._db.session() as session:
            held = store.take_lease(session, name, self.id, now, now + timedelta(seconds=for_s))
        if held:
            self._leases.add(name)
        else:
            self._leases.discard(name)
        return held

    def holder(self, name: str) -> str | None:
        with self._db.session() as session:
            return store.lease_holder(session, name, self._clock())
