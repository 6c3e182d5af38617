"""Helpers shared by the test suites: free ports, a broker the test owns, the test DB URL."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
                [binary, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
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


class RecordingLink:
    """Stands in for the MQTT link: every publish is kept as (topic, payload, expiry_s)."""

    connected = True

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, int | None]] = []

    def publish(
        self, topic: str, payload: bytes, qos: int = 1, expiry_s: int | None = None
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
