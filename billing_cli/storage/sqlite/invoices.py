"""Reads and writes of invoices and their lines (SPEC 4).

Drafts are rewritten freely; a finalized invoice is only ever touched by a status transition.
The UNIQUE key (subscription, period_start, period_end, billing_reason) is what makes two
`invoice run`s, concurrent or not, create each invoice once: `insert_invoice` inserts with
ON CONFLICT DO NOTHING and reports whether the row is new.
"""

from __future__ import annotations

import json
import sqlite3

from billing_cli.domain import chain, parties
from billing_cli.domain.chain import STATUS_DATES, header_hash, line_hashes
from billing_cli.domain.invoice_lines import explain_text
from billing_cli.domain.invoicing import Invoice, Line
from billing_cli.domain.money import decimal_str
from billing_cli.storage.sqlite.invoice_queries import INVOICE_COLUMNS, InvoiceQueries
from billing_cli.storage.sqlite.tax_rates import taxes_json


def credits_to_json(line: Line) -> str:
    """A line's pretax credits as stored: `[[grant, amount, transaction or null], …]`."""
    return json.dumps(
        [
            [c.credit_grant, c.amount, c.credit_balance_transaction]
            for c in line.pretax_credit_amounts
        ],
        separators=(",", ":"),
    )


def parties_json(inv: Invoice) -> str | None:
    if inv.parties is None:
        return None
    return json.dumps(parties.to_data(inv.parties), separators=(",", ":"), ensure_ascii=False)


