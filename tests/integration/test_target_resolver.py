"""The service's lantern index follows the stored inventory (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lightctl.domain.targets import TargetSpec
from lightctl.errors import InvalidRequest
from lightctl.services.inventory import import_lanterns, import_streets, reassign_streets
from lightctl.services.targets import TargetResolver
from lightctl.store import Database
from lightctl.store import lanterns as lantern_store
from tests.integration.conftest import LANTERNS, STREETS


def test_rebuilt_when_streets_change_not_when_availability_does(inventory: Database) -> None:
    resolver = TargetResolver(inventory)
    first = resolver.refresh()
    assert len(first) == 148
    assert resolver.refresh() is first  # nothing changed: the same index

    with inventory.session() as session:
        lantern_store.set_availability(
            session, "LEU101190", False, 1, None, datetime(2024, 9, 1, tzinfo=UTC)
        )
    assert resolver.refresh() is first  # availability is read fresh where it is shown
    preview = resolver.preview(TargetSpec(lanterns=("LEU101190", "LEU126702")))
    assert (preview.offline, preview.availability_unknown) == (1, 1)
    assert preview.features is not None
    online = {f["id"]: f["properties"]["online"] for f in preview.features["features"]}
    assert online == {"LEU101190": False, "LEU126702": None}

    # Only lanterns within 2 m of a named street keep one: assignments change, the index follows.
    bahnhofstrasse = TargetSpec(streets=("Bahnhofstrasse",))
    with inventory.session() as session:
        before = len(resolver.resolve(session, bahnhofstrasse).lantern_ids)
    changed, _with_street = reassign_streets(inventory, 2.0)
    assert changed > 0
    rebuilt = resolver.refresh()
    assert rebuilt is not first
    with inventory.session() as session:
        assert len(resolver.resolve(session, bahnhofstrasse).lantern_ids) < before


def test_invalidate_forces_a_rebuild_and_the_ceiling_is_the_resolvers(
    inventory: Database,
) -> None:
    resolver = TargetResolver(inventory, max_lanterns=10)
    first = resolver.refresh()
    resolver.invalidate()
    assert resolver.refresh() is not first
    with inventory.session() as session, pytest.raises(InvalidRequest, match="ceiling of 10"):
        resolver.resolve(session, TargetSpec(streets=("Bahnhofstrasse",)))


def test_the_inventory_version_rises_with_changes_only(database: Database) -> None:
    database.create_all()

    def version() -> int:
        with database.session() as session:
            return lantern_store.inventory_version(session)

    assert version() == 0
    import_lanterns(database, LANTERNS)
    assert version() == 1
    import_lanterns(database, LANTERNS)  # the same file again changes nothing
    assert version() == 1
    import_streets(database, STREETS)  # every lantern gets its street
    assert version() == 2
    with database.session() as session:
        lantern_store.set_availability(
            session, "LEU101190", True, 1, None, datetime(2024, 9, 1, tzinfo=UTC)
        )
    assert version() == 2
