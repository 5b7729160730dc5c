"""The seller-and-buyer setup the documents tests share: Alpaca AI GmbH in Berlin bills Max
Mustermann in Munich for tokens (0.04 USD per hundred, monthly, in arrears; the README's
example), so every invoice has both parties' addresses and VAT ids."""

from __future__ import annotations

import sqlite3

from tests.conftest import Billing

START = "2026-11-01T09:00:00Z"
CLOSE = "2026-12-01T10:00:00Z"  # after the November period's end and the 1 h grace


def build_shop(billing: Billing, *, name: str = "Max Mustermann") -> Billing:
    billing.json(
        "account", "update", "--business-name", "Alpaca AI GmbH",
        "--address-line1", "Hauptstraße 1", "--postal-code", "10115", "--city", "Berlin",
        "--country", "DE", "--tax-id", "DE123456789", "--email", "billing@alpaca.example",
        "--invoice-footer", "Alpaca AI GmbH · Amtsgericht Berlin HRB 12345", now=START,
    )  # fmt: skip
    billing.json(
        "meter", "create", "--id", "mtr_tokens", "--display-name", "Alpaca AI tokens",
        "--event-name", "alpaca_ai_tokens", "--aggregation", "sum", now=START,
    )  # fmt: skip
    billing.json(
        "price", "create", "--id", "price_tokens", "--product-name", "Alpaca AI",
        "--currency", "usd", "--unit-amount", "4", "--transform-divide-by", "100",
        "--transform-round", "up", "--interval", "month", "--usage-type", "metered",
        "--meter", "mtr_tokens", now=START,
    )  # fmt: skip
    billing.json(
        "customer", "create", "--id", "cus_max", "--name", name,
        "--email", "max@example.com", "--invoice-prefix", "ALPACA",
        "--address-line1", "Musterweg 5", "--postal-code", "80331", "--city", "München",
        "--country", "DE", "--tax-id", "DE987654321", now=START,
    )  # fmt: skip
    return billing


def subscribe(billing: Billing, *extra: str) -> None:
    billing.json(
        "subscription", "create", "--customer", "cus_max",
        "--price", "price_tokens", *extra, now=START,
    )  # fmt: skip


def send(billing: Billing, value: str, identifier: str, timestamp: str) -> None:
    billing.json(
        "event", "send", "--event-name", "alpaca_ai_tokens", "--customer", "cus_max",
        "--value", value, "--identifier", identifier, "--timestamp", timestamp, now=timestamp,
    )  # fmt: skip


def november(billing: Billing, tokens: str = "5055") -> dict:
    """One event of `tokens` in November, then the month-end close: the finalized invoice."""
    send(billing, tokens, "ev1", "2026-11-03T12:30:00Z")
    billing.json("invoice", "run", now=CLOSE)
    return billing.json("invoice", "show", "ALPACA-0001", now=CLOSE)


def undo_documents(conn: sqlite3.Connection) -> None:
    """Take a current ledger back to before migrations 6 to 9 (what tests of older
    migrations need: a file that truly is of the older version): its schema, and the hashes an
    older program gave its finalized invoices (no seller and buyer snapshot, no taxes)."""
    from billing_cli.domain.chain import invoice_hash
    from billing_cli.storage.sqlite.invoices import _RawInvoiceStore
    from billing_cli.storage.sqlite.schema import MIGRATIONS

    old_trigger = MIGRATIONS[1].split("CREATE TRIGGER invoices_finalized_frozen")[1]
    old_trigger = "CREATE TRIGGER invoices_finalized_frozen" + old_trigger.split("END;")[0] + "END;"
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'invoices'"
    ).fetchall()
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DROP TABLE catalog_chain")  # migration 9 (its index and triggers go with it)
    conn.execute("DROP VIEW events")  # migration 8
    conn.execute("ALTER TABLE account DROP COLUMN iban")
    conn.execute("ALTER TABLE account DROP COLUMN bic")
    conn.execute("ALTER TABLE customers DROP COLUMN buyer_reference")
    conn.execute("DROP TABLE subscription_tax_rates")  # migration 7
    conn.execute("DROP TABLE tax_rates")
    conn.execute("ALTER TABLE invoice_lines DROP COLUMN taxes")
    conn.execute("ALTER TABLE invoices DROP COLUMN total_taxes")
    conn.execute("ALTER TABLE invoices DROP COLUMN parties")  # migration 6
    conn.execute("ALTER TABLE customers DROP COLUMN address")
    conn.execute("ALTER TABLE customers DROP COLUMN tax_ids")
    conn.execute("DROP TABLE account")
    factory = conn.row_factory
    conn.row_factory = sqlite3.Row
    for inv in _RawInvoiceStore(conn).finalized_invoices():
        conn.execute("UPDATE invoices SET hash = ? WHERE id = ?", (invoice_hash(inv), inv.id))
    conn.row_factory = factory
    for name, sql in triggers:
        conn.execute(old_trigger if name == "invoices_finalized_frozen" else sql)
