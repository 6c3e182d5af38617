"""The MQTT protocol (v1 and v2) as an AsyncAPI 2.6 document, built from the wire models."""

from __future__ import annotations

from typing import Any

from lightctl.protocol.fanout import AckBatch, Membership
from lightctl.protocol.wire import (
    Ack,
    Availability,
    ClipManifest,
    CommandEnvelope,
    LanternState,
    WireModel,
)

_MODELS: dict[str, type[WireModel]] = {
    "CommandEnvelope": CommandEnvelope,
    "Ack": Ack,
    "LanternState": LanternState,
    "Availability": Availability,
    "Membership": Membership,
    "AckBatch": AckBatch,
    "ClipManifest": ClipManifest,
}


def _channel(
    description: str, direction: str, message: str, *, retained: bool = False
) -> dict[str, Any]:
    # AsyncAPI 2.x names operations from the application's side: the service *publishes* to
    # `subscribe` channels (clients subscribe to receive them).
    operation = "subscribe" if direction == "service->lantern" else "publish"
    return {
        "description": f"{description} ({direction}; QoS 1{', retained' if retained else ''})",
        operation: {"message": {"$ref": f"#/components/messages/{message}"}},
    }


def asyncapi_document(root: str = "lightctl") -> dict[str, Any]:
    """The document for a topic root (``mqtt_root``)."""
    v1, v2 = f"{root}/v1", f"{root}/v2"
    channels = {
        f"{v1}/lanterns/{{lantern}}/cmd": _channel(
            "v1 and v2: one lantern's commands (aud = lanterns/<id>); retries and the ragged "
            "edge of a fan-out; MQTT 5 message expiry = the command's remaining lifetime",
            "service->lantern",
            "CommandEnvelope",
        ),
        f"{v1}/lanterns/{{lantern}}/ack": _channel(
            "v1 and v2: one ack per message", "lantern->service", "Ack"
        ),
        f"{v1}/lanterns/{{lantern}}/state": _channel(
            "what the lantern does now", "lantern->service", "LanternState", retained=True
        ),
        f"{v1}/lanterns/{{lantern}}/availability": _channel(
            "online flag and boot; in v2 also the groups it listens to (absent: a v1 lantern)",
            "lantern->service",
            "Availability",
            retained=True,
        ),
        f"{v1}/gateways/{{gateway}}/availability": _channel(
            "a gateway's online flag (its last will says offline)",
            "lantern->service",
            "Availability",
            retained=True,
        ),
        f"{v1}/clips/{{key}}/manifest": _channel(
            "the speech clips lanterns hold ahead of any warning (key common: approved templates "
            "in every language; one per street for its names), content-addressed; a lantern "
            "fetches what it lacks in quiet times, checks each hash, and reports what it holds "
            "in LanternState.clips",
            "service->lantern",
            "ClipManifest",
            retained=True,
        ),
        f"{v2}/groups/{{kind}}/{{key}}/cmd": _channel(
            "v2 broker-side fan-out: one copy for every lantern of a street (kind street) or map "
            "cell (kind cell), aud = groups/<kind>/<key> inside what is signed; used only while "
            "every lantern listening to the group is in the target",
            "service->lantern",
            "CommandEnvelope",
        ),
        f"{v2}/lanterns/{{lantern}}/groups": _channel(
            "v2: the groups the service provisions the lantern with (only the service writes here)",
            "service->lantern",
            "Membership",
            retained=True,
        ),
        f"{v2}/gateways/{{gateway}}/acks": _channel(
            "v2: a gateway's batch of its lanterns' own acks (an unknown lantern's is skipped "
            "and counted: consumer_ack_unknown_lantern)",
            "lantern->service",
            "AckBatch",
        ),
    }
    schemas: dict[str, Any] = {}
    for name, model in _MODELS.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    return {
        "asyncapi": "2.6.0",
        "info": {
            "title": "lightctl lantern protocol",
            "version": "2",
            "description": "Protocol v1 (per-lantern topics) and v2 (adds broker-side fan-out "
            "by street and map cell, provisioned membership and batched acks). v1 lanterns keep "
            "working with a v2 service: they report no groups and are always sent their own copy. "
            "Optional payload fields added since (ProjectionPayload.flash) are sent only to "
            "lanterns whose LanternState.features lists them; others get the payload without.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {
            "messages": {
                name: {"payload": {"$ref": f"#/components/schemas/{name}"}} for name in _MODELS
            },
            "schemas": schemas,
        },
    }
