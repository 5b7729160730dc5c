"""`event import` in two processes (SQLite): a forked child reads, validates and links each batch
into the hash chain while this process writes the one before; from the start for a file larger
than a batch, past the first batch for any other input (a pipe may hold a single batch).

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
import signal
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from billing_cli.api.context import Context
from billing_cli.api.event_import import import_ledger, interrupts_after
from billing_cli.api.import_child import (
    LENGTH,
    Basis,
    Child,
    Failed,
    Outbox,
    Prepared,
    basis_of,
    event_head,
)
from billing_cli.domain.event_batch import ChainedBatch
from billing_cli.errors import LedgerError
from billing_cli.storage.port import ChainedAppends, LedgerStore

if TYPE_CHECKING:
    from billing_cli.api.event_import import Batch, _Importer


def _receive(source: BinaryIO) -> Any:
    """The next message, or None at the end of the stream (the other process is gone)."""
    size = source.read(LENGTH.size)
    if len(size) < LENGTH.size:
        return None
    body = source.read(LENGTH.unpack(size)[0])
    return pickle.loads(body)


def continue_forked(ctx: Context, importer: _Importer, batches: Iterator[Batch]) -> bool:
    """Import the rest of `batches` (those before are committed, the ledger is closed):
    prepared in a forked child, stored here. True once the last batch is committed; False,
    with nothing read or written, when no process could be forked (a process limit)."""
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
    except BaseException as exc:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for fd in (data_r, data_w, ctl_r, ctl_w):
            os.close(fd)
        if isinstance(exc, OSError):
            return False
        raise
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent reports a Ctrl-C
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            os.close(data_r)
            os.close(ctl_w)
            outbox = Outbox(os.fdopen(data_w, "wb"))
            try:
                Child(ctx, importer, batches, outbox, ctl_r).run()
                code = 0
            except BaseException as exc:  # raised by the parent in place of its next batch
                outbox.send(Failed(-1, exc))
                outbox.close()
        finally:
            os._exit(code)
    child.pid = pid
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(data_w)
        os.close(ctl_r)
        with os.fdopen(data_r, "rb") as data, import_ledger(ctx) as led:
            try:
                _Parent(importer, led, data, ctl_w).run()
                child.done = True
            finally:
                # The child closes its connection before this one closes, so that this one,
                # the last, checkpoints the WAL into the file and removes it, as ever.
                child.stop()
    finally:
        child.stop()
    return True


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
        self.failed: Failed | None = None

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

    def _current(self, basis: Basis) -> bool:
        heads = self.led.chain_heads()
        return basis_of(heads, event_head(heads)) == basis

    def _again(self, index: int) -> Prepared:
        """Ask for batch `index` prepared anew (this process holds the write lock)."""
        self.epoch += 1
        self._tell(("redo", index, self.epoch))
        return self._next(index)

    def _next(self, index: int) -> Prepared:
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
            if isinstance(message, Failed):
                if self.failed is None:
                    self.failed = message
                continue
            if message.index == index and message.epoch == self.epoch:
                return cast(Prepared, message)

    def _tell(self, message: tuple[object, ...]) -> None:
        body = pickle.dumps(message)
        os.write(self.ctl, LENGTH.pack(len(body)) + body)  # < PIPE_BUF: written whole
