"""The storage port: what api/ may ask of a ledger, whichever database holds it.

`LedgerStore` is a `typing.Protocol`: the SQLite file (storage/sqlite/) and a PostgreSQL
database (storage/postgres/, optional extra) implement it, and api/ sees nothing else. Every
method speaks in domain records (`Meter`, `Invoice`, `StoredEvent`, `LateEvent`, `StoredLine`,
`ChainEntry`, …); the hash of a chain row, the duplicate rule and the roll-up merge are domain
functions that both backends call, so a backend holds no business rule, only SQL.

Transactions: `write()` is one command's transaction, with the ledger's one writer at a time
(SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock); `read()` a consistent snapshot;
`savepoint()` a step inside a write that can fail alone. Nested `write()`/`read()` join the
open transaction. `append_write()` is the import's write: on PostgreSQL its lock is taken by
`append_events` once the batch is staged, so importers prepare batches side by side and queue
only to link them into the chain (`StaleBatch` when the state the batch was validated against
moved meanwhile); on SQLite it is `write()`.

`open_store(location)` picks the backend from the `--db` value: a `postgresql://` (or
`postgres://`) URI is PostgreSQL, anything else a path to an SQLite file. The PostgreSQL
backend (psycopg) is imported only then, so SQLite users need neither it nor its start-up time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from billing_cli.errors import InvalidInput, LedgerError

if TYPE_CHECKING:  # the records only annotate: `event send` must not import invoicing (10.8)
    from decimal import Decimal

    from billing_cli.domain.aggregation import Aggregate, Bucket, EventPoint
    from billing_cli.domain.chain import ChainEntry
    from billing_cli.domain.credits import CreditChainEntry, CreditGrant, Transaction
    from billing_cli.domain.event_batch import ChainedBatch, Known
    from billing_cli.domain.events import LateEvent, StoredEvent, ValidEvent
    from billing_cli.domain.invoicing import Invoice, StoredLine, Target
    from billing_cli.domain.models import (
        Account,
        Customer,
        Meter,
        Price,
        Product,
        Subscription,
        TaxRate,
    )

# Tables whose rows form a hash chain over `seq`, which the program numbers 1, 2, 3, … with no
# gap (each writer takes max(seq) + 1 while it holds the ledger's write lock).
CHAIN_TABLES = (
    "meter_events",
    "meter_event_adjustments",
    "invoice_chain",
    "catalog_chain",
    "credit_balance_transactions",
)

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class StaleBatch(Exception):
    """Raised by `append_events` in an `append_write()` transaction (rolled back) when an
    invoice was finalized or the catalog changed after the batch was validated: a finalized
    period makes events late. Validate the batch again under `write()`."""


class ChainedAppends(Protocol):
    """What `event import` asks of a backend whose batches another process may prepare
    (SQLite: `api.import_pipeline`): the stored content of identifiers, read outside the write
    lock, and the storing of a batch `event_batch.chain_batch` linked after the ledger's head,
    which the caller has checked under the lock (`chain_heads`)."""

    def stored_keys(self, identifiers: list[str]) -> Known: ...
    def append_chained(self, batch: ChainedBatch, received: int) -> None: ...


@dataclass(frozen=True)
class IdempotencyRecord:
    """The stored answer to the first request made with an Idempotency-Key (billing serve)."""

    fingerprint: str  # a hash of the request's method, path and parameters
    status: int
    body: str
    created: int


@dataclass(frozen=True)
class BackupCopy:
    """What was written: the copy's size, schema version and row counts (its snapshot)."""

    path: Path
    bytes: int
    schema_version: int
    counts: dict[str, int]
    removed_stale: tuple[tuple[Path, int], ...] = ()  # left by killed backups: (file, bytes)


