"""`ledger check` on PostgreSQL compares the schema with what billing's migrations build
(issue 13: a dropped append-only trigger or index used to go unnoticed there). The editor is
the database's superuser, who may change the schema behind billing's back; each change is
named and the check exits 6 (SPEC 5.2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.conftest import Billing, build_alpaca

NOW = "2026-11-20T00:00:00Z"


@pytest.fixture
def ledger(postgres_db: str) -> Billing:
    billing = build_alpaca(Billing(postgres_db))
    billing.json("subscription", "create", "--customer", "cus_alpaca", "--price", "price_tokens",
                 "--backdate-start-date", "2026-09-01T00:00:00Z")  # fmt: skip
    billing.json("event", "send", "--event-name", "api_tokens", "--customer", "cus_alpaca",
                 "--value", "10", "--identifier", "e1", "--timestamp", "2026-09-02T00:00:00Z",
                 now="2026-09-02T00:00:00Z")  # fmt: skip
    billing.json("invoice", "run", now="2026-10-02T00:00:00Z")
    assert billing.json("ledger", "check", now=NOW)["ok"] is True
    return billing


def check_names(billing: Billing, *fragments: str) -> None:
    result = billing("ledger", "check", now=NOW)
    assert result.exit_code == 6, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ledger check found"), result.stderr
    for fragment in fragments:
        assert fragment in result.stdout, result.stdout


def edit(billing: Billing, *statements: str) -> None:
    with psycopg.connect(str(billing.db)) as conn:
        for sql in statements:
            conn.execute(sql)  # type: ignore[arg-type]


EDITS = [
    (
        ["DROP TRIGGER meter_events_no_update ON meter_events"],
        "schema: trigger meter_events_no_update is missing (dropped outside billing)",
    ),
    (
        ["ALTER TABLE invoices DISABLE TRIGGER invoices_guard"],
        "schema: trigger invoices_guard is disabled (switched off outside billing)",
    ),
    (
        ["CREATE OR REPLACE FUNCTION billing_refuse() RETURNS trigger LANGUAGE plpgsql"
         " AS $$ BEGIN RETURN NEW; END $$"],
        "schema: function billing_refuse() is not the one billing created",
    ),
    (
        ["DROP INDEX meter_events_usage"],
        "schema: index meter_events_usage is missing (dropped outside billing)",
    ),
    (
        ["CREATE RULE keep AS ON UPDATE TO meter_events DO INSTEAD NOTHING"],
        "schema: rule keep was not created by billing (added outside billing)",
    ),
    (
        ["CREATE FUNCTION sneaky() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
         " NEW.value := '0'; RETURN NEW; END $$",
         "CREATE TRIGGER sneaky BEFORE INSERT ON meter_events FOR EACH ROW"
         " EXECUTE FUNCTION sneaky()"],
        "schema: trigger sneaky was not created by billing (added outside billing)",
    ),
    (
        ["ALTER TABLE meter_events DROP CONSTRAINT meter_events_identifier_key CASCADE"],
        "schema: table meter_events is not the one billing created",
    ),
    (
        ["ALTER TABLE invoices ALTER COLUMN total DROP NOT NULL"],
        "schema: table invoices is not the one billing created",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("statements", "named"), EDITS, ids=[n.split()[1] + "-" + n.split()[2]
                                                               for _, n in EDITS])  # fmt: skip
def test_a_schema_edited_behind_billings_back_is_named(
    ledger: Billing, statements: list[str], named: str
) -> None:
    edit(ledger, *statements)
    check_names(ledger, named)


def test_the_comparison_leaves_nothing_behind(ledger: Billing, pg_server) -> None:  # noqa: ANN001
    """The expected schema is built in a scratch schema that is rolled back."""
    with psycopg.connect(pg_server.get_uri()) as conn:
        count = "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'billing_check%'"
        assert conn.execute(count).fetchone() == (0,)  # type: ignore[arg-type]


def test_an_upgraded_ledger_has_the_schema_billing_creates(postgres_db: str) -> None:
    """A ledger created by an older billing_cli and upgraded step by step matches a new one."""
    from billing_cli.storage.postgres.schema import MIGRATIONS

    with psycopg.connect(postgres_db) as conn:
        conn.execute(
            "CREATE TABLE billing_schema (version INTEGER PRIMARY KEY,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        conn.execute(MIGRATIONS[0])  # type: ignore[arg-type]
        conn.execute("INSERT INTO billing_schema (version) VALUES (1)")
    billing = build_alpaca(Billing(postgres_db))  # a writer upgrades the rest of the way
    assert billing.json("ledger", "check", now=NOW)["ok"] is True


def test_a_user_who_may_not_build_the_comparison_is_told_so(ledger: Billing, pg_server) -> None:  # noqa: ANN001
    """The comparison needs a scratch schema (CREATE on the database): a user without it
    gets exit 6 saying the schema was not compared, never a silent pass."""
    uri = str(ledger.db)
    schema = uri.rsplit("%3D", 1)[1]
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS auditor")  # type: ignore[arg-type]
        conn.execute("CREATE ROLE auditor LOGIN")
        conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO auditor")  # type: ignore[arg-type]
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO auditor")  # type: ignore[arg-type]
    try:
        # a process of its own: this one keeps the schema it already built for the check above
        argv = [sys.executable, "-m", "billing_cli", "--db", uri.replace("postgres:@", "auditor:@"),
                "--now", NOW, "ledger", "check"]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
        result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        assert result.returncode == 6, (result.stdout, result.stderr)
        assert "schema: not compared" in result.stdout and "CREATE" in result.stdout
    finally:
        with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
            conn.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM auditor")  # type: ignore[arg-type]
            conn.execute(f"REVOKE ALL ON SCHEMA {schema} FROM auditor")  # type: ignore[arg-type]
            conn.execute("DROP ROLE auditor")
