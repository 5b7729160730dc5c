"""SQL reports (`billing ledger query`, `billing ledger export TABLE`): read-only, SQLite only.

Rows stream lazily (a large export never fills memory); the CLI renders them as a table, CSV,
or JSON / newline-delimited JSON through sqlite-utils' output helper (`json_lines`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from billing_cli.api.context import Context
from billing_cli.errors import InvalidInput
from billing_cli.storage.port import Report, json_lines

__all__ = ["Report", "export", "json_lines", "query"]


@contextmanager
def query(ctx: Context, sql: str) -> Iterator[Report]:
    """The rows of one read-only statement (writes are refused by SQLite itself: exit 4)."""
    if not sql.strip():
        raise InvalidInput("the query is empty", hint='e.g. "SELECT number, total FROM invoices"')
    with ctx.reports() as reports:
        yield reports.query(sql)


@contextmanager
def export(ctx: Context, table: str) -> Iterator[Report]:
    """Every row of one table, in insertion order (exit 3 for a table the ledger lacks)."""
    with ctx.reports() as reports:
        yield reports.export(table)
