"""The coverage model follows the inventory and the buildings: rebuilt in the background on a
change while reports go on with the previous model, flagged stale."""

from __future__ import annotations

import json
from pathlib import Path

from lightctl.acoustics.propagation import SourceSpec
from lightctl.geo.buildings import read_footprints, save_footprints
from lightctl.services.coverage import CoverageService
from lightctl.services.inventory import import_lanterns, import_streets
from lightctl.store import Database
from lightctl.store import lanterns as lantern_store
from tests.support import FIXTURES


def make(tmp_path: Path) -> tuple[Database, CoverageService]:
    db = Database(f"sqlite:///{tmp_path / 'lightctl.db'}")
    db.create_all()
    import_streets(db, FIXTURES / "zurich_streets_small.geojson")
    import_lanterns(db, FIXTURES / "zurich_lanterns_small.geojson")
    service = CoverageService(db, tmp_path, SourceSpec(), 5.0, 200.0, 97.0, lambda _id: None)
    return db, service


def test_a_changed_inventory_is_rebuilt_in_the_background(tmp_path: Path) -> None:
    db, service = make(tmp_path)
    first = service.refresh()
    model, stale = service.current()
    assert (model, stale) == (first, False)
    with db.session() as session:
        lantern_store.bump_inventory_version(session)
        session.commit()
    model, stale = service.current()  # starts the rebuild, answers with the old model
    assert model is first
    assert stale
    report = service.citywide(suggestions=0)
    assert any("previous version" in w for w in report.warnings)
    service.wait()
    model, stale = service.current()
    assert model is not first
    assert not stale
    db.dispose()


def test_buildings_change_the_model_and_block_sound(tmp_path: Path) -> None:
    db, service = make(tmp_path)
    before = service.refresh()
    assert before.matrix.blocked_pairs == 0
    # A 60 x 40 m block on Bahnhofstrasse near Rennweg.
    ring = [[8.5392, 47.3722], [8.5400, 47.3722], [8.5400, 47.3726], [8.5392, 47.3726]]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "block",
                "properties": {},
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
            }
        ],
    }
    source = tmp_path / "in.geojson"
    source.write_text(json.dumps(doc), encoding="utf-8")
    save_footprints(tmp_path, read_footprints(source))
    after = service.refresh()
    assert after is not before
    assert after.matrix.blocked_pairs > 0
    assert after.matrix.gain.sum() < before.matrix.gain.sum()
    db.dispose()