class LedgerStore(Protocol):
    """A billing ledger, opened for one command (see the module docstring)."""

    backend: str  # "sqlite" | "postgresql"
    name: str  # how messages name it: the file path, or the URI without its password

    # -- transactions -------------------------------------------------------------------------
    def write(self) -> AbstractContextManager[object]: ...
    def append_write(self) -> AbstractContextManager[object]: ...
    def read(self) -> AbstractContextManager[object]: ...
    def savepoint(self) -> AbstractContextManager[None]: ...
    def close(self) -> None: ...

    # -- catalog ------------------------------------------------------------------------------
    def insert_meter(self, m: Meter) -> None: ...
    def get_meter(self, meter_id: str) -> Meter | None: ...
    def get_meter_by_event_name(self, event_name: str) -> Meter | None: ...
    def list_meters(self) -> list[Meter]: ...
    def update_meter(self, meter_id: str, *, updated: int, **fields: object) -> None: ...
    def insert_product(self, p: Product) -> None: ...
    def get_product(self, product_id: str) -> Product | None: ...
    def list_products(self) -> list[Product]: ...
    def insert_price(self, p: Price) -> None: ...
    def get_price(self, price_id: str) -> Price | None: ...
    def get_price_by_lookup_key(self, lookup_key: str) -> Price | None: ...
    def list_prices(self) -> list[Price]: ...
    def insert_customer(self, c: Customer) -> None: ...
    def update_customer(self, c: Customer) -> None: ...
    def get_customer(self, customer_id: str) -> Customer | None: ...
    def invoice_prefix_taken(self, prefix: str) -> bool: ...
    def list_customers(self) -> list[Customer]: ...
    def customer_ids(self) -> set[str]: ...
    def set_customer_currency(self, customer_id: str, currency: str) -> None: ...
    def id_exists(self, table: str, object_id: str) -> bool: ...
    def insert_subscription(self, s: Subscription) -> None: ...
    def get_subscription(self, subscription_id: str) -> Subscription | None: ...
    def list_subscriptions(self, customer: str | None = None) -> list[Subscription]: ...
    def items_on_meter(self, customer: str, meter: str) -> list[tuple[str, str, int | None]]: ...
    def update_subscription(self, subscription_id: str, **fields: object) -> None: ...

    # -- the seller profile ---------------------------------------------------------------------
    def get_account(self) -> Account: ...
    def put_account(self, a: Account) -> None: ...

    # -- tax rates ------------------------------------------------------------------------------
    def insert_tax_rate(self, r: TaxRate) -> None: ...
    def update_tax_rate(self, r: TaxRate) -> None: ...
    def get_tax_rate(self, tax_rate_id: str) -> TaxRate | None: ...
    def list_tax_rates(self) -> list[TaxRate]: ...
    def tax_rate_used_by(self, tax_rate_id: str) -> str | None: ...

    # -- events -------------------------------------------------------------------------------
    def bulk_import_mode(self) -> None: ...
    def append_events(self, events: list[ValidEvent], received: int) -> list[tuple[int, str]]: ...
    def cancel_event(self, event: StoredEvent, created: int) -> None: ...
    def meters_by_event_name(self) -> dict[str, Meter]: ...
    def existing_customers(self, ids: Iterable[str]) -> set[str]: ...
    def finalized_periods(
        self, meter: str | None = None, customer: str | None = None
    ) -> list[tuple[str, str, int, int]]: ...
    def billing_invoice(self, event: StoredEvent) -> str | None: ...
    def get_event(self, identifier: str) -> StoredEvent | None: ...
    def list_events(
        self,
        *,
        customer: str | None = None,
        meter: str | None = None,
        start: int | None = None,
        end: int | None = None,
        newest_first: bool = False,
        before_seq: int | None = None,
    ) -> Iterator[StoredEvent]: ...
    def invoice_events(self, invoice: str) -> list[StoredEvent] | None: ...
    def counted_points(
        self, meter: str, customer: str, start: int, end: int, received_by: int | None = None
    ) -> list[EventPoint]: ...
    def max_received(self) -> int | None: ...
    def usage_buckets(
        self, meter: str, customer: str, start: int, end: int, *, received_by: int
    ) -> dict[int, Bucket]: ...
    def meter_usage_buckets(
        self, meter: str, start: int, end: int, *, received_by: int
    ) -> dict[str, dict[int, Bucket]]: ...
    def meter_hour_sums(
        self, meter: str, start: int, end: int, *, received_by: int
    ) -> list[tuple[int, int, Decimal]] | None: ...
    def usage(
        self, meter: Meter, customer: str, start: int, end: int, *, received_by: int
    ) -> Aggregate: ...

    # -- late events --------------------------------------------------------------------------
    def late_events(self, customer: str | None = None) -> list[LateEvent]: ...
    def resolved_late_events(
        self, customer: str, *, since: int | None = None, original_invoice: str | None = None
    ) -> list[LateEvent]: ...
    def last_finalized_at(self, customer: str) -> int | None: ...
    def covering_line(self, customer: str, meter: str, timestamp: int) -> StoredLine | None: ...
    def get_line(self, line_id: str) -> StoredLine | None: ...
    def finalized_late_lines(
        self, customer: str, original_line: str | None = None
    ) -> list[StoredLine]: ...
    def add_resolution(self, identifier: str, invoice: str, created: int) -> None: ...

    # -- invoices -----------------------------------------------------------------------------
    def insert_invoice(self, inv: Invoice) -> bool: ...
    def replace_draft(self, inv: Invoice) -> None: ...
    def mark_finalized(self, inv: Invoice) -> None: ...
    def take_invoice_number(self, customer: str) -> str: ...
    def set_customer_balance(self, customer: str, balance: int) -> None: ...
    def set_invoice_status(
        self, invoice_id: str, expected: str, status: str, **fields: int
    ) -> None: ...
    def delete_draft(self, invoice_id: str) -> None: ...
    def get_invoice(self, invoice_id: str) -> Invoice | None: ...
    def list_invoices(
        self,
        *,
        customer: str | None = None,
        status: str | None = None,
        subscription: str | None = None,
        newest_first: bool = True,
    ) -> list[Invoice]: ...
    def finalized_invoices(self) -> list[Invoice]: ...
    def finalized_invoice_ids(self) -> list[tuple[str, str | None]]: ...
    def invoice_chain(self) -> list[ChainEntry]: ...
    def invoice_targets(
        self, subscription: str, after: int | None = None
    ) -> dict[Target, tuple[str, str]]: ...
    def cycle_summary(self, subscription: str) -> tuple[int, int | None]: ...

    # -- billing credits (issue 19) ----------------------------------------------------------
    def insert_credit_grant(self, grant: CreditGrant, granted: Transaction) -> None: ...
    def append_credit_transactions(self, transactions: Iterable[Transaction]) -> None: ...
    def mark_credit_position(self, invoice_id: str) -> None: ...
    def get_credit_grant(self, grant_id: str) -> CreditGrant | None: ...
    def list_credit_grants(self, *, customer: str | None = None) -> list[CreditGrant]: ...
    def credit_transactions(
        self,
        *,
        customer: str | None = None,
        credit_grant: str | None = None,
        invoice: str | None = None,
    ) -> list[Transaction]: ...
    def get_credit_transaction(self, transaction_id: str) -> Transaction | None: ...
    def credit_chain(self) -> list[CreditChainEntry]: ...
    def credit_positions(self) -> dict[str, int]: ...

    # -- integrity and maintenance (ledger check, ledger backup) ------------------------------
    def verify_event_chain(self) -> str | None: ...
    def verify_rollups(self) -> str | None: ...
    def integrity_problems(self) -> list[str]: ...
    def page_problems(self) -> list[str]: ...
    def first_missing_seq(self, table: str) -> int | None: ...
    def chain_heads(self) -> dict[str, dict[str, object]]: ...
    def chain_hash_at(self, table: str, seq: int) -> str | None: ...
    def catalog_chain_problems(self) -> list[str]: ...
    def schema_problems(self) -> list[str]: ...
    def backup(self, target: Path) -> BackupCopy: ...

    # -- whole-ledger copies (`ledger copy`, storage/copy.py) ---------------------------------
    def table_names(self) -> list[str]: ...
    def table_columns(self, table: str) -> list[str]: ...
    def table_rows(self, table: str, columns: list[str]) -> Iterator[tuple[object, ...]]: ...
    def insert_rows(
        self, table: str, columns: list[str], rows: list[tuple[object, ...]]
    ) -> None: ...
    def copy_invoice_status(self, invoice_id: str, status: str) -> None: ...
    def remove_stale_backup_files(self) -> list[tuple[Path, int]]: ...

    # -- idempotency keys of the HTTP API (api/idempotency.py) ---------------------------------
    def get_idempotency_key(self, key: str) -> IdempotencyRecord | None: ...
    def put_idempotency_key(self, key: str, record: IdempotencyRecord) -> None: ...
    def prune_idempotency_keys(self, *, before: int) -> None: ...


