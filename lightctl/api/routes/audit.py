"""The audit trail, newest first, for operators and above."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from lightctl.api.auth import GuardDep
from lightctl.api.auth_schemas import AuditRecordOut
from lightctl.api.deps import MAX_OFFSET

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=list[AuditRecordOut])
def list_audit(
    guard: GuardDep,
    since: Annotated[datetime | None, Query(description="only records from this time on")] = None,
    action: Annotated[str | None, Query(max_length=100, description="e.g. 'alert.outcome'")] = None,
    subject: Annotated[str | None, Query(max_length=200, description="e.g. an alert id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[AuditRecordOut]:
    records = guard.audit.recent(since, action, subject, limit, offset)
    return [AuditRecordOut(**r.as_dict()) for r in records]
