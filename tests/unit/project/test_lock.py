"""One locked dependency set: every requirement of pyproject.toml is pinned in
requirements.lock at a version the requirement allows, and the README and .ci/run install
through that lock."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[3]


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s;]+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def test_every_requirement_is_pinned_at_a_version_it_allows() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    pins = _pins()
    problems = []
    for text in wanted:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req.name} is not in requirements.lock")
        elif req.specifier and not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{req.name}=={pins[name]} does not satisfy {req.specifier}")
    assert problems == [], "refresh the lock (README, 'Dependencies'): " + "; ".join(problems)


def test_the_readme_and_ci_install_through_the_lock() -> None:
    command = 'pip install -c requirements.lock -e ".[test]"'
    assert command in (ROOT / "README.md").read_text()
    assert command in (ROOT / ".ci" / "run").read_text()
