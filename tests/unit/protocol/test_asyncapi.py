"""The AsyncAPI document (GET /api/v1/asyncapi.json) describes what the wire models accept."""

from __future__ import annotations

from lightctl.protocol.asyncapi import asyncapi_document


def test_the_document_describes_flashing_projections_and_lantern_features() -> None:
    doc = asyncapi_document("city")
    schemas = doc["components"]["schemas"]
    flash = schemas["ProjectionFlash"]
    assert flash["properties"]["period_ms"]["minimum"] == 500  # at most 2 Hz
    assert set(flash["required"]) == {"period_ms", "on_ms"}
    projection = schemas["ProjectionPayload"]["properties"]["flash"]
    assert {"$ref": "#/components/schemas/ProjectionFlash"} in projection["anyOf"]
    assert "projection_flash" in projection["description"]
    features = schemas["LanternState"]["properties"]["features"]
    assert "projection_flash" in features["description"]
    assert "city/v1/lanterns/{lantern}/cmd" in doc["channels"]


def test_the_document_describes_the_retained_clip_manifests() -> None:
    doc = asyncapi_document("city")
    channel = doc["channels"]["city/v1/clips/{key}/manifest"]
    assert "retained" in channel["description"]
    assert channel["subscribe"]["message"] == {"$ref": "#/components/messages/ClipManifest"}
    manifest = doc["components"]["schemas"]["ClipManifest"]
    assert {"key", "digest", "entries"} <= set(manifest["required"])
    assert "ClipEntry" in doc["components"]["schemas"]
