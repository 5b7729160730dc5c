"""Connecting to, identifying, migrating and translating the errors of a PostgreSQL ledger.

A ledger is the set of billing tables in the connection's current schema (`search_path`, so
`?options=-csearch_path%3Dbilling` in the URI puts it in a schema of its own), marked by the
`billing_schema` table that records each migration applied. As with the SQLite file: a
database that is not ours is refused untouched, a newer schema is refused, an older one is
upgraded in one transaction. Every failure a user can cause (server down, wrong password,
locked past the timeout, a trigger refusing an edit) reaches them as one `LedgerError` line
naming the host and database, never the password.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import conninfo, errors
from psycopg.adapt import Loader

from billing_cli.domain.money import canonical_text
from billing_cli.errors import Conflict, LedgerError, NotFound
from billing_cli.storage.postgres.adapter import row_factory
from billing_cli.storage.postgres.schema import MIGRATIONS, SCHEMA_VERSION

DEFAULT_LOCK_TIMEOUT_MS = 30_000
DEFAULT_CONNECT_TIMEOUT_S = 10
# The key of the advisory lock every writer holds for its transaction: what SQLite's
# BEGIN IMMEDIATE gives, one writer at a time, so hash chains and invoice numbers stay gapless.
WRITE_LOCK = 0x42494C4C  # "BILL"


def is_postgres_uri(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


def lock_timeout_ms() -> int:
    """Writers wait this long for each other; BILLING_BUSY_TIMEOUT_MS (as for SQLite) sets it."""
    raw = os.environ.get("BILLING_BUSY_TIMEOUT_MS", "")
    return int(raw) if raw.isdigit() else DEFAULT_LOCK_TIMEOUT_MS


def display_name(uri: str) -> str:
    """The URI as it may be printed: the password replaced by `***`."""
    parts = urlsplit(uri)
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}"
    query = "&".join(
        "password=***" if pair.lower().startswith("password=") else pair
        for pair in parts.query.split("&")
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _params(uri: str) -> dict[str, Any]:
    try:
        return conninfo.conninfo_to_dict(uri)
    except psycopg.ProgrammingError as exc:
        raise LedgerError(
            f"--db {display_name(uri)!r} is not a valid PostgreSQL URI ({_scrub(str(exc), uri)})",
            hint="e.g. --db postgresql://user@host:5432/billing",
        ) from exc


def server_name(uri: str) -> str:
    """`host:port/dbname` for messages (the socket folder when the host is a path)."""
    params = _params(uri)
    host = params.get("host") or params.get("hostaddr") or "localhost"
    port = params.get("port") or "5432"
    dbname = params.get("dbname") or params.get("user") or os.environ.get("PGDATABASE", "")
    return f"{host}:{port}/{dbname}"


def _scrub(text: str, uri: str) -> str:
    """Whatever a driver message holds, the password never reaches the terminal."""
    password = None
    try:
        password = conninfo.conninfo_to_dict(uri).get("password")
    except psycopg.ProgrammingError:
        pass
    text = " ".join(text.split())
    if password:
        text = text.replace(str(password), "***")
    return text


def translate(exc: psycopg.Error, uri: str) -> Exception:
    """Map a PostgreSQL failure to the error a user should see (SPEC 5.2, exit 6 or 5)."""
    where = display_name(uri)
    text = _scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc), uri)
    state = getattr(exc, "sqlstate", None) or ""
    if state == "BL001" or "append-only" in text:  # the triggers: the ledger refused the edit
        return LedgerError(
            f"the ledger {where} refused the change: {text}",
            hint="corrections are new rows: cancel an event, void an invoice",
        )
    if isinstance(exc, errors.UniqueViolation):
        return Conflict(f"{text} (another command wrote the same object first)")
    if isinstance(exc, errors.LockNotAvailable | errors.QueryCanceled):
        return LedgerError(
            f"the ledger {where} is locked by another process "
            f"(waited {lock_timeout_ms() / 1000:g} s)",
            hint="retry when the other billing command has finished",
        )
    if isinstance(exc, errors.SerializationFailure | errors.DeadlockDetected):
        return LedgerError(
            f"the ledger {where} was changed by another process at the same time ({text})",
            hint="retry the command",
        )
    if isinstance(exc, errors.ReadOnlySqlTransaction | errors.InsufficientPrivilege):
        return LedgerError(
            f"the ledger {where} is read-only for this user ({text})",
            hint="connect as a user that may write the billing tables",
        )
    if isinstance(exc, errors.DiskFull):
        return LedgerError(f"the server holding {where} is out of disk space", hint="free space")
    if isinstance(exc, errors.IntegrityError):
        return Conflict(f"the ledger refused the change: {text}")
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return LedgerError(
            f"lost the connection to the PostgreSQL ledger on {server_name(uri)} ({text})",
            hint="check that the server is running and reachable, then retry",
        )
    return LedgerError(f"ledger error on {where}: {text}")


class CanonicalNumericLoader(Loader):
    """NUMERIC columns are exact, and keep the scale they were given (`7.50`); the store
    classes read them as the SQLite ledger's columns read: canonical decimal text (`7.5`),
    so every answer and every hash is the same on both backends."""

    def load(self, data: Any) -> str:
        return canonical_text(bytes(data).decode())


def connect(uri: str, *, create: bool) -> psycopg.Connection[Any]:
    """Connect, refuse a foreign or newer schema, and (for a writer) create or upgrade it."""
    params = _params(uri)
    kwargs: dict[str, Any] = {"autocommit": True, "row_factory": row_factory}
    if "connect_timeout" not in params:
        kwargs["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT_S
    if "application_name" not in params:
        kwargs["application_name"] = "billing_cli"
    try:
        conn = psycopg.connect(uri, **kwargs)
        conn.adapters.register_loader("numeric", CanonicalNumericLoader)
    except psycopg.Error as exc:
        raise LedgerError(
            f"cannot connect to the PostgreSQL ledger on {server_name(uri)}: "
            f"{_scrub(str(exc), uri)}",
            hint="check the host, port, database, user and password in --db (or BILLING_DB)",
        ) from exc
    try:
        conn.execute(f"SET lock_timeout = {lock_timeout_ms()}")
        version = _check_identity(conn, uri)
        if version < SCHEMA_VERSION:
            if not create:
                if version == 0:
                    raise NotFound(
                        f"no ledger at {display_name(uri)}",
                        hint="create objects first (e.g. `billing meter create …`)",
                    )
            else:
                _migrate(conn)
    except psycopg.Error as exc:
        conn.close()
        raise translate(exc, uri) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _schema_version(conn: psycopg.Connection[Any]) -> int | None:
    """The version reached, 0 for an empty schema, None when the schema holds other tables."""
    has_table = conn.execute("SELECT to_regclass('billing_schema') IS NOT NULL").fetchone()[0]  # type: ignore[index]
    if has_table:
        row = conn.execute("SELECT coalesce(max(version), 0) FROM billing_schema").fetchone()
        return int(row[0])  # type: ignore[index]
    others = conn.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
    ).fetchone()[0]  # type: ignore[index]
    return None if others else 0


def _check_identity(conn: psycopg.Connection[Any], uri: str) -> int:
    version = _schema_version(conn)
    if version is None:
        raise LedgerError(
            f"{display_name(uri)} is not a billing ledger (its schema holds tables of another"
            " program)",
            hint="give billing a database of its own, or a schema of its own with "
            "?options=-csearch_path%3Dbilling in the URI",
        )
    if version > SCHEMA_VERSION:
        raise LedgerError(
            f"{display_name(uri)} was written by a newer billing_cli (schema {version}, "
            f"this program knows {SCHEMA_VERSION})",
            hint="upgrade billing_cli (pip install -U billing-cli); the ledger was not changed",
        )
    return version


def _migrate(conn: psycopg.Connection[Any]) -> None:
    """Apply the missing migrations in one transaction, under the write lock, so two programs
    starting on a new database at once create the schema once."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS billing_schema (version INTEGER PRIMARY KEY,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        version = _schema_version(conn) or 0
        for number in range(version, SCHEMA_VERSION):
            conn.execute(MIGRATIONS[number])  # type: ignore[arg-type]
            conn.execute("INSERT INTO billing_schema (version) VALUES (%s)", (number + 1,))
