"""The service's Ed25519 signing keys: files in ``<data_dir>/keys``, private keys owner-only (0600).

``keys.json`` lists every key (public half, scope, when it starts signing, whether it is revoked);
``<kid>.pem`` holds each private key; ``trust.json`` is the trust list lanterns are provisioned
with, rewritten on every change and signed by the root key when ``root.pem`` is in the directory
(development and the demo); production keeps its root offline and signs each new list with
``lightctl keys trust --root-key`` (lightctl/signing/root.py). A key's status follows from the
registry and the clock:

- ``pending``: trusted by lanterns already, signs from ``active_from`` on (a rotation gives every
  lantern time to load the new trust list before the first command it must check arrives);
- ``active``: the newest key of its scope whose ``active_from`` has passed; signs new commands;
- ``retired``: an older key of the scope; still trusted, so commands it signed keep playing;
- ``revoked``: listed in the trust list's ``revoked``; lanterns refuse anything it signed.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lightctl.errors import Conflict, NotFound, ServiceUnavailable
from lightctl.protocol.trust import KEY_SCOPES, KeyScope, TrustedKey, TrustList, b64encode
from lightctl.signing.files import atomic_write
from lightctl.signing.root import RootKey, public_path

log = logging.getLogger(__name__)

REGISTRY = "keys.json"
TRUST = "trust.json"
ROOT = "root.pem"  # a root key kept online, beside the signing keys: development and demo only
# Seq is an issue time in microseconds, so the replay window is a time: a lantern refuses a seq
# more than 10 minutes below the newest it accepted. The outbox re-signs every envelope it sends
# when its seq is older than half of this, so no retry or re-send of ours ever falls outside.
DEFAULT_REPLAY_WINDOW_S = 600
# Simulated lanterns re-read their trust file within a second; real ones fetch it on a schedule.
# A minute between "trusted" and "signing" covers both without delaying an emergency rotation
# (``--now`` skips it).
DEFAULT_ACTIVATE_AFTER_S = 60

KeyStatus = Literal["pending", "active", "retired", "revoked"]


def utc_now() -> datetime:
    return datetime.now(UTC)


class NoSigningKey(ServiceUnavailable):
    """No usable key for a scope: nothing can be sent until ``lightctl keys generate|rotate``."""

    code = "no_signing_key"

    def __init__(self, scope: KeyScope, directory: Path) -> None:
        super().__init__(
            f"no {scope} signing key in {directory}: run `lightctl keys generate` "
            "(or `lightctl keys rotate` after a revocation)"
        )
        self.scope = scope


@dataclass(frozen=True, slots=True)
class KeyRecord:
    kid: str
    scope: KeyScope
    public_key: str  # base64 of the raw 32 bytes
    created_at: datetime
    active_from: datetime
    revoked_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "scope": self.scope,
            "public_key": self.public_key,
            "created_at": self.created_at.isoformat(),
            "active_from": self.active_from.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyRecord:
        revoked = data.get("revoked_at")
        scope = data["scope"]
        if scope not in KEY_SCOPES:
            raise ValueError(f"key {data.get('kid')!r}: unknown scope {scope!r}")
        return cls(
            kid=str(data["kid"]),
            scope=scope,
            public_key=str(data["public_key"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            active_from=datetime.fromisoformat(data["active_from"]),
            revoked_at=datetime.fromisoformat(revoked) if revoked else None,
        )


@dataclass(frozen=True, slots=True)
class Registry:
    """Everything in ``keys.json``: ``version`` rises with every change (trust list version)."""

    version: int = 0
    replay_window_s: int = DEFAULT_REPLAY_WINDOW_S
    keys: tuple[KeyRecord, ...] = ()

    def signing(self, scope: KeyScope, now: datetime) -> KeyRecord | None:
        """The active key of a scope: the newest unrevoked one whose time has come (on a tie,
        the one added last)."""
        ready = [
            (k.active_from, i, k)
            for i, k in enumerate(self.keys)
            if k.scope == scope and k.revoked_at is None and k.active_from <= now
        ]
        return max(ready, key=lambda r: (r[0], r[1]))[2] if ready else None

    def status(self, key: KeyRecord, now: datetime) -> KeyStatus:
        if key.revoked_at is not None:
            return "revoked"
        if key.active_from > now:
            return "pending"
        current = self.signing(key.scope, now)
        return "active" if current is not None and current.kid == key.kid else "retired"

    def find(self, kid: str) -> KeyRecord | None:
        return next((k for k in self.keys if k.kid == kid), None)


class KeyStore:
    """Reads and changes the key files; every write is atomic (temp file, then rename)."""

    def __init__(self, directory: Path, clock: Callable[[], datetime] = utc_now) -> None:
        self.directory = directory
        self._clock = clock

    @classmethod
    def in_data_dir(cls, data_dir: Path, clock: Callable[[], datetime] = utc_now) -> KeyStore:
        return cls(data_dir / "keys", clock)

    @property
    def registry_path(self) -> Path:
        return self.directory / REGISTRY

    @property
    def trust_path(self) -> Path:
        return self.directory / TRUST

    @property
    def root_path(self) -> Path:
        return self.directory / ROOT

    @property
    def root_public_path(self) -> Path:
        """The root's public half lanterns are provisioned with (``firmware-sim --trust-root``)."""
        return public_path(self.root_path)

    def exists(self) -> bool:
        return self.registry_path.exists()

    def root(self) -> RootKey | None:
        """The root key kept in this directory, if any (development and the demo)."""
        return RootKey.load(self.root_path) if self.root_path.exists() else None

    def ensure_root(self) -> RootKey:
        """A root key in this directory (made if missing) and ``trust.json`` signed by it."""
        root = self.root() or RootKey.generate(self.root_path)
        if self.exists():
            self.write_trust(self.trust_path)
        return root

    def load(self) -> Registry:
        if not self.registry_path.exists():
            return Registry()
        data = json.loads(self.registry_path.read_text(encoding="utf-8"))
        return Registry(
            version=int(data["version"]),
            replay_window_s=int(data.get("replay_window_s", DEFAULT_REPLAY_WINDOW_S)),
            keys=tuple(KeyRecord.from_json(k) for k in data.get("keys", [])),
        )

    def private_key(self, kid: str) -> Ed25519PrivateKey:
        path = self.directory / f"{kid}.pem"
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return key

    # ---- changes ------------------------------------------------------------------------------

    def generate(self, replay_window_s: int | None = None) -> list[KeyRecord]:
        """First keys: one per scope that has no usable key yet; refuses when both exist."""
        registry = self.load()
        now = self._clock()
        missing = [s for s in KEY_SCOPES if not _usable(registry, s)]
        if not missing:
            raise Conflict(f"signing keys already exist in {self.directory}; use rotate", "exists")
        created = [self._new_key(scope, now, now) for scope in missing]
        window = replay_window_s or registry.replay_window_s
        self._save(replace(registry, replay_window_s=window, keys=(*registry.keys, *created)))
        return created

    def ensure(self) -> list[KeyRecord]:
        """``generate`` when keys are missing, else nothing, and a root key beside them that
        signs the trust list (the development and demo default: production's root is offline)."""
        if self.root() is None:
            RootKey.generate(self.root_path)
        registry = self.load()
        if all(_usable(registry, s) for s in KEY_SCOPES):
            if not self._signed_on_disk():
                self.write_trust(self.trust_path)
            return []
        return self.generate()

    def rotate(
        self, scopes: Iterable[KeyScope], activate_after_s: float = DEFAULT_ACTIVATE_AFTER_S
    ) -> list[KeyRecord]:
        """A new key per scope, trusted now and signing after ``activate_after_s``."""
        registry = self.load()
        now = self._clock()
        starts = now + timedelta(seconds=max(0.0, activate_after_s))
        created = [self._new_key(scope, now, starts) for scope in dict.fromkeys(scopes)]
        self._save(replace(registry, keys=(*registry.keys, *created)))
        return created

    def revoke(self, kid: str, force: bool = False) -> KeyRecord:
        """Refuse ``kid`` on every lantern; the scope's signing key only with ``force``."""
        registry = self.load()
        now = self._clock()
        key = registry.find(kid)
        if key is None:
            raise NotFound("key", kid)
        if key.revoked_at is not None:
            raise Conflict(f"key {kid} is already revoked", "revoked")
        current = registry.signing(key.scope, now)
        if current is not None and current.kid == kid and not force:
            raise Conflict(
                f"key {kid} signs every {key.scope} command now: rotate first "
                "(`lightctl keys rotate --scope ... --now`), or revoke with --force and send "
                f"no {key.scope} command until a new key is generated",
                "active",
            )
        revoked = replace(key, revoked_at=now)
        self._save(
            replace(registry, keys=tuple(revoked if k.kid == kid else k for k in registry.keys))
        )
        return revoked

    def trust_list(
        self, registry: Registry | None = None, root: RootKey | None = None
    ) -> TrustList:
        """The current list, signed by ``root`` or else by the root in this directory (if any:
        unsigned, lanterns refuse it until it is signed with ``lightctl keys trust``)."""
        registry = registry or self.load()
        root = root or self.root()
        trust = TrustList(
            version=registry.version,
            issued_at=self._clock(),
            replay_window_s=registry.replay_window_s,
            keys=[
                TrustedKey(kid=k.kid, scope=k.scope, public_key=k.public_key)
                for k in registry.keys
                if k.revoked_at is None
            ],
            revoked=[k.kid for k in registry.keys if k.revoked_at is not None],
        )
        return root.sign(trust) if root is not None else trust

    def write_trust(
        self, path: Path, registry: Registry | None = None, root: RootKey | None = None
    ) -> TrustList:
        """Write the trust list lanterns load (``firmware-sim --trust FILE``)."""
        trust = self.trust_list(registry, root)
        if trust.sig is None:
            log.warning(
                "trust list version %d in %s is unsigned: lanterns refuse it until it is signed "
                "with the root key (`lightctl keys trust --root-key ROOT.pem --out FILE`)",
                trust.version,
                path,
            )
        atomic_write(path, json.dumps(trust.model_dump(mode="json"), indent=2).encode(), 0o644)
        return trust

    def _signed_on_disk(self) -> bool:
        try:
            return TrustList.from_bytes(self.trust_path.read_bytes()).sig is not None
        except (OSError, ValueError):
            return False

    # ---- files --------------------------------------------------------------------------------

    def _new_key(self, scope: KeyScope, now: datetime, active_from: datetime) -> KeyRecord:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        prefix = "ls" if scope == "life_safety" else "ord"
        kid = f"{prefix}-{now:%Y%m%d}-{secrets.token_hex(3)}"
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        atomic_write(self.directory / f"{kid}.pem", pem, 0o600)
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        log.info("new %s signing key %s (signs from %s)", scope, kid, active_from.isoformat())
        return KeyRecord(kid, scope, b64encode(public), now, active_from)

    def _save(self, registry: Registry) -> None:
        registry = replace(registry, version=registry.version + 1)
        body = {
            "version": registry.version,
            "replay_window_s": registry.replay_window_s,
            "keys": [k.to_json() for k in registry.keys],
        }
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(self.registry_path, json.dumps(body, indent=2).encode(), 0o644)
        self.write_trust(self.trust_path, registry)


def _usable(registry: Registry, scope: KeyScope) -> bool:
    return any(k.scope == scope and k.revoked_at is None for k in registry.keys)
