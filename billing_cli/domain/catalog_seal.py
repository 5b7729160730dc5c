"""The catalog chain: tamper evidence for the rows that say *how* usage is billed (beyond Stripe).

Events and invoices carry hash chains of their own; the catalog did not, so a meter's
`customer_key`, a price's amount or a subscription's `status`/`cancel_at_period_end` edited with
the sqlite3 shell went unnoticed, and so did a customer's name changed by hand. Every write of
the program to a catalog row now appends one entry to the catalog chain: the row's sealed
columns as canonical JSON (`state`), linked to the previous entry like every chain
(`chain.link`). `ledger check` compares each row with the last state billing recorded for it,
and names the column that differs.

Columns are sealed by name (`SEALED`), not "all of them", so a migration that adds a column
does not make every existing row look edited; a column that changes on its own course and is
checked elsewhere is left out on purpose (`UNSEALED`: a customer's balance and next invoice
number, which `ledger check` recomputes from the invoices). A migration that adds a column to a
sealed table decides: seal it (list it here and reseal every row in its backfill) or leave it
out (list it in `UNSEALED`); `tests/test_catalog_chain.py` holds every column to one or the
other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from billing_cli.domain.chain import link

# table -> (key columns, sealed columns)
SEALED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "meters": (
        ("id",),
        ("id", "created", "updated", "display_name", "event_name", "formula", "customer_key",
         "value_key", "event_time_window", "status"),
    ),
    "products": (
        ("id",),
        ("id", "created", "name", "description", "unit_label", "active", "metadata"),
    ),
    "prices": (
        ("id",),
        ("id", "created", "product", "currency", "nickname", "lookup_key", "active", "interval",
         "interval_count", "usage_type", "meter", "billing_scheme", "unit_amount_decimal",
         "tiers_mode", "tiers", "transform_divide_by", "transform_round", "metadata"),
    ),
    "customers": (
        ("id",),
        ("id", "created", "name", "email", "invoice_prefix", "currency", "metadata", "address",
         "tax_ids", "buyer_reference"),
    ),
    "subscriptions": (
        ("id",),
        ("id", "created", "customer", "status", "currency", "interval", "interval_count",
         "start_date", "billing_cycle_anchor", "trial_end", "cancel_at_period_end",
         "canceled_at", "ended_at", "metadata"),
    ),
    "subscription_items": (("id",), ("id", "created", "subscription", "price", "quantity")),
    "subscription_tax_rates": (
        ("subscription", "position"),
        ("subscription", "position", "tax_rate"),
    ),
    "tax_rates": (
        ("id",),
        ("id", "created", "display_name", "description", "percentage", "inclusive", "active",
         "country", "jurisdiction", "metadata"),
    ),
    "account": (
        ("id",),
        ("id", "updated", "business_name", "address", "tax_id", "email", "invoice_footer",
         "iban", "bic"),
    ),
}  # fmt: skip
UNSEALED = {"customers": ("next_invoice_sequence", "balance")}


def key_text(values: Sequence[object]) -> str:
    """A row's key as the chain names it: `mtr_…`, or `sub_…/0` for a two-column key."""
    return "/".join(str(v) for v in values)


def state(table: str, row: Mapping[str, object]) -> str:
    """Canonical JSON of a row's sealed columns, in `SEALED` order."""
    columns = SEALED[table][1]
    return json.dumps([[c, row[c]] for c in columns], separators=(",", ":"), ensure_ascii=False)


def entry_hash(previous: str, seq: int, table: str, key: str, row_state: str) -> str:
    """The catalog chain's link: sha256 of the previous entry's hash and this entry."""
    return link(previous, [seq, table, key, row_state])


def differences(recorded: str, current: str) -> list[str]:
    """What changed between two states of one row, per column: `customer_key 'x' (billing
    recorded 'stripe_customer_id')`; the whole text when a state cannot be read."""
    try:
        was = dict(json.loads(recorded))
        now = dict(json.loads(current))
    except (ValueError, TypeError):
        return [f"state {current!r} (billing recorded {recorded!r})"]
    return [
        f"{column} {now.get(column)!r} (billing recorded {was.get(column)!r})"
        for column in dict.fromkeys([*was, *now])
        if was.get(column) != now.get(column)
    ]
