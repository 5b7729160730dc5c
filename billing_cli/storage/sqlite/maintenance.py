"""Consistent backups of the ledger file (SPEC 5: `billing ledger backup PATH`).

Why not `cp`: a copy of a live WAL ledger taken file by file can pair a main file from one
moment with a WAL from another, or miss the WAL altogether. SQLite's online backup API copies
every page from one read snapshot instead; in WAL mode that snapshot does not block writers,
so a backup is safe while imports and invoice runs go on. Copying all pages in one step
(`pages=-1`) matters: a step-by-step backup restarts whenever another process writes, and could
never finish under a steady stream of events.

The copy is written to a private temporary file beside PATH, checked, flushed to disk, and only
then given its name, so PATH is either absent or a complete ledger, never half a file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from billing_cli.errors import Conflict, LedgerError
from billing_cli.storage.dialect import SQLITE, Dialect
from billing_cli.storage.port import CHAIN_TABLES, BackupCopy
from billing_cli.storage.sqlite.backup_files import (
    remove_stale,
    remove_with_companions,
    temp_path,
)
from billing_cli.storage.sqlite.connection import translated
from billing_cli.storage.sqlite.schema import APPLICATION_ID

COUNTED_TABLES = (
    "meters",
    "products",
    "prices",
    "customers",
    "subscriptions",
    "subscription_items",
    "meter_events",
    "meter_event_adjustments",
    "invoices",
    "invoice_lines",
    "invoice_chain",
    "catalog_chain",
    "credit_grants",
    "credit_balance_transactions",
)

# Tables listed in the order their rows were written (SQLite's rowid; PostgreSQL's identity
# column of the same name): a copy writes them in that order.
ROWID_ORDERED = (
    "meters",
    "products",
    "prices",
    "customers",
    "subscriptions",
    "subscription_items",
    "tax_rates",
)


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per table, read in one transaction so they describe one moment."""
    conn.execute("BEGIN")
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COUNTED_TABLES}
    finally:
        conn.execute("COMMIT")


