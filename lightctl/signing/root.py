"""The root key that signs trust lists: kept offline, its public half provisioned in lanterns.

``root-generate`` writes the private key (PEM, 0600) and beside it ``<name>.pub.json``, the
``TrustRoot`` every lantern is provisioned with. The key id follows from the public key (a
digest), so the PEM alone is the whole secret. Production keeps it off the server and signs each
new trust list with ``lightctl keys trust --root-key``; development and the demo keep one in the
keys directory (``root.pem``), which signs every list the key store writes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lightctl.errors import Conflict
from lightctl.protocol.trust import TrustList, TrustRoot, b64encode
from lightctl.signing.files import atomic_write

# 12 hex digits of the public key's SHA-256: unique among the handful of roots a fleet ever has.
KID_HEX = 12


def public_path(private_path: Path) -> Path:
    """Where the public half of a root key is written: ``root.pem`` -> ``root.pub.json``."""
    return private_path.with_name(f"{private_path.stem}.pub.json")


@dataclass(frozen=True, slots=True)
class RootKey:
    kid: str
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls, path: Path) -> RootKey:
        """A new root key at ``path`` (refused when one is there) and its public file beside."""
        if path.exists():
            raise Conflict(f"{path} exists: a root key is never overwritten", "exists")
        key = cls.of(Ed25519PrivateKey.generate())
        pem = key.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(path, pem, 0o600)
        atomic_write(public_path(path), key.public().to_bytes() + b"\n", 0o644)
        return key

    @classmethod
    def load(cls, path: Path) -> RootKey:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return cls.of(key)

    @classmethod
    def of(cls, private: Ed25519PrivateKey) -> RootKey:
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return cls(f"root-{hashlib.sha256(raw).hexdigest()[:KID_HEX]}", private)

    def public(self) -> TrustRoot:
        raw = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return TrustRoot(kid=self.kid, public_key=b64encode(raw))

    def sign(self, trust: TrustList) -> TrustList:
        """The list with ``root_kid`` and ``sig`` set by this root."""
        unsigned = trust.model_copy(update={"root_kid": self.kid, "sig": None})
        signature = self.private.sign(unsigned.signing_bytes())
        return unsigned.model_copy(update={"sig": b64encode(signature)})
