"""SQLite is the single-process default: a second ``lightctl serve`` on the same file refuses at
once, saying why and what to use instead, and the first one keeps serving; a service killed by
SIGKILL leaves no stale claim behind."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.resilience import ServeProcess
from tests.support import ROOT, MosquittoProcess, fixed_env, flat, free_port

pytestmark = [pytest.mark.broker]


def _env(tmp_path: Path, broker: str, root: str, port: int, token: str) -> dict[str, str]:
    return {
        **os.environ,
        "LIGHTCTL_DATA_DIR": str(tmp_path / "data"),
        "LIGHTCTL_DATABASE_URL": f"sqlite:///{tmp_path / 'one.db'}",
        "LIGHTCTL_MQTT_URL": broker,
        "LIGHTCTL_MQTT_ROOT": root,
        "LIGHTCTL_MQTT_CLIENT_ID": f"svc-{port}",
        "LIGHTCTL_HTTP_HOST": "127.0.0.1",
        "LIGHTCTL_HTTP_PORT": str(port),
        "LIGHTCTL_PRERENDER_TEMPLATES": "false",
        "LIGHTCTL_BOOTSTRAP_TOKEN": token,
    }


def test_a_second_service_on_one_sqlite_file_refuses_and_the_first_keeps_serving(
    mosquitto: MosquittoProcess, topic_root: str, tmp_path: Path
) -> None:
    token = f"lct_{secrets.token_urlsafe(32)}"
    port = free_port()
    first = ServeProcess(
        _env(tmp_path, mosquitto.url, topic_root, port, token), tmp_path / "1.log", port, token
    )
    first.start()
    try:
        other = free_port()
        second = subprocess.run(
            [sys.executable, "-c", "from lightctl.cli import main; main()", "serve"],
            env=fixed_env(_env(tmp_path, mosquitto.url, topic_root, other, token)),
            cwd=ROOT,
            capture_output=True,
            encoding="utf-8",
            timeout=120,
        )
        said = flat(second.stderr)
        assert second.returncode == 2, said
        assert "already served by another lightctl process" in said
        assert first.proc is not None
        assert f"pid {first.proc.pid}" in said
        assert "PostgreSQL" in said
        assert "Traceback" not in second.stderr
        assert first.http.get("/healthz").json()["db"] == "ok"  # the first one is untouched

        first.kill()  # SIGKILL: no clean-up runs, the kernel drops the claim
        first.start()
        assert first.http.get("/healthz").json()["db"] == "ok"
    finally:
        first.stop()
