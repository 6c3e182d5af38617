"""Wire models of protocol v1: strict, frozen, and identical on both ends of the broker."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

PROTOCOL_VERSION = 1

Channel = Literal["audio", "light", "projection", "path"]
Op = Literal["set", "release"]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
ColorHex = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")]
Priority = Annotated[int, Field(ge=1, le=16)]
# Who an envelope is for, as the topic path below ``<root>/v<N>/``: ``lanterns/<id>`` (one
# lantern's cmd topic) or ``groups/<kind>/<key>`` (a broker-side fan-out topic, protocol v2).
# Each level is a lantern-id-like MQTT topic level (lightctl/protocol/topics.py).
_LEVEL = r"[A-Za-z0-9._:-]{1,64}"
Audience = Annotated[str, Field(pattern=rf"^(lanterns/{_LEVEL}|groups/{_LEVEL}/{_LEVEL})$")]


class WireModel(BaseModel):
    """Base of every payload on the wire: unknown keys are an error, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes | str) -> Self:
        return cls.model_validate_json(data)


def canonical_json(obj: dict[str, Any]) -> bytes:
    """Deterministic bytes of a JSON object: sorted keys, no spaces, UTF-8 (what ``sig`` covers)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class ToneItem(WireModel):
    """A signal the lantern generates itself (rising/falling warning, steady all-clear)."""

    kind: Literal["tone"] = "tone"
    signal: Literal["warning", "all_clear", "attention"]
    duration_s: float = Field(gt=0, le=30)


class SpeechItem(WireModel):
    """A spoken clip the lantern fetches over HTTP and checks against its hash before playing."""

    kind: Literal["speech"] = "speech"
    lang: str = Field(min_length=2, max_length=16)
    url: str = Field(min_length=1, max_length=2048)
    sha256: Sha256Hex
    duration_s: float = Field(gt=0, le=600)


ProgramItem = Annotated[ToneItem | SpeechItem, Field(discriminator="kind")]


class AudioPayload(WireModel):
    program: list[ProgramItem] = Field(min_length=1, max_length=64)
    repeat: int = Field(default=1, ge=1, le=10)
    interval_s: float = Field(default=0, ge=0, le=30)
    volume: int = Field(default=80, ge=0, le=100)
    # When the first spoken item starts, on every lantern of the alert (issue 14): all lanterns
    # share one clock, the program repeated from here, so neighbours never echo each other. A
    # lantern sounds the signal from the moment the command is valid and joins the speech at the
    # first sentence boundary after its clips are verified. Absent (protocol v1 as first
    # shipped): speech follows the signal as soon as the clips are there, unaligned.
    speech_at: AwareDatetime | None = None

    def duration_s(self) -> float:
        """Length of the whole program including repeats and the gaps between them."""
        once = sum(item.duration_s for item in self.program)
        return once * self.repeat + self.interval_s * (self.repeat - 1)


class LightPayload(WireModel):
    on: bool
    brightness: int | None = Field(default=None, ge=0, le=100)
    color: ColorHex | None = None
    cct_k: int | None = Field(default=None, ge=1800, le=10000)
    effect: Literal["steady", "blink", "pulse", "chase"] = "steady"
    period_ms: int | None = Field(default=None, ge=50, le=60000)
    phase_ms: int | None = Field(default=None, ge=0, le=600000)
    transition_ms: int | None = Field(default=None, ge=0, le=60000)


# What a lantern lists in ``LanternState.features`` when its firmware shows a projection's
# ``flash``. A lantern that does not list it is never sent ``flash`` (its strict parser, like
# ours, refuses keys it does not know), so it gets the same pictogram steady.
FEATURE_PROJECTION_FLASH = "projection_flash"
# Flashing stays at or under 2 Hz, safely below the 3 flashes per second from which flashing
# light can trigger photosensitive seizures (WCAG 2.3.1, ITU-R BT.1702; red flashes included).
FLASH_MIN_PERIOD_MS = 500


class ProjectionFlash(WireModel):
    """The pictogram flashes: shown for ``on_ms`` at the start of every ``period_ms`` of the
    wall clock (ms since the epoch, minus ``phase_ms``), dark for the rest, so neighbours that
    keep NTP time flash together without any message between them."""

    period_ms: int = Field(
        ge=FLASH_MIN_PERIOD_MS,
        le=10000,
        description="one flash cycle; at least 500 ms (2 Hz), well under the 3 Hz seizure line",
    )
    on_ms: int = Field(ge=100, le=9900, description="shown at the start of each cycle")
    phase_ms: int = Field(default=0, ge=0, le=600000)

    @model_validator(mode="after")
    def _dark_part(self) -> Self:
        # A flash needs a dark part of at least 100 ms, or it is no flash (and a 50 ms gap
        # reads as flicker rather than a signal).
        if self.on_ms > self.period_ms - 100:
            raise ValueError("on_ms must leave at least 100 ms dark in each period_ms")
        return self


class ProjectionPayload(WireModel):
    pictogram: Literal["arrow", "stop", "exit", "no_entry", "walk", "warning", "text"]
    heading_deg: float | None = Field(default=None, ge=0, le=360)
    text: str | None = Field(default=None, max_length=64)
    color: ColorHex | None = None
    # Issue 18, additive: absent means steady (protocol v1 as first shipped). Sent only to
    # lanterns whose state lists FEATURE_PROJECTION_FLASH.
    flash: ProjectionFlash | None = Field(
        default=None,
        description="flash the pictogram (evacuation arrows); absent: steady. Sent only to "
        f"lanterns whose state lists the feature {FEATURE_PROJECTION_FLASH!r}",
    )


class PathPayload(WireModel):
    level: int = Field(ge=0, le=100)
    mode: Literal["fixed", "motion", "chase"] = "fixed"
    hold_s: int | None = Field(default=None, ge=1, le=3600)
    period_ms: int | None = Field(default=None, ge=50, le=60000)
    phase_ms: int | None = Field(default=None, ge=0, le=600000)


class ReleasePayload(WireModel):
    """Payload of a ``release``: empties the slot named by channel and priority.

    With ``cmd_id`` the lantern empties the slot only while that command holds it (or drops it
    while it waits for its ``starts_at``), so an issuer can never clear a slot someone else
    wrote since; without it (protocol v1 as first shipped) the slot is emptied whatever it holds.
    """

    cmd_id: str | None = Field(default=None, min_length=1, max_length=64)


# The first name of the release payload, when it had no fields; kept so older callers still work.
EmptyPayload = ReleasePayload


_PAYLOAD_FOR: dict[str, type[WireModel]] = {
    "audio": AudioPayload,
    "light": LightPayload,
    "projection": ProjectionPayload,
    "path": PathPayload,
}

Payload = AudioPayload | LightPayload | ProjectionPayload | PathPayload | ReleasePayload


class CommandEnvelope(WireModel):
    """One command for one channel and one audience (a lantern, or a fan-out group)."""

    v: Literal[1] = 1
    id: str = Field(min_length=1, max_length=64)
    # The audience, covered by ``sig``: a lantern acts only on an envelope addressed to itself or
    # to a group it belongs to, that arrived on that audience's topic, so an envelope captured
    # for one lantern plays nowhere else. Absent only in unsigned development traffic (and in
    # envelopes stored before it existed: the service addresses every copy as it sends it).
    aud: Audience | None = None
    alert_id: str | None = Field(default=None, max_length=64)
    # The issuer's role (dispatcher, feed, operator, city_app, admin, or the schedule runner's
    # "scheduler"), covered by ``sig``: a lantern refuses a priority above that role's ceiling or
    # a role its signing key may not sign for. Absent only in unsigned development traffic.
    role: str | None = Field(default=None, pattern=r"^[a-z_]{1,32}$")
    channel: Channel
    op: Op
    priority: Priority
    issued_at: AwareDatetime
    # A `set` sent ahead (a schedule's later steps): the lantern holds it until then, so it
    # switches on time without the service. Absent: the command takes effect on arrival.
    starts_at: AwareDatetime | None = None
    expires_at: AwareDatetime
    exercise: bool = False
    payload: Payload
    seq: int = Field(ge=0)
    kid: str | None = Field(default=None, max_length=64)
    sig: str | None = Field(default=None, max_length=256)

    @model_validator(mode="before")
    @classmethod
    def _payload_matches_channel(cls, data: Any) -> Any:
        # Parse the payload by channel so a light payload can never be read as audio.
        if isinstance(data, dict) and isinstance(data.get("payload"), dict):
            if data.get("op") == "release":
                expected: type[WireModel] = ReleasePayload
            else:
                expected = _PAYLOAD_FOR.get(str(data.get("channel")), ReleasePayload)
            data = {**data, "payload": expected.model_validate(data["payload"])}
        return data

    @model_validator(mode="after")
    def _times_in_order(self) -> Self:
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be after issued_at")
        if self.starts_at is not None and self.starts_at >= self.expires_at:
            raise ValueError("starts_at must be before expires_at")
        return self

    def signing_bytes(self) -> bytes:
        """Canonical JSON of everything except ``sig``: what the Ed25519 signature covers."""
        body = self.model_dump(mode="json", exclude_none=True, exclude={"sig"})
        return canonical_json(body)


class AckStatus(StrEnum):
    RECEIVED = "received"
    PLAYING = "playing"
    DONE = "done"
    APPLIED = "applied"
    INTERRUPTED = "interrupted"
    REJECTED = "rejected"
    FAILED = "failed"
    EXPIRED = "expired"


class Ack(WireModel):
    """A lantern's word on one command; only this counts as delivery."""

    v: Literal[1] = 1
    cmd_id: str = Field(min_length=1, max_length=64)
    lantern: str = Field(min_length=1, max_length=64)
    status: AckStatus
    reason: str | None = Field(default=None, max_length=200)
    at: AwareDatetime
    # On ``done``: the sha256 of every clip played, in playback order (proof of what was heard).
    # 64 program items x 10 repeats is the longest valid program.
    played: list[Sha256Hex] | None = Field(default=None, max_length=640)
    # A lantern provisioned with an ack key signs every ack: ``kid`` names its key, ``sig`` is
    # Ed25519 over ``signing_bytes()``. Both absent: an unsigned ack (protocol v1 as first
    # shipped), which the service refuses from a lantern it holds a key for.
    kid: str | None = Field(default=None, min_length=1, max_length=64)
    sig: str | None = Field(default=None, max_length=256)

    def signing_bytes(self) -> bytes:
        """Canonical JSON of everything except ``sig``: what the lantern's signature covers."""
        body = self.model_dump(mode="json", exclude_none=True, exclude={"sig"})
        return canonical_json(body)


