"""`lightctl templates validate` names the file and key of every problem and exits 2."""

from __future__ import annotations

import shutil
from pathlib import Path

from lightctl.cli import app
from lightctl.paths import TEMPLATES_DIR
from tests.support import cli_runner, flat

runner = cli_runner()


def test_shipped_templates_are_valid() -> None:
    result = runner.invoke(app, ["templates", "validate", str(TEMPLATES_DIR)])
    assert result.exit_code == 0, result.output
    assert "templates" in flat(result.output)
    assert "valid" in flat(result.output)


def test_a_broken_template_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, broken)
    path = broken / "gas_leak.toml"
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("tr = ")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["templates", "validate", str(broken)])
    assert result.exit_code == 2
    assert "gas_leak.toml" in flat(result.output)
    assert "text.tr" in flat(result.output)
    assert "Traceback" not in flat(result.output)
