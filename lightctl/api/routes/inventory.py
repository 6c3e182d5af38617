"""Lanterns and streets as stored, and inventory imports."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request

from lightctl.api.deps import MAX_OFFSET, RuntimeDep
from lightctl.api.schemas import (
    DuplicateOut,
    ImportOut,
    LanternChannelOut,
    LanternOut,
    OutlierOut,
    SkippedOut,
    SlotOut,
    StreetOut,
)
from lightctl.domain.records import Lantern
from lightctl.errors import ImportFailed, InvalidRequest, NotFound
from lightctl.geo.names import normalize_street_name
from lightctl.geo.readers import LanternFormat
from lightctl.geo.survey import MIN_OUTLIER_DISTANCE_M
from lightctl.services.inventory import (
    OutlierPolicy,
    import_lanterns,
    parse_capabilities,
    xy_fields_of,
)
from lightctl.services.lantern_state import SlotView
from lightctl.store import lanterns as lantern_store

router = APIRouter(tags=["inventory"])


def _out(row: Lantern, reported: dict[str, object] | None = None) -> LanternOut:
    return LanternOut(
        id=row.id,
        lon=row.lon,
        lat=row.lat,
        street=row.street,
        street_distance_m=row.street_distance_m,
        orientation_deg=row.orientation_deg,
        capabilities=list(row.capabilities),
        online=row.online,
        last_seen=row.last_seen,
        reported=reported,
    )


@router.get("/lanterns", response_model=list[LanternOut])
def list_lanterns(
    runtime: RuntimeDep,
    street: Annotated[str | None, Query(description="only lanterns on this street")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
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
    out = _out(row, state.model_dump(mode="json") if state else None)
    views = runtime.lantern_states.channels(lantern_id, out.capabilities)
    out.channels = {
        channel: LanternChannelOut(
            desired=_slot(v.desired), reported=_slot(v.reported), mismatch=v.mismatch
        )
        for channel, v in views.items()
    }
    return out


def _slot(view: SlotView | None) -> SlotOut | None:
    if view is None:
        return None
    return SlotOut(
        priority=view.priority,
        cmd_id=view.cmd_id,
        holder_kind=view.holder_kind,
        holder_id=view.holder_id,
        value=view.value,
        delivery=view.delivery,
        lit=view.lit,
    )


@router.get("/streets", response_model=list[StreetOut])
def list_streets(runtime: RuntimeDep) -> list[StreetOut]:
    with runtime.db.session() as session:
        counts = lantern_store.street_lantern_counts(session)
    return [StreetOut(name=n, lantern_count=c) for n, c in counts]


# Without a format, the file's kind is told from the content type, then from its first bytes.
_SUFFIX = {
    "text/csv": ".csv",
    "text/tab-separated-values": ".tsv",
    "application/geo+json": ".geojson",
}
_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": "the inventory file itself (GeoJSON, CSV, Overpass JSON or NGSI-LD)",
        "content": {
            kind: {"schema": {"type": "string", "format": "binary"}}
            for kind in ("application/geo+json", "application/json", "text/csv")
        },
    }
}


@router.post("/lanterns/import", response_model=ImportOut, openapi_extra=_IMPORT_BODY)
async def import_lantern_file(
    request: Request,
    runtime: RuntimeDep,
    format: Annotated[LanternFormat | None, Query(description="default: detect")] = None,
    crs: Annotated[
        str, Query(description="CRS the file is written in, e.g. EPSG:2056")
    ] = "EPSG:4326",
    id_field: Annotated[
        str | None,
        Query(description="column/property holding the lantern id (none found: from position)"),
    ] = None,
    street_field: Annotated[
        str | None,
        Query(description="column/property holding the street (default: street, strasse, ...)"),
    ] = None,
    x_field: Annotated[
        str | None, Query(description="CSV column holding x, lon or easting (default: by name)")
    ] = None,
    y_field: Annotated[
        str | None, Query(description="CSV column holding y, lat or northing (default: by name)")
    ] = None,
    outliers: Annotated[
        OutlierPolicy, Query(description="lanterns far from any other: keep or skip")
    ] = OutlierPolicy.KEEP,
    outlier_distance_m: Annotated[
        float, Query(ge=1.0, le=1_000_000.0, description="metres to the nearest other lantern")
    ] = MIN_OUTLIER_DISTANCE_M,
    capabilities: Annotated[
        str, Query(description="what these lanterns have")
    ] = "speaker,rgb,projector,path_light",
    filename: Annotated[
        str, Query(max_length=200, description="recorded as the source")
    ] = "upload",
) -> ImportOut:
    """Upsert lanterns from the file sent as the body; the target index follows at once."""
    caps = parse_capabilities(capabilities)
    xy_fields = xy_fields_of(x_field, y_field)
    limit = runtime.settings.import_max_bytes
    suffix = _SUFFIX.get(request.headers.get("content-type", "").split(";")[0].strip(), ".json")
    with tempfile.TemporaryDirectory(prefix="lightctl-import-") as tmp:
        path = Path(tmp) / f"inventory{suffix}"
        size = 0
        with path.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise InvalidRequest.at(("body",), f"the file is larger than {limit} bytes")
                out.write(chunk)
        if size == 0:
            raise InvalidRequest.at(("body",), "empty body: send the inventory file as the body")
        try:
            report = await asyncio.to_thread(
                import_lanterns,
                runtime.db,
                path,
                fmt=format.value if format else None,
                crs=crs,
                id_field=id_field,
                street_field=street_field,
                xy_fields=xy_fields,
                outliers=outliers,
                min_outlier_m=outlier_distance_m,
                max_street_distance_m=runtime.settings.street_max_distance_m,
                capabilities=caps,
                source=filename,
            )
        except ImportFailed as exc:  # name the upload, not the temporary file
            raise ImportFailed(filename, exc.reason, exc.rows) from None
    runtime.targets.invalidate()
    await asyncio.to_thread(runtime.targets.refresh)
    return ImportOut(
        taken=report.taken,
        inserted=report.inserted,
        updated=report.updated,
        unchanged=report.unchanged,
        with_street=report.with_street,
        skipped_count=len(report.skipped),
        skipped=[SkippedOut(row=s.row, reason=s.reason, id=s.id) for s in report.skipped[:100]],
        ids_from_position=report.ids_from_position,
        street_field=report.street_field,
        duplicate_count=len(report.duplicates),
        duplicates=[
            DuplicateOut(lon=g.lon, lat=g.lat, ids=list(g.ids), rows=list(g.rows))
            for g in report.duplicates[:100]
        ],
        outlier_distance_m=report.outlier_distance_m,
        outliers_skipped=report.outliers_skipped,
        outliers=[
            OutlierOut(id=o.id, row=o.row, lon=o.lon, lat=o.lat, nearest_m=o.nearest_m)
            for o in report.outliers[:100]
        ],
    )