class Availability(WireModel):
    """Retained online flag; ``gateway`` names the edge gateway that speaks for the lantern."""

    online: bool
    boot: int = Field(default=0, ge=0)
    gateway: str | None = Field(default=None, max_length=64)
    # Protocol v2: the fan-out groups the lantern listens to now (its provisioned membership,
    # subscribed). Absent: a v1 lantern, reached on its own cmd topic only. Kept as plain
    # strings so one unparsable name is skipped with a reason, not the lantern's whole report.
    groups: list[str] | None = Field(default=None, max_length=32)


class ChannelState(WireModel):
    """Effective value of one channel and the slot (priority) that drives it.

    With every slot empty the lantern's configured default drives the channel: ``priority`` 16,
    no ``cmd_id``; a channel without a default (audio, projection) reports no priority at all.
    """

    priority: int | None = Field(default=None, ge=1, le=16)
    cmd_id: str | None = None
    value: dict[str, Any] | None = None
    # Path only: whether the footpath light is on now (motion mode: someone passed within hold_s).
    lit: bool | None = None


class ClipEntry(WireModel):
    """One clip a lantern should hold before any emergency (a template sentence)."""

    sha256: Sha256Hex
    url: str = Field(min_length=1, max_length=2048)
    size: int = Field(ge=1, le=50_000_000)
    lang: str = Field(min_length=2, max_length=16)
    duration_s: float = Field(gt=0, le=600)


