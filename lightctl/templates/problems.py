"""What is wrong with a template file, and the error that refuses a directory with problems."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lightctl.errors import LightctlError


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    """One defect: the file, the dotted key (``text.tr``, empty for the whole file) and what."""

    file: str
    key: str
    message: str
    line: int | None = None  # only for TOML syntax errors
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(f"line {self.line}" + (f", column {self.column}" if self.column else ""))
        if self.key:
            parts.append(self.key)
        parts.append(self.message)
        return ": ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "key": self.key, "message": self.message}
        if self.line is not None:
            out["line"] = self.line
        if self.column is not None:
            out["column"] = self.column
        return out


class TemplateInvalid(LightctlError):
    """The template directory has defects; nothing was loaded, so no half-checked text is spoken.

    A configuration error found at start-up, not a bad request: it is not an ``InvalidRequest``.
    """

    code = "template_invalid"

    def __init__(self, directory: str, problems: Sequence[TemplateProblem]) -> None:
        listing = "\n".join(f"  {p}" for p in problems)
        count = f"{len(problems)} problem" + ("" if len(problems) == 1 else "s")
        super().__init__(f"{count} in warning templates in {directory}:\n{listing}")
        self.directory = directory
        self.problems = tuple(problems)
