"""The tamper-evidence hash chain (SPEC 6, beyond Stripe).

Each money-relevant row keeps `sha256(previous hash + canonical row)`. Editing, inserting or
deleting a row behind the program's back breaks the chain at that row, which `ledger check`
names. Four chains: meter events, meter event adjustments, the invoice chain (each
finalization and each later status transition of an invoice, in the order they happened) and
the credit chain (every credit balance transaction, each grant entering with its first).
The canonical form is JSON of the row's fields in a fixed order, so it does not depend on
SQLite's storage or on Python's dict order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from billing_cli.domain.money import decimal_str

if TYPE_CHECKING:
    from billing_cli.domain.credits import CreditGrant
    from billing_cli.domain.invoicing import Invoice, Line

GENESIS = "0" * 64

EVENT_FIELDS = (
    "seq",
    "identifier",
    "event_name",
    "meter",
    "customer",
    "timestamp",
    "value",
    "payload",
    "received",
    "status",
)
ADJUSTMENT_FIELDS = ("seq", "type", "identifier", "invoice", "created")
# The invoice chain (migration 4): one row per status an invoice enters after its draft, in the
# order it happened. `open` (finalization) carries the content hashes of the invoice's header
# and of each line; `paid` the amount paid; every row the time of the transition.
INVOICE_CHAIN_FIELDS = (
    "seq",
    "invoice",
    "status",
    "at",
    "amount_paid",
    "header_hash",
    "line_hashes",
)
# The credit chain (migration 10): every billing.credit_balance_transaction in the order it was
# written. A grant's `credits_granted` row carries the content hash of the grant itself.
CREDIT_TRANSACTION_FIELDS = (
    "seq",
    "id",
    "created",
    "effective_at",
    "credit_grant",
    "customer",
    "currency",
    "reason",
    "amount",
    "invoice",
    "invoice_line_item",
    "grant_hash",
)


def canonical(values: Sequence[object]) -> bytes:
    return json.dumps(list(values), separators=(",", ":"), ensure_ascii=False).encode()


def link(previous: str, values: Sequence[object]) -> str:
    return hashlib.sha256(previous.encode() + b"\n" + canonical(values)).hexdigest()


# --- the ledger's head: every chain's last row, in one token a user can keep ---
# `v1:<seq>.<seq>.…:<digest>`: the last seq of each chain (`CHAIN_TABLES` order) and 128 bits
# of sha256 over (table, seq, hash) of those rows. Kept outside the file (a cron log, a
# ticket), it reveals what no hash inside the file can: rows cut off the end of a chain, rows
# appended since, or a history rewritten with every hash recomputed.
HEAD_FORMAT = "v1:<seq>.<seq>.<seq>.<seq>:<32 hex digits>"


def head_token(rows: Sequence[tuple[str, int, str | None]]) -> str:
    """The head of chains given as (table, last seq, that row's hash)."""
    return f"v1:{'.'.join(str(seq) for _, seq, _ in rows)}:{head_digest(rows)}"


def head_digest(rows: Sequence[tuple[str, int, str | None]]) -> str:
    return hashlib.sha256(canonical([list(row) for row in rows])).hexdigest()[:32]


def parse_head(text: str) -> tuple[list[int], str] | None:
    """(seq per chain, digest) of a head token, or None when it is not one."""
    version, _, rest = text.strip().partition(":")
    seqs, _, digest = rest.partition(":")
    parts = seqs.split(".")
    if version != "v1" or len(digest) != 32 or not all(p.isdigit() and p.isascii() for p in parts):
        return None
    if any(c not in "0123456789abcdef" for c in digest) or not 1 <= len(parts) <= 16:
        return None
    return [int(p) for p in parts], digest


# --- invoices ---


def _header_values(inv: Invoice) -> list[object]:
    """The frozen header fields of a finalized invoice (its status and status dates aside)."""
    return [
        inv.id,
        inv.number,
        inv.customer,
        inv.subscription,
        inv.billing_reason,
        inv.currency,
        inv.period_start,
        inv.period_end,
        inv.subtotal,
        inv.total,
        inv.starting_balance,
        inv.ending_balance,
        inv.amount_due,
        inv.finalized_at,
        *_frozen_extras(inv),
    ]


def _frozen_extras(inv: Invoice) -> list[object]:
    """What invoices freeze since the documents issue (seller and buyer, taxes), appended only
    when present: the hash of an invoice finalized before (no snapshot) stays what it was."""
    from billing_cli.domain import parties  # lazily, as invoice_lines: event send stays light
    from billing_cli.domain.tax import taxes_data

    extra: dict[str, object] = {}
    if inv.parties is not None:
        extra["parties"] = parties.to_data(inv.parties)
    if inv.total_taxes:
        extra["total_taxes"] = taxes_data(inv.total_taxes)
    return [extra] if extra else []


def _line_values(line: Line) -> list[object]:
    # Imported here: the event chain (every `event send`) needs `link`, not the invoice lines.
    from billing_cli.domain.invoice_lines import explain_text
    from billing_cli.domain.tax import taxes_data

    return [
        line.id,
        line.type,
        line.subscription_item,
        line.price,
        line.meter,
        line.description,
        line.period_start,
        line.period_end,
        decimal_str(line.quantity_decimal),
        None if line.unit_amount_decimal is None else decimal_str(line.unit_amount_decimal),
        line.amount,
        line.proration,
        explain_text(line.explain),
        *([{"taxes": taxes_data(line.taxes)}] if line.taxes else []),
        # Billing credits (migration 10) join the hashed values only when a line has some, so a
        # line without credits hashes as it always did.
        *(
            [
                {
                    "pretax_credit_amounts": [
                        [c.credit_grant, c.amount, c.credit_balance_transaction]
                        for c in line.pretax_credit_amounts
                    ]
                }
            ]
            if line.pretax_credit_amounts
            else []
        ),
    ]


def invoice_hash(inv: Invoice) -> str:
    """sha256 of the frozen content of a finalized invoice (status changes excluded), so that
    `ledger check` notices an edit made behind the program's back."""
    return link(GENESIS, [*_header_values(inv), *(_line_values(line) for line in inv.lines)])


def header_hash(inv: Invoice) -> str:
    """sha256 of the frozen header alone (with its creation and computation times): the
    invoice chain keeps it apart from the lines' so that `ledger check` can name the very row
    that was edited."""
    return link(GENESIS, [*_header_values(inv), inv.created, inv.computed_at])


def line_hashes(inv: Invoice) -> str:
    """`[[line id, sha256 of the line], …]` in position order, as canonical JSON text."""
    pairs = [[line.id, link(GENESIS, _line_values(line))] for line in inv.lines]
    return json.dumps(pairs, separators=(",", ":"))


# The date column each status after `open` sets (SPEC 4.5), recorded in the invoice chain.
STATUS_DATES = {
    "paid": "paid_at",
    "void": "voided_at",
    "uncollectible": "marked_uncollectible_at",
}


@dataclass(frozen=True)
class ChainEntry:
    """One row of the invoice chain: the invoice entered `status` at `at` (migration 4)."""

    seq: int
    invoice: str
    status: str  # open (finalized) | paid | void | uncollectible
    at: int
    amount_paid: int | None  # paid only
    header_hash: str | None  # open only
    line_hashes: str | None  # open only: JSON [[line id, hash], …] in position order
    hash: str

    @property
    def values(self) -> tuple[object, ...]:
        """The fields the row's hash covers, in `INVOICE_CHAIN_FIELDS` order."""
        return tuple(getattr(self, name) for name in INVOICE_CHAIN_FIELDS)


# --- billing credits ---


def grant_hash(grant: CreditGrant) -> str:
    """sha256 of a credit grant as created (grants are never edited: expiring and voiding are
    transactions); its `credits_granted` transaction carries it into the credit chain."""
    return link(
        GENESIS,
        [
            grant.id,
            grant.created,
            grant.customer,
            grant.currency,
            grant.value,
            grant.category,
            grant.priority,
            grant.effective_at,
            grant.expires_at,
            list(grant.prices),
            grant.name,
            dict(sorted(grant.metadata.items())),
        ],
    )
