"""Opening, checking, migrating and transacting on the SQLite ledger file.

Why so careful: the ledger is the company's books. A file that is not ours, or that a newer
program wrote, must be refused before anything (not even the WAL switch) touches it, and every
SQLite failure a user can cause (locked, read-only, full, corrupt) must reach them as one clear
`LedgerError` line, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from billing_cli.errors import Conflict, LedgerError, NotFound
from billing_cli.storage.sqlite.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

SQLITE_HEADER = b"SQLite format 3\x00"
# Long enough for a month-end close of a large ledger to finish before a concurrent import
# gives up (a close of 1,000 customers / 1,000,000 events holds the lock about 5 s here).
DEFAULT_BUSY_TIMEOUT_MS = 30_000


def busy_timeout_ms() -> int:
    """Writers wait this long for each other; BILLING_BUSY_TIMEOUT_MS lets tests shorten it."""
    raw = os.environ.get("BILLING_BUSY_TIMEOUT_MS", "")
    return int(raw) if raw.isdigit() else DEFAULT_BUSY_TIMEOUT_MS


def _primary(name: str) -> str:
    """SQLITE_READONLY_DBMOVED -> SQLITE_READONLY: the primary result code's name."""
    return "_".join(name.split("_")[:2])


def translate(exc: sqlite3.Error, path: Path) -> Exception:
    """Map an SQLite failure to the error a user should see (SPEC 5.2, exit 6 or 5).

    Decided by SQLite's result code names (`sqlite_errorname`, extended codes included), never
    by message text, which SQLite may reword. An error without a code (a closed connection, a
    parameter of the wrong type) comes from this program, not from the file: it is returned
    as is and surfaces as an internal error (exit 1), as a bug should.
    """
    name = getattr(exc, "sqlite_errorname", None)
    if not name:
        return exc
    text = " ".join(str(exc).split())
    primary = _primary(name)
    if name == "SQLITE_CONSTRAINT_TRIGGER":  # migration 2's append-only triggers refused it
        return LedgerError(
            f"the ledger {path} refused the change: {text}",
            hint="corrections are new rows: cancel an event, void an invoice",
        )
    if primary == "SQLITE_CONSTRAINT":
        if name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"):
            return Conflict(f"{text} (another command wrote the same object first)")
        return Conflict(f"the ledger refused the change: {text}")
    if primary in ("SQLITE_BUSY", "SQLITE_LOCKED"):
        return LedgerError(
            f"the ledger {path} is locked by another process "
            f"(waited {busy_timeout_ms() / 1000:g} s)",
            hint="retry when the other billing command has finished",
        )
    if primary == "SQLITE_READONLY":
        return LedgerError(
            f"the ledger {path} is read-only", hint="check the file's and its folder's permissions"
        )
    if primary == "SQLITE_FULL":
        return LedgerError(f"the disk holding {path} is full", hint="free space and retry")
    if primary == "SQLITE_NOTADB":
        return LedgerError(
            f"{path} is not a billing ledger ({text})",
            hint="point --db (or BILLING_DB) at a ledger created by billing, or at a new path",
        )
    if primary == "SQLITE_CORRUPT" or name == "SQLITE_IOERR_SHORT_READ":
        return LedgerError(
            f"the ledger {path} is damaged ({text})",
            hint="restore it from a backup made with `billing ledger backup`",
        )
    if primary == "SQLITE_CANTOPEN":
        return LedgerError(f"cannot open the ledger {path} ({text})", hint="check the path")
    if primary == "SQLITE_IOERR":
        return LedgerError(
            f"cannot read or write the ledger {path} ({text}, {name})",
            hint="check the disk and the file system; `billing ledger check` verifies the file",
        )
    return LedgerError(
        f"ledger error on {path}: {text} ({name})",
        hint="`billing ledger check` verifies the file; restore it from a backup if damaged",
    )


@contextlib.contextmanager
def translated(path: Path) -> Iterator[None]:
    """The boundary: inside it, any SQLite failure leaves as a BillingError (or a bug)."""
    try:
        yield
    except sqlite3.Error as exc:
        user_error = translate(exc, path)
        if user_error is exc:
            raise
        raise user_error from exc


def _create_private_file(path: Path) -> None:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    os.close(fd)


def _check_header(path: Path) -> None:
    try:
        with open(path, "rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise LedgerError(
            f"cannot read the ledger {path}: {exc.strerror}",
            hint="check the file's and its folder's permissions",
        ) from exc
    if header[: len(SQLITE_HEADER)] != SQLITE_HEADER:
        raise LedgerError(
            f"{path} is not a billing ledger (not an SQLite file)",
            hint="point --db (or BILLING_DB) at a ledger created by billing, or at a new path",
        )
    _check_length(path, header)


def _check_length(path: Path, header: bytes) -> None:
    """A file cut short (a copy that stopped half-way) is named as such, before SQLite opens it:
    SQLite would only say "database disk image is malformed", which sends people hunting for
    the wrong problem. (A file is "short" when its header counts more pages than it holds.)

    Only checked with no WAL content beside the file: while a checkpoint runs, page 1 (with the
    new size) is written before the pages that extend the file, so a live ledger may briefly
    look short. At rest (every billing command checkpoints on close) the sizes must agree.
    """
    wal = path.with_name(path.name + "-wal")
    if len(header) < 100 or (wal.exists() and wal.stat().st_size > 0):
        return
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    size_valid = header[24:28] == header[92:96]
    actual = path.stat().st_size
    if size_valid and pages and actual < pages * page_size:
        raise LedgerError(
            f"{path} is damaged: it holds {actual} bytes, its header says {pages * page_size}"
            " (truncated)",
            hint="restore it from a backup made with `billing ledger backup`",
        )


