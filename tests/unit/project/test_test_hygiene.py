"""What a test reads does not depend on the machine: every CLI test runs through the wide runner
of tests/support.py, every process a test starts gets the fixed locale, zone and width, and no
test sleeps and then asserts that nothing happened."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]
SUPPORT = TESTS / "support.py"


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(TESTS.rglob("*.py"))]


def test_cli_tests_use_the_wide_runner() -> None:
    offenders = []
    for path, tree in _modules():
        if path == SUPPORT:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in (
                "typer.testing",
                "click.testing",
            ):
                offenders.append(f"{path.relative_to(TESTS)}:{node.lineno}")
    assert not offenders, f"use tests.support.cli_runner() instead of CliRunner: {offenders}"


def test_every_subprocess_gets_the_fixed_environment() -> None:
    offenders = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            if not (isinstance(owner, ast.Name) and owner.id == "subprocess"):
                continue
            if node.func.attr not in ("run", "Popen", "check_output", "check_call", "call"):
                continue
            env = next((k.value for k in node.keywords if k.arg == "env"), None)
            fixed = (
                isinstance(env, ast.Call)
                and isinstance(env.func, ast.Name)
                and env.func.id == "fixed_env"
            )
            if not fixed:
                offenders.append(f"{path.relative_to(TESTS)}:{node.lineno}")
    assert not offenders, f"pass env=fixed_env(...) (tests/support.py): {offenders}"


def _in_loop(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.While | ast.For | ast.AsyncFor):
            return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return False
    return False


def test_no_sleep_outside_a_polling_loop() -> None:
    """A sleep inside a loop polls for a positive sign, ``sleep(0)`` yields one loop turn;
    anywhere else it is a bet on the runner's speed. The few that stand for the scenario's own
    downtime say so on their line with "not a wait:"; see tests/integration/sentinels.py for
    what to do instead."""
    offenders = []
    for path, tree in _modules():
        lines = path.read_text(encoding="utf-8").splitlines()
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            if node.func.attr != "sleep" or not (
                isinstance(owner, ast.Name) and owner.id in ("time", "asyncio")
            ):
                continue
            if _in_loop(node, parents) or "not a wait:" in lines[node.lineno - 1]:
                continue
            turn = [a.value for a in node.args if isinstance(a, ast.Constant)] == [0]
            if turn:  # asyncio.sleep(0): one turn of the event loop, not a bet on time
                continue
            offenders.append(f"{path.relative_to(TESTS)}:{node.lineno}")
    assert not offenders, f"wait for a positive sign instead of sleeping: {offenders}"


def test_no_assertion_that_a_wait_timed_out() -> None:
    """``assert not probe.wait_for(...)`` is a sleep in disguise: it passes whenever the thing
    is merely late. Measure it, or wait for a later message that proves it did not come."""
    offenders = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Assert) and isinstance(node.test, ast.UnaryOp)):
                continue
            call = node.test.operand
            if not (isinstance(node.test.op, ast.Not) and isinstance(call, ast.Call)):
                continue
            if isinstance(call.func, ast.Attribute) and call.func.attr.startswith("wait"):
                offenders.append(f"{path.relative_to(TESTS)}:{node.lineno}")
    assert not offenders, f"a timed-out wait proves nothing: {offenders}"
