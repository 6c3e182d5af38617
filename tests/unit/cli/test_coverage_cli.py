"""`lightctl buildings import` and `lightctl coverage report`: footprints checked and stored,
bad values named with exit code 2, an inventory without speakers said so."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from lightctl.cli import app
from lightctl.services.inventory import import_lanterns, import_streets
from lightctl.store import Database
from tests.support import FIXTURES, cli_runner

runner = cli_runner()
LANTERNS = FIXTURES / "zurich_lanterns_small.geojson"
STREETS = FIXTURES / "zurich_streets_small.geojson"

# A 20 x 10 m house on Bahnhofstrasse, in Swiss LV95 metres (EPSG:2056) and as lon/lat.
HOUSE_LV95 = [[2683185, 1247427], [2683205, 1247427], [2683205, 1247437], [2683185, 1247437]]


def flat(text: str) -> str:
    """Output without any whitespace: wrapping by terminal width cannot matter."""
    return "".join(text.split())


def footprints(
    tmp_path: Path, *rings: tuple[str, Sequence[Sequence[float]]], crs: str | None = None
) -> Path:
    doc: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": fid,
                "properties": {},
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
            }
            for fid, ring in rings
        ],
    }
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path = tmp_path / "buildings.in.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def buildings(tmp_path: Path, path: Path, *extra: str) -> Any:
    data = tmp_path / "data"
    return runner.invoke(app, ["buildings", "import", str(path), "--data-dir", str(data), *extra])


def test_footprints_in_lv95_are_stored_as_lon_lat(tmp_path: Path) -> None:
    path = footprints(tmp_path, ("house-1", HOUSE_LV95))
    result = buildings(tmp_path, path, "--crs", "EPSG:2056")
    assert result.exit_code == 0, result.output
    assert "1 stored" in flat(result.output).replace("stored", " stored")
    stored = json.loads((tmp_path / "data" / "buildings.geojson").read_text(encoding="utf-8"))
    (lon, lat) = stored["features"][0]["geometry"]["coordinates"][0][0]
    assert lon == pytest.approx(8.54, abs=0.01)
    assert lat == pytest.approx(47.37, abs=0.01)
    # The file's own crs member works as well as the option.
    named = footprints(tmp_path, ("house-1", HOUSE_LV95), crs="EPSG:2056")
    assert buildings(tmp_path, named).exit_code == 0


def test_footprints_in_the_wrong_crs_are_refused_naming_the_feature(tmp_path: Path) -> None:
    path = footprints(tmp_path, ("house-7", HOUSE_LV95))  # LV95 metres read as lon/lat
    result = buildings(tmp_path, path)
    assert result.exit_code == 2
    out = flat(result.output)
    assert "featurehouse-7" in out
    assert "--crs" in out
    assert "Traceback" not in result.output
    assert not (tmp_path / "data" / "buildings.geojson").exists()


def test_a_self_intersecting_footprint_is_repaired_and_a_flat_one_refused(tmp_path: Path) -> None:
    bowtie = [[8.540, 47.372], [8.541, 47.373], [8.541, 47.372], [8.540, 47.373]]
    square = [[8.542, 47.372], [8.543, 47.372], [8.543, 47.373], [8.542, 47.373]]
    result = buildings(tmp_path, footprints(tmp_path, ("bowtie", bowtie), ("ok", square)))
    assert result.exit_code == 0, result.output
    assert "1repaired" in flat(result.output)
    flat_ring = [[8.540, 47.372], [8.541, 47.372], [8.542, 47.372]]
    refused = buildings(tmp_path, footprints(tmp_path, ("ok", square), ("sliver-3", flat_ring)))
    assert refused.exit_code == 2
    assert "featuresliver-3" in flat(refused.output)


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    db = Database(f"sqlite:///{data / 'lightctl.db'}")
    data.mkdir(exist_ok=True)
    db.create_all()
    import_streets(db, STREETS)
    import_lanterns(db, LANTERNS)
    db.dispose()
    return data


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        ("--level-db", "59", "level_db"),
        ("--level-db", "131", "level_db"),
        ("--height-m", "0", "height_m"),
    ],
)
def test_coverage_values_out_of_range_are_named(
    inventory: Path, option: str, value: str, field: str
) -> None:
    result = runner.invoke(app, ["coverage", "report", "--data-dir", str(inventory), option, value])
    assert result.exit_code == 2
    assert field in flat(result.output)
    assert "Traceback" not in result.output


def test_coverage_report_rates_the_streets(inventory: Path) -> None:
    args = ["coverage", "report", "--data-dir", str(inventory), "--json", "--suggestions", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    body = json.loads(result.output[result.output.index("{") :])
    assert body["speakers"] > 100
    assert sum(body["day"].values()) == pytest.approx(1.0, abs=0.001)
    assert body["night"]["intelligible"] >= body["day"]["intelligible"]
    assert len(body["suggestions"]) == 2


def test_an_inventory_without_speakers_says_so(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    db = Database(f"sqlite:///{data / 'lightctl.db'}")
    db.create_all()
    import_streets(db, STREETS)
    import_lanterns(db, LANTERNS, capabilities=("rgb",))
    db.dispose()
    result = runner.invoke(app, ["coverage", "report", "--data-dir", str(data), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output[result.output.index("{") :])
    assert body["speakers"] == 0
    assert body["day"]["not_covered"] == 1.0
    assert any("none of these lanterns has a speaker" in w for w in body["warnings"])


def speaker_csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "speakers.csv"
    path.write_text("lantern_id,level_db,height_m\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("LEU101190,59,5", "level_db"),
        ("LEU101190,100,0", "height_m"),
        ("LEU101190,loud,5", "level_db"),
    ],
)
def test_speaker_rows_out_of_range_are_named(
    inventory: Path, tmp_path: Path, row: str, field: str
) -> None:
    path = speaker_csv(tmp_path, ["LEU101085,100,5", row])
    result = runner.invoke(app, ["speakers", "import", str(path), "--data-dir", str(inventory)])
    assert result.exit_code == 2
    assert f"line.3.{field}" in flat(result.output)
    assert not (inventory / "speakers.json").exists()


def test_quieter_speakers_cover_less(inventory: Path, tmp_path: Path) -> None:
    args = ["coverage", "report", "--data-dir", str(inventory), "--json", "--suggestions", "0"]
    before = json.loads(runner.invoke(app, args).output)
    features = json.loads(LANTERNS.read_text(encoding="utf-8"))["features"]
    path = speaker_csv(tmp_path, [f"{f['id']},70,5" for f in features])
    result = runner.invoke(app, ["speakers", "import", str(path), "--data-dir", str(inventory)])
    assert result.exit_code == 0, result.output
    after = json.loads(runner.invoke(app, args).output)
    assert after["day"]["intelligible"] < before["day"]["intelligible"]