# Ledger files this process holds open through SQLite: (device, inode) → open connections.
# POSIX drops every lock a process holds on a file as soon as the process closes *any*
# descriptor of that file. Reading a ledger's header with a plain open() while another
# connection of this process holds SQLite's locks on it would silently drop those locks, and
# another process could then take the ledger for unused, checkpoint it and delete its WAL under
# the live connections ("database disk image is malformed"). One process holds several
# connections at once only in `billing serve`; a file it already holds open was checked when it
# was first opened, so its header is not read again. Counted before SQLite opens the file, so
# no connection of this process can hold a lock while a header is being read.
_HELD: dict[tuple[int, int], int] = {}
_HELD_LOCK = threading.Lock()


def _file_key(path: Path) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_dev, info.st_ino


def file_key(path: Path) -> tuple[int, int] | None:
    """The file now at `path` (device, inode), None if there is none."""
    try:
        return _file_key(path)
    except OSError:
        return None


def release(path: Path, key: tuple[int, int] | None = None) -> None:
    """A connection made by `connect` was closed (`key`: the file it was opened on, which a
    long-lived connection passes since the path may name another file by now)."""
    with contextlib.suppress(OSError), _HELD_LOCK:
        key = key or _file_key(path)
        if _HELD.get(key, 0) > 1:
            _HELD[key] -= 1
        else:
            _HELD.pop(key, None)


def _check_writable(path: Path) -> None:
    """Refuse a write command on a read-only ledger before SQLite opens it (and leaves -wal and
    -shm files beside it), so the refusal changes nothing at all."""
    if not os.access(path, os.W_OK):
        raise LedgerError(
            f"the ledger {path} is read-only", hint="check the file's and its folder's permissions"
        )


def connect(path: Path, *, create: bool, any_thread: bool = False) -> sqlite3.Connection:
    """Open (and if `create`, make) a ledger, refusing foreign or newer files untouched;
    `any_thread`: used by one thread at a time, not always the same (`storage.sqlite.held`)."""
    try:
        exists = path.exists()
        is_dir = exists and path.is_dir()
        empty = not exists or path.stat().st_size == 0
    except OSError as exc:  # a name too long, a folder this user may not enter
        raise LedgerError(f"cannot open the ledger {path}: {exc.strerror}") from exc
    if is_dir:
        raise LedgerError(f"{path} is a directory, not a billing ledger", hint="give a file path")
    if not exists and not create:
        raise NotFound(
            f"no ledger at {path}",
            hint="create objects first (e.g. `billing meter create …`) or pass --db PATH",
        )
    with translated(path):
        if not exists:
            try:
                _create_private_file(path)
            except FileExistsError:
                pass
            except OSError as exc:
                raise LedgerError(f"cannot create the ledger {path}: {exc.strerror}") from exc
        elif create:
            _check_writable(path)
        with _HELD_LOCK:
            key = _file_key(path)
            if exists and not empty and not _HELD.get(key):
                _check_header(path)
            _HELD[key] = _HELD.get(key, 0) + 1
        try:
            conn = sqlite3.connect(
                path,
                isolation_level=None,
                timeout=busy_timeout_ms() / 1000,
                check_same_thread=not any_thread,
            )
        except BaseException:
            release(path)
            raise
        try:
            _check_identity(conn, path)
            conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")
            conn.execute("PRAGMA foreign_keys = ON")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                _migrate(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            release(path)
            raise
    return conn


def _check_identity(conn: sqlite3.Connection, path: Path) -> None:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if app_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"{path} was written by a newer billing_cli (schema {version}, "
                f"this program knows {SCHEMA_VERSION})",
                hint="upgrade billing_cli (pip install -U billing-cli); the file was not changed",
            )
        return
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app_id != 0 or tables:
        raise LedgerError(
            f"{path} is not a billing ledger (an SQLite file of another program)",
            hint="point --db (or BILLING_DB) at a ledger created by billing, or at a new path",
        )


# Steps a migration needs beyond SQL (hashing), run right after its statements in the same
# transaction: the schema version reached -> a function of the connection.
def _backfill_invoice_chain(conn: sqlite3.Connection) -> None:
    from billing_cli.storage.sqlite.invoices import backfill_invoice_chain

    backfill_invoice_chain(conn)


def _canonicalize_decimals(conn: sqlite3.Connection) -> None:
    from billing_cli.storage.sqlite.canonical import canonicalize_decimals

    canonicalize_decimals(conn)


def _seal_catalog(conn: sqlite3.Connection) -> None:
    from billing_cli.storage.sqlite.catalog_chain import seal_all

    seal_all(conn)


# (Imported when a migration runs, not by every command that opens the ledger.)
BACKFILLS: dict[int, Callable[[sqlite3.Connection], None]] = {
    4: _backfill_invoice_chain,
    5: _canonicalize_decimals,
    9: _seal_catalog,
}


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number in range(version, SCHEMA_VERSION):
            for statement in split_script(MIGRATIONS[number]):
                conn.execute(statement)
            backfill = BACKFILLS.get(number + 1)
            if backfill is not None:
                backfill(conn)
            conn.execute(f"PRAGMA user_version = {number + 1}")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def split_script(script: str) -> list[str]:
    """Split a migration into statements; triggers (BEGIN … END;) stay whole."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
