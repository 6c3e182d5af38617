"""Build and parse every MQTT topic of protocols v1 and v2 in one place.

Protocol v1 topics live under ``<root>/v1/``: per lantern ``cmd``, ``ack``, ``state`` and
``availability``, and a gateway's ``availability``. Protocol v2 adds, under ``<root>/v2/``:

- ``groups/<kind>/<key>/cmd``: broker-side fan-out, one publish for every lantern of a street
  (``kind`` ``street``) or map cell (``cell``) that subscribed to it;
- ``lanterns/<id>/groups``: the groups the service provisions a lantern with (retained);
- ``gateways/<id>/acks``: a gateway's batch of its lanterns' acks (one message, many acks).

A v2 lantern still takes per-lantern commands (retries, the ragged edge of a target) on its v1
``cmd`` topic and may ack there one at a time, so v1 and v2 lanterns share one service.
"""

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
    # Protocol v2: a lantern's provisioned groups (retained, service -> lantern).
    GROUPS = "groups"
    # Protocol v2: a gateway's batch of acks (gateway -> service).
    ACKS = "acks"


GROUP_KINDS = ("street", "cell")


def parse_group_audience(audience: str) -> tuple[str, str] | None:
    """(kind, key) of a ``groups/<kind>/<key>`` audience of a known kind; None otherwise."""
    parts = audience.split("/")
    if len(parts) != 3 or parts[0] != "groups" or parts[1] not in GROUP_KINDS:
        return None
    if not is_valid_lantern_id(parts[2]):
        return None
    return parts[1], parts[2]


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

    @property
    def base_v2(self) -> str:
        return f"{self.root}/v2"

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
        """The cmd topic of an audience: ``<root>/v1/lanterns/<id>/cmd`` for one lantern,
        ``<root>/v2/groups/<kind>/<key>/cmd`` for a fan-out group (protocol v2)."""
        base = self.base_v2 if audience.startswith("groups/") else self.base
        if self.audience_of_cmd(f"{base}/{audience}/cmd") != audience:
            raise ValueError(f"{audience!r} is not an audience (lanterns/ID or groups/KIND/KEY)")
        return f"{base}/{audience}/cmd"

    def group_cmd(self, kind: str, key: str) -> str:
        """The fan-out topic of one group (protocol v2)."""
        return self.audience_cmd(group_audience(kind, key))

    def audience_of_cmd(self, topic: str) -> str | None:
        """The audience a cmd topic of this root addresses; None for any other topic."""
        parts = topic.split("/")
        if len(parts) < 4 or parts[-1] != "cmd":
            return None
        base = f"{parts[0]}/{parts[1]}"
        levels = parts[2:-1]
        if not all(is_valid_lantern_id(level) for level in levels):
            return None
        if base == self.base and len(levels) == 2 and levels[0] == "lanterns":
            return "/".join(levels)
        if base == self.base_v2 and len(levels) == 3 and levels[0] == "groups":
            return "/".join(levels)
        return None

    def groups(self, lantern_id: str) -> str:
        """Where the service provisions a lantern's groups (protocol v2, retained)."""
        if not is_valid_lantern_id(lantern_id):
            raise ValueError(f"lantern id {lantern_id!r} cannot be used as a topic level")
        return f"{self.base_v2}/lanterns/{lantern_id}/groups"

    def gateway_acks(self, gateway_id: str) -> str:
        """A gateway's batches of acks (protocol v2)."""
        if not is_valid_lantern_id(gateway_id):
            raise ValueError(f"gateway id {gateway_id!r} cannot be used as a topic level")
        return f"{self.base_v2}/gateways/{gateway_id}/acks"

    def all_gateway_acks(self) -> str:
        return f"{self.base_v2}/gateways/+/acks"

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
        """Parse a per-lantern or per-gateway topic of this root; None for anything else."""
        parts = topic.split("/")
        if len(parts) != 5:
            return None
        collection, ident, leaf = parts[2], parts[3], parts[4]
        if not is_valid_lantern_id(ident):
            return None
        if f"{parts[0]}/{parts[1]}" == self.base_v2:
            if collection == "gateways" and leaf == TopicKind.ACKS.value:
                return ParsedTopic(kind=TopicKind.ACKS, gateway_id=ident)
            if collection == "lanterns" and leaf == TopicKind.GROUPS.value:
                return ParsedTopic(kind=TopicKind.GROUPS, lantern_id=ident)
            return None
        if f"{parts[0]}/{parts[1]}" != self.base:
            return None
        if collection == "gateways" and leaf == "availability":
            return ParsedTopic(kind=TopicKind.AVAILABILITY, gateway_id=ident)
        if collection != "lanterns":
            return None
        try:
            kind = TopicKind(leaf)
        except ValueError:
            return None
        if kind in (TopicKind.GROUPS, TopicKind.ACKS):
            return None  # v2 leaves, only under <root>/v2
        return ParsedTopic(kind=kind, lantern_id=ident)
