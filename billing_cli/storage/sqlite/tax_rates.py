"""Tax rates (Stripe's `tax_rates`) and the taxes stored with invoices and their lines.

A line's `taxes` and an invoice's `total_taxes` are canonical JSON lists in Stripe's field
names, with each rate's name and percentage as computed, so an issued invoice never depends on
a tax rate row again (and an accountant can read them with SQLite's json_each).
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

from billing_cli.domain.models import TaxRate
from billing_cli.domain.money import decimal_str
from billing_cli.domain.tax import LineTax, TaxTotal, taxes_data
from billing_cli.storage.dialect import SQLITE, Dialect
from billing_cli.storage.sqlite.catalog_chain import seal


def taxes_json(taxes: tuple[LineTax, ...] | tuple[TaxTotal, ...]) -> str:
    return json.dumps(taxes_data(taxes), separators=(",", ":"), ensure_ascii=False)


def _fields(item: dict) -> tuple[str, str, Decimal, bool, int, int]:
    if not isinstance(item["amount"], int) or not isinstance(item["taxable_amount"], int):
        raise TypeError(f"tax amounts must be integers: {item!r}")
    return (
        item["tax_rate"],
        item["display_name"],
        Decimal(item["percentage"]),
        bool(item["inclusive"]),
        item["amount"],
        item["taxable_amount"],
    )


def line_taxes_from_json(text: str) -> tuple[LineTax, ...]:
    return tuple(LineTax(*_fields(item)) for item in json.loads(text))


def total_taxes_from_json(text: str) -> tuple[TaxTotal, ...]:
    return tuple(TaxTotal(*_fields(item)) for item in json.loads(text))


def _tax_rate(row: sqlite3.Row) -> TaxRate:
    data = dict(row)
    data["percentage"] = Decimal(data["percentage"])
    data["inclusive"] = bool(data["inclusive"])
    data["active"] = bool(data["active"])
    data["metadata"] = json.loads(data["metadata"])
    return TaxRate(**data)


class TaxRateStore:
    conn: sqlite3.Connection
    sql: Dialect = SQLITE

    def insert_tax_rate(self, r: TaxRate) -> None:
        self.conn.execute(
            "INSERT INTO tax_rates (id, created, display_name, description, percentage,"
            " inclusive, active, country, jurisdiction, metadata) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                r.id,
                r.created,
                r.display_name,
                r.description,
                decimal_str(r.percentage),
                int(r.inclusive),
                int(r.active),
                r.country,
                r.jurisdiction,
                json.dumps(r.metadata, sort_keys=True, separators=(",", ":")),
            ),
        )
        seal(self.conn, "tax_rates", r.id)

    def update_tax_rate(self, r: TaxRate) -> None:
        self.conn.execute(
            "UPDATE tax_rates SET display_name = ?, description = ?, percentage = ?,"
            " inclusive = ?, active = ?, country = ?, jurisdiction = ?, metadata = ?"
            " WHERE id = ?",
            (
                r.display_name,
                r.description,
                decimal_str(r.percentage),
                int(r.inclusive),
                int(r.active),
                r.country,
                r.jurisdiction,
                json.dumps(r.metadata, sort_keys=True, separators=(",", ":")),
                r.id,
            ),
        )
        seal(self.conn, "tax_rates", r.id)

    def get_tax_rate(self, tax_rate_id: str) -> TaxRate | None:
        row = self.conn.execute("SELECT * FROM tax_rates WHERE id = ?", (tax_rate_id,)).fetchone()
        return _tax_rate(row) if row else None

    def list_tax_rates(self) -> list[TaxRate]:
        rows = self.conn.execute("SELECT * FROM tax_rates ORDER BY created, rowid")
        return [_tax_rate(r) for r in rows]

    def tax_rate_used_by(self, tax_rate_id: str) -> str | None:
        """The number of a finalized invoice that taxed with this rate, if any."""
        row = self.conn.execute(
            f"SELECT i.number FROM invoices i, {self.sql.invoice_taxes}"
            f" WHERE i.status <> 'draft' AND {self.sql.tax_rate_of} = ?"
            " ORDER BY i.finalized_at LIMIT 1",
            (tax_rate_id,),
        ).fetchone()
        return None if row is None else row[0]
