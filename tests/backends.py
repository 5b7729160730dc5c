"""The two storage backends under one contract suite (issue 13).

A test module marked `pytestmark = pytest.mark.both_backends` runs each test that uses the
`db` fixture (or `billing`, `alpaca`, … built on it) twice: on a fresh SQLite file and on a
fresh PostgreSQL database. The PostgreSQL server is started by the suite itself, once per
session, from the `pgserver` wheel (PostgreSQL 16 binaries, in the test extra) in a temporary
folder: nothing to set up. Each test gets its own empty schema (named by the URI's
search_path), so tests stay independent and the suite stays fast. As root, pgserver runs the
server as a `pgserver` system user it creates.

Tests about SQLite's own file format (WAL, headers, PRAGMAs, a file copy) are marked
`sqlite_only`, or live in modules that are not marked at all.

Helpers that look at a ledger behind the program's back work on both: `snapshot` (every row,
to show a failed command changed nothing), `ledger_exists`, and `tamper` (an edit made by a
determined editor who switches the append-only triggers off first).
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

BACKENDS = ("sqlite", "postgres")
_names = itertools.count()


def is_postgres(db: Path | str) -> bool:
    return isinstance(db, str) and db.startswith("postgresql://")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """One throw-away PostgreSQL cluster for the whole session, in a folder of its own (not
    pytest's: the server's system user must be able to enter it until the very end)."""
    import pgserver

    root = Path(tempfile.mkdtemp(prefix="billing-pg-"))
    root.chmod(0o755)
    server = pgserver.get_server(root / "data", cleanup_mode="delete")
    import psycopg

    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        # A throw-away cluster: durability buys nothing here, and each fsync costs a test time.
        for setting in ("fsync = off", "synchronous_commit = off", "full_page_writes = off"):
            conn.execute(f"ALTER SYSTEM SET {setting}")  # type: ignore[arg-type]
        conn.execute("SELECT pg_reload_conf()")
    try:
        yield server
    finally:
        server.cleanup()  # stops the cluster and deletes its data folder
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(server: Any) -> str:
    """An empty ledger location of its own: a new schema, named by the URI's search_path
    (CREATE SCHEMA is instant; CREATE DATABASE costs a checkpoint, ~1 s here)."""
    import psycopg

    name = f"ledger_{os.getpid()}_{next(_names)}"
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")  # type: ignore[arg-type]
    return f"{server.get_uri()}&options=-csearch_path%3D{name}"


def new_database(server: Any, template: str | None = None) -> str:
    """The URI of a new database of its own, empty or a copy of `template` (a URI this
    function returned, with no connection open): a ledger built once per module is copied
    for each test in ~0.1 s (CREATE DATABASE … TEMPLATE)."""
    import psycopg

    name = f"ledger_db_{os.getpid()}_{next(_names)}"
    sql = f"CREATE DATABASE {name}"
    if template is not None:
        sql += f" TEMPLATE {urlsplit(template).path.lstrip('/')}"
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]
    return urlunsplit(urlsplit(server.get_uri())._replace(path=f"/{name}"))


@pytest.fixture
def postgres_db(pg_server: Any) -> str:
    return fresh_database(pg_server)


def new_location(request: pytest.FixtureRequest, *, template: bool = False) -> Path | str:
    """Another fresh ledger location on the test's backend (a property test needs one per
    example, where the `db` fixture gives one per test); with `template`, one that
    `copy_location` can copy (on PostgreSQL a database, not a schema)."""
    if request.getfixturevalue("backend") == "postgres":
        server = request.getfixturevalue("pg_server")
        return new_database(server) if template else fresh_database(server)
    folder = request.getfixturevalue("tmp_path_factory").mktemp("ledger")
    return Path(folder) / "billing.db"


def copy_location(template: Path | str, request: pytest.FixtureRequest) -> Path | str:
    """A new ledger holding what `template` (from `new_location(template=True)`) holds."""
    if is_postgres(template):
        return new_database(request.getfixturevalue("pg_server"), template=str(template))
    folder = request.getfixturevalue("tmp_path_factory").mktemp("ledger")
    shutil.copy(template, folder / "billing.db")
    return Path(folder) / "billing.db"


def parametrize_backends(metafunc: pytest.Metafunc) -> None:
    """Run `both_backends` tests on each backend (the `backend` fixture is SQLite otherwise)."""
    if "backend" not in metafunc.fixturenames:
        return
    definition = metafunc.definition
    if definition.get_closest_marker("both_backends") and not definition.get_closest_marker(
        "sqlite_only"
    ):
        metafunc.parametrize("backend", BACKENDS)


# -- looking behind the program's back ------------------------------------------------------
def ledger_exists(db: Path | str) -> bool:
    """Whether a ledger was created at `db` (a PostgreSQL database holds its tables)."""
    if not is_postgres(db):
        return Path(db).exists()
    import psycopg

    with psycopg.connect(str(db)) as conn:
        row = conn.execute("SELECT to_regclass('billing_schema') IS NOT NULL").fetchone()
    return bool(row and row[0])


def snapshot(db: Path | str) -> list[str] | None:
    """Everything a ledger holds (schema and rows), to show a failed command changed nothing."""
    if not is_postgres(db):
        path = Path(db)
        if not path.exists():
            return None
        conn = sqlite3.connect(path)
        try:
            return list(conn.iterdump())
        finally:
            conn.close()
    if not ledger_exists(db):
        return None
    import psycopg

    out: list[str] = []
    with psycopg.connect(str(db)) as pg:
        tables = [
            r[0]
            for r in pg.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " ORDER BY tablename"
            )
        ]
        for table in tables:
            rows = pg.execute(f"SELECT * FROM {table}").fetchall()
            out += [f"{table}: {row!r}" for row in sorted(rows, key=repr)]
    return out


def query_rows(db: Path | str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Rows of one query (`?` placeholders), read behind the program's back."""
    if not is_postgres(db):
        conn = sqlite3.connect(db)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(str(db)) as pg:
        return pg.execute(sql.replace("?", "%s"), params).fetchall()  # type: ignore[arg-type]


def tamper(db: Path | str, sql: str) -> None:
    """Edit the ledger as a determined editor would, append-only triggers switched off."""
    if not is_postgres(db):
        conn = sqlite3.connect(db)
        try:
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
                conn.execute(f"DROP TRIGGER {name}")
            conn.execute(sql)
            conn.commit()
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(str(db)) as pg:
        pg.execute("SET session_replication_role = replica")  # no triggers fire
        pg.execute(sql)  # type: ignore[arg-type]
