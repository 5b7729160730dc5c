"""SQL reports on the ledger (`billing ledger query`, `billing ledger export TABLE`) through
sqlite-utils, on a connection that cannot write.

The file is opened read-only (SQLite URI `mode=ro`) with `PRAGMA query_only`, so no statement
a user types — an UPDATE, a DELETE, an ATTACH, a pragma that writes — can change the books;
SQLite itself refuses, and the refusal is reported as invalid input. The rows come out through
sqlite-utils' JSON output helper (the same JSON its own CLI prints).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from billing_cli.errors import InvalidInput, NotFound
from billing_cli.storage.port import Report
from billing_cli.storage.sqlite.connection import translated

# What a report may do: read tables, call functions, recurse (WITH RECURSIVE), read a pragma.
# Everything else (ATTACH, which would create or open another file, DETACH, a pragma that sets
# a value, any write) is denied before SQLite runs it.
_ALLOWED = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
}


# pragmas whose argument names what to describe rather than a value to set
_DESCRIBING_PRAGMAS = {
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "foreign_key_check",
    "integrity_check",
    "quick_check",
}


def _authorize(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
    if action in _ALLOWED:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_UPDATE and arg1 == "sqlite_master":
        return sqlite3.SQLITE_OK  # SQLite reading its schema (no write: mode=ro, query_only)
    if action == sqlite3.SQLITE_PRAGMA and (arg2 is None or arg1 in _DESCRIBING_PRAGMAS):
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
    conn.execute("PRAGMA query_only = 1")
    return conn


def _refused(exc: sqlite3.Error, sql: str) -> InvalidInput:
    text = " ".join(str(exc).split())
    if any(w in text for w in ("readonly", "read-only", "query_only", "not authorized")):
        return InvalidInput(
            f"ledger query is read-only: {text}",
            hint="only SELECT (and WITH … SELECT) statements run; the ledger is never changed",
        )
    shown = sql if len(sql) <= 60 else sql[:60] + "…"
    return InvalidInput(f"the query {shown!r} failed: {text}", hint="check the SQL")


class Reports:
    """Read-only SQL on one ledger file (opened once per command)."""

    def __init__(self, path: Path) -> None:
        import sqlite_utils

        self.path = path
        with translated(path):
            self.conn = _connect(path)
        self.db = sqlite_utils.Database(self.conn)

    def close(self) -> None:
        self.conn.close()

    def query(self, sql: str) -> Report:
        self.conn.set_authorizer(_authorize)
        try:
            cursor = self.db.execute(sql)
        except sqlite3.Error as exc:
            raise _refused(exc, sql) from exc
        if cursor.description is None:
            raise InvalidInput(
                "ledger query runs statements that return rows only",
                hint="write a SELECT, e.g. SELECT number, total FROM invoices",
            )
        return Report([c[0] for c in cursor.description], self._rows(cursor, sql))

    def _rows(self, cursor: sqlite3.Cursor, sql: str) -> Iterator[tuple[Any, ...]]:
        try:
            yield from cursor
        except sqlite3.ProgrammingError:
            return  # closed: the reader stopped early (a closed pipe), nothing left to do
        except sqlite3.Error as exc:
            raise _refused(exc, sql) from exc

    def table_names(self) -> list[str]:
        return sorted(self.db.table_names() + self.db.view_names())

    def export(self, table: str) -> Report:
        if table not in self.table_names():
            raise NotFound(
                f"no table {table!r} in the ledger",
                hint=f"tables: {', '.join(self.table_names())}",
            )
        if table in self.db.view_names():
            return self.query(f'SELECT * FROM "{table}"')  # `events`: in meter_events' order
        found = self.db.table(table)
        columns = ", ".join(f'"{c.name}"' for c in found.columns)
        # insertion order; a WITHOUT ROWID table (the usage roll-ups) by its primary key
        order = "rowid"
        if "WITHOUT ROWID" in found.schema.upper():
            order = ", ".join(f'"{pk}"' for pk in found.pks)
        return self.query(f'SELECT {columns} FROM "{table}" ORDER BY {order}')


def json_lines(report: Report, *, nl: bool) -> Iterator[str]:
    """sqlite-utils' JSON output: one array (or, with `nl`, one object per line); JSON text
    held in a column (metadata, explain, taxes) is emitted as JSON, as `sqlite-utils --json-cols`
    does."""
    from sqlite_utils.cli import output_rows

    return output_rows(report.rows, report.headers, nl, False, True)
