"""`event import` in two processes (SQLite): past its first batch, a forked child reads, validates
and links each batch into the hash chain while this process writes the one before.

Why: an import is about a third Python (parsing, validation, the chain's hashes) and two
thirds SQLite (inserts, roll-ups, commits), and SQLite releases nothing a thread could use in
the meantime (the sqlite3 module takes the GIL back for every row of an `executemany`). Two
processes do both at once on two cores (figures: benchmarks/import_bench.py, issue 10.10).

What keeps it exactly the sequential import:
- The child prepares each batch against a basis: the event chain's head it links after (the
  head its previous batch leaves), and the invoice and catalog chains' heads of the snapshot
  it validated in (finalized periods make events late; meters and customers). This process
  takes the write lock, compares the ledger's heads with the basis, and stores the batch only
  if they are the same. If another writer came between, it asks for the batch again and
  waits, holding the lock, so the child's fresh reads are exact. The child answers from its
  main loop while a thread reads the input, so a producer that is slow to write does not
  keep the lock held.
- Duplicates: the child looks a batch's identifiers up in the ledger (its own connection)
  and in its batches not yet known to be committed.
- Counting, rejects, progress and Ctrl-C stay here: a batch is counted once committed, as
  before; the child ignores SIGINT and is killed when this process stops early.
- SQLite connections must not cross a fork: this process closes its ledger before forking,
  and both open their own after.
"""

from __future__ import annotations

import marshal
import os
import pickle
import queue
import select
import signal
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from billing_cli.api.context import Context
from billing_cli.api.event_import import interrupts_after
from billing_cli.domain.event_batch import ChainedBatch, Known, chain_batch, payload_json
from billing_cli.errors import LedgerError
from billing_cli.storage.port import ChainedAppends, LedgerStore

if TYPE_CHECKING:
    from billing_cli.api.event_import import Batch, Pending, RejectedRow, _Importer

_LENGTH = struct.Struct("<Q")


@dataclass(frozen=True)
class _Basis:
    """The ledger state a batch was prepared against (see the module docstring)."""

    head: tuple[int, str | None]  # the event chain's (seq, hash) it links after
    invoices: int  # the invoice chain's last seq
    catalog: int  # the catalog chain's last seq


@dataclass
class _Prepared:
    """One batch as the child sends it; `blob` is marshal((rows, buckets)) of `chain_batch`."""

    index: int
    epoch: int
    last: bool
    read: int
    derived: int
    basis: _Basis
    accepted: int
    duplicates: int
    late: int
    rejects: list[RejectedRow]
    blob: bytes


@dataclass(frozen=True)
class _Failed:
    """The input could not be read on after batch `after`: raised here once that batch is
    committed, as the one-process import would (-1: the child itself failed, raised at once)."""

    after: int
    error: BaseException


def _basis(heads: dict[str, dict[str, Any]], head: tuple[int, str | None]) -> _Basis:
    return _Basis(head, heads["invoice_chain"]["seq"], heads["catalog_chain"]["seq"])


def _event_head(heads: dict[str, dict[str, Any]]) -> tuple[int, str | None]:
    return heads["meter_events"]["seq"], heads["meter_events"]["hash"]


