"""The catalog chain covers every catalog column by decision (issue 15 item 5): each column of
a catalog table is sealed or named as left out on purpose, and each table of the ledger is
either catalog (sealed) or carries its own evidence, so a migration that adds a column or a
table cannot leave it unguarded without saying so."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from billing_cli.domain.catalog_seal import SEALED, UNSEALED
from tests.conftest import Billing

# Tables with evidence of their own: hash chains, the roll-ups `ledger check` recomputes from
# the events, and the chains themselves; credit grants are hashed into the credit chain by
# their `credits_granted` transaction.
OWN_EVIDENCE = {
    "meter_events", "meter_event_adjustments", "usage_hourly", "event_watermark", "invoices",
    "invoice_lines", "invoice_chain", "catalog_chain", "credit_grants",
    "credit_balance_transactions",
}  # fmt: skip
# Not the books: the HTTP API's replay cache of answers (Idempotency-Key), pruned after 24 h.
NOT_BOOKS = {"idempotency_keys"}


def schema(tmp_path: Path) -> dict[str, list[str]]:
    billing = Billing(tmp_path / "billing.db")
    billing.json("customer", "create", "--id", "cus_x")  # creates the ledger
    conn = sqlite3.connect(tmp_path / "billing.db")
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    finally:
        conn.close()


def test_every_table_is_sealed_or_has_its_own_evidence(tmp_path: Path) -> None:
    tables = set(schema(tmp_path)) - {"sqlite_sequence"}
    assert tables - OWN_EVIDENCE - NOT_BOOKS == set(SEALED)


def test_every_catalog_column_is_sealed_or_left_out_by_name(tmp_path: Path) -> None:
    columns = schema(tmp_path)
    for table, (keys, sealed) in SEALED.items():
        assert set(keys) <= set(sealed), table
        decided = [*sealed, *UNSEALED.get(table, ())]
        assert sorted(decided) == sorted(columns[table]), table


def test_a_new_ledger_seals_what_billing_writes(tmp_path: Path) -> None:
    billing = Billing(tmp_path / "billing.db")
    billing.json("meter", "create", "--id", "mtr_t", "--display-name", "T", "--event-name", "t",
                 "--aggregation", "sum")  # fmt: skip
    billing.json("meter", "update", "mtr_t", "--display-name", "T2")
    billing.json("meter", "update", "mtr_t", "--display-name", "T2")  # unchanged: no entry
    conn = sqlite3.connect(tmp_path / "billing.db")
    rows = conn.execute("SELECT seq, object, key FROM catalog_chain ORDER BY seq").fetchall()
    conn.close()
    assert [r[1:] for r in rows if r[1] == "meters"] == [("meters", "mtr_t"), ("meters", "mtr_t")]
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
