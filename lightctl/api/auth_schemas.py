"""HTTP schemas of signing in and of the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginOut(BaseModel):
    token: str = Field(description="send as 'Authorization: Bearer <token>'; shown only now")
    token_type: str = "bearer"  # noqa: S105 (the OAuth 2 scheme name, no secret)
    expires_at: datetime
    username: str
    roles: list[str]
    ceiling: int | None = Field(description="the highest priority (smallest number) allowed")


class MeOut(BaseModel):
    subject: str
    kind: str
    roles: list[str]
    ceiling: int | None
    groups: list[str]
    user: str | None = Field(
        default=None, description="the person behind the credential (none: a machine token)"
    )
    capabilities: list[str] = Field(
        default_factory=list,
        description="what the roles allow, from the permissions table: alert, approve, "
        "import, groups, steer, schedules, simulate, audit, metrics",
    )


class AuditRecordOut(BaseModel):
    seq: int
    at: str
    actor: str
    roles: list[str]
    action: str
    subject: str | None
    detail: dict[str, Any]
    hash: str
    prev_hash: str
