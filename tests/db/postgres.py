"""A PostgreSQL database of a test's own, whatever backend the run selected, and a way to end
one of its connections from outside (as a database restart would).

For what exists only on PostgreSQL: the pool's liveness ping, the statements run straight on
asyncpg. tests/db/conftest.py makes ``postgres_url`` a fixture of every test here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from tests.backends import create_postgres_database, drop_postgres_database, unique_name


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped after the test."""
    name = unique_name()
    url = await create_postgres_database(name)
    try:
        yield url
    finally:
        await drop_postgres_database(name)


async def backend_pid(engine: AsyncEngine) -> int:
    """The server process behind the connection ``engine``'s pool hands out next."""
    async with engine.connect() as connection:
        pid: int = (await connection.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one()
        return pid


async def kill(url: str, pid: int) -> None:
    """End backend ``pid`` from a connection of another engine, as a database restart would."""
    other = create_async_engine(url, poolclass=NullPool)
    try:
        async with other.connect() as connection:
            await connection.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
    finally:
        await other.dispose()
