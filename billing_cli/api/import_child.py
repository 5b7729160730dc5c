"""The child side of `event import` in two processes (see `import_pipeline`): a thread reads
the input into batches, the main loop prepares each (validation, duplicates, the hash chain)
against a basis read in one snapshot and sends it, and answers the parent's acknowledgements
and requests to prepare a batch again. Also the messages both sides exchange."""

from __future__ import annotations

import marshal
import os
import pickle
import queue
import select
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from billing_cli.api.context import Context
from billing_cli.domain.event_batch import Known, chain_batch, payload_json
from billing_cli.storage.port import ChainedAppends

if TYPE_CHECKING:
    from billing_cli.api.event_import import Batch, Pending, RejectedRow, _Importer

LENGTH = struct.Struct("<Q")  # each message: its length, then its pickle


@dataclass(frozen=True)
class Basis:
    """The ledger state a batch was prepared against (see the module docstring)."""

    head: tuple[int, str | None]  # the event chain's (seq, hash) it links after
    invoices: int  # the invoice chain's last seq
    catalog: int  # the catalog chain's last seq


@dataclass
class Prepared:
    """One batch as the child sends it; `blob` is marshal((rows, buckets)) of `chain_batch`."""

    index: int
    epoch: int
    last: bool
    read: int
    derived: int
    basis: Basis
    accepted: int
    duplicates: int
    late: int
    rejects: list[RejectedRow]
    blob: bytes


@dataclass(frozen=True)
class Failed:
    """The input could not be read on after batch `after`: raised here once that batch is
    committed, as the one-process import would (-1: the child itself failed, raised at once)."""

    after: int
    error: BaseException


def basis_of(heads: dict[str, dict[str, Any]], head: tuple[int, str | None]) -> Basis:
    return Basis(head, heads["invoice_chain"]["seq"], heads["catalog_chain"]["seq"])


def event_head(heads: dict[str, dict[str, Any]]) -> tuple[int, str | None]:
    return heads["meter_events"]["seq"], heads["meter_events"]["hash"]


class Outbox:
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
                self.out.write(LENGTH.pack(len(body)))
                self.out.write(body)
                self.out.flush()
            except OSError:  # the parent is gone (killed): so is the point of this process
                os._exit(1)


@dataclass
class Flight:
    """A batch read and sent, not yet known to be committed."""

    batch: list[Pending]
    rejects: list[RejectedRow]
    read: int
    last: bool
    stored: Known  # its stored rows' identifiers -> content (duplicates of later batches)


class Child:
    """Prepares batches in order; a thread reads the input, this loop answers the parent."""

    def __init__(
        self, ctx: Context, importer: _Importer, batches: Iterator[Batch], out: Outbox,
        ctl: int,
    ) -> None:  # fmt: skip
        self.ctx, self.importer, self.batches, self.out, self.ctl = (
            ctx, importer, batches, out, ctl,
        )  # fmt: skip
        self.queue: queue.Queue[Batch | BaseException] = queue.Queue(maxsize=2)
        self.notify_r, self.notify_w = os.pipe()
        self.flights: dict[int, Flight] = {}
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
            self.out.send(Failed(self.next_index - 1, item))
            return
        batch, rejects, read, last = item
        flight = Flight(batch, rejects, read, last, {})
        index, self.next_index = self.next_index, self.next_index + 1
        self.flights[index] = flight
        self.out.send(self._prepare(index, flight))

    def _answer(self) -> bool:
        """Handle one message from the parent; False when it is done with this process."""
        size = os.read(self.ctl, LENGTH.size)
        if len(size) < LENGTH.size:
            return False
        message = pickle.loads(_read_exactly(self.ctl, LENGTH.unpack(size)[0]))
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

    def _prepare(self, index: int, flight: Flight) -> Prepared:
        importer, store = self.importer, self.store
        rejects = list(flight.rejects)
        with store.read():  # one snapshot: the basis and what was validated against it
            heads = store.chain_heads()
            if self.head is None:
                self.head = event_head(heads)
            basis = basis_of(heads, self.head)
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
        return Prepared(
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
