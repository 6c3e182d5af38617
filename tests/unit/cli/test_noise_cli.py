"""`lightctl noise import`: an EU END-style noise map (Lden / Lnight bands, LV95, exported from a
shapefile) replaces the street-class ambient where it covers a street; a bad file is refused
naming the feature and the field, exit 2, and nothing is stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lightctl.acoustics.propagation import SourceSpec
from lightctl.acoustics.rating import ambient_by_segment
from lightctl.cli import app
from lightctl.geo.noise import read_noise_map
from lightctl.services.coverage import CoverageService
from lightctl.services.inventory import import_lanterns, import_streets
from lightctl.store import Database
from tests.support import FIXTURES, cli_runner

runner = cli_runner()
NOISE = FIXTURES / "noise_end_lv95.geojson"
LANTERNS = FIXTURES / "zurich_lanterns_small.geojson"
STREETS = FIXTURES / "zurich_streets_small.geojson"
SQUARE = [[8.538, 47.369], [8.540, 47.369], [8.540, 47.371], [8.538, 47.371], [8.538, 47.369]]


def flat(text: str) -> str:
    return "".join(text.split())


def noise(data: Path, path: Path, *extra: str) -> Any:
    return runner.invoke(app, ["noise", "import", str(path), "--data-dir", str(data), *extra])


@pytest.fixture
def data(tmp_path: Path) -> Path:
    out = tmp_path / "data"
    out.mkdir()
    db = Database(f"sqlite:///{out / 'lightctl.db'}")
    db.create_all()
    import_streets(db, STREETS)
    import_lanterns(db, LANTERNS)
    db.dispose()
    return out


def service(data: Path) -> CoverageService:
    db = Database(f"sqlite:///{data / 'lightctl.db'}")
    return CoverageService(db, data, SourceSpec(), 5.0, 150.0, 97.0, lambda _id: None)


def test_an_end_noise_map_replaces_the_street_class_ambient_where_it_covers(data: Path) -> None:
    coverage = service(data)
    before = coverage.refresh()
    defaults_day = ambient_by_segment(before.segment_classes, night=False)
    np.testing.assert_array_equal(before.ambient_day_db, defaults_day)
    quiet = coverage.citywide(suggestions=0)

    result = noise(data, NOISE)
    assert result.exit_code == 0, result.output
    assert "3areasstored(2withLden,1withLnight" in flat(result.output)
    after = coverage.refresh()  # the noise map's version moved: a new model
    assert after is not before
    assert after.matrix is before.matrix  # only the ambient changed: no matrix rebuild
    day, night = after.ambient_day_db, after.ambient_night_db
    # Lden6569 stands for 70 dB(A) (the band's top), LdenGreaterThan75 for 80, Lnight5559 for 60.
    assert set(np.unique(day)) >= {70.0, 80.0}
    west = day == 70.0
    assert west.sum() > 50
    assert (night[west] == 60.0).all()
    mapped = (day != defaults_day) | (night != ambient_by_segment(after.segment_classes, True))
    assert 0 < after.noise_mapped <= len(day)
    assert mapped.sum() <= after.noise_mapped
    # Outside the map every segment keeps its street class's default.
    outside = ~np.isin(day, [70.0, 80.0])
    assert outside.any()
    np.testing.assert_array_equal(day[outside], defaults_day[outside])
    loud = coverage.citywide(suggestions=0)
    assert loud.matrix["noise_mapped_segments"] == after.noise_mapped
    assert loud.shares["intelligible"] < quiet.shares["intelligible"]


def write(tmp_path: Path, features: list[dict[str, Any]], crs: str | None = None) -> Path:
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path = tmp_path / "noise.in.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def area(fid: str, props: dict[str, Any], ring: list[list[float]] = SQUARE) -> dict[str, Any]:
    geometry = {"type": "Polygon", "coordinates": [ring]}
    return {"type": "Feature", "id": fid, "properties": props, "geometry": geometry}


def test_levels_bands_and_band_names_read_as_documented(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            area("a", {"Lden": 63.5, "LNIGHT": 54}),
            area("b", {"DB_LOW": 55, "DB_HIGH": 59, "Indicator": "Lnight"}),
            area("c", {"db_low": 60, "db_high": 65}),
            area("d", {"category": "Lden 70-74"}),
            area("e", {"NoiseClass": "LnightGreaterThan70"}),
        ],
    )
    read = read_noise_map(path)
    assert read.lden[0] == 63.5
    assert read.lnight[0] == 54.0
    assert np.isnan(read.lden[1])
    assert read.lnight[1] == 60.0
    assert read.lden[2] == 65.0
    assert np.isnan(read.lnight[2])
    assert read.lden[3] == 75.0
    assert read.lnight[4] == 75.0


LV95_RING: list[list[float]] = [
    [2683185, 1247427],
    [2683205, 1247427],
    [2683205, 1247437],
    [2683185, 1247427],
]


@pytest.mark.parametrize(
    ("feature", "named"),
    [
        (area("band-3", {"category": "Lden5x"}), ["featureband-3", "category"]),
        (area("n-1", {"lden": "loud"}), ["featuren-1", "ldenisnotanumber"]),
        (area("n-2", {"lnight": 140}), ["featuren-2", "lnight140", "20-100"]),
        (area("n-3", {"db_low": 55}), ["featuren-3", "db_highmissing"]),
        (area("n-4", {"db_low": 60, "db_high": 55}), ["featuren-4", "db_high"]),
        (area("n-5", {"lden": 60, "indicator": "Lday"}), []),  # a plain level needs none
        (area("n-6", {"db_low": 55, "db_high": 59, "indicator": "Lday"}), ["featuren-6", "Lday"]),
        (area("n-7", {"source": "road"}), ["featuren-7", "nonoiselevel"]),
        (
            {
                "type": "Feature",
                "id": "line-9",
                "properties": {"lden": 60},
                "geometry": {"type": "LineString", "coordinates": SQUARE[:2]},
            },
            ["featureline-9", "(Multi)Polygon"],
        ),
        (area("lv95-2", {"lden": 60}, LV95_RING), ["featurelv95-2", "--crs"]),
    ],
)
def test_bad_noise_maps_are_refused_naming_the_feature_and_field(
    tmp_path: Path, feature: dict[str, Any], named: list[str]
) -> None:
    data = tmp_path / "data"
    result = noise(data, write(tmp_path, [area("ok", {"lden": 60}), feature]))
    if not named:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2, result.output
    out = flat(result.output)
    for text in named:
        assert text in out, out
    assert "Traceback" not in result.output
    assert not (data / "noise.geojson").exists()  # nothing stored


def test_a_file_that_is_no_feature_collection_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "noise.in.geojson"
    path.write_text('{"type": "Feature"}', encoding="utf-8")
    result = noise(tmp_path / "data", path)
    assert result.exit_code == 2
    assert "FeatureCollection" in flat(result.output)
