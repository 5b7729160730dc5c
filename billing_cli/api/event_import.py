"""`event import` (SPEC 2.5): stream rows, validate them, commit them in batches.

Memory stays flat whatever the input's size: rows are read one at a time and held only until
their batch commits (the derived-identifier counter keeps ~30 bytes per row without an
identifier, see `validation.IdentifierDeriver`). Each batch is one write transaction (BEGIN
IMMEDIATE on SQLite; on PostgreSQL the lock is taken once the batch is validated and staged,
`LedgerStore.append_write`), so other writers (another import, `invoice run`) interleave
between batches, and a killed import loses at most the batch in flight: re-running it finds
the committed rows as duplicates (their identifiers, given or derived, are the same) and
completes the rest.

The catalog is read once per batch inside its transaction (meters by event name, finalized
periods for late events, customers in one query for the names the batch mentions), never once
per row.
"""

from __future__ import annotations

import gc
import io
import os
import signal
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from typing import BinaryIO

from billing_cli.api.context import Context
from billing_cli.domain.events import ValidEvent
from billing_cli.ingest.event_rows import shaped_rows
from billing_cli.ingest.readers import BOOKKEEPING as BOOKKEEPING  # the reject file's columns
from billing_cli.ingest.readers import EventInput, RawRow, RowStream, iter_rows
from billing_cli.ingest.validation import (
    MAX_EVENT_AGE_SECONDS,
    Coverage,
    IdentifierDeriver,
    validate_event,
)
from billing_cli.storage.port import LedgerStore, StaleBatch

BATCH_SIZE = 10_000


@dataclass
class ImportSummary:
    """SPEC 2.5's summary; read = accepted + duplicates + rejected, and late ⊆ accepted."""

    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    late: int = 0
    derived_identifiers: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class RejectedRow:
    """One refused row: its physical line, its own identifier (None when it had none, or was
    not parsed), the reason code and message, and the row as read (for the reject file)."""

    line: int
    identifier: str | None
    code: str
    message: str
    raw: RawRow
    header: list[str] | None  # the CSV header (None for JSONL), for a reject file's columns


