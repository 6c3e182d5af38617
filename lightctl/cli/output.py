"""Shared console output: clear one-line errors with exit codes, never a traceback."""

from __future__ import annotations

from typing import Any, NoReturn

import typer
from rich.console import Console

from lightctl.errors import FieldProblem, InvalidRequest, LightctlError

console = Console()
err_console = Console(stderr=True)

EXIT_INVALID = 2  # the request or input is wrong: fix it and retry
EXIT_UNREACHABLE = 3  # the service or broker cannot be reached
EXIT_NOT_DELIVERED = 4  # the alert ended with lanterns that did not confirm delivery


def fail(
    message: str, code: int = EXIT_INVALID, problems: list[dict[str, Any]] | None = None
) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    for p in problems or []:
        where = ".".join(str(x) for x in p.get("loc", []))
        line = f"  - {where}: {p.get('msg', '')}"
        if "value" in p:
            line += f" (got {p['value']!r})"
        if p.get("suggestions"):
            line += f"; did you mean: {', '.join(p['suggestions'])}?"
        err_console.print(line, markup=False)
    raise typer.Exit(code)


def fail_with(exc: LightctlError) -> NoReturn:
    problems = exc.problems if isinstance(exc, InvalidRequest) else []
    fail(exc.message, EXIT_INVALID, [_problem_dict(p) for p in problems if len(problems) > 1])


def _problem_dict(p: FieldProblem) -> dict[str, Any]:
    return p.as_dict()
