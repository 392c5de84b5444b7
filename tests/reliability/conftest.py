"""Fixtures of the reliability tests: a database of each test's own, service processes, an SMTP sink."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import pytest

from sequence_cron.storage.pool import init_connection
from tests.conftest import create_migrated_database as create_shared_migrated_database
from tests.conftest import drop_database
from tests.reliability.processes import ServiceProcess
from tests.servers import free_port
from tests.smtp_sink import SmtpSink


async def create_migrated_database(admin_url: str) -> tuple[str, str]:
    """Create and migrate a database for one reliability test; return (name, url)."""
    return await create_shared_migrated_database(admin_url, "sequence_cron_reliability")


@pytest.fixture
async def own_database(admin_url):
    """A migrated database for this test alone, so that its service processes see no other test's rows."""
    name, url = await create_migrated_database(admin_url)
    yield url
    await drop_database(admin_url, name)


@pytest.fixture
async def own_pool(own_database):
    pool = await asyncpg.create_pool(own_database, min_size=1, max_size=5, init=init_connection)
    yield pool
    await pool.close()


@pytest.fixture
def smtp_sink():
    sink = SmtpSink(free_port()).start()
    yield sink
    sink.stop()


@pytest.fixture
def service_processes(tmp_path) -> Callable[..., ServiceProcess]:
    """Make service processes whose output lives in tmp_path; every one still running is stopped at the end."""
    made: list[ServiceProcess] = []

    def make(name: str, env: dict[str, str], args: list[str] | None = None) -> ServiceProcess:
        if args is None:
            process = ServiceProcess.serve(name, env, tmp_path)
        else:
            process = ServiceProcess(name, args, env, tmp_path)
        made.append(process)
        return process

    yield make
    for process in made:
        process.stop()
