"""Build and parse every MQTT topic of protocol v1 in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# Lantern ids become topic levels: MQTT forbids wildcards there and '/' would add a level.
_LANTERN_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def is_valid_lantern_id(lantern_id: str) -> bool:
    """True when the id can stand as one MQTT topic level."""
    return bool(_LANTERN_ID.match(lantern_id))


def lantern_audience(lantern_id: str) -> str:
    """The audience (``CommandEnvelope.aud``) of one lantern's own cmd topic."""
    if not is_valid_lantern_id(lantern_id):
        raise ValueError(f"lantern id {lantern_id!r} cannot be used as a topic level")
    return f"lanterns/{lantern_id}"


def group_audience(kind: str, key: str) -> str:
    """The audience of a broker-side fan-out topic (protocol v2: per street, map cell, group)."""
    for level in (kind, key):
        if not is_valid_lantern_id(level):
            raise ValueError(f"group {kind!r}/{key!r} cannot be used as topic levels")
    return f"groups/{kind}/{key}"


class TopicKind(StrEnum):
    CMD = "cmd"
    ACK = "ack"
    STATE = "state"
    AVAILABILITY = "availability"


@dataclass(frozen=True, slots=True)
class ParsedTopic:
    kind: TopicKind
    lantern_id: str | None = None
    gateway_id: str | None = None


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names under a configurable root, e.g. ``lightctl/v1/lanterns/LEU1/cmd``."""

    root: str = "lightctl"

    @property
    def base(self) -> str:
        return f"{self.root}/v1"

    def lantern(self, lantern_id: str, kind: TopicKind) -> str:
        if not is_valid_lantern_id(lantern_id):
            raise ValueError(f"lantern id {lantern_id!r} cannot be used as a topic level")
        return f"{self.base}/lanterns/{lantern_id}/{kind.value}"

    def cmd(self, lantern_id: str) -> str:
        return self.lantern(lantern_id, TopicKind.CMD)

    def ack(self, lantern_id: str) -> str:
        return self.lantern(lantern_id, TopicKind.ACK)

    def state(self, lantern_id: str) -> str:
        return self.lantern(lantern_id, TopicKind.STATE)

    def availability(self, lantern_id: str) -> str:
        return self.lantern(lantern_id, TopicKind.AVAILABILITY)

    def audience_cmd(self, audience: str) -> str:
        """The cmd topic of an audience (``lanterns/<id>`` or ``groups/<kind>/<key>``)."""
        if self.audience_of_cmd(f"{self.base}/{audience}/cmd") != audience:
            raise ValueError(f"{audience!r} is not an audience (lanterns/ID or groups/KIND/KEY)")
        return f"{self.base}/{audience}/cmd"

    def audience_of_cmd(self, topic: str) -> str | None:
        """The audience a cmd topic of this root addresses; None for any other topic."""
        parts = topic.split("/")
        if f"{parts[0]}/{parts[1] if len(parts) > 1 else ''}" != self.base or parts[-1] != "cmd":
            return None
        levels = parts[2:-1]
        if not all(is_valid_lantern_id(level) for level in levels):
            return None
        if (len(levels) == 2 and levels[0] == "lanterns") or (
            len(levels) == 3 and levels[0] == "groups"
        ):
            return "/".join(levels)
        return None

    def gateway_availability(self, gateway_id: str) -> str:
        """Retained online flag of an edge gateway that speaks for many lanterns."""
        if not is_valid_lantern_id(gateway_id):
            raise ValueError(f"gateway id {gateway_id!r} cannot be used as a topic level")
        return f"{self.base}/gateways/{gateway_id}/availability"

    def clip_manifest(self, key: str) -> str:
        """Retained clip manifest (issue 14): ``common``, or one per street, read by lanterns."""
        if not is_valid_lantern_id(key):
            raise ValueError(f"manifest key {key!r} cannot be used as a topic level")
        return f"{self.base}/clips/{key}/manifest"

    def all_clip_manifests(self) -> str:
        return f"{self.base}/clips/+/manifest"

    def manifest_key(self, topic: str) -> str | None:
        """The key of a clip manifest topic of this root; None for any other topic."""
        parts = topic.split("/")
        if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != self.base:
            return None
        if parts[2] != "clips" or parts[4] != "manifest" or not is_valid_lantern_id(parts[3]):
            return None
        return parts[3]

    def all_lanterns(self, kind: TopicKind) -> str:
        """Subscription filter for one kind of topic of every lantern."""
        return f"{self.base}/lanterns/+/{kind.value}"

    def all_gateways(self) -> str:
        return f"{self.base}/gateways/+/availability"

    def parse(self, topic: str) -> ParsedTopic | None:
        """Parse a topic of this root; None for anything that is not ours."""
        parts = topic.split("/")
        if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != self.base:
            return None
        collection, ident, leaf = parts[2], parts[3], parts[4]
        if not is_valid_lantern_id(ident):
            return None
        if collection == "gateways" and leaf == "availability":
            return ParsedTopic(kind=TopicKind.AVAILABILITY, gateway_id=ident)
        if collection != "lanterns":
            return None
        try:
            kind = TopicKind(leaf)
        except ValueError:
            return None
        return ParsedTopic(kind=kind, lantern_id=ident)
