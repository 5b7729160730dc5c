"""The Ledger object: one connection, explicit transactions, SQLite errors translated."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from billing_cli.storage.sqlite.connection import connect, file_key, release, translated


def where_equal(filters: Iterable[tuple[str, object]]) -> tuple[str, list[object]]:
    """`WHERE column = ? AND …` for the (column, value) filters whose value is not None (None:
    not filtered; the columns are the caller's constants, never user text), and its params."""
    given = [(column, value) for column, value in filters if value is not None]
    where = " AND ".join(f"{column} = ?" for column, _ in given)
    return (f"WHERE {where}" if given else ""), [value for _, value in given]


class LedgerBase:
    """Holds the connection; mixins add the reads and writes of each domain area."""

    backend = "sqlite"

    def __init__(self, path: Path, *, create: bool, any_thread: bool = False) -> None:
        self.path = path
        self.name = str(path)
        self.conn = connect(path, create=create, any_thread=any_thread)
        self.file = file_key(path)  # the file opened, whatever the path names later
        self.conn.row_factory = sqlite3.Row
        self._depth = 0

    def close(self) -> None:
        self.conn.close()
        release(self.path, self.file)

    def __enter__(self) -> LedgerBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One command = one transaction; BEGIN IMMEDIATE so writers queue instead of failing."""
        with self._transaction("BEGIN IMMEDIATE") as conn:
            yield conn

    def append_write(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """The import's write: `write()` (the lock taken up front, as ever on SQLite)."""
        return self.write()

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for reports that read several tables."""
        with self._transaction("BEGIN") as conn:
            yield conn

    @contextlib.contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        with translated(self.path):
            self.conn.execute(begin)
            self._depth = 1
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
            finally:
                self._depth = 0

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """A step inside the open write transaction that can fail alone: on an exception its
        writes are undone and the rest of the transaction stands (invoice run refuses one
        subscription and still closes the others)."""
        with translated(self.path):
            self.conn.execute("SAVEPOINT step")
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK TO step")
                self.conn.execute("RELEASE step")
                raise
            self.conn.execute("RELEASE step")

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")