class ClipManifest(WireModel):
    """Retained on ``<root>/v1/clips/<key>/manifest``: clips to hold, content-addressed.

    ``digest`` is the SHA-256 of the canonical JSON of ``entries`` (so a lantern reports which
    version it holds); ``lanterns`` names who should hold them (absent: every lantern). A
    lantern downloads the entries it lacks in quiet times and checks each against its hash.
    """

    v: Literal[1] = 1
    key: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")
    digest: Sha256Hex
    entries: list[ClipEntry] = Field(max_length=20_000)
    lanterns: list[str] | None = Field(default=None, max_length=200_000)

    @staticmethod
    def digest_of(entries: list[ClipEntry]) -> str:
        body = [e.model_dump(mode="json") for e in entries]
        return hashlib.sha256(canonical_json({"entries": body})).hexdigest()

    @model_validator(mode="after")
    def _digest_matches(self) -> Self:
        if self.digest != self.digest_of(self.entries):
            raise ValueError("digest does not match the entries")
        return self


class ClipMissing(WireModel):
    """A manifest clip the lantern does not hold, and why (``bad_clip_hash``, ``cache_full``...)."""

    sha256: Sha256Hex
    reason: str = Field(min_length=1, max_length=64)


class ClipHolding(WireModel):
    """Which clips a lantern holds: per manifest key, the digest it holds completely."""

    manifests: dict[str, Sha256Hex] = Field(default_factory=dict)
    held: int = Field(default=0, ge=0)
    bytes: int = Field(default=0, ge=0)
    budget: int = Field(default=0, ge=0)
    # The first few manifest clips it lacks, with the reason; ``missing_count`` counts them all.
    missing: list[ClipMissing] = Field(default_factory=list, max_length=32)
    missing_count: int = Field(default=0, ge=0)
    # The cache itself cannot take clips: ``cache_unwritable`` or ``cache_full``.
    problem: str | None = Field(default=None, max_length=200)


class LanternState(WireModel):
    """Retained report of what a lantern is doing now."""

    v: Literal[1] = 1
    lantern: str
    at: AwareDatetime
    channels: dict[Channel, ChannelState] = Field(default_factory=dict)
    capabilities: list[Literal["speaker", "rgb", "projector", "path_light"]] = Field(
        default_factory=list
    )
    # Fitted parts that do not work (a blown speaker): the service leaves them out of coverage.
    broken: list[Literal["speaker", "rgb", "projector", "path_light"]] = Field(default_factory=list)
    # The clip library it holds (issue 14); absent from lanterns that keep no clips.
    clips: ClipHolding | None = None
    # Optional protocol fields this firmware understands (``projection_flash``); absent from
    # firmware that predates them, which is then sent none of them. Plain strings, so a
    # service meets a newer lantern's feature names without refusing its whole report.
    features: list[Annotated[str, Field(pattern=r"^[a-z0-9_]{1,32}$")]] | None = Field(
        default=None,
        max_length=32,
        description="optional protocol fields this firmware understands, e.g. "
        f"{FEATURE_PROJECTION_FLASH!r} (ProjectionPayload.flash); absent: none",
    )
