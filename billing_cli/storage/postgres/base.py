"""The PostgreSQL ledger's connection and transactions.

Writers serialize on one transaction-scoped advisory lock, as SQLite's writers do on
BEGIN IMMEDIATE: each hash chain takes `max(seq) + 1` and the previous row's hash, and each
invoice number the customer's next sequence, so two writers must never interleave inside one
chain. Readers never wait: a read is a REPEATABLE READ snapshot, the analogue of SQLite's WAL
read transaction. `lock_timeout` bounds the wait (SQLite's busy timeout).

An import's batch is the exception (`append_write`): its transaction begins without the lock,
so validating, looking up and staging a batch overlap with other writers, and takes it only to
link the batch into the chain. The batch was validated against the invoices finalized and the
catalog as they were when the transaction began; if either moved by the time the lock is
held, the transaction rolls back (StaleBatch) and the batch is validated again under the lock:
the outcome is always one that waiting for the lock first would give.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg

from billing_cli.storage.port import StaleBatch
from billing_cli.storage.postgres.adapter import Connection
from billing_cli.storage.postgres.connection import WRITE_LOCK, connect, display_name, translate


class PgLedgerBase:
    """Holds the connection; the shared store classes add the reads and writes."""

    backend = "postgresql"
    conn: Any
    _staging_ready: bool = False

    def __init__(self, uri: str, *, create: bool) -> None:
        self.uri = uri
        self.name = display_name(uri)
        self.conn = Connection(connect(uri, create=create))
        self._depth = 0
        # In an `append_write()` whose lock is not taken yet: the chain heads the batch is
        # validated against (the invoice chain's and the catalog chain's last seq).
        self._unlocked_marks: tuple[int, int] | None = None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> PgLedgerBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[Any]:
        """One command = one transaction, holding the ledger's write lock until it ends."""
        with self._transaction("BEGIN", lock=True) as conn:
            yield conn

    @contextlib.contextmanager
    def append_write(self) -> Iterator[Any]:
        """The import's transaction: validation, staging and the lookup of known identifiers
        run before the write lock, which `append_events` takes only to link and merge (see
        events.py); inside another write it joins that one, whose lock is held already."""
        if self._depth:
            with self._transaction("BEGIN") as conn:
                yield conn
            return
        with self._transaction("BEGIN") as conn:
            self._unlocked_marks = self._validation_marks()
            try:
                yield conn
            finally:
                self._unlocked_marks = None

    def _validation_marks(self) -> tuple[int, int]:
        """What a batch's validation depends on that another writer may change: finalized
        invoices (late events) and the catalog (meters, customers)."""
        row = self.conn.execute(
            "SELECT (SELECT coalesce(max(seq), 0) FROM invoice_chain),"
            " (SELECT coalesce(max(seq), 0) FROM catalog_chain)"
        ).fetchone()
        return (row[0], row[1])

    def take_write_lock(self) -> None:
        """In an `append_write()`: wait for the write lock now; StaleBatch (the transaction
        rolls back) when an invoice was finalized or the catalog changed since it began."""
        if self._unlocked_marks is None:
            return
        self.conn.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,))
        marks, self._unlocked_marks = self._unlocked_marks, None
        if self._validation_marks() != marks:
            raise StaleBatch

    @contextlib.contextmanager
    def read(self) -> Iterator[Any]:
        """A consistent snapshot for reports that read several tables."""
        with self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") as conn:
            yield conn

    @contextlib.contextmanager
    def _transaction(self, begin: str, *, lock: bool = False) -> Iterator[Any]:
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        try:
            self.conn.execute(begin)
            if lock:
                self.conn.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,))
        except psycopg.Error as exc:
            self._rollback()
            raise translate(exc, self.uri) from exc
        self._depth = 1
        try:
            yield self.conn
        except psycopg.Error as exc:
            self._rollback()
            raise translate(exc, self.uri) from exc
        except BaseException:
            self._rollback()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except psycopg.Error as exc:
                self._rollback()
                raise translate(exc, self.uri) from exc
        finally:
            self._depth = 0

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """A step inside the open write transaction that can fail alone: on an exception its
        writes are undone and the rest of the transaction stands."""
        try:
            self.conn.execute("SAVEPOINT step")
        except psycopg.Error as exc:
            raise translate(exc, self.uri) from exc
        try:
            yield
        except BaseException:
            with contextlib.suppress(psycopg.Error):
                self.conn.execute("ROLLBACK TO step")
                self.conn.execute("RELEASE step")
            raise
        try:
            self.conn.execute("RELEASE step")
        except psycopg.Error as exc:
            raise translate(exc, self.uri) from exc

    def _rollback(self) -> None:
        # The import's staging tables (events.py) vanish with the transaction that created them.
        self._staging_ready = False
        with contextlib.suppress(psycopg.Error):
            self.conn.execute("ROLLBACK")
