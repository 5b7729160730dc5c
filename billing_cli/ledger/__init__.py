"""The only module that speaks SQL: one SQLite file, WAL, STRICT tables (SPEC 6).

`Ledger` is assembled from one store per domain area so each file stays small; callers see
one narrow object and never build SQL themselves.
"""

from __future__ import annotations

from billing_cli.ledger.base import LedgerBase
from billing_cli.ledger.catalog import CatalogStore
from billing_cli.ledger.events import EventStore
from billing_cli.ledger.invoices import InvoiceStore
from billing_cli.ledger.late_events import LateEventStore
from billing_cli.ledger.maintenance import MaintenanceStore


class Ledger(MaintenanceStore, LateEventStore, InvoiceStore, EventStore, CatalogStore, LedgerBase):
    """A billing ledger file. Open with `Ledger(path, create=...)`; use `write()`/`read()`."""


__all__ = ["Ledger"]
