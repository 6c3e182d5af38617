"""The guidance service on a stored street file with nothing to walk on: a clear 422, and a
walking graph rebuilt when the streets change (cached per street-data version)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lightctl.domain.guidance import EvacuationSpec
from lightctl.domain.targets import Circle, TargetSpec
from lightctl.errors import InvalidRequest
from lightctl.services.guidance import GuidanceService
from lightctl.services.inventory import import_streets
from lightctl.services.targets import TargetResolver
from lightctl.store import Database

HAZARD = EvacuationSpec(hazard=TargetSpec(circle=Circle(8.54, 47.37, 100)))


def _streets(path: Path, cls: str) -> Path:
    features = [
        {
            "type": "Feature",
            "id": f"s{i}",
            "properties": {"name": f"Strasse {i}", "class": cls},
            "geometry": {
                "type": "LineString",
                "coordinates": [[8.539, 47.369 + i * 0.001], [8.541, 47.369 + i * 0.001]],
            },
        }
        for i in range(3)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_no_walkable_way_is_a_clear_refusal_and_new_streets_rebuild_the_graph(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'g.db'}")
    db.create_all()
    import_streets(db, _streets(tmp_path / "motorway.geojson", "motorway"))
    service = GuidanceService(db, TargetResolver(db), lambda: datetime.now(UTC))
    with pytest.raises(InvalidRequest) as refused:
        service.plan(HAZARD, [])
    assert (refused.value.problems or [])[0].loc == ("hazard",)
    assert "no walkable ways" in refused.value.message
    first = service.street_graph()
    assert first is service.street_graph()  # cached while the streets stay
    import_streets(db, _streets(tmp_path / "residential.geojson", "residential"))
    rebuilt = service.street_graph()
    assert rebuilt is not first
    assert rebuilt.graph.edge_count == 3
    plan = service.plan(HAZARD, [])
    assert plan.lanterns == []
    assert plan.warnings == ["no lanterns in or near the hazard: nothing to guide"]
    db.dispose()


def test_a_core_outside_the_hazard_is_refused_not_dropped(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'g.db'}")
    db.create_all()
    import_streets(db, _streets(tmp_path / "residential.geojson", "residential"))
    service = GuidanceService(db, TargetResolver(db), lambda: datetime.now(UTC))
    far_core = TargetSpec(circle=Circle(8.60, 47.40, 50))  # kilometres from the hazard
    with pytest.raises(InvalidRequest) as refused:
        service.plan(EvacuationSpec(hazard=HAZARD.hazard, core=far_core), [])
    assert (refused.value.problems or [])[0].loc == ("core",)
    assert "outside the hazard" in refused.value.message
    # A core that overlaps the hazard is kept (clipped to it) and plans.
    near_core = TargetSpec(circle=Circle(8.54, 47.37, 30))
    assert service.plan(EvacuationSpec(hazard=HAZARD.hazard, core=near_core), []).lanterns == []
    db.dispose()
