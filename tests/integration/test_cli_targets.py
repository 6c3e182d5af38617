"""``lightctl target preview`` against a live service."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lightctl.cli import app
from tests.integration.conftest import LiveService
from tests.support import MUENZPLATZ, cli_runner, flat

pytestmark = [pytest.mark.broker]

runner = cli_runner()
ROUTE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {},
            "geometry": {
                "type": "LineString",
                "coordinates": [[8.5380, 47.3698], [8.5400, 47.3722]],
            },
        }
    ],
}


def count_in(output: str) -> int:
    match = re.search(r"\blanterns (\d+)", flat(output))
    assert match, output
    return int(match.group(1))


def test_preview_prints_the_same_as_the_api(service: LiveService, tmp_path: Path) -> None:
    route = tmp_path / "route.geojson"
    route.write_text(json.dumps(ROUTE))
    area = tmp_path / "square.geojson"
    area.write_text(json.dumps(MUENZPLATZ))
    out = tmp_path / "lanterns.geojson"
    args = [
        "target", "preview",
        "--circle", "8.5390,47.3710,100",
        "--area", str(area),
        "--route", str(route), "--width", "15",
        "--exclude-street", "Bahnhofstrasse",
        "--geojson", str(out),
        "--api", service.url,
    ]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    expected = service.http.post(
        "/targets/preview",
        json={
            "circle": {"lon": 8.5390, "lat": 47.3710, "radius_m": 100},
            "area": MUENZPLATZ,
            "route": {"line": ROUTE["features"][0]["geometry"], "width_m": 15},  # type: ignore[index]
            "exclude": {"streets": ["Bahnhofstrasse"]},
        },
    ).json()
    assert count_in(result.output) == expected["lantern_count"] > 0
    assert "with projector" in flat(result.output)
    assert "streets touched" in flat(result.output)
    assert "Bahnhofstrasse" not in flat(result.output)
    written = json.loads(out.read_text())
    assert {f["id"] for f in written["features"]} == set(expected["lantern_ids"])


def test_preview_refusals_exit_2_and_name_the_field(service: LiveService) -> None:
    result = runner.invoke(
        app, ["target", "preview", "--street", "Banhofstrase", "--api", service.url]
    )
    assert result.exit_code == 2
    assert "streets.0" in flat(result.output)
    assert "Bahnhofstrasse" in flat(result.output)  # the suggestion
    swapped = runner.invoke(
        app, ["target", "preview", "--circle", "47.371,8.539,100", "--api", service.url]
    )
    assert swapped.exit_code == 2
    assert "swapped" in flat(swapped.output)
    no_width = runner.invoke(app, ["target", "preview", "--route", __file__, "--api", service.url])
    assert no_width.exit_code == 2
    assert "--width" in flat(no_width.output)
    assert runner.invoke(app, ["target", "preview", "--circle", "8.5,47"]).exit_code == 2
