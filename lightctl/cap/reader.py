"""The checking reader the CAP parser builds with: every defect collected with its place."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from lightctl.cap.model import NamedValue
from lightctl.cap.xmlread import Node, RawMessage
from lightctl.errors import FieldProblem

Loc = tuple[str | int, ...]

# XSD dateTime restricted by CAP 1.2: a numeric UTC offset, no "Z", no fractions.
CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
LOOSE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$")

PAIR_FIELDS = frozenset({"valueName", "value"})


class Reader:
    def __init__(self, raw: RawMessage) -> None:
        self.raw = raw
        self.problems: list[FieldProblem] = []
        self.warnings: list[str] = list(raw.warnings)

    # ---- reporting ----------------------------------------------------------------------------

    def problem(self, loc: Loc, msg: str, value: Any = None) -> None:
        self.problems.append(FieldProblem(loc, msg, value))

    def warn(self, loc: Loc, msg: str) -> None:
        self.warnings.append(f"{'.'.join(str(p) for p in loc)}: {msg}")

    # ---- fields -------------------------------------------------------------------------------

    def known(self, node: Node, allowed: frozenset[str], loc: Loc) -> None:
        for name in node:
            if name not in allowed:
                if self.raw.form == "nina":
                    continue  # NINA adds its own keys; CAP's are checked below
                self.problem((*loc, name), "is not a CAP 1.2 element here")

    def texts(self, node: Node, key: str, loc: Loc) -> list[str]:
        out = []
        for i, value in enumerate(node.get(key, [])):
            if not isinstance(value, str):
                self.problem((*loc, key, i), "must be text")
                continue
            out.append(value)
        return out

    def one(self, node: Node, key: str, loc: Loc, required: bool = False) -> str | None:
        values = self.texts(node, key, loc)
        if len(values) > 1:
            self.problem((*loc, key), f"appears {len(values)} times; CAP allows it once")
        if not values or not values[0].strip():
            if required:
                what = "is empty" if values else "is missing"
                self.problem((*loc, key), f"{what} (required by CAP 1.2)")
            return None
        return values[0].strip()

    def choice(
        self, node: Node, key: str, loc: Loc, allowed: tuple[str, ...], required: bool = True
    ) -> str:
        value = self.one(node, key, loc, required)
        if value is None:
            return ""
        if value not in allowed:
            self.problem((*loc, key), f"must be one of {', '.join(allowed)}", value)
        return value

    def time(self, node: Node, key: str, loc: Loc, required: bool = False) -> datetime | None:
        text = self.one(node, key, loc, required)
        if text is None:
            return None
        if not CAP_TIME.match(text):
            if not LOOSE_TIME.match(text):
                self.problem(
                    (*loc, key), "is not a CAP date-time like 2026-05-01T14:00:00+02:00", text
                )
                return None
            self.warn((*loc, key), f"{text!r} is not CAP's form (numeric offset, no fractions)")
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            self.problem((*loc, key), "is not a valid date-time", text)
            return None
        return at.astimezone(UTC)

    def pairs(
        self, node: Node, key: str, loc: Loc, warn_empty: bool = False
    ) -> tuple[NamedValue, ...]:
        out = []
        for i, item in enumerate(node.get(key, [])):
            here = (*loc, key, i)
            if not isinstance(item, dict):
                self.problem(here, "must hold valueName and value")
                continue
            self.known(item, PAIR_FIELDS, here)
            name = self.one(item, "valueName", here, required=True)
            value = self.one(item, "value", here) or ""
            if not value and warn_empty:
                self.warn((*here, "value"), "is empty")
            if name is not None:
                out.append(NamedValue(name, value))
        return tuple(out)
