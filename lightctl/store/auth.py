"""Users, API tokens and login sessions; secrets are stored only as hashes."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, update
from sqlmodel import Field, Session, SQLModel, col, select

from lightctl.domain.records import Token, User
from lightctl.store.mapping import record_of
from lightctl.store.tables import utcnow
from lightctl.store.types import UtcDateTime

if TYPE_CHECKING:  # db.py imports this module to register its tables
    from lightctl.store.db import Database


class UserRow(SQLModel, table=True):
    __tablename__ = "auth_user"

    username: str = Field(primary_key=True, max_length=64)
    password_hash: str = Field(max_length=300)  # scrypt$n$r$p$salt$hash
    roles: str = Field(max_length=200)  # comma-separated Role values
    groups: str = Field(default="", max_length=2000)  # comma-separated; empty: no limit
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class TokenRow(SQLModel, table=True):
    """An API token (kind ``api``, issued to a user or to no one: a machine's) or a login
    session (kind ``session``, always a user's); ``username`` is the person behind either."""

    __tablename__ = "auth_token"

    id: str = Field(primary_key=True, max_length=40)
    token_hash: str = Field(index=True, unique=True, max_length=64)  # sha256 hex of the secret
    kind: str = Field(default="api", max_length=10)
    name: str = Field(max_length=100)
    username: str | None = Field(default=None, index=True, max_length=64)
    roles: str = Field(max_length=200)
    groups: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


def _fit(key: str) -> str:
    """A key that fits its column (300): longer ones by their digest."""
    return key if len(key) <= 300 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _user(row: UserRow) -> User:
    return record_of(User, row)


def _token(row: TokenRow) -> Token:
    return record_of(Token, row)


def add_user(session: Session, user: User) -> None:
    session.add(
        UserRow(
            username=user.username,
            password_hash=user.password_hash,
            roles=user.roles,
            groups=user.groups,
            created_at=user.created_at,
            revoked_at=user.revoked_at,
        )
    )


def add_token(session: Session, token: Token) -> None:
    session.add(
        TokenRow(
            id=token.id,
            token_hash=token.token_hash,
            kind=token.kind,
            name=token.name,
            username=token.username,
            roles=token.roles,
            groups=token.groups,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
            last_used_at=token.last_used_at,
        )
    )


def get_user(session: Session, username: str) -> User | None:
    row = session.get(UserRow, username)
    return _user(row) if row is not None else None


def list_users(session: Session) -> list[User]:
    return [_user(row) for row in session.exec(select(UserRow).order_by(col(UserRow.username)))]


def set_password(session: Session, username: str, password_hash: str) -> None:
    session.execute(
        update(UserRow).where(col(UserRow.username) == username).values(password_hash=password_hash)
    )


def revoke_user(session: Session, username: str, now: datetime) -> None:
    """Mark the user revoked at ``now`` (one revoked before keeps its first time)."""
    session.execute(
        update(UserRow)
        .where(col(UserRow.username) == username)
        .where(col(UserRow.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def token_by_hash(session: Session, token_hash: str) -> Token | None:
    row = session.exec(select(TokenRow).where(TokenRow.token_hash == token_hash)).first()
    return _token(row) if row is not None else None


def get_token(session: Session, token_id: str) -> Token | None:
    row = session.get(TokenRow, token_id)
    return _token(row) if row is not None else None


def list_tokens(session: Session, kind: str | None = "api") -> list[Token]:
    query = select(TokenRow).order_by(col(TokenRow.created_at))
    if kind is not None:
        query = query.where(TokenRow.kind == kind)
    return [_token(row) for row in session.exec(query)]


def revoke_token(session: Session, token_id: str, now: datetime) -> None:
    """Mark the token revoked at ``now`` (one revoked before keeps its first time)."""
    session.execute(
        update(TokenRow)
        .where(col(TokenRow.id) == token_id)
        .where(col(TokenRow.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def revoke_sessions_of(session: Session, username: str, now: datetime) -> None:
    """End the user's sessions and revoke the API tokens issued to them."""
    session.execute(
        update(TokenRow)
        .where(col(TokenRow.username) == username)
        .where(col(TokenRow.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def touch(session: Session, token_id: str, now: datetime) -> None:
    session.execute(update(TokenRow).where(col(TokenRow.id) == token_id).values(last_used_at=now))


def active_credentials(session: Session, now: datetime) -> int:
    """Users and API tokens that could sign in now (production refuses to start with none)."""
    users = session.exec(select(UserRow).where(col(UserRow.revoked_at).is_(None))).all()
    tokens = session.exec(
        select(TokenRow).where(TokenRow.kind == "api").where(col(TokenRow.revoked_at).is_(None))
    ).all()
    live = [t for t in tokens if t.expires_at is None or t.expires_at > now]
    return len(users) + len(live)


class AuthFailureRow(SQLModel, table=True):
    """Failed sign-ins under one key (account at an address, or an address), shared by every
    replica on one PostgreSQL; times are wall-clock seconds since the epoch."""

    __tablename__ = "auth_failure"

    key: str = Field(primary_key=True, max_length=300)
    failures: int = 0
    last_at: float = 0.0
    until_at: float = 0.0


class DatabaseFailures:
    """``FailureBackoff``'s storage in the database (api/ratelimit.py ``FailureStore``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def load(self, key: str) -> tuple[int, float, float] | None:
        with self._db.session() as session:
            row = session.get(AuthFailureRow, _fit(key))
            return None if row is None else (row.failures, row.last_at, row.until_at)

    def save(self, key: str, entry: tuple[int, float, float]) -> None:
        failures, last_at, until_at = entry
        key = _fit(key)
        with self._db.session() as session:
            row = session.get(AuthFailureRow, key)
            if row is None:
                row = AuthFailureRow(key=key)
            row.failures, row.last_at, row.until_at = failures, last_at, until_at
            session.add(row)

    def drop(self, key: str) -> None:
        with self._db.session() as session:
            session.execute(delete(AuthFailureRow).where(col(AuthFailureRow.key) == _fit(key)))

    def prune(self, before: float) -> None:
        """Forget keys whose last failure and back-off both ended before ``before``."""
        with self._db.session() as session:
            session.execute(
                delete(AuthFailureRow)
                .where(col(AuthFailureRow.last_at) < before)
                .where(col(AuthFailureRow.until_at) < before)
            )
