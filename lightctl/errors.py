"""One error hierarchy with stable machine codes; only ``api`` maps it to HTTP problem+json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """What is wrong with one input field: where (``loc``), what, and the offending value."""

    loc: tuple[str | int, ...]
    msg: str
    value: Any = None
    suggestions: tuple[str, ...] = ()
    limit: float | None = None  # the ceiling a value or a request's cost went over

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"loc": list(self.loc), "msg": self.msg}
        if self.value is not None:
            out["value"] = self.value
        if self.suggestions:
            out["suggestions"] = list(self.suggestions)
        if self.limit is not None:
            out["limit"] = self.limit
        return out


class LightctlError(Exception):
    """Base of every error the product reports on purpose."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(LightctlError):
    """The request cannot be carried out as given; nothing was stored or sent."""

    code = "invalid_request"

    def __init__(self, message: str, problems: list[FieldProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []

    @classmethod
    def at(
        cls,
        loc: tuple[str | int, ...],
        msg: str,
        value: Any = None,
        suggestions: tuple[str, ...] = (),
        limit: float | None = None,
    ) -> InvalidRequest:
        where = ".".join(str(p) for p in loc)
        text = f"{where}: {msg}" if where else msg  # an empty loc is the whole request body
        return cls(text, [FieldProblem(loc, msg, value, suggestions, limit)])


def summarise(problems: list[FieldProblem]) -> str:
    """One line naming every problem: ``target.streets.0: unknown street ('Bahnhofstr')``."""
    parts = []
    for p in problems:
        where = ".".join(str(x) for x in p.loc)
        text = f"{where}: {p.msg}" if where else p.msg
        parts.append(text + (f" ({p.value!r})" if p.value is not None else ""))
    return "; ".join(parts)


class NotFound(LightctlError):
    code = "not_found"

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class Conflict(LightctlError):
    """The request contradicts the current state (e.g. cancelling a cancelled alert)."""

    code = "conflict"

    def __init__(self, message: str, state: str | None = None) -> None:
        super().__init__(message)
        self.state = state


class ApprovalRequired(Conflict):
    """A change to what a second person approved would go out on one person's word (HTTP 409)."""

    code = "approval_required"

    def __init__(self, message: str, changed: tuple[str, ...]) -> None:
        super().__init__(message, "approved")
        self.changed = changed


class TargetChanged(Conflict):
    """The target resolves to other lanterns than the preview the dispatcher confirmed
    (HTTP 409): nothing was stored or sent; the fields say what changed."""

    code = "target_changed"

    def __init__(
        self,
        message: str,
        preview_id: str,
        *,
        confirmed_count: int | None,
        count: int,
        added: list[str] | None = None,
        removed: list[str] | None = None,
        added_count: int | None = None,
        removed_count: int | None = None,
        streets: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message, "changed")
        self.preview_id = preview_id
        self.confirmed_count = confirmed_count
        self.count = count
        self.added = added
        self.removed = removed
        self.added_count = added_count
        self.removed_count = removed_count
        self.streets = streets

    def fields(self) -> dict[str, Any]:
        return {
            "preview_id": self.preview_id,
            "confirmed_count": self.confirmed_count,
            "lantern_count": self.count,
            "added": self.added,
            "removed": self.removed,
            "added_count": self.added_count,
            "removed_count": self.removed_count,
            "streets": self.streets,
        }


class SynthesisFailed(LightctlError):
    """No engine could render a text: the dispatcher must see this, never a silent lantern."""

    code = "synthesis_failed"

    def __init__(self, lang: str, reason: str, engine: str | None = None) -> None:
        super().__init__(f"speech for language {lang!r} could not be rendered: {reason}")
        self.lang = lang
        self.reason = reason
        self.engine = engine


class ImportFailed(LightctlError):
    """An inventory file cannot be read at all (single bad rows are skipped and reported), or
    rows refuse the whole file; ``rows`` then names them (``{"row", "reason", "id"}``)."""

    code = "import_failed"

    def __init__(self, path: str, reason: str, rows: list[dict[str, Any]] | None = None) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.rows = rows or []


class ServiceUnavailable(LightctlError):
    """A dependency (broker, database) is down; the caller may retry."""

    code = "service_unavailable"


class Unauthorized(LightctlError):
    """No credentials, or credentials that are unknown, expired or revoked (HTTP 401)."""

    code = "unauthorized"

    def __init__(self, message: str, error: str | None = None) -> None:
        super().__init__(message)
        # RFC 6750 error for WWW-Authenticate: None (no credentials) or "invalid_token".
        self.error = error


class Forbidden(LightctlError):
    """Known caller, but their role may not do this (HTTP 403)."""

    code = "forbidden"

    def __init__(self, message: str, roles: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.roles = roles


class PriorityAboveCeiling(Forbidden):
    """A priority higher (a smaller slot number) than the caller's role may use."""

    code = "priority_above_ceiling"

    def __init__(self, priority: int, ceiling: int | None, roles: tuple[str, ...]) -> None:
        if ceiling is None:
            text = f"priority {priority} refused: role {', '.join(roles)} may not use any priority"
        else:
            text = (
                f"priority {priority} is above your ceiling of {ceiling} "
                f"(role {', '.join(roles)} may use priorities {ceiling}-16)"
            )
        super().__init__(text, roles)
        self.priority = priority
        self.ceiling = ceiling


class RateLimited(LightctlError):
    """Too many attempts from one caller; retry after ``retry_after_s`` (HTTP 429)."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PayloadTooLarge(LightctlError):
    code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than {limit} bytes")
        self.limit = limit


class SchemaMismatch(LightctlError):
    """The database's schema is not the one this version of lightctl was built for.

    ``current`` is the database's revision (None: made by a release before migrations),
    ``head`` the revision this code needs, ``fix`` the command that resolves it."""

    code = "schema_mismatch"

    def __init__(self, message: str, current: str | None, head: str, fix: str) -> None:
        super().__init__(f"{message}: {fix}")
        self.current = current
        self.head = head
        self.fix = fix


class MigrationFailed(LightctlError):
    """A schema upgrade failed; it was rolled back and the database is as it was."""

    code = "migration_failed"

    def __init__(self, revision: str, reason: str, current: str | None) -> None:
        at = f"revision {current}" if current else "its previous schema"
        super().__init__(
            f"migration {revision} failed and was rolled back, the database is unchanged at "
            f"{at}: {reason}"
        )
        self.revision = revision
        self.reason = reason
        self.current = current
