"""`ledger check` and `ledger backup` on PostgreSQL: what differs from the SQLite file.

The chain walks (`first_missing_seq`, `chain_heads`) are the SQLite store's SQL. There are no
file pages to walk (the server checksums its own), foreign keys cannot be switched off by a
session, and a consistent copy of a database is pg_dump's job, which `ledger backup` says, or
`billing ledger copy` into an SQLite file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from billing_cli.errors import LedgerError
from billing_cli.storage.port import BackupCopy
from billing_cli.storage.postgres.connection import translate
from billing_cli.storage.sqlite.maintenance import ROWID_ORDERED, MaintenanceStore


class PgMaintenanceStore(MaintenanceStore):
    conn: Any
    name: str
    uri: str

    def table_rows(self, table: str, columns: list[str]) -> Iterator[tuple[object, ...]]:
        """As the shared store's, streamed through a server-side cursor (a million events
        never sit in memory at once); call inside a transaction."""
        order = " ORDER BY rowid" if table in ROWID_ORDERED else ""
        with self.conn.raw.cursor(name=f"copy_{table}") as cur:
            cur.itersize = 10_000
            cur.execute(f"SELECT {', '.join(columns)} FROM {table}{order}")  # type: ignore[arg-type]
            for row in cur:
                yield tuple(row)

    def page_problems(self) -> list[str]:
        """None to report: PostgreSQL verifies its own pages (data checksums)."""
        return []

    def schema_problems(self) -> list[str]:
        """Tables, indexes, triggers, functions, views, rules and policies against what the
        migrations build (schema_check.py): a trigger dropped or disabled is named."""
        from billing_cli.storage.postgres.schema_check import schema_problems

        try:
            return schema_problems(self.conn, self.uri)
        except psycopg.Error as exc:
            raise translate(exc, self.uri) from exc

    def foreign_key_problems(self) -> list[str]:
        """None to report: PostgreSQL enforces every foreign key on every write."""
        return []

    def remove_stale_backup_files(self) -> list[tuple[Path, int]]:
        """None: `ledger backup` writes no files for a PostgreSQL ledger."""
        return []

    def backup(self, target: Path) -> BackupCopy:
        raise LedgerError(
            f"the ledger {self.name} is a PostgreSQL database: back it up with pg_dump",
            hint=f"pg_dump --format=custom --file={target} 'URI' (pg_restore restores it), or "
            f"`billing ledger copy 'URI' {target}` for an SQLite copy",
        )