class _Outbox:
    """The child's messages to the parent, written by a thread: the child prepares the next
    batches meanwhile instead of waiting while the parent is in a long commit (one with a
    checkpoint), up to `depth` messages ahead."""

    def __init__(self, out: BinaryIO, depth: int = 2) -> None:
        self.out = out
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self.thread = threading.Thread(target=self._write, daemon=True)
        self.thread.start()

    def send(self, message: object) -> None:
        self.queue.put(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def close(self) -> None:
        """Return once every message sent is written (or the parent is gone)."""
        self.queue.put(None)
        self.thread.join()

    def _write(self) -> None:
        while (body := self.queue.get()) is not None:
            try:
                self.out.write(_LENGTH.pack(len(body)))
                self.out.write(body)
                self.out.flush()
            except OSError:  # the parent is gone (killed): so is the point of this process
                os._exit(1)


def _receive(source: BinaryIO) -> Any:
    """The next message, or None at the end of the stream (the other process is gone)."""
    size = source.read(_LENGTH.size)
    if len(size) < _LENGTH.size:
        return None
    body = source.read(_LENGTH.unpack(size)[0])
    return pickle.loads(body)


def continue_forked(ctx: Context, importer: _Importer, batches: Iterator[Batch]) -> None:
    """Import the rest of `batches` (the first is committed, the ledger closed): prepared in a
    forked child, stored here. Returns when the last batch is committed."""
    data_r, data_w = os.pipe()
    ctl_r, ctl_w = os.pipe()
    child = _ChildProcess(ctl_w)
    # A Ctrl-C waits (blocked) until this process watches its child: arriving during the fork,
    # it would leave the child unwatched, or start the child with it pending (the child would
    # then report the interruption as the command). One that came just before is raised first.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        _signals_checked()
        pid = os.fork()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for fd in (data_r, data_w, ctl_r, ctl_w):
            os.close(fd)
        raise
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent reports a Ctrl-C
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            os.close(data_r)
            os.close(ctl_w)
            outbox = _Outbox(os.fdopen(data_w, "wb"))
            try:
                _Child(ctx, importer, batches, outbox, ctl_r).run()
                code = 0
            except BaseException as exc:  # raised by the parent in place of its next batch
                outbox.send(_Failed(-1, exc))
                outbox.close()
        finally:
            os._exit(code)
    child.pid = pid
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(data_w)
        os.close(ctl_r)
        with os.fdopen(data_r, "rb") as data, ctx.ledger(write=True) as led:
            try:
                led.bulk_import_mode()
                _Parent(importer, led, data, ctl_w).run()
                child.done = True
            finally:
                # The child closes its connection before this one closes, so that this one,
                # the last, checkpoints the WAL into the file and removes it, as ever.
                child.stop()
    finally:
        child.stop()


def _signals_checked() -> None:
    """Nothing: entering a Python function runs the signal handlers of signals that arrived."""


class _ChildProcess:
    """The forked child, ended once: when the import is done it leaves by itself once told
    (the control pipe closed); otherwise it is killed, as it may be blocked on a pipe or on
    the input."""

    def __init__(self, ctl: int) -> None:
        self.pid, self.ctl = 0, ctl  # pid: set once forked
        self.done = self.stopped = False

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        os.close(self.ctl)
        if self.done:  # it leaves at once; should it not (a bug), it is not waited for long
            for _ in range(500):
                if os.waitpid(self.pid, os.WNOHANG)[0]:
                    return
                time.sleep(0.01)
        os.kill(self.pid, signal.SIGKILL)  # not reaped yet, so still this child's pid
        os.waitpid(self.pid, 0)


class _Parent:
    """Stores the child's batches in order, under the write lock, after checking their basis."""

    def __init__(self, importer: _Importer, led: LedgerStore, data: BinaryIO, ctl: int) -> None:
        self.importer, self.led, self.data, self.ctl = importer, led, data, ctl
        self.appends = cast(ChainedAppends, led)
        self.epoch = 0
        self.failed: _Failed | None = None

    def run(self) -> None:
        importer = self.importer
        index = importer.batches + 1
        while True:
            prepared = self._next(index)
            with interrupts_after():
                with self.led.write():
                    while not self._current(prepared.basis):
                        prepared = self._again(index)
                    rows, buckets = marshal.loads(prepared.blob)
                    self.appends.append_chained(
                        ChainedBatch(rows=rows, buckets=buckets), importer.now
                    )
                if prepared.last:
                    importer.summary.derived_identifiers = prepared.derived
                importer.summary.read = prepared.read
                importer.count(
                    prepared.accepted, prepared.duplicates, prepared.late, prepared.rejects
                )
                importer.batches += 1
                importer.complete = prepared.last
            if prepared.last:
                return
            self._tell(("ok", index))
            index += 1

    def _current(self, basis: _Basis) -> bool:
        heads = self.led.chain_heads()
        return _basis(heads, _event_head(heads)) == basis

    def _again(self, index: int) -> _Prepared:
        """Ask for batch `index` prepared anew (this process holds the write lock)."""
        self.epoch += 1
        self._tell(("redo", index, self.epoch))
        return self._next(index)

    def _next(self, index: int) -> _Prepared:
        """The child's batch `index` of the current epoch; earlier epochs' are dropped."""
        while True:
            if self.failed is not None and self.failed.after < index:
                raise self.failed.error
            message = _receive(self.data)
            if message is None:
                raise LedgerError(
                    "event import: the process preparing the batches stopped unexpectedly",
                    hint="the batches committed so far are kept; run the same import again",
                )
            if isinstance(message, _Failed):
                if self.failed is None:
                    self.failed = message
                continue
            if message.index == index and message.epoch == self.epoch:
                return cast(_Prepared, message)

    def _tell(self, message: tuple[object, ...]) -> None:
        body = pickle.dumps(message)
        os.write(self.ctl, _LENGTH.pack(len(body)) + body)  # < PIPE_BUF: written whole


@dataclass
class _Flight:
    """A batch read and sent, not yet known to be committed."""

    batch: list[Pending]
    rejects: list[RejectedRow]
    read: int
    last: bool
    stored: Known  # its stored rows' identifiers -> content (duplicates of later batches)


class _Child:
    """Prepares batches in order; a thread reads the input, this loop answers the parent."""

    def __init__(
        self, ctx: Context, importer: _Importer, batches: Iterator[Batch], out: _Outbox,
        ctl: int,
    ) -> None:  # fmt: skip
        self.ctx, self.importer, self.batches, self.out, self.ctl = (
            ctx, importer, batches, out, ctl,
        )  # fmt: skip
        self.queue: queue.Queue[Batch | BaseException] = queue.Queue(maxsize=2)
        self.notify_r, self.notify_w = os.pipe()
        self.flights: dict[int, _Flight] = {}
        self.next_index = importer.batches + 1
        self.head: tuple[int, str | None] | None = None  # None: read it from the ledger
        self.epoch = 0

    def run(self) -> None:
        threading.Thread(target=self._read_input, daemon=True).start()
        with self.ctx.ledger(write=False) as store:
            self.store = store
            while True:
                ready, _, _ = select.select([self.ctl, self.notify_r], [], [])
                if self.ctl in ready and not self._answer():
                    return
                if self.notify_r in ready:
                    os.read(self.notify_r, 1)
                    self._take(self.queue.get_nowait())

    def _read_input(self) -> None:
        try:
            for batch in self.batches:
                self.queue.put(batch)
                os.write(self.notify_w, b".")
        except BaseException as exc:  # sent to the parent, which raises it in its place
            self.queue.put(exc)
            os.write(self.notify_w, b".")

    def _take(self, item: Batch | BaseException) -> None:
        if isinstance(item, BaseException):
            self.out.send(_Failed(self.next_index - 1, item))
            return
        batch, rejects, read, last = item
        flight = _Flight(batch, rejects, read, last, {})
        index, self.next_index = self.next_index, self.next_index + 1
        self.flights[index] = flight
        self.out.send(self._prepare(index, flight))

    def _answer(self) -> bool:
        """Handle one message from the parent; False when it is done with this process."""
        size = os.read(self.ctl, _LENGTH.size)
        if len(size) < _LENGTH.size:
            return False
        message = pickle.loads(_read_exactly(self.ctl, _LENGTH.unpack(size)[0]))
        if message[0] == "ok":
            self.flights.pop(message[1], None)
            return True
        _, index, self.epoch = message  # "redo": the parent holds the write lock meanwhile
        self.head = None
        for later in sorted(i for i in self.flights if i >= index):
            self.flights[later].stored = {}
        for later in sorted(i for i in self.flights if i >= index):
            self.out.send(self._prepare(later, self.flights[later]))
        return True

    def _prepare(self, index: int, flight: _Flight) -> _Prepared:
        importer, store = self.importer, self.store
        rejects = list(flight.rejects)
        with store.read():  # one snapshot: the basis and what was validated against it
            heads = store.chain_heads()
            if self.head is None:
                self.head = _event_head(heads)
            basis = _basis(heads, self.head)
            valid, owners = importer.validate(store, flight.batch, rejects)
            payloads = [payload_json(e.payload) for e in valid]
            identifiers = [cast(str, e.identifier) for e in valid]
            known = cast(ChainedAppends, store).stored_keys(identifiers)
        for earlier, other in self.flights.items():
            if earlier < index and other.stored:
                seen = other.stored
                known.update((i, seen[i]) for i in identifiers if i in seen)
        seq, digest = self.head
        head = None if seq == 0 or digest is None else (seq, digest)
        chained = chain_batch(valid, payloads, importer.now, head, known)
        if chained.rows:
            self.head = chained.head
        flight.stored = {r[1]: (r[2], r[7], r[5]) for r in chained.rows}  # type: ignore[misc]
        duplicates = importer.classify(chained.skipped, owners, rejects)
        late = sum(1 for r in chained.rows if r[9] == "late")
        blob = marshal.dumps((chained.rows, chained.buckets))
        return _Prepared(
            index, self.epoch, flight.last, flight.read, importer.summary.derived_identifiers,
            basis, len(chained.rows), duplicates, late, rejects, blob,
        )  # fmt: skip


def _read_exactly(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
