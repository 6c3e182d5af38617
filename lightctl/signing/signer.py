"""Signs command envelopes: Ed25519 over ``signing_bytes()``, with the key its role needs.

A command is stored once, signed without an audience; every copy that goes out names its
audience (``aud``: the lantern, or a fan-out group) inside what is signed, so ``address`` signs
once per audience as the outbox sends it. Ed25519 is deterministic: the same command to the same
lantern always gets the same bytes, so nothing per lantern needs storing. The signer follows
``keys.json`` on disk, so a rotation made by ``lightctl keys rotate`` in another process takes
effect without a restart.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lightctl.domain.roles import ISSUER_CEILING
from lightctl.errors import PriorityAboveCeiling
from lightctl.protocol import CommandEnvelope, canonical_json
from lightctl.protocol.trust import KeyScope, b64encode, scope_for_priority, scope_for_role
from lightctl.signing.keystore import KeyStore, NoSigningKey, Registry

log = logging.getLogger(__name__)

# Seq counts microseconds (services/sequence.py).
_US = 1_000_000


def signing_scope(env: CommandEnvelope) -> KeyScope:
    """The scope whose key signs ``env``: its role's (``PriorityAboveCeiling`` when the priority
    is above that role's ceiling); by priority alone for an envelope without a role (stored
    before envelopes carried one: lanterns refuse it, ``missing_role``, and say so in the ack)."""
    if env.role is None:
        return scope_for_priority(env.priority)
    ceiling = ISSUER_CEILING.get(env.role)
    if ceiling is None or env.priority < ceiling:
        raise PriorityAboveCeiling(env.priority, ceiling, (env.role,))
    return scope_for_role(ceiling)


class CommandSigner:
    """Thread-safe; ``sign`` for new envelopes, ``refresh`` before every (re)send."""

    def __init__(
        self, store: KeyStore, clock: Callable[[], datetime], next_seq: Callable[[], int]
    ) -> None:
        self._store = store
        self._clock = clock
        self._next_seq = next_seq
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._registry = Registry()
        self._private: dict[str, Ed25519PrivateKey] = {}
        self.signed_total = 0
        self.refreshed_total = 0
        self.addressed_total = 0

    @property
    def replay_window_s(self) -> int:
        return self._current().replay_window_s

    def sign(self, env: CommandEnvelope) -> CommandEnvelope:
        """The envelope with ``kid`` and ``sig`` set by the active key of its role's scope.

        A priority above the role's ceiling is refused here too (403), so a slip past the API's
        check is never signed, let alone sent."""
        registry = self._current()
        scope = signing_scope(env)
        key = registry.signing(scope, self._clock())
        if key is None:
            raise NoSigningKey(scope, self._store.directory)
        private = self._private_key(key.kid)
        unsigned = env.model_copy(update={"kid": key.kid, "sig": None})
        signature = private.sign(unsigned.signing_bytes())
        with self._lock:
            self.signed_total += 1
        return unsigned.model_copy(update={"sig": b64encode(signature)})

    def address(self, env: CommandEnvelope, audiences: Iterable[str]) -> dict[str, bytes]:
        """Per audience, the bytes of ``env`` addressed to it (``aud``) and signed by the active
        key of its role's scope: one Ed25519 signature per audience.

        The canonical JSON is built once around the place where ``aud`` sorts in, so each copy
        costs a string join and a signature; what is published is that canonical JSON with
        ``sig`` added, which the lantern parses back to the same signing bytes (checked in
        tests/unit/firmware_sim/test_sim_audience.py)."""
        registry = self._current()
        scope = signing_scope(env)
        key = registry.signing(scope, self._clock())
        if key is None:
            raise NoSigningKey(scope, self._store.directory)
        private = self._private_key(key.kid)
        body = env.model_dump(mode="json", exclude_none=True, exclude={"sig", "aud"})
        body["kid"] = key.kid
        before = canonical_json({k: v for k, v in body.items() if k < "aud"})[1:-1]
        after = canonical_json({k: v for k, v in body.items() if k > "aud"})[1:-1]
        out: dict[str, bytes] = {}
        for aud in audiences:
            field = b'"aud":' + json.dumps(aud).encode()
            signed = b"{" + b",".join(p for p in (before, field, after) if p) + b"}"
            sig = b64encode(private.sign(signed)).encode()
            out[aud] = signed[:-1] + b',"sig":"' + sig + b'"}'
        with self._lock:
            self.addressed_total += len(out)
        return out

    def stale(self, env: CommandEnvelope, now: datetime) -> bool:
        """True when a lantern could refuse this envelope although the command is still ours to
        send: unsigned, signed by a key that no longer signs (rotated or revoked), or a seq so old
        that it could fall outside a lantern's replay window (we renew at half the window)."""
        registry = self._current()
        if env.sig is None or env.kid is None:
            return True
        key = registry.signing(signing_scope(env), now)
        if key is None or key.kid != env.kid:
            return True
        age_us = int(now.timestamp() * _US) - env.seq
        return age_us > registry.replay_window_s * _US // 2

    def refresh(self, env: CommandEnvelope) -> CommandEnvelope:
        """Same command (id, payload, expiry), a fresh seq, signed by the current key."""
        renewed = self.sign(env.model_copy(update={"seq": self._next_seq()}))
        with self._lock:
            self.refreshed_total += 1
        return renewed

    # ---- keys on disk -------------------------------------------------------------------------

    def _current(self) -> Registry:
        """The registry, re-read when ``keys.json`` changed (one stat per call)."""
        try:
            st = self._store.registry_path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._registry = self._store.load()
                self._stamp = stamp
                log.info(
                    "signing keys loaded from %s (version %d)",
                    self._store.directory,
                    self._registry.version,
                )
            return self._registry

    def _private_key(self, kid: str) -> Ed25519PrivateKey:
        with self._lock:
            key = self._private.get(kid)
        if key is None:
            key = self._store.private_key(kid)
            with self._lock:
                self._private[kid] = key
        return key
