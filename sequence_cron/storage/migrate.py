"""Apply the plain SQL files of `migrations/` in name order, each once, recorded in a ledger table."""

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from loguru import logger

from sequence_cron.exceptions import MigrationError

LEDGER_TABLE = "cron_migrations"
# Any constant works, as long as it is the same in every replica: two replicas that start at the same
# moment run their migrations one after the other instead of racing on CREATE statements.
MIGRATION_LOCK_KEY = 7_311_202_604


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_folder() -> Path:
    """Return MIGRATIONS_DIR when set, else the repository's `migrations/` beside the package."""
    configured = os.environ.get("MIGRATIONS_DIR", "").strip()
    folder = Path(configured) if configured else Path(__file__).resolve().parents[2] / "migrations"
    if not folder.is_dir():
        raise MigrationError(
            f"migrations folder {folder} not found; set MIGRATIONS_DIR to the folder that contains the .sql files"
        )
    return folder


def load_migrations(folder: Path) -> list[Migration]:
    migrations = [Migration(path.name, path.read_text()) for path in sorted(folder.glob("*.sql"))]
    if not migrations:
        raise MigrationError(f"migrations folder {folder} has no .sql files; set MIGRATIONS_DIR to the right folder")
    return migrations


async def migrate(connection: asyncpg.Connection, folder: Path | None = None) -> list[str]:
    """Apply the migrations not yet in the ledger; return the names of those applied now."""
    migrations = load_migrations(folder or migrations_folder())
    await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await connection.execute(
            f"""CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (
                name text PRIMARY KEY,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )"""
        )
        applied = {
            row["name"]: row["checksum"]
            for row in await connection.fetch(f"SELECT name, checksum FROM {LEDGER_TABLE}")
        }
        done = []
        for migration in migrations:
            if migration.name in applied:
                if applied[migration.name] != migration.checksum:
                    logger.bind(event="migration_changed", migration=migration.name).warning(
                        "migration {} changed after it was applied; it is not applied again", migration.name
                    )
                continue
            try:
                async with connection.transaction():
                    await _apply(connection, migration)
            except asyncpg.PostgresError as error:
                raise MigrationError(f"migration {migration.name} failed and was rolled back: {error}") from error
            logger.bind(event="migration_applied", migration=migration.name).info("applied migration {}", migration.name)
            done.append(migration.name)
        return done
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)


async def _apply(connection: asyncpg.Connection, migration: Migration) -> None:
    await connection.execute(migration.sql)
    await connection.execute(
        f"INSERT INTO {LEDGER_TABLE} (name, checksum) VALUES ($1, $2)",
        migration.name,
        migration.checksum,
    )
