"""What a lantern is provisioned with to check command signatures: the trust list (protocol v1).

The service signs every envelope with Ed25519 over ``CommandEnvelope.signing_bytes()`` and puts
the key id in ``kid`` and the base64 signature in ``sig``. A lantern holds a ``TrustList``: the
public keys it accepts, by key id and scope, and the ids it must refuse. Priorities 1-3 (life
safety) need a key of scope ``life_safety``; an ``ordinary`` key may only sign 4-16, so a leaked
steering key cannot start an evacuation.

Every envelope also names its issuer's ``role``, and each role is signed by exactly one scope,
that of the highest slot the role may write (``scope_for_role``): dispatcher, feed and admin by
the life-safety key (a dispatcher's slot-8 override too), operator, city_app and the schedule
runner by the ordinary key. A lantern refuses a priority above the role's ceiling and a role its
key may not sign for, so neither key can speak in the other's roles.

The trust list itself is signed (``root_kid``, ``sig``: Ed25519 over ``signing_bytes()``) by an
offline root key whose public half (``TrustRoot``) lanterns are provisioned with once. A lantern
takes a list only when a root it holds signed it, whatever its ``version``, so whoever reaches a
lantern's update channel still cannot make it trust a key of their own.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, field_validator

from lightctl.protocol.wire import WireModel, canonical_json

KeyScope = Literal["ordinary", "life_safety"]
KEY_SCOPES: tuple[KeyScope, ...] = ("ordinary", "life_safety")
# Slots 1-3 are life safety (ARCHITECTURE.md, priorities): only the life-safety key may write them.
LIFE_SAFETY_MAX_PRIORITY = 3
# Ed25519: 32-byte public keys, 64-byte signatures.
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64

KeyId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]


def scope_for_priority(priority: int) -> KeyScope:
    """The key scope a command of this priority must be signed with."""
    return "life_safety" if priority <= LIFE_SAFETY_MAX_PRIORITY else "ordinary"


def scope_for_role(ceiling: int) -> KeyScope:
    """The one key scope that signs for a role whose ceiling (highest slot) is ``ceiling``."""
    return scope_for_priority(ceiling)


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, length: int) -> bytes | None:
    """Strict base64 of exactly ``length`` bytes, else None (never raises on junk)."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    return raw if len(raw) == length else None


class TrustedKey(WireModel):
    """One public key a lantern accepts, and what it may sign."""

    kid: KeyId
    scope: KeyScope
    public_key: str = Field(description="base64 of the raw 32-byte Ed25519 public key")

    @field_validator("public_key")
    @classmethod
    def _is_ed25519(cls, value: str) -> str:
        if b64decode(value, PUBLIC_KEY_BYTES) is None:
            raise ValueError("public_key must be base64 of 32 bytes (Ed25519)")
        return value


class TrustList(WireModel):
    """The keys a lantern trusts and the key ids it refuses; ``version`` rises with every change
    so a lantern never goes back to an older list (which could trust a revoked key again)."""

    v: Literal[1] = 1
    version: int = Field(ge=0)
    issued_at: AwareDatetime
    # Replays: a lantern refuses a seq it has accepted before, and any seq more than this far
    # (in microseconds of seq, which counts microseconds) below the highest it has accepted.
    replay_window_s: int = Field(ge=1, le=7 * 86400)
    keys: list[TrustedKey] = Field(default_factory=list, max_length=64)
    revoked: list[KeyId] = Field(default_factory=list, max_length=1024)
    # The root key that signed this list, and its signature (base64 of 64 bytes).
    root_kid: KeyId | None = None
    sig: str | None = Field(default=None, max_length=256)

    def signing_bytes(self) -> bytes:
        """Canonical JSON of everything except ``sig``: what the root's signature covers."""
        return canonical_json(self.model_dump(mode="json", exclude_none=True, exclude={"sig"}))


class TrustRoot(WireModel):
    """The public half of a root key: what a lantern is provisioned with to check trust lists
    (``lightctl keys root-generate`` writes it beside the private key as ``*.pub.json``)."""

    v: Literal[1] = 1
    kid: KeyId
    public_key: str = Field(description="base64 of the raw 32-byte Ed25519 public key")

    @field_validator("public_key")
    @classmethod
    def _is_ed25519(cls, value: str) -> str:
        if b64decode(value, PUBLIC_KEY_BYTES) is None:
            raise ValueError("public_key must be base64 of 32 bytes (Ed25519)")
        return value
