"""The whole SQLite ledger: every store, in the order they override one another.

Imported only when a command needs more than the catalog and the events (see the package's
docstring): the invoice, credit and tax stores import the invoicing domain.
"""

from __future__ import annotations

from billing_cli.storage.sqlite import CoreLedger
from billing_cli.storage.sqlite.account import AccountStore
from billing_cli.storage.sqlite.credits import CreditStore
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
    CoreLedger,
):
    """A billing ledger file. Open with `Ledger(path, create=...)`; use `write()`/`read()`."""
