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
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from billing_cli.errors import Conflict, LedgerError
from billing_cli.ledger.connection import translate
from billing_cli.ledger.schema import APPLICATION_ID

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
)


@dataclass(frozen=True)
class BackupCopy:
    """What was written: the copy's size, schema version and row counts (its snapshot)."""

    path: Path
    bytes: int
    schema_version: int
    counts: dict[str, int]


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per table, read in one transaction so they describe one moment."""
    conn.execute("BEGIN")
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COUNTED_TABLES}
    finally:
        conn.execute("COMMIT")


def _remove(path: Path) -> None:
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        with contextlib.suppress(FileNotFoundError):
            name.unlink()


def _fsync(path: Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MaintenanceStore:
    conn: sqlite3.Connection
    path: Path

    def backup(self, target: Path) -> BackupCopy:
        """Copy this ledger to `target` (absent or zero bytes) through the online backup API."""
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
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
            _remove(tmp)
            raise
        with contextlib.suppress(OSError):
            _fsync(target.parent, directory=True)
        return BackupCopy(target, size, version, counts)

    def _copy_into(self, tmp: Path) -> tuple[int, dict[str, int]]:
        """Copy every page from one read snapshot, then check the copy is a whole ledger."""
        dst = sqlite3.connect(tmp, isolation_level=None)
        try:
            try:
                self.conn.backup(dst, pages=-1)
            except sqlite3.Error as exc:
                raise translate(exc, self.path) from exc
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
        except sqlite3.Error as exc:
            raise translate(exc, tmp) from exc
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
