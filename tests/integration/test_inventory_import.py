"""Importing inventories: both Zürich formats, idempotent re-import, skipped rows, street names."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lightctl.cli import app
from lightctl.services.inventory import import_lanterns, import_streets
from lightctl.store import Database
from lightctl.store import lanterns as lantern_store
from tests.support import FIXTURES

runner = CliRunner()


def _cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_cli_imports_the_real_csv_and_reimport_changes_nothing(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    code, out = _cli(
        "streets", "import", str(FIXTURES / "zurich_streets_small.geojson"), "--data-dir", data
    )
    assert code == 0, out
    assert "357 taken" in out
    csv = str(FIXTURES / "zurich_lanterns_small.csv")
    code, out = _cli("lanterns", "import", csv, "--crs", "EPSG:2056", "--data-dir", data)
    assert code == 0, out
    assert "148 taken (148 new, 0 updated, 0 unchanged), 0 skipped" in out
    code, out = _cli("lanterns", "import", csv, "--crs", "EPSG:2056", "--data-dir", data)
    assert code == 0, out
    assert "148 taken (0 new, 0 updated, 148 unchanged), 0 skipped" in out
    # The GeoJSON of the same rows lands on the same positions (within 0.5 m): nothing changes.
    geojson = str(FIXTURES / "zurich_lanterns_small.geojson")
    code, out = _cli("lanterns", "import", geojson, "--data-dir", data)
    assert code == 0, out
    assert "148 taken" in out


def test_csv_and_geojson_agree_within_half_a_metre(tmp_path: Path) -> None:
    from pyproj import Geod

    a = Database(f"sqlite:///{tmp_path / 'a.db'}")
    b = Database(f"sqlite:///{tmp_path / 'b.db'}")
    for db in (a, b):
        db.create_all()
    import_lanterns(a, FIXTURES / "zurich_lanterns_small.csv", crs="EPSG:2056")
    import_lanterns(b, FIXTURES / "zurich_lanterns_small.geojson")
    with a.session() as s:
        pa = {i: (lon, lat) for i, lon, lat in lantern_store.all_positions(s)}
    with b.session() as s:
        pb = {i: (lon, lat) for i, lon, lat in lantern_store.all_positions(s)}
    assert set(pa) == set(pb)
    assert len(pa) == 148
    geod = Geod(ellps="WGS84")
    worst = max(geod.inv(*pa[i], *pb[i])[2] for i in pa)
    assert worst < 0.5


def test_bad_rows_are_skipped_with_reasons_never_at_zero_zero(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    code, out = _cli(
        "lanterns", "import", str(FIXTURES / "lanterns_bad_rows.geojson"), "--data-dir", data
    )
    assert code == 0, out
    assert "skipped" in out
    assert "row" in out
    db = Database(f"sqlite:///{tmp_path / 'data' / 'lightctl.db'}")
    with db.session() as s:
        positions = lantern_store.all_positions(s)
    assert positions, "the good rows are imported"
    for _id, lon, lat in positions:
        assert (lon, lat) != (0.0, 0.0)
        assert -180 <= lon <= 180
        assert -90 <= lat <= 90


def test_missing_file_and_unknown_crs_are_clear_errors(tmp_path: Path) -> None:
    code, out = _cli("lanterns", "import", str(tmp_path / "nope.csv"), "--data-dir", str(tmp_path))
    assert code == 2
    assert "does not exist" in out
    code, out = _cli(
        "lanterns",
        "import",
        str(FIXTURES / "zurich_lanterns_small.csv"),
        "--crs",
        "EPSG:999999",
        "--data-dir",
        str(tmp_path),
    )
    assert code == 2
    assert "crs" in out.lower()
    assert "Traceback" not in out


@pytest.mark.parametrize("max_m", [30.0, 5.0])
def test_nearest_street_respects_the_distance(tmp_path: Path, max_m: float) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    db.create_all()
    import_streets(db, FIXTURES / "zurich_streets_small.geojson", max_street_distance_m=max_m)
    report = import_lanterns(
        db, FIXTURES / "zurich_lanterns_small.geojson", max_street_distance_m=max_m
    )
    with db.session() as s:
        rows = lantern_store.list_lanterns(s)
    named = [r for r in rows if r.street]
    assert report.with_street == len(named)
    assert all(r.street_distance_m is not None and r.street_distance_m <= max_m for r in named)
    assert all(r.street_distance_m is None for r in rows if not r.street)
    if max_m == 30.0:
        assert sum(1 for r in named if r.street == "Bahnhofstrasse") == 41
    else:
        assert len(named) < report.taken
