"""What the signed-in caller may do, in words a console can show or hide controls by.

Read from the one permissions table, so the console never keeps its own copy of the role list
and cannot drift from what the API actually allows.
"""

from __future__ import annotations

from lightctl.api.permissions import API, rule_for
from lightctl.domain.roles import Principal

# capability -> the request that needs it (method, route path as the permissions table has it)
CAPABILITIES: dict[str, tuple[str, str]] = {
    "alert": ("POST", f"{API}/alerts"),  # send, update, cancel, all-clear
    "approve": ("POST", f"{API}/alerts/{{}}/approve"),  # four eyes: the second person
    "import": ("POST", f"{API}/lanterns/import"),  # inventory
    "groups": ("POST", f"{API}/groups"),
    "steer": ("POST", f"{API}/steering"),
    "schedules": ("POST", f"{API}/schedules"),
    "simulate": ("POST", f"{API}/simulator/faults"),  # rehearsals: faults in simulated lanterns
    "audit": ("GET", f"{API}/audit"),
    "metrics": ("GET", f"{API}/metrics"),
}


def capabilities_of(principal: Principal) -> list[str]:
    """The capabilities the caller's roles grant, sorted."""
    out = []
    for name, (method, path) in CAPABILITIES.items():
        roles = rule_for(method, path).roles
        if roles is None or principal.roles & roles:
            out.append(name)
    return sorted(out)
