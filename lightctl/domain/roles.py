"""Roles, what priority each may use (its ceiling), and who a caller is. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from lightctl.domain import priorities as slot


class Role(StrEnum):
    ADMIN = "admin"  # bootstrapping and tests: everything
    DISPATCHER = "dispatcher"
    FEED = "feed"
    OPERATOR = "operator"
    CITY_APP = "city_app"
    VIEWER = "viewer"


# The highest priority (smallest slot number) each role may write, from ARCHITECTURE.md's table;
# None: the role writes no slot at all.
CEILING: dict[Role, int | None] = {
    Role.ADMIN: slot.LIFE_SAFETY_MANUAL,
    Role.DISPATCHER: slot.LIFE_SAFETY_MANUAL,
    Role.FEED: slot.LIFE_SAFETY_AUTOMATIC,
    Role.OPERATOR: slot.OPERATOR_OVERRIDE,
    Role.CITY_APP: slot.VISITOR_STEERING,
    Role.VIEWER: None,
}

# Who answers for the streets sees and ends every steering; any other caller (a city app) only
# the steerings it made itself.
STEERING_OVERSIGHT = frozenset({Role.ADMIN, Role.DISPATCHER, Role.OPERATOR})

# Life safety: the slots a break-glass bypass of the four-eyes rule may be used for.
LIFE_SAFETY_MAX = slot.LIFE_SAFETY_AUTOMATIC

# The schedule runner issues slot-15 commands (and their releases) in its own name: no person
# does. It is not a ``Role``, so no user or token can be given it (``parse_roles`` refuses it).
SCHEDULER = "scheduler"

# Ceiling per issuer role as a command envelope's ``role`` names it: CEILING for the roles that
# write slots, plus the schedule runner. The API issues commands only in these roles and the
# lantern (firmware_sim/verifier.py) refuses a command whose priority is above its role's entry.
ISSUER_CEILING: dict[str, int] = {
    **{role.value: ceiling for role, ceiling in CEILING.items() if ceiling is not None},
    SCHEDULER: slot.SCHEDULE,
}


def parse_roles(text: str | list[str] | tuple[str, ...]) -> frozenset[Role]:
    """``"dispatcher,operator"`` → roles; ValueError names an unknown role and the valid ones."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out: set[Role] = set()
    for raw in items:
        name = raw.strip()
        if not name:
            continue
        try:
            out.add(Role(name))
        except ValueError:
            valid = ", ".join(r.value for r in Role)
            raise ValueError(f"unknown role {name!r} (roles: {valid})") from None
    if not out:
        raise ValueError("give at least one role")
    return frozenset(out)


def ceiling_of(roles: frozenset[Role]) -> int | None:
    """The best (smallest) ceiling among the roles, or None when none may write a slot."""
    values = [c for r in roles if (c := CEILING[r]) is not None]
    return min(values) if values else None


def issuer_role(roles: frozenset[Role], priority: int) -> str | None:
    """The role a command at ``priority`` is issued in: the caller's least powerful role whose
    ceiling allows it (a dispatcher who is also an operator sets slot 8 as operator), so a
    lantern sees the smallest claim that covers the command; None when no role may use it."""
    allowed = [r for r in roles if (c := CEILING[r]) is not None and priority >= c]
    if not allowed:
        return None
    # The largest ceiling wins; on a tie (admin and dispatcher, both 1) the role that is not admin.
    return max(allowed, key=lambda r: (CEILING[r] or 0, r is not Role.ADMIN)).value


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user (by login) or a machine token, with their roles."""

    subject: str  # username, or "token:<name>"
    kind: str  # user | token | session | bootstrap | anonymous
    roles: frozenset[Role] = frozenset()
    token_id: str | None = None
    # A city app may be limited to its own groups; empty means no limit.
    groups: frozenset[str] = field(default_factory=frozenset)
    # The person behind the credential: a session's user, or the user an API token was issued
    # to (``lightctl tokens create --user``); None for a machine token and the bootstrap token.
    user: str | None = None

    @property
    def owner(self) -> str:
        """Whose work this is: the user, else the machine token's name (``token:<name>``), so a
        city app's token and its replacement of the same name own the same steerings."""
        return self.user or self.subject

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"

    @property
    def ceiling(self) -> int | None:
        return ceiling_of(self.roles)

    @property
    def role_names(self) -> tuple[str, ...]:
        return tuple(sorted(r.value for r in self.roles))

    @property
    def steering_scope(self) -> str | None:
        """The owner whose steerings this caller may see and end; None: every steering."""
        return None if self.roles & STEERING_OVERSIGHT else self.owner

    def held_by(self, rule: frozenset[str]) -> bool:
        """Under the four-eyes rule: ANY of the caller's roles is held (adding ``viewer`` to a
        dispatcher token must not lift the rule)."""
        return any(r.value in rule for r in self.roles)

    def may_use(self, priority: int) -> bool:
        ceiling = self.ceiling
        return ceiling is not None and priority >= ceiling


ANONYMOUS = Principal(subject="anonymous", kind="anonymous")
