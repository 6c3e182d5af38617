"""Geocode boundaries: `lightctl geocodes import`, then a message naming only codes plays there."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lightctl.cap.geocodes import import_geocodes
from lightctl.cli import app as cli
from lightctl.store import Database
from tests.integration import cap_support
from tests.integration.cap_support import SENDER, cap_time
from tests.integration.conftest import LiveService
from tests.support import FIXTURES, cli_runner, flat

pytestmark = [pytest.mark.broker]

cap_service = cap_support.cap_service
runner = cli_runner()
NINA = FIXTURES / "cap" / "nina" / "ha-fixture-warning-details-mowas-dwd-biwapp.json"

# An invented municipality key (Land 08, Kreis 111) for the northern half of the fixture
# lanterns; the MoWaS message below names the whole Kreis, 081110000000.
MUNICIPALITY = "081110000001"
KREIS = "081110000000"
NORTH_RING = [[8.5370, 47.3710], [8.5410, 47.3710], [8.5410, 47.3730], [8.5370, 47.3730]]


def boundary_file(tmp_path: Path) -> Path:
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "properties": {"ARS": MUNICIPALITY, "GEN": "Nordhälfte"},
            "geometry": {"type": "Polygon", "coordinates": [[*NORTH_RING, NORTH_RING[0]]]},
        },
        {"type": "Feature", "properties": {"GEN": "ohne Schlüssel"}, "geometry": None},
        {
            "type": "Feature",
            "properties": {"ARS": "0811"},
            "geometry": {"type": "Point", "coordinates": [8.5, 47.3]},
        },
    ]
    path = tmp_path / "vg250_gem.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def mowas_for(ars: str) -> bytes:
    """The real MoWaS fixture, made current and pointed at ``ars`` (geocodes only)."""
    details = json.loads(NINA.read_text(encoding="utf-8"))
    warning = dict(details["mow.DE-BW-S-SE018-20211102-18-001"])
    now = datetime.now(UTC).replace(microsecond=0)
    warning.update(
        identifier=f"mow.TEST-{ars}-{uuid.uuid4().hex[:8]}",
        sender=SENDER,
        msgType="Alert",
        sent=cap_time(now),
    )
    warning.pop("references")
    info = dict(warning["info"][0])
    info["severity"] = "Severe"
    info["expires"] = cap_time(now + timedelta(minutes=30))
    info["parameter"] = [
        p if p["valueName"] != "warnVerwaltungsbereiche" else {**p, "value": ars}
        for p in info["parameter"]
    ]
    warning["info"] = [info]
    return json.dumps(warning).encode()


def test_cli_imports_boundaries_and_names_what_it_skipped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'geo.db'}"
    result = runner.invoke(
        cli,
        [
            "geocodes",
            "import",
            str(boundary_file(tmp_path)),
            "--scheme",
            "ARS",
            "--database-url",
            url,
        ],
    )
    assert result.exit_code == 0, result.output
    out = flat(result.output)  # whatever width the console wraps at
    assert "ARS: 1 added, 0 replaced, 2 skipped" in out
    assert "skipped feature 1: no code" in out
    assert "skipped feature 2: ARS '0811' is not 12 digits" in out
    listed = runner.invoke(cli, ["geocodes", "list", "--database-url", url])
    assert "ARS: 1" in flat(listed.output)
    bad = tmp_path / "bad.geojson"
    bad.write_text("not json")
    refused = runner.invoke(
        cli, ["geocodes", "import", str(bad), "--scheme", "ARS", "--database-url", url]
    )
    assert refused.exit_code == 2
    assert "not GeoJSON" in flat(refused.output)


def test_a_mowas_warning_by_ars_plays_where_the_imported_boundary_lies(
    cap_service: LiveService, inventory: Database, tmp_path: Path
) -> None:
    before = cap_service.http.post(
        "/cap", content=mowas_for(KREIS), headers={"Content-Type": "application/json"}
    )
    assert before.status_code == 201, before.text
    unknown = before.json()
    assert unknown["decision"] == "suggested"
    assert unknown["plan"]["unknown_geocodes"] == [f"ARS:{KREIS}"]
    assert KREIS in unknown["reason"]
    import_geocodes(inventory, boundary_file(tmp_path), "ARS", datetime.now(UTC))
    response = cap_service.http.post(
        "/cap", content=mowas_for(KREIS), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["decision"] == "played", out
    alert = cap_service.http.get(f"/alerts/{out['alert_ids'][0]}").json()
    north = cap_service.http.post(
        "/targets/preview",
        json={"area": {"type": "Polygon", "coordinates": [[*NORTH_RING, NORTH_RING[0]]]}},
        params={"geojson": False},
    ).json()
    assert alert["lantern_count"] == north["lantern_count"] > 0
    assert alert["languages"] == ["de"]