def is_postgres(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


@contextlib.contextmanager
def open_store(location: str | Path, *, create: bool) -> Iterator[LedgerStore]:
    """The ledger at `location` for one command; read commands (`create=False`) never create
    one (a missing ledger is NotFound, exit 3). Whatever the database reports while it is open
    leaves as a `LedgerError` or `Conflict`, never as a driver's exception."""
    if is_postgres(location):
        with _postgres().open_ledger(str(location), create=create) as pg:
            yield pg
        return
    from billing_cli.storage.sqlite import open_ledger as open_sqlite

    with open_sqlite(Path(location), create=create) as led:
        yield led


class HeldStore(Protocol):
    """A ledger kept open across the uses of a long-running process (`billing serve`)."""

    def using(self) -> AbstractContextManager[LedgerStore]: ...
    def close(self) -> None: ...


def hold_store(location: str | Path) -> HeldStore | None:
    """An SQLite ledger kept open for one writer at a time (storage/sqlite/held.py); None for
    PostgreSQL, whose server keeps its own caches across connections."""
    if is_postgres(location):
        return None
    from billing_cli.storage.sqlite.held import HeldLedger

    return HeldLedger(Path(location))


@dataclass
class Report:
    """Column names and the rows (lazily, as tuples) of one SQL report."""

    headers: list[str]
    rows: Iterator[tuple[object, ...]]


class ReportSource(Protocol):
    """Read-only SQL on a ledger (`ledger query`, `ledger export TABLE`)."""

    def query(self, sql: str) -> Report: ...
    def export(self, table: str) -> Report: ...


@contextlib.contextmanager
def open_reports(location: str | Path) -> Iterator[ReportSource]:
    """SQL reports are an SQLite feature: the file is opened read-only through sqlite-utils."""
    if is_postgres(location):
        raise InvalidInput(
            "ledger query and ledger export read SQLite ledgers only, and this ledger is a"
            " PostgreSQL database",
            hint="query it with psql as a read-only role, or copy it into an SQLite file and"
            " query that: billing ledger copy 'URI' ledger.db && billing --db ledger.db ledger"
            " query '…'",
        )
    from billing_cli.storage.sqlite.reports import Reports

    reports = Reports(Path(location))
    try:
        yield reports
    finally:
        reports.close()


def json_lines(report: Report, *, nl: bool) -> Iterator[str]:
    """A report as JSON text lines, through sqlite-utils' output helper (one array, or with
    `nl` one object per line; JSON held in a column comes out as JSON)."""
    from billing_cli.storage.sqlite.reports import json_lines as sqlite_utils_lines

    return sqlite_utils_lines(report, nl=nl)


def ledger_exists(location: str | Path) -> bool:
    """Whether a ledger is there to read (commands that would only refuse every row on a
    missing ledger, like `event import`, check first and create nothing)."""
    if is_postgres(location):
        return _postgres().ledger_exists(str(location))
    return Path(location).exists()


def _postgres() -> Any:
    """The PostgreSQL backend, imported on first use; a clear error when psycopg is missing."""
    try:
        import psycopg  # noqa: F401  (the optional extra)
    except ImportError as exc:
        raise LedgerError(
            "a postgresql:// ledger needs the PostgreSQL driver, which is not installed",
            hint="pip install 'billing-cli[postgres]'",
        ) from exc
    from billing_cli.storage import postgres

    return postgres


def copy_ledger_rows(src: LedgerStore, dst: LedgerStore) -> dict[str, int]:
    """Every row of `src` into the empty `dst` (see storage/copy.py); call inside a read
    transaction of `src` and a write transaction of `dst`."""
    from billing_cli.storage.copy import copy_tables

    return copy_tables(src, dst)
