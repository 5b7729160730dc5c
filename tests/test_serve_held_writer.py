"""`billing serve` writes through one connection kept open between requests (its page cache
outlives a request: storage/sqlite/held.py). What a fresh connection per request guaranteed
must still hold: writes of other processes in between are seen (the event hash chain continues
from their last event), a ledger another program migrated to a newer schema is refused as any
command refuses it, and the WAL is checkpointed away when the server stops.
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
import stripe

from billing_cli.api import Context
from billing_cli.api.catalog import create_customer, create_meter
from billing_cli.clock import parse_time
from billing_cli.storage.sqlite.schema import SCHEMA_VERSION
from tests.serve_harness import billing_env, running_server
from tests.test_ledger_files import unprivileged
from tests.trust_state import assert_event_chain_and_rollups_whole, billing_argv

NOW = "2026-11-01T09:00:00Z"


def _ledger(db: Path) -> None:
    ctx = Context(db, parse_time(NOW))
    create_meter(ctx, display_name="Tokens", event_name="api_tokens", aggregation="sum")
    for i in range(3):
        create_customer(ctx, name=f"C{i}", customer_id=f"cus_{i}")


def _events(prefix: str, count: int) -> list[dict]:
    return [
        {
            "event_name": "api_tokens",
            "identifier": f"{prefix}-{i}",
            "timestamp": f"2026-10-31T{i % 24:02d}:00:00.000Z",
            "payload": {"stripe_customer_id": f"cus_{i % 3}", "value": str(i + 1)},
        }
        for i in range(count)
    ]


def _count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM meter_events").fetchone()[0])


def test_writes_of_other_processes_between_requests_are_built_upon(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    _ledger(db)
    csv = tmp_path / "events.csv"
    csv.write_text(
        "event_name,identifier,timestamp,stripe_customer_id,value\n"
        + "".join(f"api_tokens,imp-{i},1793480400,cus_{i % 3},2\n" for i in range(50))
    )
    with running_server(db, now=NOW) as server:
        client = server.client()
        token = client.v2.billing.meter_event_session.create().authentication_token
        stream = server.client(token).v2.billing.meter_event_stream
        stream.create({"events": _events("a", 100)})
        subprocess.run(
            billing_argv(db, NOW, "event", "import", str(csv)),
            check=True,
            capture_output=True,
            env=billing_env(),
        )
        stream.create({"events": _events("b", 100)})  # chained after the import's last event
        client.v1.customers.create({"name": "D"})
        assert server.stop() == 0
    assert _count(db) == 250
    assert_event_chain_and_rollups_whole(db)
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0


def test_a_ledger_migrated_by_a_newer_program_meanwhile_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    _ledger(db)
    with running_server(db, now=NOW) as server:
        client = server.client()
        client.v1.customers.create({"name": "D"})  # the writer is open now
        with sqlite3.connect(db) as newer:
            newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        with pytest.raises(stripe.StripeError, match="newer billing_cli"):
            client.v1.customers.create({"name": "E"})
    with sqlite3.connect(db) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM customers ORDER BY name")]
    assert names == ["C0", "C1", "C2", "D"]


def test_a_ledger_made_read_only_meanwhile_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    _ledger(db)
    with running_server(db, now=NOW, prefix=unprivileged()) as server:
        client = server.client()
        client.v1.customers.create({"name": "D"})  # the writer is open now
        db.chmod(0o444)
        try:
            with pytest.raises(stripe.StripeError, match="read-only"):
                client.v1.customers.create({"name": "E"})
        finally:
            db.chmod(0o644)
