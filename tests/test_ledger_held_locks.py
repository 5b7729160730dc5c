"""A process holding the ledger open keeps SQLite's locks when it opens it once more.

POSIX drops every lock a process holds on a file when the process closes any descriptor of it.
Opening a ledger used to read its header with a plain open() and close(): in `billing serve`,
which holds connections while it opens more, that dropped the locks of the live ones, so
another process closing its own connection took itself for the last one, checkpointed and
deleted the WAL under the server ("database disk image is malformed" under load).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from billing_cli.api import Context
from billing_cli.api.catalog import create_customer
from billing_cli.clock import parse_time
from billing_cli.errors import LedgerError
from billing_cli.storage.sqlite import Ledger

NOW = parse_time("2026-11-01T09:00:00Z")

OTHER_PROCESS = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("SELECT count(*) FROM customers").fetchone()
conn.close()  # the last connection to a WAL database checkpoints it and deletes the WAL
"""


def test_opening_again_keeps_the_locks_of_the_open_connections(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    ctx = Context(db=db, now=NOW)
    create_customer(ctx, name="Max")
    wal = Path(f"{db}-wal")
    held = Ledger(db, create=False)
    try:
        with held.write():  # something in the WAL
            held.conn.execute("UPDATE customers SET name = 'Max M.'")
        assert held.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        second = Ledger(db, create=False)  # opened while `held` holds its locks
        second.close()
        subprocess.run(
            [sys.executable, "-c", OTHER_PROCESS, str(db)], check=True, capture_output=True
        )
        assert wal.exists(), "another process took the ledger for unused and removed its WAL"
        with held.read():
            assert [r[0] for r in held.conn.execute("SELECT name FROM customers")] == ["Max M."]
    finally:
        held.close()
    # the last connection of this process gone, the next opener checks the header again
    db.write_bytes(b"not a ledger at all" + b"\0" * 200)
    Path(f"{db}-wal").unlink(missing_ok=True)
    Path(f"{db}-shm").unlink(missing_ok=True)
    with pytest.raises(LedgerError, match="not a billing ledger"):
        Ledger(db, create=False)
