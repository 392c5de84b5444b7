"""Named SQL queries, kept in .sql files beside this module and loaded once.

A file contains sections that each start with a line `-- name: query_name`; the text up to the next
such line is the query. Parameters are positional ($1, $2, ...) with explicit casts.
"""

from functools import cache
from pathlib import Path

SQL_FOLDER = Path(__file__).parent


@cache
def load_queries(file_name: str) -> dict[str, str]:
    """Return the named queries of one .sql file in this folder."""
    queries: dict[str, str] = {}
    name = None
    lines: list[str] = []
    for line in (SQL_FOLDER / file_name).read_text().splitlines():
        if line.startswith("-- name:"):
            if name is not None:
                queries[name] = "\n".join(lines).strip()
            name = line.removeprefix("-- name:").strip()
            lines = []
        elif name is not None:
            lines.append(line)
    if name is not None:
        queries[name] = "\n".join(lines).strip()
    return queries
