"""Reads of invoices and their lines (SPEC 4), and the integrity queries `ledger check` runs on
them; `invoices.InvoiceStore` (the writes) extends `InvoiceQueries`, as `EventStore` extends
`EventQueries`. Rows are read with `SELECT *` because a migration's backfill reads invoices
before later migrations add their columns.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from decimal import Decimal

from billing_cli.domain import parties
from billing_cli.domain.chain import ChainEntry
from billing_cli.domain.invoicing import Invoice, Line, PretaxCredit, Target, number_seq
from billing_cli.errors import UnreadableRow
from billing_cli.storage.sqlite.base import where_equal
from billing_cli.storage.sqlite.tax_rates import line_taxes_from_json, total_taxes_from_json

INVOICE_COLUMNS = (
    "id, created, customer, subscription, status, billing_reason, number, currency,"
    " period_start, period_end, subtotal, total, starting_balance, ending_balance, amount_due,"
    " amount_paid, computed_at, finalized_at, paid_at, voided_at, marked_uncollectible_at, hash"
)


def line_from_row(row: sqlite3.Row) -> Line:
    unit = row["unit_amount_decimal"]
    return Line(
        id=row["id"],
        type=row["type"],
        description=row["description"],
        period_start=row["period_start"],
        period_end=row["period_end"],
        quantity_decimal=Decimal(row["quantity_decimal"]),
        amount=row["amount"],
        subscription_item=row["subscription_item"],
        price=row["price"],
        meter=row["meter"],
        unit_amount_decimal=None if unit is None else Decimal(unit),
        proration=bool(row["proration"]),
        explain=json.loads(row["explain"]),
        taxes=line_taxes_from_json(row["taxes"]) if "taxes" in row.keys() else (),
        # Absent while migration 4's backfill reads lines, before migration 10 adds the column.
        pretax_credit_amounts=credits_from_json(
            row["pretax_credit_amounts"] if "pretax_credit_amounts" in row.keys() else "[]"
        ),
    )


def credits_from_json(text: str) -> tuple[PretaxCredit, ...]:
    return tuple(
        PretaxCredit(amount=int(amount), credit_grant=str(grant), credit_balance_transaction=txn)
        for grant, amount, txn in json.loads(text)
    )


_FIELDS = tuple(name.strip() for name in INVOICE_COLUMNS.split(","))


def _invoice(row: sqlite3.Row, lines: Iterable[Line]) -> Invoice:
    """An invoice from `SELECT *`: columns a later migration added may be absent (a backfill
    reads invoices on the way up)."""
    data = {k: row[k] for k in _FIELDS}
    snapshot = row["parties"] if "parties" in row.keys() else None
    data["parties"] = None if snapshot is None else parties.from_data(json.loads(snapshot))
    if "total_taxes" in row.keys():
        data["total_taxes"] = total_taxes_from_json(row["total_taxes"])
    return Invoice(**data, lines=tuple(lines))


class InvoiceQueries:
    conn: sqlite3.Connection

    # -- reads --------------------------------------------------------------------------------
    def _invoices(self, where: str, params: tuple, order: str) -> list[Invoice]:
        rows = self.conn.execute(
            f"SELECT * FROM invoices {where} ORDER BY {order}", params
        ).fetchall()
        if not rows:
            return []
        lines: dict[str, list[Line]] = {r["id"]: [] for r in rows}
        line_rows = self.conn.execute(
            f"SELECT * FROM invoice_lines WHERE invoice IN (SELECT id FROM invoices {where})"
            " ORDER BY invoice, position",
            params,
        )
        for lr in line_rows:
            try:
                line = line_from_row(lr)
            except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
                raise UnreadableRow("invoice_lines", lr["id"], exc) from exc
            lines[lr["invoice"]].append(line)
        out = []
        for r in rows:
            try:
                out.append(_invoice(r, lines[r["id"]]))
            except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
                raise UnreadableRow("invoices", r["id"], exc) from exc
        return out

    def get_invoice(self, invoice_id: str) -> Invoice | None:
        found = self._invoices("WHERE id = ? OR number = ?", (invoice_id, invoice_id), "id")
        return found[0] if found else None

    def list_invoices(
        self,
        *,
        customer: str | None = None,
        status: str | None = None,
        subscription: str | None = None,
        newest_first: bool = True,
    ) -> list[Invoice]:
        where, params = where_equal(
            (("customer", customer), ("status", status), ("subscription", subscription))
        )
        order = "created DESC, id DESC" if newest_first else "created, id"
        return self._invoices(where, tuple(params), order)

    def finalized_invoices(self) -> list[Invoice]:
        """Every non-draft invoice in finalization order (what `ledger check` walks)."""
        found = self._invoices("WHERE status != 'draft'", (), "finalized_at, customer, number")
        return sorted(found, key=lambda i: (i.finalized_at or 0, number_seq(i.number or "-0")))

    def finalized_invoice_ids(self) -> list[tuple[str, str | None]]:
        """(id, number) of every non-draft invoice, reading nothing else."""
        rows = self.conn.execute("SELECT id, number FROM invoices WHERE status != 'draft'")
        return [(r[0], r[1]) for r in rows]

    def invoice_chain(self) -> list[ChainEntry]:
        """The invoice chain in order (what `ledger check` walks)."""
        rows = self.conn.execute(
            "SELECT seq, invoice, status, at, amount_paid, header_hash, line_hashes, hash"
            " FROM invoice_chain ORDER BY seq"
        )
        return [ChainEntry(*row) for row in rows]

    def invoice_targets(
        self, subscription: str, after: int | None = None
    ) -> dict[Target, tuple[str, str]]:
        """Target → (invoice id, status) for every invoice of a subscription; with `after`,
        only its drafts and the invoices whose period ends after it (a close or a preview
        needs no more than that, whatever the subscription's age)."""
        params: list[object]
        where, params = "", [subscription]
        if after is not None:
            where = " AND (status = 'draft' OR period_end > ?)"
            params = [subscription, after]
        rows = self.conn.execute(
            "SELECT id, status, billing_reason, period_start, period_end FROM invoices"
            f" WHERE subscription = ?{where}",
            params,
        )
        return {
            Target(r["billing_reason"], r["period_start"], r["period_end"]): (r["id"], r["status"])
            for r in rows
        }

    def cycle_summary(self, subscription: str) -> tuple[int, int | None]:
        """(number of cycle invoices, latest period_end among them) of a subscription: with
        `invoicing.first_unbilled`, where the next cycle period to invoice is."""
        row = self.conn.execute(
            "SELECT count(*), max(period_end) FROM invoices WHERE subscription = ?"
            " AND billing_reason = 'subscription_cycle'",
            (subscription,),
        ).fetchone()
        return row[0], row[1]

    # -- integrity ----------------------------------------------------------------------------
    def foreign_key_problems(self) -> list[str]:
        """Rows whose foreign key points nowhere (SQLite checks keys only while they are on)."""
        return [
            f"{table} row {rowid} refers to a missing {parent} row"
            for table, rowid, parent, _ in self.conn.execute("PRAGMA foreign_key_check")
        ]

    def integrity_problems(self) -> list[str]:
        """Dangling references SQLite's foreign keys and our own columns would hide."""
        out = self.foreign_key_problems()
        orphans = self.conn.execute(
            "SELECT l.id, l.invoice, l.subscription_item FROM invoice_lines l"
            " WHERE l.subscription_item IS NOT NULL AND NOT EXISTS"
            " (SELECT 1 FROM subscription_items si WHERE si.id = l.subscription_item)"
        )
        out += [f"line {i} of {inv} refers to a missing item {si}" for i, inv, si in orphans]
        return out
