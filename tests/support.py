"""Helpers shared by the test suites: free ports, a broker the test owns, the test DB URL, a CLI
runner whose output does not depend on the terminal, the temporary path or the locale."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import typer
import typer.rich_utils
from typer.testing import CliRunner, Result

from lightctl.cli import output

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


# Ports for servers the tests start come from below the kernel's ephemeral range (32768-60999 on
# Linux), so an outgoing connection can never take one between the choice and the server's bind, and
# each pytest-xdist worker has a block of its own, so two workers never choose the same port.
_PORT_BLOCK = 1500
_PORT_BASE = 12000
_port_cursor: list[int] = []


def _port_block() -> tuple[int, int]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ...; "" without xdist
    index = int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0
    start = _PORT_BASE + (index % 13) * _PORT_BLOCK
    return start, start + _PORT_BLOCK


def free_port() -> int:
    """A loopback port nobody listens on, not handed out before by this process."""
    start, end = _port_block()
    if not _port_cursor:
        # Another test run on the same machine starts elsewhere in the block.
        _port_cursor.append(start + (os.getpid() * 7919) % _PORT_BLOCK)
    for _ in range(_PORT_BLOCK):
        port = start + (_port_cursor[0] - start) % _PORT_BLOCK
        _port_cursor[0] = port + 1
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {start}-{end}")


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


class MosquittoProcess:
    """A Mosquitto the test owns: it can be stopped and started again on the same port."""

    def __init__(self, workdir: Path, extra_conf: str = "", allow_anonymous: bool = True) -> None:
        """``extra_conf``: lines appended to the generated config (password file, ACL, a TLS
        listener), with absolute paths."""
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.conf = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"allow_anonymous {'true' if allow_anonymous else 'false'}\n"
            "persistence false\n"
            "max_queued_messages 0\n"
            "max_inflight_messages 100\n"
            "message_size_limit 262144\n" + extra_conf
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def from_conf(cls, workdir: Path, conf: str, port: int) -> MosquittoProcess:
        """A broker run with exactly ``conf`` (a generated one), answering on ``port``."""
        proc = cls(workdir)
        proc.port, proc.url = port, f"mqtt://127.0.0.1:{port}"
        proc.conf.write_text(conf)
        return proc

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [binary, "-c", str(self.conf)],
                env=fixed_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port)

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc = None


def have_mosquitto() -> bool:
    return shutil.which("mosquitto") is not None or Path("/usr/sbin/mosquitto").exists()


def postgres_url() -> str:
    return os.environ.get(
        "LIGHTCTL_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )


class FakeClock:
    """A clock the test moves by hand (``clock.now += timedelta(...)``)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def red_light(
    cmd_id: str, alert_id: str, now: datetime, ttl_s: float = 600, priority: int = 1
) -> Any:
    """An unsigned red-light command row, issued ``now``, as a service that signs late stores it."""
    from lightctl.protocol import CommandEnvelope, LightPayload
    from lightctl.services.alerts import commands as build
    from lightctl.services.sequence import SequenceCounter

    env = CommandEnvelope(
        id=cmd_id,
        alert_id=alert_id,
        channel="light",
        op="set",
        priority=priority,
        issued_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
        payload=LightPayload(on=True, color="#FF0000"),
        seq=SequenceCounter(0).next(),
    )
    return build.stored(env)


class RecordingLink:
    """Stands in for the MQTT link: every publish is kept as (topic, payload, expiry_s)."""

    connected = True

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, int | None]] = []

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        expiry_s: int | None = None,
        retain: bool = False,
    ) -> None:
        self.sent.append((topic, payload, expiry_s))


# A 75 x 110 m square over Münzplatz in the fixture inventory (lon/lat).
MUENZPLATZ = {
    "type": "Polygon",
    "coordinates": [
        [
            [8.5385, 47.3700],
            [8.5395, 47.3700],
            [8.5395, 47.3710],
            [8.5385, 47.3710],
            [8.5385, 47.3700],
        ]
    ],
}


# ---- output that does not depend on the machine ------------------------------------------------

# Wide enough that rich never wraps a line a test reads, a pytest temporary path below a
# 120-character TMPDIR included (about 250 characters).
CLI_COLUMNS = 400
CLI_LINES = 200

# A fixed locale and time zone for every process a test starts or CLI it runs, and no colour.
# FORCE_COLOR / TTY_COMPATIBLE (set by some CI services) would make rich write escape codes.
FIXED_ENV: dict[str, str | None] = {
    "LC_ALL": "C.UTF-8",
    "LANG": "C.UTF-8",
    "LANGUAGE": None,
    "TZ": "UTC",
    "COLUMNS": str(CLI_COLUMNS),
    "LINES": str(CLI_LINES),
    "NO_COLOR": "1",
    "FORCE_COLOR": None,
    "TTY_COMPATIBLE": None,
    "TERMINAL_WIDTH": str(CLI_COLUMNS),
}


def fixed_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a subprocess: ``base`` (default: this process's) with FIXED_ENV
    applied last, so a COLUMNS or locale inherited from the developer's shell never reaches it."""
    env = dict(os.environ if base is None else base)
    for key, value in FIXED_ENV.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@contextmanager
def wide_consoles() -> Iterator[None]:
    """lightctl's rich consoles and typer's error panels at CLI_COLUMNS, never a terminal.

    Rich reads COLUMNS once, when lightctl.cli.output is imported, and keeps it; typer reads
    TERMINAL_WIDTH and FORCE_COLOR when it is imported. Setting them in the environment of one
    invocation is too late, so the consoles themselves are set for the duration."""
    with (
        mock.patch.object(output.console, "_width", CLI_COLUMNS),
        mock.patch.object(output.console, "_height", CLI_LINES),
        mock.patch.object(output.console, "_force_terminal", False),
        mock.patch.object(output.err_console, "_width", CLI_COLUMNS),
        mock.patch.object(output.err_console, "_height", CLI_LINES),
        mock.patch.object(output.err_console, "_force_terminal", False),
        mock.patch.object(typer.rich_utils, "MAX_WIDTH", CLI_COLUMNS),
        mock.patch.object(typer.rich_utils, "FORCE_TERMINAL", False),
        mock.patch.object(typer.rich_utils, "COLOR_SYSTEM", None),
    ):
        yield


class WideCliRunner(CliRunner):
    """A CliRunner whose output reads the same on every machine: 400 columns, no colour, no
    terminal, C.UTF-8 locale and UTC. Every CLI test uses it (see ``cli_runner``)."""

    def invoke(
        self,
        app: typer.Typer,
        args: str | Sequence[str] | None = None,
        input: bytes | str | None = None,
        env: Mapping[str, str | None] | None = None,
        catch_exceptions: bool = True,
        color: bool = False,
        **extra: Any,
    ) -> Result:
        merged = {**FIXED_ENV, **(env or {})}
        with wide_consoles():
            return super().invoke(app, args, input, merged, catch_exceptions, color=False, **extra)


def cli_runner() -> WideCliRunner:
    return WideCliRunner()


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_BOX = re.compile(r"[\u2500-\u257f]")  # rich's panel borders: ╭─╮ │ ╰─╯


def flat(text: str) -> str:
    """``text`` as one line: no escape codes, no panel borders, every run of whitespace one space,
    so an assertion holds however the output was wrapped."""
    return " ".join(_BOX.sub(" ", _ANSI.sub("", text)).split())
