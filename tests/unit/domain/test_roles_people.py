"""Who a caller is for the four-eyes rule and for steering ownership."""

from __future__ import annotations

from lightctl.domain.roles import Principal, Role


def _p(roles: set[Role], user: str | None = None) -> Principal:
    return Principal("token:app", "token", frozenset(roles), "tok_1", user=user)


def test_any_held_role_holds_the_caller() -> None:
    rule = frozenset({"dispatcher"})
    assert _p({Role.DISPATCHER, Role.VIEWER}).held_by(rule)
    assert _p({Role.DISPATCHER, Role.ADMIN}).held_by(rule)
    assert not _p({Role.OPERATOR, Role.VIEWER}).held_by(rule)
    assert not _p({Role.DISPATCHER}).held_by(frozenset())


def test_owner_is_the_person_else_the_token() -> None:
    assert _p({Role.CITY_APP}).owner == "token:app"
    assert _p({Role.CITY_APP}, user="ann").owner == "ann"


def test_only_city_apps_and_the_like_see_just_their_own_steering() -> None:
    assert _p({Role.CITY_APP}).steering_scope == "token:app"
    assert _p({Role.VIEWER}).steering_scope == "token:app"
    for role in (Role.ADMIN, Role.DISPATCHER, Role.OPERATOR):
        assert _p({role, Role.CITY_APP}).steering_scope is None
