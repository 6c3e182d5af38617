"""Signature checks of the simulated firmware: Ed25519 against the provisioned trust list.

``TrustVerifier`` implements the lantern's ``Verifier`` hook. One instance serves a whole fleet
and remembers every (kid, sig) it has verified together with the digest of the bytes it covered,
so a command shared by 3,000 lanterns costs one Ed25519 verification (~0.3 ms) instead of 3,000
(~0.9 s of CPU on the fleet's single event loop thread).

``TrustFile`` is how a rotation reaches running lanterns: the simulator re-reads the file the
service writes (``<data_dir>/keys/trust.json``) when it changes, and the control API accepts a
new list over HTTP for a fleet on another machine. Every list, the first one included, must be
signed by a root key the fleet was provisioned with (``TrustRoot``, ``--trust-root``): unsigned,
signed by another root, or altered after signing, it is refused whatever its version. A signed
list older than the one held is ignored, so a stale copy can never trust a revoked key again.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from firmware_sim.effects import Reason, role_refusal
from lightctl.domain.roles import ISSUER_CEILING
from lightctl.protocol import CommandEnvelope
from lightctl.protocol.trust import (
    LIFE_SAFETY_MAX_PRIORITY,
    PUBLIC_KEY_BYTES,
    SIGNATURE_BYTES,
    KeyScope,
    TrustList,
    TrustRoot,
    b64decode,
    scope_for_role,
)

log = logging.getLogger(__name__)

# Verified (kid, sig) pairs kept: a fleet sees a few live commands at a time; 4,096 entries of
# ~200 bytes are under 1 MB and outlast any realistic burst.
CACHE_SIZE = 4096


class TrustFileError(ValueError):
    """The trust file cannot be used; the message names the file and the problem."""


class TrustRefusal(StrEnum):
    """Why a lantern does not take a trust list."""

    UNSIGNED = "unsigned"
    UNKNOWN_ROOT = "unknown_root"
    BAD_SIGNATURE = "bad_signature"
    NOT_NEWER = "not_newer"


class TrustListRefused(ValueError):
    """A trust list whose signature does not hold; ``reason`` says which check failed."""

    def __init__(self, reason: TrustRefusal) -> None:
        super().__init__(f"trust list refused: {reason.value}")
        self.reason = reason


def root_keys(roots: Sequence[TrustRoot]) -> dict[str, Ed25519PublicKey]:
    """The provisioned roots by key id."""
    out: dict[str, Ed25519PublicKey] = {}
    for root in roots:
        raw = b64decode(root.public_key, PUBLIC_KEY_BYTES)
        if raw is None:  # TrustRoot validated it; were it junk, no list it signed is taken
            continue
        out[root.kid] = Ed25519PublicKey.from_public_bytes(raw)
    return out


def signature_refusal(trust: TrustList, roots: dict[str, Ed25519PublicKey]) -> TrustRefusal | None:
    """None when a provisioned root signed exactly this list, else why not."""
    if trust.sig is None or trust.root_kid is None:
        return TrustRefusal.UNSIGNED
    root = roots.get(trust.root_kid)
    if root is None:
        return TrustRefusal.UNKNOWN_ROOT
    signature = b64decode(trust.sig, SIGNATURE_BYTES)
    if signature is None:
        return TrustRefusal.BAD_SIGNATURE
    try:
        root.verify(signature, trust.signing_bytes())
    except InvalidSignature:
        return TrustRefusal.BAD_SIGNATURE
    return None


@dataclass(frozen=True, slots=True)
class _Key:
    public: Ed25519PublicKey
    scope: KeyScope


class TrustVerifier:
    """Accepts an envelope only when a trusted, unrevoked key of the right scope signed it, for
    a role whose ceiling allows its priority and that the key's scope may sign for."""

    def __init__(self, trust: TrustList, roots: Sequence[TrustRoot]) -> None:
        """``roots``: the root keys this lantern is provisioned with; ``trust`` must be signed by
        one of them (``TrustListRefused`` otherwise)."""
        self._roots = root_keys(roots)
        refusal = signature_refusal(trust, self._roots)
        if refusal is not None:
            raise TrustListRefused(refusal)
        self._keys: dict[str, _Key] = {}
        self._revoked: frozenset[str] = frozenset()
        self._cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        # The signed bytes' digest per envelope object: a fleet's lanterns share one parsed
        # group copy (firmware_sim/envelopes.py), so the digest is computed once per copy.
        # Keyed by id() and holding the object, so an id is never reused while listed.
        self._digests: OrderedDict[int, tuple[CommandEnvelope, bytes]] = OrderedDict()
        self.trust = trust
        self.stats: Counter[str] = Counter()
        self._install(trust)

    @property
    def version(self) -> int:
        return self.trust.version

    @property
    def replay_window_s(self) -> float:
        return float(self.trust.replay_window_s)

    def offer(self, trust: TrustList) -> TrustRefusal | None:
        """Take a newer list signed by a provisioned root (None); else nothing changes and the
        answer says why. The signature is checked first: an unsigned list is refused as such,
        whatever version it claims."""
        refusal = signature_refusal(trust, self._roots)
        if refusal is None and trust.version <= self.trust.version:
            refusal = TrustRefusal.NOT_NEWER
        if refusal is not None:
            self.stats[f"trust_refused_{refusal.value}"] += 1
            return refusal
        self._install(trust)
        log.info(
            "trust list version %d: %d keys, %d revoked",
            trust.version,
            len(trust.keys),
            len(trust.revoked),
        )
        return None

    def update(self, trust: TrustList) -> bool:
        """``offer``: True when the list was taken."""
        return self.offer(trust) is None

    def verify(self, cmd: CommandEnvelope) -> str | None:
        reason = self._check(cmd)
        self.stats["accepted" if reason is None else f"rejected_{reason}"] += 1
        return reason

    def _check(self, cmd: CommandEnvelope) -> str | None:
        if cmd.kid is None or cmd.sig is None:
            return Reason.UNSIGNED
        if cmd.kid in self._revoked:
            return Reason.REVOKED_KEY
        key = self._keys.get(cmd.kid)
        if key is None:
            return Reason.UNKNOWN_KEY
        if cmd.priority <= LIFE_SAFETY_MAX_PRIORITY and key.scope != "life_safety":
            return Reason.KEY_NOT_LIFE_SAFETY
        # The claimed role, checked before the (costlier) signature: a role the key may not sign
        # for, or a priority above the role's ceiling, is refused whoever signed it.
        if cmd.role is None:
            return Reason.MISSING_ROLE
        refusal = role_refusal(cmd)
        if refusal is not None:
            return refusal
        if key.scope != scope_for_role(ISSUER_CEILING[cmd.role]):
            return Reason.KEY_NOT_FOR_ROLE
        signed, digest = self._signed(cmd)
        cache_key = (cmd.kid, cmd.sig)
        if self._cache.get(cache_key) == digest:
            self._cache.move_to_end(cache_key)
            self.stats["cache_hits"] += 1
            return None
        signature = b64decode(cmd.sig, SIGNATURE_BYTES)
        if signature is None:
            return Reason.BAD_SIGNATURE
        self.stats["verified"] += 1
        try:
            key.public.verify(signature, signed or cmd.signing_bytes())
        except InvalidSignature:
            return Reason.BAD_SIGNATURE
        self._cache[cache_key] = digest
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return None

    def _signed(self, cmd: CommandEnvelope) -> tuple[bytes | None, bytes]:
        """(signed bytes, their SHA-256); the bytes are None when the digest was remembered
        for this very object (they are rebuilt only if the signature must be checked)."""
        known = self._digests.get(id(cmd))
        if known is not None and known[0] is cmd:
            self._digests.move_to_end(id(cmd))
            return None, known[1]
        signed = cmd.signing_bytes()
        digest = hashlib.sha256(signed).digest()
        self._digests[id(cmd)] = (cmd, digest)
        if len(self._digests) > CACHE_SIZE:
            self._digests.popitem(last=False)
        return signed, digest

    def _install(self, trust: TrustList) -> None:
        keys: dict[str, _Key] = {}
        for entry in trust.keys:
            raw = b64decode(entry.public_key, PUBLIC_KEY_BYTES)
            if raw is None:  # TrustedKey validated it; were it junk, its commands stay refused
                log.warning("trust list key %s is not a valid public key; ignored", entry.kid)
                continue
            keys[entry.kid] = _Key(Ed25519PublicKey.from_public_bytes(raw), entry.scope)
        self._keys = keys
        self._revoked = frozenset(trust.revoked)
        # A key revoked or dropped since must not keep passing through the cache.
        self._cache = OrderedDict(
            (k, v) for k, v in self._cache.items() if k[0] in keys and k[0] not in self._revoked
        )
        self.trust = trust


