"""Importing inventories: both Zürich formats, idempotent re-import, skipped rows, street names."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from lightctl.cli import app
from lightctl.services.inventory import import_lanterns, import_streets
from lightctl.store import Database
from lightctl.store import lanterns as lantern_store
from tests.integration.conftest import LiveService
from tests.support import FIXTURES, cli_runner, flat

runner = cli_runner()


def _cli(*args: str) -> tuple[int, str]:
    """Exit code and the output as one line (however rich wrapped it)."""
    result = runner.invoke(app, list(args))
    return result.exit_code, flat(result.output)


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
    # Rows 7 and 8 lie outside -180..180 / -90..90: no lon/lat at all, so the file is refused.
    code, out = _cli(
        "lanterns", "import", str(FIXTURES / "lanterns_bad_rows.geojson"), "--data-dir", data
    )
    assert code == 2, out
    assert "2 of 14 rows have coordinates that cannot be in EPSG:4326" in out
    assert "row 7: lon 181.0000000 outside -180..180" in out
    assert "row 8: lat -91.0000000 outside -90..90" in out
    assert "nothing was imported" in out
    doc = json.loads((FIXTURES / "lanterns_bad_rows.geojson").read_text(encoding="utf-8"))
    doc["features"] = [
        f for f in doc["features"] if f.get("id") not in ("G-LON-RANGE", "G-LAT-RANGE")
    ]
    readable = tmp_path / "bad_rows_in_range.geojson"
    readable.write_text(json.dumps(doc), encoding="utf-8")
    code, out = _cli("lanterns", "import", str(readable), "--data-dir", data)
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


LONLAT = FIXTURES / "zurich_bellevue_lanterns_lonlat.csv"
OSM_FILES = [
    "zurich_bellevue.osm.pbf",
    "zurich_bellevue.osm",
    "zurich_bellevue_overpass_geom.json",
    "zurich_bellevue_overpass_skel.json",
]
# The fixture's far-away point: the westernmost lamp of Zürich's inventory, ~6 km from Bellevue.
FAR_POINT = (8.4649661, 47.3690023)


def _stored(db_path: Path) -> dict[str, tuple[float, float]]:
    db = Database(f"sqlite:///{db_path}")
    with db.session() as s:
        out = {i: (lon, lat) for i, lon, lat in lantern_store.all_positions(s)}
    db.dispose()
    return out


def _shuffled(source: Path, target: Path, seed: int) -> Path:
    header, *rows = source.read_text(encoding="utf-8").splitlines()
    random.Random(seed).shuffle(rows)
    target.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return target


def test_lonlat_only_csv_gets_stable_ids_duplicates_and_the_outlier(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, out = _cli("lanterns", "import", str(LONLAT), "--data-dir", str(data))
    assert code == 0, out
    assert "365 taken (365 new, 0 updated, 0 unchanged), 0 skipped" in out
    assert "ids from position: 365 rows have no id" in out
    # 15 poles of the real inventory carry several luminaires, and the fixture adds one more
    # luminaire to the pole of row 11: every one stays a lantern of its own.
    assert "duplicate coordinates: 16 groups, 44 rows share a coordinate" in out
    assert "8.5469965, 47.3658561: pos-u0qj6qxwp7w9, pos-u0qj6qxwp7w9-2 (rows 11, 182)" in out
    assert "outliers: 1 lanterns more than 1000 m from any other (kept;" in out
    assert "at 8.4649661, 47.3690023 (row 365): 5.9 km from the nearest other lantern" in out
    first = _stored(data / "lightctl.db")
    assert len(first) == 365
    assert FAR_POINT in first.values()  # kept: the default
    assert len(set(first.values())) == 365 - 44 + 16

    code, out = _cli("lanterns", "import", str(LONLAT), "--data-dir", str(data))
    assert code == 0, out
    assert "365 taken (0 new, 0 updated, 365 unchanged), 0 skipped" in out
    assert _stored(data / "lightctl.db") == first

    # Rows in another order: the same ids for the same positions, in a fresh database too.
    # (Same file name: the name is recorded as each lantern's source.)
    (tmp_path / "shuffled").mkdir()
    shuffled = _shuffled(LONLAT, tmp_path / "shuffled" / LONLAT.name, seed=12)
    code, out = _cli("lanterns", "import", str(shuffled), "--data-dir", str(data))
    assert code == 0, out
    assert "(0 new, 0 updated, 365 unchanged)" in out
    code, out = _cli("lanterns", "import", str(shuffled), "--data-dir", str(tmp_path / "fresh"))
    assert code == 0, out
    assert _stored(tmp_path / "fresh" / "lightctl.db") == first


def test_outliers_skip_leaves_the_far_point_out(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    code, out = _cli("lanterns", "import", str(LONLAT), "--outliers", "skip", "--data-dir", data)
    assert code == 0, out
    assert "364 taken (364 new, 0 updated, 0 unchanged), 1 skipped" in out
    assert "outlier: 5.9 km from any other lantern (first at row 365)" in out
    assert "(skipped)" in out
    assert FAR_POINT not in _stored(tmp_path / "data" / "lightctl.db").values()
    code, out = _cli("lanterns", "import", str(LONLAT), "--outliers", "drop", "--data-dir", data)
    assert code == 2, out
    assert "'drop' is not one of 'keep', 'skip'" in out


def test_rows_impossible_in_the_crs_or_swapped_refuse_the_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, out = _cli("lanterns", "import", str(LONLAT), "--data-dir", str(data))
    assert code == 0, out
    before = _stored(data / "lightctl.db")
    lines = LONLAT.read_text(encoding="utf-8").splitlines()
    lon, lat = lines[40].split(",")
    swapped = tmp_path / "swapped.csv"
    # Row 40 with latitude and longitude exchanged: in range, but in the Indian Ocean.
    swapped.write_text("\n".join([*lines[:40], f"{lat},{lon}", *lines[41:]]) + "\n")
    code, out = _cli("lanterns", "import", str(swapped), "--data-dir", str(data))
    assert code == 2, out
    assert "swapped.csv" in out
    assert f"row 40: lon/lat look swapped: ({lat}, {lon}) lies" in out
    assert "nothing was imported" in out
    lv95 = FIXTURES / "zurich_lanterns_small.csv"
    code, out = _cli("lanterns", "import", str(lv95), "--data-dir", str(data))
    assert code == 2, out
    assert "148 of 148 rows have coordinates that cannot be in EPSG:4326" in out
    assert "row 1: lon 2683185.2000000 outside -180..180" in out
    assert (
        "No row can be a position in EPSG:4326: the file is probably written in another CRS" in out
    )
    no_columns = tmp_path / "no_columns.csv"
    no_columns.write_text("lamp,street\n1,Utoquai\n", encoding="utf-8")
    code, out = _cli("lanterns", "import", str(no_columns), "--data-dir", str(data))
    assert code == 2, out
    assert "no_columns.csv: cannot find the coordinate columns" in out
    assert _stored(data / "lightctl.db") == before  # nothing stored is lost or changed


def test_coordinate_columns_by_common_names_or_a_clear_error(tmp_path: Path) -> None:
    rows = LONLAT.read_text(encoding="utf-8").splitlines()[1:4]
    headers = ("lon,lat", "LNG,Lat", "X,Y", "Longitude (WGS84),Latitude [deg]", "Länge,Breite")
    for n, header in enumerate(headers):
        path = tmp_path / f"columns{n}.csv"
        path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
        code, out = _cli("lanterns", "import", str(path), "--data-dir", str(tmp_path / str(n)))
        assert code == 0, (header, out)
        assert "3 taken (3 new" in out
    odd = tmp_path / "odd.csv"
    odd.write_text("lamp,breite_grad,laenge_grad\n1,47.37,8.54\n", encoding="utf-8")
    code, out = _cli("lanterns", "import", str(odd), "--data-dir", str(tmp_path / "odd"))
    assert code == 2, out
    assert "odd.csv: cannot find the coordinate columns" in out
    assert "the header has 'lamp', 'breite_grad', 'laenge_grad'" in out
    assert "Name them with --x-field and --y-field" in out
    assert "Traceback" not in out
    named = ["--x-field", "laenge_grad", "--y-field", "breite_grad"]
    code, out = _cli("lanterns", "import", str(odd), *named, "--data-dir", str(tmp_path / "odd"))
    assert code == 0, out
    assert "1 taken (1 new" in out
    assert list(_stored(tmp_path / "odd" / "lightctl.db").values()) == [(8.54, 47.37)]
    one = ["--x-field", "laenge_grad"]
    code, out = _cli("lanterns", "import", str(odd), *one, "--data-dir", str(tmp_path / "odd"))
    assert code == 2, out
    assert "y_field: name both coordinate columns" in out


def _street_rows(db_path: Path) -> dict[str, set[str]]:
    db = Database(f"sqlite:///{db_path}")
    with db.session() as s:
        stored = lantern_store.all_street_segments(s)
    db.dispose()
    classes: dict[str, set[str]] = {}
    for _id, name, cls, _coords in stored:
        if name:
            classes.setdefault(name, set()).add(cls)
    return classes


BELLEVUE_STREETS = {
    "Limmatquai": {"primary"},
    "Rämistrasse": {"primary"},
    "Schoeckstrasse": {"primary", "primary_link"},
    "Theaterstrasse": {"primary", "primary_link"},
    "Utoquai": {"primary", "primary_link"},
}


@pytest.mark.parametrize("name", OSM_FILES)
def test_osm_extract_gives_named_streets_with_their_class(tmp_path: Path, name: str) -> None:
    data = tmp_path / "data"
    code, out = _cli("streets", "import", str(FIXTURES / name), "--data-dir", str(data))
    assert code == 0, out
    assert "43 taken (43 new, 0 updated, 0 unchanged), 0 skipped" in out
    assert "named segments by class: primary 38, primary_link 4" in out
    # The unnamed link is stored for the walking graph, and is no street.
    assert "unnamed segments by class (walking graph only, no street): primary_link 1" in out
    assert _street_rows(data / "lightctl.db") == BELLEVUE_STREETS
    code, out = _cli("streets", "import", str(FIXTURES / name), "--data-dir", str(data))
    assert "43 taken (0 new, 0 updated, 43 unchanged)" in out


def _expected_on(street: str, lanterns: dict[str, tuple[float, float]]) -> set[str]:
    """Lanterns whose nearest named OSM way is ``street`` within 30 m, measured independently
    of the import: brute force over every way, in Swiss LV95 metres."""
    import shapely
    from pyproj import Transformer

    from lightctl.geo import StreetSegment, read_streets

    to_lv95 = Transformer.from_crs("EPSG:4326", "EPSG:2056", always_xy=True)
    ways = [
        (s.name, shapely.LineString([to_lv95.transform(lon, lat) for lon, lat in s.coords]))
        for s in read_streets(FIXTURES / "zurich_bellevue.osm")
        if isinstance(s, StreetSegment) and s.name
    ]
    found = set()
    for lantern_id, (lon, lat) in lanterns.items():
        point = shapely.Point(to_lv95.transform(lon, lat))
        dist, nearest = min((line.distance(point), n) for n, line in ways)
        if nearest == street and dist <= 30.0:
            found.add(lantern_id)
    return found


def test_preview_by_an_osm_street_finds_the_lanterns_along_it(tmp_path: Path) -> None:
    from lightctl.domain.targets import TargetSpec
    from lightctl.services.targets import TargetResolver

    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    db.create_all()
    import_streets(db, FIXTURES / "zurich_bellevue.osm.pbf")
    report = import_lanterns(db, LONLAT)
    assert report.taken == 365
    with db.session() as s:
        lanterns = {i: (lon, lat) for i, lon, lat in lantern_store.all_positions(s)}
    resolver = TargetResolver(db)
    for street in ("Utoquai", "Rämistrasse"):
        preview = resolver.preview(TargetSpec(streets=(street,)))
        expected = _expected_on(street, lanterns)
        assert len(expected) > 10, street
        assert set(preview.lantern_ids) == expected
        assert dict(preview.streets)[street] == len(expected)
    db.dispose()


def _corrupt_inputs(tmp_path: Path) -> list[tuple[Path, str]]:
    pbf = (FIXTURES / "zurich_bellevue.osm.pbf").read_bytes()
    truncated = tmp_path / "truncated.osm.pbf"
    truncated.write_bytes(pbf[: len(pbf) // 2])
    garbage = tmp_path / "garbage.osm.pbf"
    garbage.write_bytes(pbf[:40] + bytes(range(256)) * 8)
    unnamed = tmp_path / "unnamed.osm"
    xml = (FIXTURES / "zurich_bellevue.osm").read_text(encoding="utf-8")
    unnamed.write_text(xml.replace('k="name"', 'k="old_name"'), encoding="utf-8")
    broken_xml = tmp_path / "broken.osm"
    broken_xml.write_text(xml[: len(xml) // 2], encoding="utf-8")
    tags_only = tmp_path / "tags_only.json"
    doc = json.loads((FIXTURES / "zurich_bellevue_overpass_geom.json").read_text(encoding="utf-8"))
    for way in doc["elements"]:
        del way["geometry"]
    tags_only.write_text(json.dumps(doc), encoding="utf-8")
    return [
        (tags_only, "43 highway ways (42 named) but none with its nodes' positions"),
        (truncated, "not a readable OSM PBF file"),
        (garbage, "not a readable OSM PBF file"),
        (unnamed, "no named streets"),
        (broken_xml, "not a readable OSM XML file"),
    ]


def test_bad_osm_files_are_refused_and_the_stored_streets_stay(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, out = _cli(
        "streets", "import", str(FIXTURES / "zurich_bellevue.osm"), "--data-dir", str(data)
    )
    assert code == 0, out
    before = _street_rows(data / "lightctl.db")
    for path, message in _corrupt_inputs(tmp_path):
        code, out = _cli("streets", "import", str(path), "--data-dir", str(data))
        assert code == 2, (path.name, out)
        assert f"{path.name}: {message}" in out, out
        assert "Traceback" not in out
        assert _street_rows(data / "lightctl.db") == before


def _wfs_export(path: Path, id_key: str, street_key: str) -> list[tuple[str, str]]:
    """A GeoJSON shaped like a GeoServer WFS export of Berlin's lighting inventory (EPSG:25833,
    feature ids ``layer.n``, the lamp number and street as properties). Invented rows: the
    shape is the point, the positions are spread along Unter den Linden."""
    from pyproj import Transformer

    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:25833", always_xy=True)
    features, truth = [], []
    for n in range(12):
        lon, lat = 13.3800 + n * 0.0012, 52.5171 + (n % 2) * 0.0002
        x, y = to_utm.transform(lon, lat)
        street = "Unter den Linden" if n < 10 else "Wilhelmstraße"
        features.append(
            {
                "type": "Feature",
                "id": f"beleuchtung.{1000 + n}",
                "geometry": {"type": "Point", "coordinates": [round(x, 2), round(y, 2)]},
                "geometry_name": "geom",
                "properties": {id_key: f"LS-{7700 + n}", street_key: street, "art": "Gas"},
            }
        )
        truth.append((f"LS-{7700 + n}", street))
    doc = {
        "type": "FeatureCollection",
        "features": features,
        "totalFeatures": len(features),
        "numberReturned": len(features),
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::25833"}},
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return truth


def _streets_by_id(db_path: Path) -> dict[str, str | None]:
    db = Database(f"sqlite:///{db_path}")
    with db.session() as s:
        out = {r.id: r.street for r in lantern_store.list_lanterns(s)}
    db.dispose()
    return out


def test_wfs_export_with_its_own_id_and_street_fields(tmp_path: Path) -> None:
    # Auto-detected: the feature id is the lantern id, `strassenname` the street.
    auto = tmp_path / "berlin.geojson"
    truth = _wfs_export(auto, "leuchtstellennummer", "strassenname")
    data = tmp_path / "auto"
    code, out = _cli(
        "lanterns", "import", str(auto), "--crs", "EPSG:25833", "--data-dir", str(data)
    )
    assert code == 0, out
    assert "12 taken (12 new, 0 updated, 0 unchanged), 0 skipped" in out
    assert "streets from the file's 'strassenname' field" in out
    stored = _streets_by_id(data / "lightctl.db")
    assert stored == {f"beleuchtung.{1000 + n}": s for n, (_i, s) in enumerate(truth)}
    # Named: fields no guess would find.
    named = tmp_path / "berlin_named.geojson"
    truth = _wfs_export(named, "lsnr", "str_bez")
    data = tmp_path / "named"
    args = ["--crs", "EPSG:25833", "--data-dir", str(data)]
    code, out = _cli(
        "lanterns", "import", str(named), "--id-field", "lsnr", "--street-field", "str_bez", *args
    )
    assert code == 0, out
    assert _streets_by_id(data / "lightctl.db") == dict(truth)
    # A street import afterwards guesses streets only for lanterns the file gave none.
    code, out = _cli("streets", "import", str(FIXTURES / "zurich_bellevue.osm"), *args[2:])
    assert code == 0, out
    assert _streets_by_id(data / "lightctl.db") == dict(truth)
    code, out = _cli("lanterns", "import", str(named), "--street-field", "strasse", *args)
    assert code == 2, out
    assert "street_field: no such column or property in the file" in out
    assert "str_bez" in out


@pytest.mark.broker
def test_api_import_reports_refuses_with_422_and_previews_osm_streets(
    service: LiveService,
) -> None:
    body = LONLAT.read_bytes()
    params = {"filename": LONLAT.name}
    headers = {"content-type": "text/csv"}
    response = service.http.post("/lanterns/import", params=params, content=body, headers=headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["inserted"], report["ids_from_position"]) == (365, 365)
    assert report["duplicate_count"] == 16
    assert report["duplicates"][1]["rows"] == [11, 182]
    assert [(o["row"], o["lon"], o["lat"]) for o in report["outliers"]] == [(365, *FAR_POINT)]
    assert report["outliers_skipped"] is False
    again = service.http.post(
        "/lanterns/import", params={**params, "outliers": "skip"}, content=body, headers=headers
    ).json()
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 364)
    assert again["outliers_skipped"] is True
    # 5.5 km, not the 5.9 of the file alone: the service's stored Bahnhofstrasse lamps are nearer.
    assert again["skipped"] == [
        {"row": 365, "reason": "outlier: 5.5 km from any other lantern", "id": "pos-u0qj2xk02n01"}
    ]

    lines = body.decode().splitlines()
    lon, lat = lines[40].split(",")
    swapped = "\n".join([*lines[:40], f"{lat},{lon}", *lines[41:]]).encode()
    refused = service.http.post(
        "/lanterns/import", params={"filename": "swapped.csv"}, content=swapped, headers=headers
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["code"] == "import_failed"
    assert problem["detail"].startswith("swapped.csv: 1 of 365 rows")
    assert [r["row"] for r in problem["rows"]] == [40]
    assert "look swapped" in problem["rows"][0]["reason"]

    # Streets from the OSM extract; the stored lanterns are assigned at once.
    import_streets(service.runtime.db, FIXTURES / "zurich_bellevue.osm.pbf")
    service.runtime.targets.invalidate()
    with service.runtime.db.session() as s:
        lanterns = {
            i: (lo, la) for i, lo, la in lantern_store.all_positions(s) if i.startswith("pos-")
        }
    preview = service.http.post("/targets/preview", json={"streets": ["Utoquai"]})
    assert preview.status_code == 200, preview.text
    assert set(preview.json()["lantern_ids"]) == _expected_on("Utoquai", lanterns)
