"""Users, machine tokens and login sessions: create, list, revoke, and whose a token is."""

from __future__ import annotations

import hmac
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from lightctl.domain.records import Token, User
from lightctl.domain.roles import Principal, Role, parse_roles
from lightctl.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from lightctl.security.secrets import (
    MIN_PASSWORD_CHARS,
    dummy_hash,
    hash_password,
    new_token,
    token_hash,
    verify_password,
)
from lightctl.store import Database
from lightctl.store import auth as auth_store

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
# A "last used" write per request would double the database load; once a minute is plenty.
TOUCH_EVERY_S = 60


class AuthService:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        session_ttl_s: int = 12 * 3600,
        bootstrap_token: str | None = None,
        *,
        session_idle_s: int = 30 * 60,
    ) -> None:
        self._db = db
        self._clock = clock
        self._session_ttl = timedelta(seconds=session_ttl_s)
        self._session_idle = timedelta(seconds=session_idle_s)
        self._bootstrap = bootstrap_token or None

    # ---- users --------------------------------------------------------------------------------

    def create_user(
        self, username: str, password: str, roles: str | Iterable[str], groups: Iterable[str] = ()
    ) -> User:
        if not _NAME.match(username):
            raise InvalidRequest.at(("username",), "use 1-64 letters, digits and . _ @ -", username)
        if len(password) < MIN_PASSWORD_CHARS:
            raise InvalidRequest.at(
                ("password",), f"a password needs at least {MIN_PASSWORD_CHARS} characters"
            )
        parsed = _roles(roles)
        with self._db.session() as session:
            if auth_store.get_user(session, username) is not None:
                raise Conflict(f"user {username!r} exists (revoke it or choose another name)")
            user = User(
                username=username,
                password_hash=hash_password(password),
                roles=",".join(sorted(parsed)),
                groups=",".join(sorted(set(groups))),
                created_at=self._clock(),
            )
            auth_store.add_user(session, user)
        return user

    def reset_password(self, username: str, password: str) -> User:
        """A new password for an active user (their open sessions stay until they expire)."""
        with self._db.session() as session:
            user = auth_store.get_user(session, username)
            if user is None or user.revoked_at is not None:
                raise NotFound("user", username)
            user = replace(user, password_hash=hash_password(password))
            auth_store.set_password(session, username, user.password_hash)
        return user

    def list_users(self) -> list[User]:
        with self._db.session() as session:
            return auth_store.list_users(session)

    def revoke_user(self, username: str) -> User:
        now = self._clock()
        with self._db.session() as session:
            user = auth_store.get_user(session, username)
            if user is None:
                raise NotFound("user", username)
            user = replace(user, revoked_at=user.revoked_at or now)
            auth_store.revoke_user(session, username, now)
            auth_store.revoke_sessions_of(session, username, now)
        return user

    # ---- tokens -------------------------------------------------------------------------------

    def create_token(
        self,
        name: str,
        roles: str | Iterable[str],
        groups: Iterable[str] = (),
        expires_in_s: int | None = None,
        user: str | None = None,
    ) -> tuple[Token, str]:
        """An API token; the secret is returned once and only its hash is stored.

        ``user``: the person it is issued to. Their token and their console session are one
        person to the four-eyes rule, and revoking the user revokes the token too; a token of
        no user is a machine's, which may ask for a held alert but never approve one."""
        if not _NAME.match(name):
            raise InvalidRequest.at(("name",), "use 1-64 letters, digits and . _ @ -", name)
        if user is not None:
            with self._db.session() as session:
                owner = auth_store.get_user(session, user)
            if owner is None or owner.revoked_at is not None:
                raise InvalidRequest.at(("user",), "no such active user", user)
        now = self._clock()
        expires = now + timedelta(seconds=expires_in_s) if expires_in_s else None
        return self._issue("api", name, _roles(roles), set(groups), expires, user)

    def list_tokens(self, include_sessions: bool = False) -> list[Token]:
        with self._db.session() as session:
            return auth_store.list_tokens(session, None if include_sessions else "api")

    def revoke_token(self, token_id: str) -> Token:
        with self._db.session() as session:
            token = auth_store.get_token(session, token_id)
            if token is None:
                raise NotFound("token", token_id)
            if token.revoked_at is None:
                now = self._clock()
                auth_store.revoke_token(session, token_id, now)
                token = replace(token, revoked_at=now)
        return token

    # ---- sign-in ------------------------------------------------------------------------------

    def login(self, username: str, password: str) -> tuple[Token, str]:
        """A session token for a user, valid for the session lifetime (12 h by default)."""
        with self._db.session() as session:
            user = auth_store.get_user(session, username)
        if user is None or user.revoked_at is not None:
            verify_password(password, dummy_hash())  # same time as a wrong password
            raise Unauthorized("wrong username or password")
        if not verify_password(password, user.password_hash):
            raise Unauthorized("wrong username or password")
        expires = self._clock() + self._session_ttl
        roles = parse_roles(user.roles)
        groups = {g for g in user.groups.split(",") if g}
        return self._issue("session", f"login:{username}", roles, groups, expires, username)

    def logout(self, token_id: str) -> None:
        self.revoke_token(token_id)

    def authenticate(self, secret: str) -> Principal:
        """The principal a bearer secret stands for; Unauthorized when unknown, revoked or old."""
        if self._bootstrap and hmac.compare_digest(secret.encode(), self._bootstrap.encode()):
            return Principal("bootstrap", "bootstrap", frozenset({Role.ADMIN}))
        now = self._clock()
        with self._db.session() as session:
            row = auth_store.token_by_hash(session, token_hash(secret))
            if row is None:
                raise Unauthorized("unknown token", "invalid_token")
            if row.revoked_at is not None:
                raise Unauthorized("the token was revoked", "invalid_token")
            if row.expires_at is not None and row.expires_at <= now:
                what = "session expired: sign in again" if row.kind == "session" else "expired"
                raise Unauthorized(f"the token has {what}", "invalid_token")
            last = row.last_used_at
            idle_since = last or row.created_at
            if row.kind == "session" and now - idle_since > self._session_idle:
                minutes = round(self._session_idle.total_seconds() / 60)
                raise Unauthorized(
                    f"the session has expired after {minutes} min without use: sign in again",
                    "invalid_token",
                )
            if last is None or (now - last).total_seconds() > TOUCH_EVERY_S:
                auth_store.touch(session, row.id, now)
        subject = row.username if row.kind == "session" and row.username else f"token:{row.name}"
        return Principal(
            subject=subject,
            kind="session" if row.kind == "session" else "token",
            roles=parse_roles(row.roles),
            token_id=row.id,
            groups=frozenset(g for g in row.groups.split(",") if g),
            user=row.username,
        )

    def credentials_count(self) -> int:
        with self._db.session() as session:
            return auth_store.active_credentials(session, self._clock())

    def _issue(
        self,
        kind: str,
        name: str,
        roles: frozenset[Role],
        groups: set[str],
        expires_at: datetime | None,
        username: str | None,
    ) -> tuple[Token, str]:
        secret = new_token()
        token = Token(
            id=f"tok_{uuid.uuid4().hex[:12]}",
            token_hash=token_hash(secret),
            kind=kind,
            name=name,
            username=username,
            roles=",".join(sorted(roles)),
            groups=",".join(sorted(groups)),
            created_at=self._clock(),
            expires_at=expires_at,
        )
        with self._db.session() as session:
            auth_store.add_token(session, token)
        return token, secret


def _roles(roles: str | Iterable[str]) -> frozenset[Role]:
    try:
        return parse_roles(roles if isinstance(roles, str) else list(roles))
    except ValueError as exc:
        raise InvalidRequest.at(("roles",), str(exc)) from None
