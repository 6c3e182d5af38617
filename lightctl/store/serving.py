"""One serving process per SQLite database: a second ``lightctl serve`` on the same file says so.

SQLite has no row locks across processes and no LISTEN/NOTIFY, and two services would both publish
the same due commands; replicas need PostgreSQL. The claim is an exclusive ``flock`` on a file
beside the database: the kernel drops it when the process ends, even by SIGKILL, so a crashed
service never leaves a stale claim behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from lightctl.errors import LightctlError


class DatabaseInUse(LightctlError):
    """Another process serves this SQLite database."""

    code = "database_in_use"

    def __init__(self, path: Path, holder: str) -> None:
        who = f" (pid {holder})" if holder else ""
        super().__init__(
            f"the SQLite database {path} is already served by another lightctl process{who}: "
            "SQLite allows one serving process; stop the other one, or use PostgreSQL "
            "(LIGHTCTL_DATABASE_URL=postgresql://…) to run several replicas"
        )
        self.path = path
        self.holder = holder


class ServingClaim:
    """Held while a service runs on a SQLite file; ``release`` (or process exit) lets go."""

    def __init__(self, database_file: Path) -> None:
        self.database_file = database_file
        self.lock_file = database_file.with_name(database_file.name + ".serving")
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_file, "a+")  # noqa: SIM115  (held open for the service's life)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            raise DatabaseInUse(self.database_file, holder) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL and in-memory databases)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if not path or path == ":memory:":
        return None
    return Path(path).resolve()
