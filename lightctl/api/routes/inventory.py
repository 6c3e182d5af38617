"""Lanterns and streets as stored."""

from __future__ import annotations

from fastapi import APIRouter, Query

from lightctl.api.deps import RuntimeDep
from lightctl.api.schemas import LanternOut, StreetOut
from lightctl.errors import NotFound
from lightctl.geo.names import normalize_street_name
from lightctl.store import lanterns as lantern_store
from lightctl.store.tables import LanternRow

router = APIRouter(tags=["inventory"])


def _out(row: LanternRow, reported: dict[str, object] | None = None) -> LanternOut:
    caps = [
        name
        for name, on in (
            ("speaker", row.cap_speaker),
            ("rgb", row.cap_rgb),
            ("projector", row.cap_projector),
            ("path_light", row.cap_path_light),
        )
        if on
    ]
    return LanternOut(
        id=row.id,
        lon=row.lon,
        lat=row.lat,
        street=row.street,
        street_distance_m=row.street_distance_m,
        orientation_deg=row.orientation_deg,
        capabilities=caps,
        online=row.online,
        last_seen=row.last_seen,
        reported=reported,
    )


@router.get("/lanterns", response_model=list[LanternOut])
def list_lanterns(
    runtime: RuntimeDep,
    street: str | None = Query(None, description="only lanterns on this street"),
    limit: int = Query(1000, ge=1, le=100_000),
    offset: int = Query(0, ge=0),
) -> list[LanternOut]:
    key = normalize_street_name(street) if street else None
    with runtime.db.session() as session:
        rows = lantern_store.list_lanterns(session, key, limit, offset)
    return [_out(r) for r in rows]


@router.get("/lanterns/{lantern_id}", response_model=LanternOut)
def get_lantern(lantern_id: str, runtime: RuntimeDep) -> LanternOut:
    with runtime.db.session() as session:
        row = lantern_store.get_lantern(session, lantern_id)
    if row is None:
        raise NotFound("lantern", lantern_id)
    state = runtime.consumer.reported.get(lantern_id) if runtime.consumer else None
    return _out(row, state.model_dump(mode="json") if state else None)


@router.get("/streets", response_model=list[StreetOut])
def list_streets(runtime: RuntimeDep) -> list[StreetOut]:
    with runtime.db.session() as session:
        counts = lantern_store.street_lantern_counts(session)
    return [StreetOut(name=n, lantern_count=c) for n, c in counts]
