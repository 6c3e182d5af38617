"""What a dispatcher confirmed is what is sent: frozen previews, and retried requests.

A preview's id is the digest of its sorted lantern ids, so any replica can tell whether the set
an alert resolves to now is the set that was confirmed without asking anyone; the stored row
only serves to say *what* changed when it is not. An ``Idempotency-Key`` names one request of
one caller: the same request again answers the alert it made, never a second alert.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from lightctl.domain.clock import Clock
from lightctl.domain.records import IdempotencyKey, TargetPreview
from lightctl.errors import InvalidRequest, TargetChanged
from lightctl.store import Database
from lightctl.store import previews as preview_store

log = logging.getLogger(__name__)

PREFIX = "pv_"
DIGEST_CHARS = 48  # 192 bits of SHA-256: no two sets ever share an id
PREVIEW_ID_PATTERN = rf"^{PREFIX}[0-9a-f]{{{DIGEST_CHARS}}}$"
# A confirmed set is kept this long to say what changed; after that a changed target is still
# refused (the digest differs), only without the list of lanterns.
PREVIEW_KEEP = timedelta(hours=2)
# A retry comes seconds or minutes after the lost answer; a day covers any outage of a client.
KEY_KEEP = timedelta(hours=24)
# A 409 lists at most this many added and removed lanterns (the counts are always complete).
LIST_AT_MOST = 50


def preview_id_of(lantern_ids: Sequence[str]) -> str:
    """The id naming exactly this set of lanterns (order and duplicates do not matter)."""
    text = "\n".join(sorted(set(lantern_ids)))
    return PREFIX + hashlib.sha256(text.encode()).hexdigest()[:DIGEST_CHARS]


@dataclass(frozen=True, slots=True)
class RequestKey:
    """One caller's Idempotency-Key and the digest of the request it was sent with."""

    caller: str
    key: str
    request_sha256: str

    @classmethod
    def of(cls, caller: str, key: str, request: Any) -> RequestKey:
        canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
        return cls(caller, key, hashlib.sha256(canonical.encode()).hexdigest())


class KeyTaken(Exception):
    """Another request with the same key stored its alert first (a racing retry)."""


class PreviewBook:
    """Remembers previewed sets and checks an alert's resolved set against its preview."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def remember(self, lantern_ids: Sequence[str], streets: Sequence[tuple[str, int]]) -> str:
        """Store the set a preview showed; returns its ``preview_id``."""
        ids = sorted(set(lantern_ids))
        preview_id = preview_id_of(ids)
        now = self._clock()
        preview = TargetPreview(
            id=preview_id,
            lantern_ids=tuple(ids),
            lantern_count=len(ids),
            streets=tuple((name, count) for name, count in streets),
            created_at=now,
            expires_at=now + PREVIEW_KEEP,
        )
        with self._db.session() as session:
            preview_store.remember_preview(session, preview)
        return preview_id

    def check(self, preview_id: str, resolved: Sequence[str]) -> None:
        """Refuse (``TargetChanged``, naming what changed) unless ``resolved`` is the set the
        preview ``preview_id`` showed."""
        if preview_id_of(resolved) == preview_id:
            return
        with self._db.session() as session:
            preview = preview_store.get_preview(session, preview_id)
            if preview is None:
                raise TargetChanged(
                    f"the target reaches {len(set(resolved))} lanterns now, not the set of "
                    f"preview {preview_id} (no longer known, or never made here): preview and "
                    "confirm again",
                    preview_id,
                    confirmed_count=None,
                    count=len(set(resolved)),
                )
            confirmed = set(preview.lantern_ids)
            now = set(resolved)
            added = sorted(now - confirmed)
            removed = sorted(confirmed - now)
            where = preview_store.streets_of(session, added + removed)
        streets = _street_changes(added, removed, where)
        raise TargetChanged(
            _describe(len(confirmed), len(now), added, removed, streets),
            preview_id,
            confirmed_count=len(confirmed),
            count=len(now),
            added=added[:LIST_AT_MOST],
            removed=removed[:LIST_AT_MOST],
            added_count=len(added),
            removed_count=len(removed),
            streets=streets,
        )


def _street_changes(
    added: Sequence[str], removed: Sequence[str], where: dict[str, str | None]
) -> list[dict[str, Any]]:
    """Per street: how many lanterns joined and left the target (a street of None: none)."""
    plus = Counter(where.get(i) for i in added)
    minus = Counter(where.get(i) for i in removed)
    names = sorted(set(plus) | set(minus), key=lambda n: (n is None, n or ""))
    return [{"name": n, "added": plus.get(n, 0), "removed": minus.get(n, 0)} for n in names]


def _describe(
    confirmed: int,
    count: int,
    added: Sequence[str],
    removed: Sequence[str],
    streets: list[dict[str, Any]],
) -> str:
    parts = []
    for s in streets:
        name = s["name"] or "no street"
        change = []
        if s["added"]:
            change.append(f"+{s['added']}")
        if s["removed"]:
            change.append(f"-{s['removed']}")
        parts.append(f"{name} {' '.join(change)}")
    return (
        f"the target changed since it was confirmed: {count} lanterns now, {confirmed} "
        f"confirmed ({len(added)} added, {len(removed)} removed: {', '.join(parts)}); "
        "confirm the new set and send again"
    )


class RequestKeys:
    """Idempotency-Keys of alert requests: a retry finds the alert its first try made."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def replayed(self, key: RequestKey) -> str | None:
        """The alert this key made (None: the key is new); refused when the key came with a
        different request before."""
        with self._db.session() as session:
            stored = preview_store.get_key(session, key.caller, key.key)
        if stored is None:
            return None
        if stored.request_sha256 != key.request_sha256:
            raise InvalidRequest.at(
                ("header", "Idempotency-Key"),
                f"this key was used for a different request (alert {stored.alert_id}); "
                "use a new key for a new request",
                key.key,
            )
        return stored.alert_id

    def claim(self, session: Any, key: RequestKey, alert_id: str) -> None:
        """Part of the alert's transaction: the second claim of a key fails the whole save."""
        now = self._clock()
        claim = IdempotencyKey(
            caller=key.caller,
            key=key.key,
            request_sha256=key.request_sha256,
            alert_id=alert_id,
            created_at=now,
        )
        preview_store.claim_key(session, claim, now - KEY_KEEP)
