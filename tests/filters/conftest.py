"""Fixtures of the filter tests: one throw-away database per session and a connection to it."""

from __future__ import annotations

import pytest_asyncio

from filters.database import connect, create_database, drop_database


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database_name():
    name = await create_database()
    yield name
    await drop_database(name)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def connection(database_name):
    connection = await connect(database_name)
    yield connection
    await connection.close()
