"""Idempotency keys of the HTTP API (api/idempotency.py): one row per key, pruned after 24 h.

Not money: rows are deleted when old, so no trigger or hash chain covers them. The SQL is the
same on both backends (the PostgreSQL ledger mixes this store in too).
"""

from __future__ import annotations

import sqlite3

from billing_cli.storage.port import IdempotencyRecord


class IdempotencyStore:
    conn: sqlite3.Connection

    def get_idempotency_key(self, key: str) -> IdempotencyRecord | None:
        row = self.conn.execute(
            "SELECT fingerprint, status, body, created FROM idempotency_keys WHERE key = ?",
            (key,),
        ).fetchone()
        return None if row is None else IdempotencyRecord(*row)

    def put_idempotency_key(self, key: str, record: IdempotencyRecord) -> None:
        self.conn.execute(
            "INSERT INTO idempotency_keys (key, fingerprint, status, body, created) "
            "VALUES (?, ?, ?, ?, ?)",
            (key, record.fingerprint, record.status, record.body, record.created),
        )

    def prune_idempotency_keys(self, *, before: int) -> None:
        self.conn.execute("DELETE FROM idempotency_keys WHERE created < ?", (before,))
