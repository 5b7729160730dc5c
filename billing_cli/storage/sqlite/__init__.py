"""The only module that speaks SQL: one SQLite file, WAL, STRICT tables (SPEC 6).

`Ledger` is assembled from one store per domain area so each file stays small; callers see
one narrow object and never build SQL themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from billing_cli.storage.sqlite.account import AccountStore
from billing_cli.storage.sqlite.base import LedgerBase
from billing_cli.storage.sqlite.catalog import CatalogStore
from billing_cli.storage.sqlite.catalog_chain import CatalogChainStore
from billing_cli.storage.sqlite.connection import translated
from billing_cli.storage.sqlite.credits import CreditStore
from billing_cli.storage.sqlite.events import EventStore
from billing_cli.storage.sqlite.idempotency import IdempotencyStore
from billing_cli.storage.sqlite.invoices import InvoiceStore
from billing_cli.storage.sqlite.late_events import LateEventStore
from billing_cli.storage.sqlite.maintenance import MaintenanceStore
from billing_cli.storage.sqlite.tax_rates import TaxRateStore


class Ledger(
    AccountStore,
    TaxRateStore,
    IdempotencyStore,
    MaintenanceStore,
    LateEventStore,
    CreditStore,
    InvoiceStore,
    EventStore,
    CatalogStore,
    CatalogChainStore,
    LedgerBase,
):
    """A billing ledger file. Open with `Ledger(path, create=...)`; use `write()`/`read()`."""


@contextlib.contextmanager
def open_ledger(path: Path, *, create: bool) -> Iterator[Ledger]:
    """The ledger for one command, inside the one error boundary: whatever SQLite reports while
    it is open (a damaged page met by a plain list, a lock, a full disk) leaves as the
    `LedgerError` or `Conflict` of `connection.translate`, never as a raw sqlite3 error."""
    with translated(path):
        led = Ledger(path, create=create)
        try:
            yield led
        finally:
            led.close()


__all__ = ["Ledger", "open_ledger"]
