"""Reads and writes of billing credits: credit grants and the credit chain (migration 10).

Both tables are append-only. Every transaction is linked into the credit chain inside the
caller's BEGIN IMMEDIATE transaction (seq = last + 1, hash over the previous row's hash), so
two processes can never interleave their rows; the `credit_balance_never_negative` trigger
refuses a debit larger than what its grant holds, whatever wrote it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import replace

from billing_cli.domain import chain
from billing_cli.domain.credits import REASONS, CreditChainEntry, CreditGrant, Transaction
from billing_cli.errors import UnreadableRow
from billing_cli.storage.sqlite.base import where_equal

_GRANT_COLUMNS = (
    "id, created, customer, currency, value, category, priority, effective_at, expires_at,"
    " prices, name, metadata"
)
_TRANSACTION_COLUMNS = (
    "seq, id, created, effective_at, credit_grant, customer, currency, reason, amount, invoice,"
    " invoice_line_item"
)


def _grant(row: sqlite3.Row) -> CreditGrant:
    try:
        data = dict(row)
        data["prices"] = tuple(str(p) for p in json.loads(data["prices"]))
        data["metadata"] = dict(json.loads(data["metadata"]))
        return CreditGrant(**data)
    except (ValueError, TypeError) as exc:
        raise UnreadableRow("credit_grants", row["id"], exc) from exc


def _transaction(row: sqlite3.Row) -> Transaction:
    if row["reason"] not in REASONS:
        raise UnreadableRow("credit_balance_transactions", row["id"], ValueError(row["reason"]))
    return Transaction(
        id=row["id"],
        created=row["created"],
        effective_at=row["effective_at"],
        credit_grant=row["credit_grant"],
        customer=row["customer"],
        currency=row["currency"],
        reason=row["reason"],
        amount=row["amount"],
        invoice=row["invoice"],
        invoice_line_item=row["invoice_line_item"],
        seq=row["seq"],
    )


class CreditStore:
    conn: sqlite3.Connection

    # -- writes -------------------------------------------------------------------------------
    def insert_credit_grant(self, grant: CreditGrant, granted: Transaction) -> None:
        """The grant and its `credits_granted` transaction, which carries the grant's hash."""
        self.conn.execute(
            f"INSERT INTO credit_grants ({_GRANT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                grant.id,
                grant.created,
                grant.customer,
                grant.currency,
                grant.value,
                grant.category,
                grant.priority,
                grant.effective_at,
                grant.expires_at,
                json.dumps(list(grant.prices), separators=(",", ":")),
                grant.name,
                json.dumps(dict(grant.metadata), sort_keys=True, separators=(",", ":")),
            ),
        )
        self._append(granted, chain.grant_hash(grant))

    def append_credit_transactions(self, transactions: Iterable[Transaction]) -> None:
        for t in transactions:
            self._append(t, None)

    def _append(self, t: Transaction, grant_hash: str | None) -> None:
        last = self.conn.execute(
            "SELECT seq, hash FROM credit_balance_transactions ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        seq = 1 if last is None else last[0] + 1
        previous = chain.GENESIS if last is None else last[1]
        entry = CreditChainEntry(replace(t, seq=seq), grant_hash, hash="")
        self.conn.execute(
            "INSERT INTO credit_balance_transactions (seq, id, created, effective_at,"
            " credit_grant, customer, currency, type, reason, amount, invoice,"
            " invoice_line_item, grant_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                seq,
                t.id,
                t.created,
                t.effective_at,
                t.credit_grant,
                t.customer,
                t.currency,
                t.type,
                t.reason,
                t.amount,
                t.invoice,
                t.invoice_line_item,
                grant_hash,
                chain.link(previous, entry.values),
            ),
        )

    def mark_credit_position(self, invoice_id: str) -> None:
        """Record, on a draft about to be finalized, the credit chain's last seq: the grants
        its credits were taken from are the transactions up to there."""
        self.conn.execute(
            "UPDATE invoices SET credit_seq ="
            " (SELECT coalesce(max(seq), 0) FROM credit_balance_transactions)"
            " WHERE id = ? AND status = 'draft'",
            (invoice_id,),
        )

    # -- reads --------------------------------------------------------------------------------
    def credit_positions(self) -> dict[str, int]:
        """Invoice id → the credit chain's last seq at its finalization (finalized since
        migration 10)."""
        rows = self.conn.execute("SELECT id, credit_seq FROM invoices WHERE credit_seq IS NOT NULL")
        return {r[0]: r[1] for r in rows}

    def get_credit_grant(self, grant_id: str) -> CreditGrant | None:
        row = self.conn.execute(
            f"SELECT {_GRANT_COLUMNS} FROM credit_grants WHERE id = ?", (grant_id,)
        ).fetchone()
        return None if row is None else _grant(row)

    def list_credit_grants(self, *, customer: str | None = None) -> list[CreditGrant]:
        """Newest first, as Stripe lists them."""
        where, params = ("WHERE customer = ?", (customer,)) if customer else ("", ())
        rows = self.conn.execute(
            f"SELECT {_GRANT_COLUMNS} FROM credit_grants {where} ORDER BY created DESC, rowid DESC",
            params,
        )
        return [_grant(r) for r in rows]

    def credit_transactions(
        self,
        *,
        customer: str | None = None,
        credit_grant: str | None = None,
        invoice: str | None = None,
    ) -> list[Transaction]:
        """In chain order (oldest first)."""
        where, params = where_equal(
            (("customer", customer), ("credit_grant", credit_grant), ("invoice", invoice))
        )
        rows = self.conn.execute(
            f"SELECT {_TRANSACTION_COLUMNS} FROM credit_balance_transactions {where} ORDER BY seq",
            params,
        )
        return [_transaction(r) for r in rows]

    def get_credit_transaction(self, transaction_id: str) -> Transaction | None:
        row = self.conn.execute(
            f"SELECT {_TRANSACTION_COLUMNS} FROM credit_balance_transactions WHERE id = ?",
            (transaction_id,),
        ).fetchone()
        return None if row is None else _transaction(row)

    def credit_chain(self) -> list[CreditChainEntry]:
        """Every transaction with its hashes, in chain order (what `ledger check` walks)."""
        rows = self.conn.execute(
            f"SELECT {_TRANSACTION_COLUMNS}, type, grant_hash, hash"
            " FROM credit_balance_transactions ORDER BY seq"
        )
        out = []
        for r in rows:
            t = _transaction(r)
            if r["type"] != t.type:
                raise UnreadableRow(
                    "credit_balance_transactions", t.id, ValueError(f"type {r['type']}")
                )
            out.append(CreditChainEntry(t, r["grant_hash"], r["hash"]))
        return out
