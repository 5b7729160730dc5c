"""`billing ledger copy SRC DST`: a whole ledger from one backend into a new one on another.

Rows are copied as they are stored (ids, `seq`s, hashes, canonical decimal text), so the hash
chains of the copy verify and its invoices are the source's to the cent; the use case then runs
`ledger check` on the copy and compares every invoice. Both ends go through the storage port's
`TableAccess` (the same SQL on both backends): tables in an order their foreign keys accept,
each in the order it was written.

The copy is one write transaction on the target, and the append-only triggers stay on: a
finalized invoice is written as a draft, its lines added, and then taken through the status
transitions the triggers allow (open, uncollectible, paid or void) to where the source has it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from billing_cli.errors import Conflict, LedgerError

# Parents before children; a table a later feature adds (and that this list does not know yet)
# is copied after these, in name order.
TABLE_ORDER = (
    "meters",
    "products",
    "prices",
    "customers",
    "account",
    "tax_rates",
    "subscriptions",
    "subscription_items",
    "subscription_tax_rates",
    "meter_events",
    "meter_event_adjustments",
    "usage_hourly",
    "event_watermark",
    "invoices",
    "invoice_lines",
    "invoice_chain",
)
# Bookkeeping of each backend, not ledger content.
_INTERNAL = {"billing_schema"}


class TableAccess(Protocol):
    """Row-level access to a ledger's tables, for whole-ledger copies."""

    def table_names(self) -> list[str]: ...
    def table_columns(self, table: str) -> list[str]: ...
    def table_rows(self, table: str, columns: list[str]) -> Iterator[tuple[Any, ...]]: ...
    def insert_rows(self, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None: ...
    def copy_invoice_status(self, invoice_id: str, status: str) -> None: ...


def _ordered(tables: set[str]) -> list[str]:
    known = [t for t in TABLE_ORDER if t in tables]
    return known + sorted(tables - set(TABLE_ORDER))


def copy_tables(src: TableAccess, dst: TableAccess) -> dict[str, int]:
    """Copy every row of `src` into the empty ledger `dst` (inside its write transaction);
    returns rows copied per table."""
    src_tables = set(src.table_names()) - _INTERNAL
    dst_tables = set(dst.table_names()) - _INTERNAL
    missing = sorted(src_tables - dst_tables)
    if missing:
        raise LedgerError(
            f"the target ledger has no table {', '.join(missing)} (a feature its backend does"
            " not have yet); nothing was copied",
            hint="upgrade billing_cli, or copy into the other backend",
        )
    for table in _ordered(dst_tables):
        if any(True for _ in dst.table_rows(table, dst.table_columns(table)[:1])):
            raise Conflict(
                f"the target ledger is not empty (table {table} holds rows); nothing was copied",
                hint="copy into a new SQLite path or an empty PostgreSQL database or schema",
            )
    counts: dict[str, int] = {}
    finalized: list[tuple[str, str, bool]] = []  # (invoice id, status, marked uncollectible)
    for table in _ordered(src_tables):
        columns = src.table_columns(table)
        lacking = [c for c in columns if c not in set(dst.table_columns(table))]
        if lacking:
            raise LedgerError(
                f"the target ledger's table {table} has no column {', '.join(lacking)};"
                " nothing was copied",
                hint="upgrade billing_cli, or copy into the other backend",
            )
        rows = src.table_rows(table, columns)
        if table == "invoices":
            rows = _as_drafts(rows, columns, finalized)
        counts[table] = _copy_rows(table, columns, rows, dst)
    for invoice_id, status, marked in finalized:  # after their lines
        steps = list(_PATHS[status])
        if status in ("paid", "void") and marked:
            steps.insert(1, "uncollectible")
        for step in steps:
            dst.copy_invoice_status(invoice_id, step)
    return counts


def _copy_rows(
    table: str, columns: list[str], rows: Iterator[tuple[Any, ...]], dst: TableAccess
) -> int:
    count, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) == 10_000:
            dst.insert_rows(table, columns, batch)
            count, batch = count + len(batch), []
    if batch:
        dst.insert_rows(table, columns, batch)
    return count + len(batch)


# How a finalized invoice reaches its status through transitions the triggers allow (an
# invoice marked uncollectible before it was paid or voided passes through uncollectible).
_PATHS = {
    "draft": (),
    "open": ("open",),
    "uncollectible": ("open", "uncollectible"),
    "paid": ("open", "paid"),
    "void": ("open", "void"),
}


def _as_drafts(
    rows: Iterator[tuple[Any, ...]], columns: list[str], finalized: list[tuple[str, str, bool]]
) -> Iterator[tuple[Any, ...]]:
    """Invoices go in as drafts, so that their lines may follow; each finalized one is noted
    to be taken to its status afterwards."""
    at, ident = columns.index("status"), columns.index("id")
    marked = columns.index("marked_uncollectible_at")
    for row in rows:
        if row[at] != "draft":
            finalized.append((row[ident], row[at], row[marked] is not None))
        yield row[:at] + ("draft",) + row[at + 1 :]