def read_root(path: Path) -> TrustRoot:
    """The root key a fleet is provisioned with (``*.pub.json`` of ``lightctl keys``)."""
    try:
        return TrustRoot.from_bytes(path.read_bytes())
    except FileNotFoundError:
        raise TrustFileError(f"trust root not found: {path}") from None
    except OSError as exc:
        raise TrustFileError(f"cannot read trust root {path}: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise TrustFileError(f"{path}: {where}: {first['msg']}") from None


def read_trust(path: Path) -> TrustList:
    try:
        return TrustList.from_bytes(path.read_bytes())
    except FileNotFoundError:
        raise TrustFileError(f"trust file not found: {path}") from None
    except OSError as exc:
        raise TrustFileError(f"cannot read trust file {path}: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise TrustFileError(f"{path}: {where}: {first['msg']}") from None


class TrustFile:
    """A trust list on disk, re-read into ``verifier`` whenever the file changes."""

    def __init__(self, path: Path, verifier: TrustVerifier) -> None:
        self.path = path
        self.verifier = verifier
        self._stamp = _stamp(path)

    @classmethod
    def open(cls, path: Path, roots: Sequence[TrustRoot]) -> TrustFile:
        """Load the file (``TrustFileError`` when it is missing, invalid, or not signed by one
        of ``roots``)."""
        stamp = _stamp(path)
        try:
            verifier = TrustVerifier(read_trust(path), roots)
        except TrustListRefused as exc:
            raise TrustFileError(
                f"{path}: {exc} (sign it with the root key: `lightctl keys trust --root-key`)"
            ) from None
        watcher = cls(path, verifier)
        watcher._stamp = stamp
        return watcher

    def poll(self) -> bool:
        """Re-read the file if it changed; True when a newer list was taken."""
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            trust = read_trust(self.path)
        except TrustFileError as exc:
            # Mid-write or broken: keep the list we hold; the next change is read again.
            log.warning("keeping trust list version %d: %s", self.verifier.version, exc)
            return False
        refusal = self.verifier.offer(trust)
        if refusal not in (None, TrustRefusal.NOT_NEWER):
            log.warning(
                "keeping trust list version %d: %s is refused (%s)",
                self.verifier.version,
                self.path,
                refusal,
            )
        return refusal is None


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)
