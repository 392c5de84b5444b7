"""`python -m sequence_cron` child processes for the reliability tests, with output kept in files."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import orjson

from tests.servers import free_port
from tests.smtp_sink import SmtpSink

KEPT_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "TMPDIR", "VIRTUAL_ENV")


def base_environment() -> dict[str, str]:
    """The test runner's PATH and locale, without any of the service's own variables."""
    return {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}


def serve_environment(database_url: str, redis_url: str | None, **overrides: str) -> dict[str, str]:
    """Settings of a `serve` process that ticks both jobs every second and logs JSON lines."""
    env = {
        "DATABASE_URL": database_url,
        "REDIS_KEY_PREFIX": f"sequence-cron-reliability-{secrets.token_hex(4)}:",
        "CAMPAIGN_CRON_SCHEDULE": "* * * * * *",
        "NODE_TIMEOUT_CRON_SCHEDULE": "* * * * * *",
        "LOG_FORMAT": "json",
        "EMAIL_PROVIDER": "log",
    }
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    env.update(overrides)
    return env


def smtp_environment(sink: SmtpSink) -> dict[str, str]:
    return {
        "EMAIL_PROVIDER": "smtp",
        "SMTP_URL": f"smtp://127.0.0.1:{sink.port}",
        "FROM_ADDRESS": "sender@example.com",
    }


class ServiceProcess:
    """One `python -m sequence_cron ARGS` process; standard output and error go to files in `folder`.

    Files, not pipes: a pipe that no one reads fills up and blocks a chatty child.
    """

    def __init__(self, name: str, args: list[str], env: dict[str, str], folder: Path, port: int | None = None):
        self.name = name
        self.args = args
        self.port = port
        self.env = {**base_environment(), **env}
        if port is not None:
            self.env.update({"PORT": str(port), "HTTP_HOST": "127.0.0.1"})
        self.stdout_path = folder / f"{name}.stdout"
        self.stderr_path = folder / f"{name}.stderr"
        self.process: subprocess.Popen | None = None

    @classmethod
    def serve(cls, name: str, env: dict[str, str], folder: Path) -> ServiceProcess:
        return cls(name, ["serve"], env, folder, port=free_port())

    def start(self) -> ServiceProcess:
        # Append, so that a restarted process keeps the output of the one before it.
        with open(self.stdout_path, "ab") as stdout, open(self.stderr_path, "ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sequence_cron", *self.args], env=self.env, stdout=stdout, stderr=stderr
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def send_signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def kill(self) -> int:
        """SIGKILL the process and reap it; return its exit code (-9)."""
        self.send_signal(signal.SIGKILL)
        return self.process.wait(10)

    async def wait(self, timeout: float) -> int:
        return await asyncio.to_thread(self.process.wait, timeout)

    def stop(self) -> None:
        """End the process if it still runs, first politely, then with SIGKILL."""
        if not self.running():
            return
        self.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def log_records(self) -> list[dict]:
        """The JSON log lines (LOG_FORMAT=json) written to standard error so far."""
        records = []
        for line in self.stderr().splitlines():
            if line.startswith("{"):
                try:
                    records.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    pass  # A line cut off mid-write by SIGKILL.
        return records

    def events(self, name: str, **fields) -> list[dict]:
        return [
            record
            for record in self.log_records()
            if record.get("event") == name and all(record.get(key) == value for key, value in fields.items())
        ]

    async def get(self, path: str, method: str = "GET", **kwargs) -> tuple[int, dict | str]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            async with session.request(method, f"http://127.0.0.1:{self.port}{path}", **kwargs) as response:
                text = await response.text()
                try:
                    return response.status, orjson.loads(text)
                except orjson.JSONDecodeError:
                    return response.status, text

    async def wait_until_serving(self, deadline_s: float = 30) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if not self.running():
                raise AssertionError(f"{self.name} exited with {self.process.returncode}: {self.stderr()[-2000:]}")
            try:
                await self.get("/health")
                return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} did not answer on port {self.port} within {deadline_s:g} s")

    async def job(self, name: str) -> dict:
        _, body = await self.get("/jobs")
        return next(job for job in body["jobs"] if job["name"] == name)


async def wait_for(condition, deadline_s: float, interval_s: float = 0.2, message: str = "condition"):
    """Poll the async or plain `condition` until it returns a true value, and return that value."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} not reached within {deadline_s:g} s")
        await asyncio.sleep(interval_s)
