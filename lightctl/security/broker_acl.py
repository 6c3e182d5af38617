"""The generated Mosquitto ACL read back as rules, and amqtt plugins that enforce them.

The demo's in-process broker (amqtt, when Mosquitto is not installed) gets the same accounts and
the same ACL text as a production Mosquitto (``security/broker.py``), so the demo is locked down
exactly like production whichever broker runs it: no anonymous client, every gateway reaches only
its own lanterns' topics, only the service writes commands.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin

READ, WRITE = "read", "write"


@dataclass(frozen=True, slots=True)
class Rule:
    access: frozenset[str]  # {"read"}, {"write"} or both
    pattern: str


@dataclass(frozen=True, slots=True)
class UserRules:
    """One account's rules: exact topics in a dict (a gateway has 4 per lantern, 2,000 for 500
    lanterns, checked on every message it gets), wildcard patterns scanned."""

    exact: dict[str, frozenset[str]]
    wild: tuple[Rule, ...]

    def allows(self, topic: str, need: str) -> bool:
        if need in self.exact.get(topic, frozenset()):
            return True
        return any(need in r.access and covers(r.pattern, topic) for r in self.wild)


def parse_acl(text: str) -> dict[str, UserRules]:
    """``user NAME`` blocks of ``topic [read|write|readwrite] PATTERN`` lines, as Mosquitto reads
    them (lines before any ``user`` apply to nobody here: the generated ACL has none)."""
    rules: dict[str, list[Rule]] = {}
    user: str | None = None
    for raw in text.splitlines():
        words = raw.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "user" and len(words) == 2:
            user = words[1]
            rules.setdefault(user, [])
        elif words[0] == "topic" and user is not None and len(words) in (2, 3):
            access = words[1] if len(words) == 3 else "readwrite"
            allowed = {"read": {READ}, "write": {WRITE}, "readwrite": {READ, WRITE}}.get(access)
            if allowed is None:
                raise ValueError(f"ACL line {raw!r}: access must be read, write or readwrite")
            rules[user].append(Rule(frozenset(allowed), words[-1]))
        else:
            raise ValueError(f"ACL line {raw!r} is neither `user NAME` nor `topic ACCESS PATTERN`")
    out: dict[str, UserRules] = {}
    for name, listed in rules.items():
        exact: dict[str, frozenset[str]] = {}
        for rule in listed:
            if "+" not in rule.pattern and "#" not in rule.pattern:
                exact[rule.pattern] = exact.get(rule.pattern, frozenset()) | rule.access
        wild = tuple(r for r in listed if "+" in r.pattern or "#" in r.pattern)
        out[name] = UserRules(exact, wild)
    return out


def covers(pattern: str, topic: str) -> bool:
    """True when every topic ``topic`` names (a topic, or a subscription filter) matches the ACL
    ``pattern``: '+' in the pattern takes one level (a '+' included), '#' the rest."""
    want, have = pattern.split("/"), topic.split("/")
    for i, level in enumerate(want):
        if level == "#":
            return True
        if i >= len(have):
            return False
        if have[i] == "#":
            return False  # the filter reaches further than the pattern allows
        if level != "+" and level != have[i]:
            return False
    return len(have) == len(want)


def allowed(rules: Mapping[str, UserRules], user: str | None, topic: str, need: str) -> bool:
    own = rules.get(user) if user is not None else None
    return own is not None and own.allows(topic, need)


def password_digest(password: str) -> str:
    """What the in-process broker keeps of a password (never the password itself)."""
    return hashlib.sha256(password.encode()).hexdigest()


class PasswordAuth(BaseAuthPlugin):  # type: ignore[misc]
    """amqtt: a client gets in only with a username and its generated password."""

    @dataclass
    class Config:
        users: dict[str, str] = field(default_factory=dict)  # username -> password_digest

    async def authenticate(self, *, session: Any) -> bool | None:
        users: dict[str, str] = self.context.config.users
        username, password = session.username, session.password
        if not username or password is None:
            return False
        expected = users.get(username)
        given = (
            password if isinstance(password, str) else bytes(password).decode("utf-8", "replace")
        )
        return expected is not None and hmac.compare_digest(expected, password_digest(given))


class AclTopics(BaseTopicPlugin):  # type: ignore[misc]
    """amqtt: subscribe, publish and receive only where the generated ACL says."""

    @dataclass
    class Config:
        acl: str = ""  # the text `lightctl mqtt credentials` writes to `acl`

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._rules = parse_acl(self.context.config.acl)

    async def topic_filtering(
        self, *, session: Any = None, topic: str | None = None, action: Action | None = None
    ) -> bool | None:
        if session is None or topic is None:
            return False
        need = WRITE if action == Action.PUBLISH else READ
        return allowed(self._rules, session.username, topic, need)
