"""Who may call what: ONE table of (method, route path) → roles, checked by one dependency.

Path parameters are compared by position, not name (``/alerts/{}/cancel``), so a route module
may rename them. A route missing here is refused for every role but ``admin`` unless it only
reads (GET), and the role-matrix test fails until it is listed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from lightctl.domain.roles import Role

API = "/api/v1"


@dataclass(frozen=True, slots=True)
class Rule:
    # None: public, no credentials asked (health probes, clips fetched by lanterns, sign-in).
    roles: frozenset[Role] | None
    # The JSON body's "priority" must not be above the caller's ceiling (403 naming it).
    priority: bool = False
    # A caller limited to its own groups may only target those groups.
    scoped_target: bool = False
    # The route streams and limits its own body (inventory uploads are hundreds of MB).
    own_body_limit: bool = False


PUBLIC = Rule(None)
EVERYONE = frozenset(Role)
ALERTING = frozenset({Role.ADMIN, Role.DISPATCHER, Role.FEED})
DISPATCH = frozenset({Role.ADMIN, Role.DISPATCHER})
OPERATE = frozenset({Role.ADMIN, Role.OPERATOR})
STEER = frozenset({Role.ADMIN, Role.DISPATCHER, Role.OPERATOR, Role.CITY_APP})
AUDIT = frozenset({Role.ADMIN, Role.DISPATCHER, Role.OPERATOR})
ADMIN_ONLY = frozenset({Role.ADMIN})

READ = Rule(EVERYONE)

PERMISSIONS: dict[tuple[str, str], Rule] = {
    # probes and lanterns, no credentials
    ("GET", "/healthz"): PUBLIC,
    ("GET", f"{API}/healthz"): PUBLIC,
    ("GET", "/asyncapi.json"): PUBLIC,  # the MQTT protocol, for lantern integrators
    ("GET", f"{API}/asyncapi.json"): PUBLIC,
    ("GET", "/audio/{}"): PUBLIC,
    ("GET", f"{API}/audio/{{}}"): PUBLIC,
    # signing in and out
    ("POST", f"{API}/auth/login"): PUBLIC,
    ("POST", f"{API}/auth/logout"): READ,
    ("GET", f"{API}/auth/me"): READ,
    # warnings
    ("GET", f"{API}/alerts"): READ,
    ("GET", f"{API}/alerts/{{}}"): READ,
    ("GET", f"{API}/alerts/{{}}/events"): READ,
    ("GET", f"{API}/alerts/{{}}/lantern-states"): READ,  # the console's map of one alert
    ("POST", f"{API}/alerts"): Rule(ALERTING, priority=True),
    ("POST", f"{API}/alerts/{{}}/update"): Rule(ALERTING),
    ("POST", f"{API}/alerts/{{}}/cancel"): Rule(ALERTING),
    ("POST", f"{API}/alerts/{{}}/all-clear"): Rule(ALERTING),
    ("POST", f"{API}/alerts/{{}}/approve"): Rule(DISPATCH),
    ("GET", f"{API}/templates"): READ,
    ("POST", f"{API}/templates/{{}}/render"): READ,  # reads only: the words before confirming
    # CAP 1.2 and NINA in, CAP and Atom out (issue 16); suggestions are sent by a person
    ("POST", f"{API}/cap"): Rule(ALERTING),
    ("POST", f"{API}/cap/preview"): READ,  # reads only, though it is a POST
    ("GET", f"{API}/cap/messages"): READ,
    ("GET", f"{API}/cap/messages/{{}}"): READ,
    ("POST", f"{API}/cap/messages/{{}}/send"): Rule(DISPATCH),
    ("POST", f"{API}/cap/messages/{{}}/dismiss"): Rule(DISPATCH),
    ("GET", f"{API}/alerts/{{}}/cap"): READ,
    ("GET", f"{API}/cap/feed.atom"): READ,
    # delivery and input-hygiene counters (issue 6)
    ("GET", f"{API}/metrics"): Rule(AUDIT),
    ("GET", f"{API}/clips/library"): Rule(AUDIT),  # which lanterns hold the clip library
    # inventory and groups
    ("GET", f"{API}/lanterns"): READ,
    ("GET", f"{API}/lanterns/{{}}"): READ,
    ("POST", f"{API}/lanterns/import"): Rule(OPERATE, own_body_limit=True),
    ("GET", f"{API}/streets"): READ,
    ("GET", f"{API}/streets/geometry"): READ,  # the console's basemap
    ("GET", f"{API}/lanterns/live"): READ,  # the console's live fleet
    ("GET", f"{API}/console/settings"): READ,  # the city's languages
    ("POST", f"{API}/targets/preview"): READ,  # reads only, though it is a POST
    ("GET", f"{API}/coverage"): READ,  # acoustic coverage for planning (issue 19)
    ("GET", f"{API}/alerts/{{}}/coverage"): READ,
    ("POST", f"{API}/guidance/preview"): READ,  # evacuation arrows (issue 18): reads only
    ("GET", f"{API}/groups"): READ,
    ("GET", f"{API}/groups/{{}}"): READ,
    ("POST", f"{API}/groups"): Rule(OPERATE),
    ("PUT", f"{API}/groups/{{}}"): Rule(OPERATE),
    ("DELETE", f"{API}/groups/{{}}"): Rule(OPERATE),
    # visitor flows and overrides (city apps up to 10, operators up to 8), schedules
    ("GET", f"{API}/steering"): READ,
    ("GET", f"{API}/steering/{{}}"): READ,
    ("POST", f"{API}/steering"): Rule(STEER, priority=True, scoped_target=True),
    ("DELETE", f"{API}/steering/{{}}"): Rule(STEER),
    ("GET", f"{API}/schedules"): READ,
    ("GET", f"{API}/schedules/{{}}"): READ,
    ("GET", f"{API}/schedules/{{}}/nights"): READ,
    ("POST", f"{API}/schedules"): Rule(OPERATE),
    ("PUT", f"{API}/schedules/{{}}"): Rule(OPERATE),
    ("DELETE", f"{API}/schedules/{{}}"): Rule(OPERATE),
    # rehearsals: faults in the simulated fleet (firmware-sim's control API, from the console)
    ("GET", f"{API}/simulator"): READ,
    ("POST", f"{API}/simulator/faults"): Rule(OPERATE),
    # the trail itself
    ("GET", f"{API}/audit"): Rule(AUDIT),
}

# Not listed: reading is open to every signed-in role, changing is for admin only.
UNLISTED_READ = READ
UNLISTED_WRITE = Rule(ADMIN_ONLY)

_PARAM = re.compile(r"\{[^}]*\}")


def normalise(path: str) -> str:
    """``/alerts/{alert_id}/cancel`` → ``/alerts/{}/cancel``."""
    return _PARAM.sub("{}", path)


def lookup(method: str, path_template: str) -> Rule | None:
    method = "GET" if method == "HEAD" else method.upper()
    return PERMISSIONS.get((method, normalise(path_template)))


def rule_for(method: str, path_template: str) -> Rule:
    found = lookup(method, path_template)
    if found is not None:
        return found
    return UNLISTED_READ if method.upper() in ("GET", "HEAD") else UNLISTED_WRITE


def own_body_limit_paths() -> list[re.Pattern[str]]:
    """Concrete-path patterns of routes that limit their own body (for the size middleware)."""
    return [
        re.compile("^" + re.escape(path).replace(re.escape("{}"), "[^/]+") + "$")
        for (_m, path), rule in PERMISSIONS.items()
        if rule.own_body_limit
    ]


def route_template(scope: Mapping[str, Any]) -> str | None:
    """The matched route's full path template (``/api/v1/alerts/{alert_id}``).

    FastAPI 0.16x keeps included routers unflattened: ``scope["route"].path`` lacks the include
    prefix, and the effective context carries the whole path; older versions flatten."""
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(context, "path", None)
    if isinstance(path, str):
        return path
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else None


def operations(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, full path template) the app answers, HEAD left out (it follows GET)."""
    found: set[tuple[str, str]] = set()
    for route in app.router.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if callable(contexts):
            for context in contexts():
                found.update((m, context.path) for m in context.methods or ())
        elif isinstance(route, APIRoute):
            found.update((m, route.path) for m in route.methods or ())
    return sorted((m, p) for m, p in found if m != "HEAD")
