"""The demo's embedded MQTT broker: Mosquitto when installed, else amqtt in this process.

Given credentials (what ``lightctl demo`` always passes) it is locked down like production: the
password file, ACL and config `lightctl mqtt credentials` writes, no anonymous clients, and one
listener on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from lightctl.security import broker as lockdown
from lightctl.security.broker_acl import password_digest

log = logging.getLogger(__name__)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(preferred: int) -> int:
    """``preferred`` if it is free, else (or for 0) any free port."""
    if preferred and port_is_free(preferred):
        return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def find_mosquitto() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if Path(candidate).exists():
            return candidate
    return None


class EmbeddedBroker:
    """Starts a broker on 127.0.0.1; ``url`` says where. ``kind`` is "mosquitto" or "amqtt".

    With ``credentials`` only their accounts get in, each limited by the generated ACL for the
    topic ``roots``; the files (``credentials.json`` for the simulator, ``service.password``)
    are written to ``data_dir``. Without, anyone on 127.0.0.1 may connect (tests only).
    """

    def __init__(
        self,
        data_dir: Path,
        preferred_port: int = 1883,
        prefer_mosquitto: bool = True,
        credentials: lockdown.BrokerCredentials | None = None,
        roots: tuple[str, ...] = ("lightctl",),
    ):
        self.data_dir = data_dir
        self.port = pick_port(preferred_port)
        self.prefer_mosquitto = prefer_mosquitto
        self.credentials = credentials
        self.roots = roots
        self.kind = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Any = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = find_mosquitto() if self.prefer_mosquitto else None
        if binary:
            self._start_mosquitto(binary)
        else:
            self._start_amqtt()

    @classmethod
    def locked_down(
        cls,
        data_dir: Path,
        lantern_ids: list[str],
        preferred_port: int = 1883,
        prefer_mosquitto: bool = True,
    ) -> EmbeddedBroker:
        """The demo's broker: accounts for the service and the simulator's gateways (the ones
        `firmware-sim` forms from the inventory), each lantern's ack key, nobody else."""
        creds = lockdown.BrokerCredentials.generate(
            [], lockdown.simulator_gateways(lantern_ids), ack_keys_for=lantern_ids
        )
        return cls(data_dir, preferred_port, prefer_mosquitto, credentials=creds)

    @property
    def credentials_file(self) -> Path:
        """Every generated password and ack key (0600): what `firmware-sim --credentials` reads."""
        return self.data_dir / lockdown.SECRETS_FILE

    @property
    def service_password_file(self) -> Path:
        return self.data_dir / lockdown.SERVICE_PASSWORD_FILE

    def _write_lockdown(self) -> None:
        if self.credentials is None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lockdown.write_all(self.data_dir, self.credentials, self.roots)

    def _start_mosquitto(self, binary: str) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "mosquitto-demo.conf"
        if self.credentials is not None:
            self._write_lockdown()
            text = lockdown.conf_text(
                self.data_dir.resolve(), self.port, None, tls=False, bind="127.0.0.1"
            )
            # Started as root, Mosquitto drops to user `mosquitto`, which cannot read the 0600
            # password file we own; stay who we are instead.
            conf.write_text(("user root\n" if os.geteuid() == 0 else "") + text)
        else:
            conf.write_text(
                f"listener {self.port} 127.0.0.1\n"
                "allow_anonymous true\n"
                "persistence false\n"
                # Mosquitto's default queue of 1000 drops QoS 1 commands for a busy gateway.
                "max_queued_messages 0\n"
                "max_inflight_messages 100\n"
            )
        log_file = (self.data_dir / "mosquitto.log").open("ab")
        self._proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log_file, stderr=log_file)
        if not wait_listening(self.port, 10):
            self.stop()
            raise RuntimeError(f"mosquitto did not start on port {self.port}")
        self.kind = "mosquitto"

    def _start_amqtt(self) -> None:
        ready: Future[None] = Future()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._amqtt_main(ready))
            # BLE001: any failure is handed to start(), which re-raises it in its caller.
            except Exception as exc:  # noqa: BLE001
                if not ready.done():
                    ready.set_exception(exc)
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="amqtt-broker", daemon=True)
        self._thread.start()
        ready.result(timeout=15)
        self.kind = "amqtt"

    async def _amqtt_main(self, ready: Future[None]) -> None:
        from amqtt.broker import Broker

        plugins: dict[str, Any] = {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
        }
        creds = self.credentials
        if creds is not None:
            self._write_lockdown()
            users = {name: password_digest(pw) for name, pw in creds.users()}
            plugins = {
                "lightctl.security.broker_acl.PasswordAuth": {"users": users},
                "lightctl.security.broker_acl.AclTopics": {
                    "acl": lockdown.acl_text(creds, self.roots)
                },
            }
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": plugins,
        }
        self._broker = Broker(config)
        await self._broker.start()
        self._stop_event = asyncio.Event()
        ready.set_result(None)
        await self._stop_event.wait()
        await self._broker.shutdown()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
            self._thread.join(timeout=10)
            self._thread = None
