"""The ledger in a PostgreSQL database (`--db postgresql://user@host/dbname`, any libpq URI).

Same tables, hash chains, append-only triggers and answers as the SQLite file. The catalog,
invoice, late-event and event-query store classes are the SQLite backend's, whose SQL both
databases run (storage/dialect.py names the differences) over a psycopg connection that
answers like `sqlite3` (adapter.py); what PostgreSQL does its own way is here: connecting and
migrating (connection.py, schema.py), the write lock (base.py), COPY-based event appends
(events.py), and maintenance (no file to back up: pg_dump's job).

Needs the optional extra: `pip install 'billing-cli[postgres]'` (psycopg 3).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from billing_cli.errors import LedgerError
from billing_cli.storage.dialect import POSTGRES
from billing_cli.storage.postgres.base import PgLedgerBase
from billing_cli.storage.postgres.events import PgEventStore
from billing_cli.storage.postgres.maintenance import PgMaintenanceStore
from billing_cli.storage.sqlite.account import AccountStore
from billing_cli.storage.sqlite.catalog import CatalogStore
from billing_cli.storage.sqlite.catalog_chain import CatalogChainStore
from billing_cli.storage.sqlite.credits import CreditStore
from billing_cli.storage.sqlite.idempotency import IdempotencyStore
from billing_cli.storage.sqlite.invoices import InvoiceStore
from billing_cli.storage.sqlite.late_events import LateEventStore
from billing_cli.storage.sqlite.tax_rates import TaxRateStore


class PgLedger(
    IdempotencyStore,
    PgMaintenanceStore,
    TaxRateStore,
    AccountStore,
    LateEventStore,
    CreditStore,
    InvoiceStore,
    PgEventStore,
    CatalogStore,
    CatalogChainStore,
    PgLedgerBase,
):
    """A billing ledger in PostgreSQL. Open with `open_ledger(uri, create=...)`."""

    sql = POSTGRES


@contextlib.contextmanager
def open_ledger(uri: str, *, create: bool) -> Iterator[PgLedger]:
    """The ledger for one command; errors leave as LedgerError/Conflict (base.py translates)."""
    led = PgLedger(uri, create=create)
    try:
        yield led
    finally:
        led.close()


def ledger_exists(uri: str) -> bool:
    """Whether the database holds a ledger (a read that finds none is NotFound)."""
    from billing_cli.errors import NotFound

    try:
        with open_ledger(uri, create=False):
            return True
    except NotFound:
        return False


__all__ = ["LedgerError", "PgLedger", "ledger_exists", "open_ledger"]
