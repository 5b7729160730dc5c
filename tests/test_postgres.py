"""What only the PostgreSQL backend has to get right (issue 13): connecting, identifying and
refusing databases, the append-only triggers, and importers in many processes at once. Every
other behaviour is the contract suite's (`both_backends` modules)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.conftest import NOW, Billing, assert_error, build_alpaca, json_of, snapshot

ROOT = Path(__file__).resolve().parents[1]


def test_an_unreachable_server_is_exit_6_naming_the_host_never_the_password(
    billing: Billing,
) -> None:
    uri = "postgresql://billing:s3cret-pw@127.0.0.1:1/books?connect_timeout=2"
    for args in (("meter", "list"), ("meter", "create", "--display-name", "x", "--event-name",
                                      "x", "--aggregation", "count")):  # fmt: skip
        result = billing(*args, db=uri)
        line = assert_error(result, 6, "127.0.0.1:1/books")
        assert "s3cret-pw" not in result.stderr and "cannot connect" in line


def test_a_wrong_password_is_exit_6_without_the_password(pg_server, postgres_db: str) -> None:
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS clerk")
        conn.execute("CREATE ROLE clerk LOGIN PASSWORD 'right-one'")
    uri = postgres_db.replace("postgres:@", "clerk:wrong-one@")
    result = Billing(uri)("meter", "list")
    assert result.exit_code in (3, 6)  # the test cluster trusts local users: no password asked
    assert "wrong-one" not in result.stderr and "right-one" not in result.stderr


def test_read_on_an_empty_database_creates_nothing(billing: Billing, postgres_db: str) -> None:
    assert_error(billing("invoice", "list", db=postgres_db), 3, "no ledger")
    assert snapshot(postgres_db) is None


def test_a_schema_of_another_program_is_refused_untouched(
    billing: Billing, postgres_db: str
) -> None:
    with psycopg.connect(postgres_db) as conn:
        conn.execute("CREATE TABLE orders (id int)")
    create = ("meter", "create", "--display-name", "x", "--event-name", "x", "--aggregation",
              "count")  # fmt: skip
    assert_error(billing(*create, db=postgres_db), 6, "not a billing ledger")
    with psycopg.connect(postgres_db) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]  # fmt: skip
    assert tables == ["orders"]


def test_a_newer_schema_is_refused(billing: Billing, postgres_db: str) -> None:
    build_alpaca(Billing(postgres_db))
    with psycopg.connect(postgres_db) as conn:
        conn.execute("INSERT INTO billing_schema (version) VALUES (999)")
    before = snapshot(postgres_db)
    assert_error(billing("meter", "list", db=postgres_db), 6, "newer billing_cli")
    assert snapshot(postgres_db) == before


def test_triggers_refuse_edits_of_events_and_finalized_invoices(postgres_db: str) -> None:
    billing = build_alpaca(Billing(postgres_db))
    billing.json("subscription", "create", "--customer", "cus_alpaca", "--price", "price_tokens",
                 "--backdate-start-date", "2026-09-01T00:00:00Z")  # fmt: skip
    billing.json("event", "send", "--event-name", "api_tokens", "--customer", "cus_alpaca",
                 "--value", "10", "--identifier", "e1", "--timestamp", "2026-09-02T00:00:00Z",
                 now="2026-09-02T00:00:00Z")  # fmt: skip
    billing.json("invoice", "run", now="2026-10-02T00:00:00Z")
    for sql in (
        "UPDATE meter_events SET value = '11'",
        "DELETE FROM meter_events",
        "TRUNCATE meter_events CASCADE",
        "UPDATE invoices SET total = total + 1 WHERE status <> 'draft'",
        "DELETE FROM invoices WHERE status <> 'draft'",
        "UPDATE invoice_lines SET amount = amount + 1",
        "DELETE FROM invoice_chain",
    ):
        with psycopg.connect(postgres_db) as conn, pytest.raises(psycopg.Error) as caught:
            conn.execute(sql)  # type: ignore[arg-type]
        assert "append-only" in str(caught.value), sql
    assert billing.json("ledger", "check")["ok"]


def test_backup_says_to_use_pg_dump(postgres_db: str, tmp_path: Path) -> None:
    billing = build_alpaca(Billing(postgres_db))
    assert_error(billing("ledger", "backup", str(tmp_path / "b.db")), 6, "pg_dump")
    assert not (tmp_path / "b.db").exists()


def _import(db: str, source: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "billing_cli", "--db", db, "--now", NOW, "event", "import",
            str(source), "--json"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for key in ("BILLING_DB", "BILLING_NOW"):
        env.pop(key, None)
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def test_concurrent_importers_count_each_event_once(postgres_db: str, tmp_path: Path) -> None:
    """Three processes import overlapping files at once (each 3,000 events, 1,000 shared
    with each other file): every identifier is stored once, the chain and roll-ups verify,
    and usage equals the sum of the distinct events."""
    billing = build_alpaca(Billing(postgres_db))
    files = []
    for k in range(3):
        path = tmp_path / f"part{k}.csv"
        rows = ["event_name,identifier,timestamp,stripe_customer_id,value"]
        for i in range(k * 2000, k * 2000 + 3000):
            rows.append(f"api_tokens,ev{i},{1793000000 + i},cus_alpaca,{i % 7 + 1}")
        path.write_text("\n".join(rows) + "\n")
        files.append(path)
    procs = [_import(postgres_db, f) for f in files]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    summaries = [json.loads(out) for out, _ in outs]
    assert sum(s["accepted"] for s in summaries) == 7000
    assert sum(s["duplicates"] for s in summaries) == 2000
    events = billing.json("event", "list", "--customer", "cus_alpaca", "--all")["data"]
    assert len(events) == len({e["identifier"] for e in events}) == 7000
    check = billing.json("ledger", "check")
    assert check["ok"] and check["chains"]["meter_events"]["seq"] == 7000
    usage = json_of(billing("meter", "usage", "mtr_tokens", "--customer", "cus_alpaca",
                            "--start", "2026-10-01", "--end", "2026-11-01", "--json"))  # fmt: skip
    assert sum(Decimal(w["aggregated_value"]) for w in usage["data"]) == sum(
        i % 7 + 1 for i in range(7000)
    )


def test_ledger_query_on_postgres_points_to_what_works(postgres_db: str, tmp_path: Path) -> None:
    """`ledger query` reads SQLite ledgers only: on PostgreSQL it says so and suggests psql or
    a copy into an SQLite file (not `ledger backup`, which refuses a PostgreSQL ledger), and
    the copy it suggests answers the query."""
    billing = build_alpaca(Billing(postgres_db))
    result = billing("ledger", "query", "SELECT id FROM meters")
    line = assert_error(result, 4, "SQLite ledgers only", "PostgreSQL")
    hint = result.stderr.splitlines()[1]
    assert "ledger backup" not in line + hint and "ledger copy" in hint and "psql" in hint
    copy = tmp_path / "ledger.db"
    json_of(billing("ledger", "copy", postgres_db, str(copy), "--json", db=None))
    rows = json_of(billing("ledger", "query", "SELECT id FROM meters", "--json", db=copy))
    assert rows == [{"id": "mtr_tokens"}]


def test_ledger_backup_on_postgres_names_commands_that_work(
    postgres_db: str, tmp_path: Path
) -> None:
    billing = build_alpaca(Billing(postgres_db))
    result = billing("ledger", "backup", str(tmp_path / "b.db"))
    assert_error(result, 6, "pg_dump")
    hint = result.stderr.splitlines()[1]
    assert "billing ledger copy 'URI'" in hint and "--db URI" not in hint
