"""The audit trail, newest first, for operators and above."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query

from lightctl.api.auth import GuardDep
from lightctl.api.auth_schemas import AuditRecordOut
from lightctl.api.deps import MAX_OFFSET

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=list[AuditRecordOut])
def list_audit(
    guard: GuardDep,
    since: datetime | None = Query(None, description="only records from this time on"),
    action: str | None = Query(None, max_length=100, description="e.g. 'alert.outcome'"),
    subject: str | None = Query(None, max_length=200, description="e.g. an alert id"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> list[AuditRecordOut]:
    records = guard.audit.recent(since, action, subject, limit, offset)
    return [AuditRecordOut(**r.as_dict()) for r in records]