class InvoiceStore(InvoiceQueries):
    conn: sqlite3.Connection

    # -- writes -------------------------------------------------------------------------------
    def insert_invoice(self, inv: Invoice) -> bool:
        """Insert a new invoice with its lines; False (nothing written) when its key exists."""
        cursor = self.conn.execute(
            f"INSERT INTO invoices ({INVOICE_COLUMNS}, total_taxes)"
            f" VALUES ({','.join('?' * 23)})"
            " ON CONFLICT (subscription, period_start, period_end, billing_reason) DO NOTHING",
            (
                inv.id,
                inv.created,
                inv.customer,
                inv.subscription,
                inv.status,
                inv.billing_reason,
                inv.number,
                inv.currency,
                inv.period_start,
                inv.period_end,
                inv.subtotal,
                inv.total,
                inv.starting_balance,
                inv.ending_balance,
                inv.amount_due,
                inv.amount_paid,
                inv.computed_at,
                inv.finalized_at,
                inv.paid_at,
                inv.voided_at,
                inv.marked_uncollectible_at,
                inv.hash,
                taxes_json(inv.total_taxes),
            ),
        )
        if cursor.rowcount == 0:
            return False
        self._insert_lines(inv)
        return True

    def _insert_lines(self, inv: Invoice) -> None:
        self.conn.executemany(
            "INSERT INTO invoice_lines (id, invoice, position, type, subscription_item, price,"
            " meter, description, period_start, period_end, quantity_decimal, quantity,"
            " unit_amount_decimal, amount, proration, explain, taxes, pretax_credit_amounts)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    line.id,
                    inv.id,
                    position,
                    line.type,
                    line.subscription_item,
                    line.price,
                    line.meter,
                    line.description,
                    line.period_start,
                    line.period_end,
                    decimal_str(line.quantity_decimal),
                    line.quantity,
                    None
                    if line.unit_amount_decimal is None
                    else decimal_str(line.unit_amount_decimal),
                    line.amount,
                    int(line.proration),
                    explain_text(line.explain),
                    taxes_json(line.taxes),
                    credits_to_json(line),
                )
                for position, line in enumerate(inv.lines)
            ],
        )

    def replace_draft(self, inv: Invoice) -> None:
        """Recompute a draft in place: same id, new totals, lines deleted and rewritten."""
        cursor = self.conn.execute(
            "UPDATE invoices SET subtotal = ?, total = ?, starting_balance = ?, amount_due = ?,"
            " computed_at = ?, total_taxes = ? WHERE id = ? AND status = 'draft'",
            (
                inv.subtotal,
                inv.total,
                inv.starting_balance,
                inv.amount_due,
                inv.computed_at,
                taxes_json(inv.total_taxes),
                inv.id,
            ),
        )
        if cursor.rowcount != 1:
            raise RuntimeError(f"invoice {inv.id} is not a draft; finalized invoices are frozen")
        self.conn.execute("DELETE FROM invoice_lines WHERE invoice = ?", (inv.id,))
        self._insert_lines(inv)

    def mark_finalized(self, inv: Invoice) -> None:
        """Draft → open with its number, balances and hash (the lines were written already),
        entered into the invoice chain with the content hashes of its header and lines."""
        cursor = self.conn.execute(
            "UPDATE invoices SET status = 'open', number = ?, finalized_at = ?,"
            " starting_balance = ?, ending_balance = ?, amount_due = ?, hash = ?, parties = ?"
            " WHERE id = ? AND status = 'draft'",
            (
                inv.number,
                inv.finalized_at,
                inv.starting_balance,
                inv.ending_balance,
                inv.amount_due,
                inv.hash,
                parties_json(inv),
                inv.id,
            ),
        )
        if cursor.rowcount != 1:
            raise RuntimeError(f"invoice {inv.id} is not a draft")
        assert inv.id is not None and inv.finalized_at is not None
        self._append_chain(
            inv.id, "open", inv.finalized_at, header=header_hash(inv), lines=line_hashes(inv)
        )

    def _append_chain(
        self,
        invoice_id: str,
        status: str,
        at: int,
        *,
        amount_paid: int | None = None,
        header: str | None = None,
        lines: str | None = None,
    ) -> None:
        """Link one row into the invoice chain (inside the caller's write transaction, so the
        previous row cannot move under it)."""
        last = self.conn.execute(
            "SELECT seq, hash FROM invoice_chain ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        seq = 1 if last is None else last[0] + 1
        previous = chain.GENESIS if last is None else last[1]
        values = (seq, invoice_id, status, at, amount_paid, header, lines)
        self.conn.execute(
            "INSERT INTO invoice_chain (seq, invoice, status, at, amount_paid, header_hash,"
            " line_hashes, hash) VALUES (?,?,?,?,?,?,?,?)",
            (*values, chain.link(previous, values)),
        )

    def take_invoice_number(self, customer: str) -> str:
        """`PREFIX-NNNN` from the customer's sequence, which moves on: gapless inside the
        BEGIN IMMEDIATE transaction that finalizes."""
        row = self.conn.execute(
            "SELECT invoice_prefix, next_invoice_sequence FROM customers WHERE id = ?",
            (customer,),
        ).fetchone()
        self.conn.execute(
            "UPDATE customers SET next_invoice_sequence = next_invoice_sequence + 1 WHERE id = ?",
            (customer,),
        )
        return f"{row['invoice_prefix']}-{row['next_invoice_sequence']:04d}"

    def set_customer_balance(self, customer: str, balance: int) -> None:
        self.conn.execute("UPDATE customers SET balance = ? WHERE id = ?", (balance, customer))

    def set_invoice_status(
        self, invoice_id: str, expected: str, status: str, **fields: int
    ) -> None:
        """A lifecycle transition, recorded in the invoice chain; `fields` holds the status's
        date (`STATUS_DATES`) and, for paid, `amount_paid`. The WHERE on the old status makes a
        lost race a no-op error."""
        sets = "".join(f", {name} = ?" for name in fields)
        cursor = self.conn.execute(
            f"UPDATE invoices SET status = ?{sets} WHERE id = ? AND status = ?",
            (status, *fields.values(), invoice_id, expected),
        )
        if cursor.rowcount != 1:
            raise RuntimeError(f"invoice {invoice_id} changed status concurrently")
        self._append_chain(
            invoice_id, status, fields[STATUS_DATES[status]], amount_paid=fields.get("amount_paid")
        )

    def delete_draft(self, invoice_id: str) -> None:
        self.conn.execute(
            "DELETE FROM invoice_lines WHERE invoice IN"
            " (SELECT id FROM invoices WHERE id = ? AND status = 'draft')",
            (invoice_id,),
        )
        self.conn.execute("DELETE FROM invoices WHERE id = ? AND status = 'draft'", (invoice_id,))


class _RawInvoiceStore(InvoiceStore):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


def backfill_invoice_chain(conn: sqlite3.Connection) -> None:
    """Migration 4 on a ledger that has finalized invoices already: enter each one into the new
    invoice chain as it stands (finalization, then its status transitions, in time order).
    What the chain cannot vouch for is what happened before it existed; the invoices' own
    content hashes, checked by `ledger check` as before, still cover their content."""
    factory = conn.row_factory
    conn.row_factory = sqlite3.Row
    try:
        store = _RawInvoiceStore(conn)
        steps: list[tuple[int, int, int, Invoice, str]] = []
        for order, inv in enumerate(store.finalized_invoices()):
            steps.append((inv.finalized_at or 0, 0, order, inv, "open"))
            for rank, status in enumerate(("uncollectible", "paid", "void"), start=1):
                at = getattr(inv, STATUS_DATES[status])
                if at is not None:
                    steps.append((at, rank, order, inv, status))
        for at, _, _, inv, status in sorted(steps, key=lambda s: s[:3]):
            assert inv.id is not None
            if status == "open":
                store._append_chain(
                    inv.id, "open", at, header=header_hash(inv), lines=line_hashes(inv)
                )
            else:
                paid = inv.amount_paid if status == "paid" else None
                store._append_chain(inv.id, status, at, amount_paid=paid)
    finally:
        conn.row_factory = factory
