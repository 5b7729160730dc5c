"""Importing into PostgreSQL with the write lock taken late (issue 13.6): a batch is
validated, looked up and staged while other writers hold the lock, and queues only to be
linked into the chain. What that must not change: an invoice finalized between a batch's
validation and its turn makes the batch's events late (as if the import had waited for the
lock first), never silently accepted into a period already billed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from billing_cli.storage.postgres.connection import WRITE_LOCK
from tests.conftest import Billing, build_alpaca

ROOT = Path(__file__).resolve().parents[1]
RUN_AT = "2026-10-02T00:00:00Z"  # September's period closed, past its grace


def _start(db: str, *args: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "billing_cli", "--db", db, "--now", RUN_AT, *args, "--json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)  # fmt: skip


def _wait_for_waiters(conn: psycopg.Connection, count: int) -> None:
    """Until `count` sessions wait for the ledger's write lock (the test holds it)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        waiting = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ).fetchone()
        if waiting and waiting[0] >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{count} writers never queued for the lock")


def test_an_invoice_finalized_while_a_batch_waits_makes_its_events_late(
    postgres_db: str,
    pg_server,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    billing = build_alpaca(Billing(postgres_db))
    billing.json("subscription", "create", "--customer", "cus_alpaca", "--price",
                 "price_tokens", now="2026-09-01T00:00:00Z")  # fmt: skip
    billing.json("event", "send", "--event-name", "api_tokens", "--customer", "cus_alpaca",
                 "--value", "100", "--identifier", "early", "--timestamp",
                 "2026-09-02T00:00:00Z", now="2026-09-02T00:00:00Z")  # fmt: skip
    source = tmp_path / "september.csv"
    rows = ["event_name,identifier,timestamp,stripe_customer_id,value"]
    rows += [f"api_tokens,sep{i},{1788400000 + 60 * i},cus_alpaca,1" for i in range(50)]
    source.write_text("\n".join(rows) + "\n")
    holder = psycopg.connect(pg_server.get_uri())
    try:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))  # a long writer
        run = _start(postgres_db, "invoice", "run")
        _wait_for_waiters(holder, 1)
        # The import validates its batch now (September still open: accepted), stages it and
        # queues behind the run, which finalizes September first.
        importer = _start(postgres_db, "event", "import", str(source))
        _wait_for_waiters(holder, 2)
        holder.commit()
    finally:
        holder.close()
    ran, imported = run.communicate(timeout=120), importer.communicate(timeout=120)
    assert run.returncode == 0, ran
    assert importer.returncode == 0, imported
    [invoice_id] = json.loads(ran[0])["finalized"]
    summary = json.loads(imported[0])
    assert (summary["accepted"], summary["late"]) == (50, 50)
    invoice = billing.json("invoice", "show", invoice_id, now=RUN_AT)
    assert [line["quantity"] for line in invoice["lines"]["data"]] == [100]
    late = billing.json("event", "late", now=RUN_AT)["data"]
    assert len(late) == 50
    assert billing.json("ledger", "check", now=RUN_AT)["ok"] is True