@contextmanager
def interrupts_after() -> Iterator[None]:
    """Hold SIGINT (Ctrl-C) during the block and raise it as KeyboardInterrupt at its end."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


class ImportInterrupted(KeyboardInterrupt):
    """Ctrl-C during an import, raised only where the ledger is consistent: between batches, or
    once the batch it arrived in is committed. `summary` counts the rows of the committed
    batches (what the ledger keeps), `batches` how many there were, and `complete` says the
    input had been read to its end and all of it committed (nothing is left to import)."""

    def __init__(self, summary: ImportSummary, batches: int, complete: bool) -> None:
        super().__init__()
        self.summary, self.batches, self.complete = summary, batches, complete


class _DryRun(Exception):
    """Raised at the end of a dry run to roll its single transaction back."""


Pending = tuple[int, EventInput, str, "RawRow | list[str]"]  # line, event, identifier, source
Batch = tuple[list[Pending], list[RejectedRow], int, bool]  # events, rejects, read so far, last


class _Importer:
    def __init__(
        self,
        led: LedgerStore | None,
        rows: RowStream,
        now: int,
        on_reject: Callable[[RejectedRow], None] | None,
        on_progress: Callable[[ImportSummary], None] | None,
        max_age: int = MAX_EVENT_AGE_SECONDS,
    ) -> None:
        self.led = led
        self.rows = rows
        self.now = now
        self.max_age = max_age
        self.on_reject = on_reject
        self.on_progress = on_progress
        self.summary = ImportSummary()
        self.customers: set[str] = set()  # known to exist (customers are never deleted)
        # The finalized periods that make an event late, read once per import and again only
        # when the invoice chain has grown (an `invoice run` finalized something meanwhile):
        # reading them per batch would cost every batch the whole invoice history.
        self._coverage: Coverage | None = None
        self._coverage_mark: object = None
        self.batches = 0  # committed (flushed) batches
        self.fork = False  # hand the input over to `import_pipeline` (after the first batch)
        self.complete = False  # the input was read to its end and its last batch committed

    def run(self, batches: Iterator[Batch]) -> bool:
        """Commit `batches` one by one; True when the input was read to its end. With `fork`,
        stop after the first batch: the caller imports the rest in two processes."""
        for batch, rejects, read, last in batches:
            self._flush(batch, rejects, read, last)
            if not last and self.fork:
                return False
        return True

    def batches_of(self, batch_size: int) -> Iterator[Batch]:
        """The input in batches of `batch_size` rows (rejected rows count: a file of bad rows
        is committed as it goes too): (events, rejects, rows read so far, last)."""
        deriver = IdentifierDeriver()
        derive = deriver.derive
        batch: list[Pending] = []
        rejects: list[RejectedRow] = []
        read = 0
        for line, ev, source in shaped_rows(self.rows):
            read += 1
            if type(ev) is not EventInput:
                code, message = ev.code, ev.message  # type: ignore[union-attr]
                rejects.append(self._reject(line, source, None, code, message))
            else:
                ident = ev.identifier
                if ident is None:
                    ident = derive(ev.event_name, ev.timestamp, ev.payload)
                batch.append((line, ev, ident, source))
            if len(batch) + len(rejects) >= batch_size:
                yield batch, rejects, read, False
                batch, rejects = [], []
        self.summary.derived_identifiers = deriver.derived
        yield batch, rejects, read, True

    def _reject(
        self, line: int, source: RawRow | list[str], ident: str | None, code: str, message: str
    ) -> RejectedRow:
        raw = self.rows.raw_row(line, source)
        return RejectedRow(line, ident, code, message, raw, self.rows.header)

    def _flush(
        self, batch: list[Pending], rejects: list[RejectedRow], read: int, last: bool = False
    ) -> None:
        # A Ctrl-C waits until the batch is committed *and* counted: the line an interrupted
        # import prints (rows committed so far) is then exact, never one batch behind, and
        # says so when the last batch, and with it the whole input, was committed.
        with interrupts_after():
            self.summary.read = read
            self._commit(batch, rejects)
            self.batches += 1
            self.complete = last

    def _commit(self, batch: list[Pending], rejects: list[RejectedRow]) -> None:
        accepted = late = duplicates = 0
        if batch and self.led is None:  # no ledger, so no meter: every event is refused
            for line, ev, _, source in batch:
                message = f"no meter has event_name {ev.event_name!r}"
                rejects.append(self._reject(line, source, ev.identifier, "no_meter", message))
        elif batch:
            assert self.led is not None
            before = len(rejects)
            try:
                valid, owners, skipped = self._append(self.led.append_write(), batch, rejects)
            except StaleBatch:  # an invoice was finalized meanwhile: validate under the lock
                del rejects[before:]
                valid, owners, skipped = self._append(self.led.write(), batch, rejects)
            duplicates = self.classify(skipped, owners, rejects)
            accepted = len(valid) - len(skipped)
            not_stored = {i for i, _ in skipped}
            late = sum(1 for i, v in enumerate(valid) if v.status == "late" and i not in not_stored)
        self.count(accepted, duplicates, late, rejects)

    def classify(
        self, skipped: list[tuple[int, str]], owners: list[Pending], rejects: list[RejectedRow]
    ) -> int:
        """Count the duplicates among the rows `chain_batch` skipped and reject the conflicts
        (an identifier stored with other content); returns the number of duplicates."""
        duplicates = 0
        for i, kind in skipped:
            if kind == "duplicate":
                duplicates += 1
                continue
            line, ev, ident, source = owners[i]
            message = f"identifier {ident!r} exists with another event_name, payload or timestamp"
            code = "identifier_conflict"
            rejects.append(self._reject(line, source, ev.identifier, code, message))
        return duplicates

    def count(self, accepted: int, duplicates: int, late: int, rejects: list[RejectedRow]) -> None:
        """Add a committed batch to the summary and report its rejects (in line order) and
        the progress."""
        summary = self.summary
        summary.accepted += accepted
        summary.duplicates += duplicates
        summary.late += late
        summary.rejected += len(rejects)
        if self.on_reject is not None:
            for rejected in sorted(rejects, key=lambda r: r.line):
                self.on_reject(rejected)
        if self.on_progress is not None:
            self.on_progress(summary)

    def _append(
        self, transaction: AbstractContextManager[object], batch: list[Pending],
        rejects: list[RejectedRow],
    ) -> tuple[list[ValidEvent], list[Pending], list[tuple[int, str]]]:  # fmt: skip
        assert self.led is not None
        with transaction:
            valid, owners = self.validate(self.led, batch, rejects)
            return valid, owners, self.led.append_events(valid, self.now)

    def _current_coverage(self, led: LedgerStore) -> Coverage:
        mark = led.chain_heads()["invoice_chain"]["seq"]
        if self._coverage is None or mark != self._coverage_mark:
            self._coverage, self._coverage_mark = Coverage(led.finalized_periods()), mark
        return self._coverage

    def validate(
        self, led: LedgerStore, batch: list[Pending], rejects: list[RejectedRow]
    ) -> tuple[list[ValidEvent], list[Pending]]:
        meters = led.meters_by_event_name()
        coverage = self._current_coverage(led)
        known = self.customers
        unknown: set[str] = set()
        for _, ev, _, _ in batch:
            meter = meters.get(ev.event_name)
            if meter is not None:
                customer = ev.payload.get(meter.customer_key)
                if customer and customer not in known:
                    unknown.add(customer)
        if unknown:
            known.update(led.existing_customers(unknown))
        exists = known.__contains__
        now, max_age = self.now, self.max_age
        valid: list[ValidEvent] = []
        owners: list[Pending] = []
        for pending in batch:
            line, ev, ident, source = pending
            found = validate_event(ev, meters.get(ev.event_name), exists, now, max_age)
            if type(found) is not ValidEvent:
                code, message = found.code, found.message  # type: ignore[union-attr]
                rejects.append(self._reject(line, source, ev.identifier, code, message))
                continue
            found.identifier = ident  # type: ignore[union-attr]
            if coverage and coverage.covers(found.meter, found.customer, found.timestamp):  # type: ignore[union-attr]
                found.status = "late"  # type: ignore[union-attr]
            valid.append(found)  # type: ignore[arg-type]
            owners.append(pending)
        return valid, owners


def import_events(
    ctx: Context,
    stream: BinaryIO,
    fmt: str,
    *,
    dry_run: bool = False,
    on_reject: Callable[[RejectedRow], None] | None = None,
    on_progress: Callable[[ImportSummary], None] | None = None,
    batch_size: int = BATCH_SIZE,
    max_age: int = MAX_EVENT_AGE_SECONDS,
) -> ImportSummary:
    """Import CSV or JSONL events from a byte stream; rejects go to `on_reject` in line order
    per batch. A dry run does all the work in one transaction and rolls it back, so it reports
    exactly what the import would (duplicates inside the file and against the ledger
    included) and writes nothing. A bad CSV header raises InvalidInput before any row.
    A Ctrl-C leaves as `ImportInterrupted` (a KeyboardInterrupt) saying what was committed.
    `max_age`: how many seconds before now a timestamp may lie (`api.events.parse_max_age`)."""
    rows = iter_rows(stream, fmt)
    # Rows, events and batches hold no reference cycles, so the cyclic collector would only
    # re-scan every batch's ~10^5 live objects, over and over: ~7% of the import's time.
    collecting = gc.isenabled()
    gc.disable()
    importer = _Importer(None, rows, ctx.now_ts, on_reject, on_progress, max_age)
    # A file that surely holds more than a batch forks before its first batch: the two
    # processes then share the whole import (a row is rarely under 64 bytes).
    large = _file_size(stream) >= batch_size * 64
    try:
        _import(ctx, importer, dry_run, batch_size, large)
    except KeyboardInterrupt:
        # Between batches, or after the last one (closing the ledger): what is committed is
        # exactly what the importer counted (a batch is counted inside its commit's hold).
        raise ImportInterrupted(importer.summary, importer.batches, importer.complete) from None
    finally:
        if collecting:
            gc.enable()
    return importer.summary


@contextmanager
def import_ledger(ctx: Context, *, write: bool = True) -> Iterator[LedgerStore]:
    """The ledger opened for an import, tuned for a long stream of batches."""
    with ctx.ledger(write=write) as led:
        led.bulk_import_mode()
        yield led


def _file_size(stream: BinaryIO) -> int:
    """The size of a regular file (0 for a pipe, a terminal or bytes in memory)."""
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return 0
    return status.st_size if stat.S_ISREG(status.st_mode) else 0


def _import(ctx: Context, importer: _Importer, dry_run: bool, batch_size: int, large: bool) -> None:
    batches = importer.batches_of(batch_size)
    if not ctx.ledger_exists():  # nothing to import into, and nothing is created
        importer.run(batches)
        return
    with import_ledger(ctx, write=not dry_run) as led:
        importer.led = led
        # Past one batch, an SQLite import prepares its batches in a second process (see
        # import_pipeline), which needs this connection closed before it forks.
        importer.fork = (
            not dry_run and led.backend == "sqlite" and hasattr(os, "fork")
            and threading.current_thread() is threading.main_thread()
        )  # fmt: skip
        if importer.fork and large:
            done = False  # the whole input goes to the two processes
        elif not dry_run:
            done = importer.run(batches)
        else:
            try:
                with led.write():
                    importer.run(batches)
                    raise _DryRun
            except _DryRun:
                pass
            return
    if done:
        return
    from billing_cli.api.import_pipeline import continue_forked

    importer.led = None
    if not continue_forked(ctx, importer, batches):  # no second process: go on in this one
        with import_ledger(ctx) as led:
            importer.led, importer.fork = led, False
            importer.run(batches)
