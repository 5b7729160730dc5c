"""The seller profile: one row (`account`, id 1), absent until the first `account update`."""

from __future__ import annotations

import json
import sqlite3

from billing_cli.domain import parties
from billing_cli.domain.models import Account
from billing_cli.storage.sqlite.catalog import address_json
from billing_cli.storage.sqlite.catalog_chain import seal


class AccountStore:
    conn: sqlite3.Connection

    def get_account(self) -> Account:
        row = self.conn.execute(
            "SELECT updated, business_name, address, tax_id, email, invoice_footer, iban, bic"
            " FROM account WHERE id = 1"
        ).fetchone()
        if row is None:
            return Account()
        return Account(
            business_name=row["business_name"],
            address=parties.address_from_data(json.loads(row["address"] or "null")),
            tax_id=row["tax_id"],
            email=row["email"],
            invoice_footer=row["invoice_footer"],
            updated=row["updated"],
            iban=row["iban"],
            bic=row["bic"],
        )

    def put_account(self, a: Account) -> None:
        self.conn.execute(
            "INSERT INTO account (id, updated, business_name, address, tax_id, email,"
            " invoice_footer, iban, bic) VALUES (1,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE"
            " SET updated = excluded.updated, business_name = excluded.business_name,"
            " address = excluded.address, tax_id = excluded.tax_id, email = excluded.email,"
            " invoice_footer = excluded.invoice_footer, iban = excluded.iban, bic = excluded.bic",
            (
                a.updated,
                a.business_name,
                address_json(a.address),
                a.tax_id,
                a.email,
                a.invoice_footer,
                a.iban,
                a.bic,
            ),
        )
        seal(self.conn, "account", 1)