def _fsync(path: Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MaintenanceStore:
    conn: sqlite3.Connection
    sql: Dialect = SQLITE
    path: Path

    def first_missing_seq(self, table: str) -> int | None:
        """The first `seq` absent from a chain table below its greatest (a deleted row)."""
        assert table in CHAIN_TABLES
        count, first, top = self.conn.execute(
            f"SELECT count(*), min(seq), max(seq) FROM {table}"
        ).fetchone()
        if count == (top or 0):
            return None
        if first > 1:
            return 1
        row = self.conn.execute(
            f"SELECT a.seq + 1 FROM {table} a WHERE a.seq < ? AND NOT EXISTS"
            f" (SELECT 1 FROM {table} b WHERE b.seq = a.seq + 1) ORDER BY a.seq LIMIT 1",
            (top,),
        ).fetchone()
        return None if row is None else row[0]

    def schema_problems(self) -> list[str]:
        """Tables, indexes and triggers that differ from the ones billing creates (a dropped
        append-only trigger above all): `schema_check`."""
        from billing_cli.storage.sqlite.schema_check import schema_problems

        return schema_problems(self.conn)

    def chain_hash_at(self, table: str, seq: int) -> str | None:
        """The hash of a chain's row `seq` (None when there is no such row)."""
        assert table in CHAIN_TABLES
        row = self.conn.execute(f"SELECT hash FROM {table} WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else row[0]

    def page_problems(self) -> list[str]:
        """SQLite's own walk of every page (`PRAGMA quick_check`): a damaged page in a table
        no other check reads (a meter, a price) is found here. Empty when the file is sound."""
        rows = [row[0] for row in self.conn.execute("PRAGMA quick_check(20)")]
        if rows == ["ok"]:
            return []
        lines = [line.strip() for row in rows for line in str(row).splitlines()]
        return [f"damaged file: {line}" for line in lines if line and not line.startswith("***")]

    # -- whole-ledger copies (storage/copy.py) -----------------------------------------------
    def table_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute(self.sql.table_names)]

    def table_columns(self, table: str) -> list[str]:
        return [r[0] for r in self.conn.execute(self.sql.table_columns, (table,))]

    def table_rows(self, table: str, columns: list[str]) -> Iterator[tuple[object, ...]]:
        """Every row, in the order it was written where the table keeps one (rowid)."""
        order = " ORDER BY rowid" if table in ROWID_ORDERED else ""
        sql = f"SELECT {', '.join(columns)} FROM {table}{order}"
        for row in self.conn.execute(sql):
            yield tuple(row)

    def insert_rows(self, table: str, columns: list[str], rows: list[tuple[object, ...]]) -> None:
        marks = ",".join("?" * len(columns))
        self.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def copy_invoice_status(self, invoice_id: str, status: str) -> None:
        """One status step of a copied invoice (the triggers check it as any other)."""
        self.conn.execute("UPDATE invoices SET status = ? WHERE id = ?", (status, invoice_id))

    def chain_heads(self) -> dict[str, dict[str, object]]:
        """Per chain table: its last `seq` and that row's hash. Written down somewhere else
        (a cron log), they let a later `ledger check` notice rows cut off the end of a chain,
        which no hash inside the file can reveal."""
        heads: dict[str, dict[str, object]] = {}
        for table in CHAIN_TABLES:
            row = self.conn.execute(
                f"SELECT seq, hash FROM {table} ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            heads[table] = {"seq": row[0] if row else 0, "hash": row[1] if row else None}
        return heads

    def backup(self, target: Path) -> BackupCopy:
        """Copy this ledger to `target` (absent or zero bytes) through the online backup API;
        first remove what killed backups left in its folder (`backup_files`)."""
        removed = remove_stale(target.parent)
        tmp = temp_path(target)
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except OSError as exc:
            raise LedgerError(
                f"cannot write the backup {target}: {exc.strerror}",
                hint="check that the folder exists and is writable",
            ) from exc
        os.close(fd)
        try:
            version, counts = self._copy_into(tmp)
            size = tmp.stat().st_size
            _fsync(tmp)
            _publish(tmp, target)
        except BaseException:
            remove_with_companions(tmp)
            raise
        with contextlib.suppress(OSError):
            _fsync(target.parent, directory=True)
        return BackupCopy(target, size, version, counts, tuple(removed))

    def remove_stale_backup_files(self) -> list[tuple[Path, int]]:
        """What killed `ledger backup`s left beside the ledger (`ledger check` tidies up)."""
        return remove_stale(self.path.parent)

    def _copy_into(self, tmp: Path) -> tuple[int, dict[str, int]]:
        """Copy every page from one read snapshot, then check the copy is a whole ledger."""
        dst = sqlite3.connect(tmp, isolation_level=None)
        try:
            with translated(self.path):  # reading the ledger
                self.conn.backup(dst, pages=-1)
            with translated(tmp):  # writing and checking the copy
                dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                check = dst.execute("PRAGMA quick_check").fetchone()[0]
                app_id = dst.execute("PRAGMA application_id").fetchone()[0]
                version = dst.execute("PRAGMA user_version").fetchone()[0]
                if check != "ok" or app_id != APPLICATION_ID:
                    raise LedgerError(
                        f"the backup of {self.path} failed its check ({check})",
                        hint="run `billing ledger check` on the ledger; nothing was written",
                    )
                return version, table_counts(dst)
        finally:
            dst.close()


def _publish(tmp: Path, target: Path) -> None:
    """Give the finished copy its name without ever replacing a non-empty file: a hard link
    fails if the name exists (a zero-byte file, a new ledger for SPEC 5, may be replaced)."""
    if target.exists() and target.stat().st_size == 0:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError as exc:
        raise Conflict(
            f"{target} appeared while the backup was written; it was left as it is",
            hint="give a new path",
        ) from exc
    except OSError:  # a filesystem without hard links: rename (PATH was absent just before)
        os.replace(tmp, target)
        return
    tmp.unlink()
