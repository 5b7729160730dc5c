"""The ledger's schema against the one billing creates: triggers dropped or replaced by hand.

The append-only triggers stop a well-meant edit; whoever drops one (or swaps it for a trigger
that lets everything through, or adds a trigger that rewrites rows as they are inserted) left
no trace that `ledger check` could see. So the check builds the schema the migrations give at
the ledger's version, in memory, and compares it with the file's `sqlite_master`, object by
object (tables, indexes, triggers, views), SQL text with its whitespace folded.
"""

from __future__ import annotations

import sqlite3

from billing_cli.storage.schema_diff import schema_differences
from billing_cli.storage.sqlite.connection import split_script
from billing_cli.storage.sqlite.schema import MIGRATIONS

_OBJECTS = "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"


def _objects(conn: sqlite3.Connection) -> dict[tuple[str, str], str]:
    return {
        (kind, name): " ".join((sql or "").split()) for kind, name, sql in conn.execute(_OBJECTS)
    }


def expected_objects(version: int) -> dict[tuple[str, str], str]:
    """What migrations 1..`version` create, built in a scratch in-memory database."""
    scratch = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for script in MIGRATIONS[:version]:
            for statement in split_script(script):
                scratch.execute(statement)
        return _objects(scratch)
    finally:
        scratch.close()


def schema_problems(conn: sqlite3.Connection) -> list[str]:
    """Every object missing, changed or added compared with billing's own schema."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    return schema_differences(expected_objects(version), _objects(conn))
