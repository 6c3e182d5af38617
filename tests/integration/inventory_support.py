"""Changing the inventory under a test's feet, as an operator's import would."""

from __future__ import annotations

import json
import uuid

from tests.integration.conftest import LiveService


def add_lantern_on(service: LiveService, street: str) -> str:
    """Import one new lantern a metre from the first lantern of ``street`` (so it stands on it)
    through the API; returns its id."""
    first = service.http.get("/lanterns", params={"street": street}).json()[0]
    new_id = f"NEW-{uuid.uuid4().hex[:8]}"
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [first["lon"] + 0.00001, first["lat"]]},
        "properties": {"id": new_id, "street": street},
    }
    body = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
    response = service.http.post(
        "/lanterns/import",
        params={"id_field": "id", "filename": "added.geojson"},
        content=body,
        headers={"content-type": "application/geo+json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == 1, response.text
    return new_id
