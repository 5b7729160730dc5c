"""The catalog chain in SQLite (`domain.catalog_seal` says what it seals and why).

Every catalog write of this backend ends with `seal(conn, table, key)`, in the same
transaction, so the chain holds the state of each row as billing last wrote it. Rows written
before the chain existed are sealed as they stand by the migration that adds it (`seal_all`):
from the upgrade on, an edit made outside billing is named.
"""

from __future__ import annotations

import sqlite3

from billing_cli.domain import catalog_seal
from billing_cli.domain.chain import GENESIS

# Migration 9: the catalog chain, append-only like the other chains.
MIGRATION = """
    CREATE TABLE catalog_chain (
        seq INTEGER PRIMARY KEY,
        object TEXT NOT NULL,
        key TEXT NOT NULL,
        state TEXT NOT NULL,
        hash TEXT NOT NULL
    ) STRICT;
    CREATE INDEX catalog_chain_row ON catalog_chain(object, key, seq);
    CREATE TRIGGER catalog_chain_no_update BEFORE UPDATE ON catalog_chain
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: the catalog chain is never updated'
        );
    END;
    CREATE TRIGGER catalog_chain_no_delete BEFORE DELETE ON catalog_chain
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: the catalog chain is never deleted from'
        );
    END;
"""


def _select(table: str) -> str:
    keys, columns = catalog_seal.SEALED[table]
    where = " AND ".join(f"{k} = ?" for k in keys)
    return f"SELECT {', '.join(columns)} FROM {table} WHERE {where}"


def _row_state(conn: sqlite3.Connection, table: str, key: tuple[object, ...]) -> str | None:
    cursor = conn.execute(_select(table), key)
    row = cursor.fetchone()
    if row is None:
        return None
    names = [d[0] for d in cursor.description]
    return catalog_seal.state(table, dict(zip(names, row, strict=True)))


def seal(conn: sqlite3.Connection, table: str, *key: object) -> None:
    """Record the row's sealed state as billing just wrote it (nothing when it is unchanged)."""
    row_state = _row_state(conn, table, key)
    if row_state is None:
        return
    name = catalog_seal.key_text(key)
    last = conn.execute(
        "SELECT state FROM catalog_chain WHERE object = ? AND key = ? ORDER BY seq DESC LIMIT 1",
        (table, name),
    ).fetchone()
    if last is not None and last[0] == row_state:
        return
    top = conn.execute("SELECT seq, hash FROM catalog_chain ORDER BY seq DESC LIMIT 1").fetchone()
    seq, previous = (top[0] + 1, top[1]) if top else (1, GENESIS)
    digest = catalog_seal.entry_hash(previous, seq, table, name, row_state)
    conn.execute(
        "INSERT INTO catalog_chain (seq, object, key, state, hash) VALUES (?,?,?,?,?)",
        (seq, table, name, row_state, digest),
    )


def _keys(conn: sqlite3.Connection, table: str) -> list[tuple[object, ...]]:
    keys = catalog_seal.SEALED[table][0]
    rows = conn.execute(f"SELECT {', '.join(keys)} FROM {table} ORDER BY rowid")
    return [tuple(r) for r in rows]


def seal_all(conn: sqlite3.Connection) -> None:
    """The upgrade's backfill: every catalog row as it stands, table by table."""
    for table in catalog_seal.SEALED:
        for key in _keys(conn, table):
            seal(conn, table, *key)


class CatalogChainStore:
    conn: sqlite3.Connection

    def catalog_chain_problems(self) -> list[str]:
        """The chain walked (the first entry that does not link is named), then every catalog
        row against the state billing last recorded for it."""
        found: list[str] = []
        recorded: dict[tuple[str, str], str] = {}
        previous, linked = GENESIS, True
        rows = self.conn.execute(
            "SELECT seq, object, key, state, hash FROM catalog_chain ORDER BY seq"
        )
        for seq, table, key, row_state, digest in rows.fetchall():
            expected = catalog_seal.entry_hash(previous, seq, table, key, row_state)
            if linked and digest != expected:
                found.append(
                    f"catalog_chain seq {seq} ({table} {key}): hash does not match the chain"
                    " (the entry or one before it was edited, inserted or deleted)"
                )
                linked = False
            previous = expected
            recorded[(table, key)] = row_state
        for table in catalog_seal.SEALED:
            present = set()
            for key in _keys(self.conn, table):
                name = catalog_seal.key_text(key)
                present.add(name)
                now = _row_state(self.conn, table, key) or ""
                was = recorded.get((table, name))
                if was is None:
                    found.append(f"{table} {name}: not written by billing (inserted outside it)")
                elif was != now:
                    what = "; ".join(catalog_seal.differences(was, now))
                    found.append(f"{table} {name}: {what}: edited outside billing")
            found += [
                f"{table} {key}: recorded by billing, now missing (deleted outside billing)"
                for (t, key) in recorded
                if t == table and key not in present
            ]
        return found
