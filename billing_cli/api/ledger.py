"""Use cases on the ledger itself: `billing ledger backup PATH` (SPEC 5, 6),
`billing ledger copy SRC DST` (issue 13), and holding it open for `billing serve`.

A backup must never destroy what it is meant to protect, so an existing non-empty PATH is
refused (Conflict) rather than overwritten: the file there may be yesterday's only good copy.
A zero-byte PATH is taken, since SPEC 5 treats an empty file as a new ledger.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from billing_cli.api.context import Context
from billing_cli.errors import Conflict, InvalidInput, LedgerError
from billing_cli.storage.port import (
    BackupCopy,
    HeldStore,
    copy_ledger_rows,
    hold_store,
    is_postgres,
    open_store,
)


def _same_place(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except RuntimeError:  # a symlink loop (Python < 3.13): not the ledger's file
        return False


def _check_target(ledger: Path, target: Path) -> None:
    try:
        _refuse_existing(ledger, target)
    except OSError as exc:  # a name too long, a folder this user may not enter
        raise LedgerError(f"cannot write the backup {target}: {exc.strerror}") from exc


def _refuse_existing(ledger: Path, target: Path) -> None:
    if target.is_dir():
        raise InvalidInput(
            f"backup path {target} is a directory",
            hint=f"give a file path, e.g. {target / 'billing-backup.db'}",
        )
    for suffix in ("-wal", "-shm", "-journal"):  # SQLite's files beside the ledger
        if _same_place(target, Path(f"{ledger}{suffix}")):
            raise Conflict(
                f"backup path {target} is the ledger's own {suffix[1:]} file",
                hint="give a new path",
            )
    if not target.exists():
        return
    if ledger.exists() and os.path.samefile(target, ledger):
        raise Conflict(f"backup path {target} is the ledger itself", hint="give a new path")
    if target.stat().st_size > 0:
        raise Conflict(
            f"backup path {target} already exists and is not empty",
            hint="give a new path, or move the old file away first if you mean to replace it",
        )


def backup_ledger(ctx: Context, path: Path) -> BackupCopy:
    """Copy the ledger to `path` from one consistent snapshot, while other writers go on.
    (A PostgreSQL ledger refuses: its backups are pg_dump's job.)"""
    if not is_postgres(ctx.db):
        _check_target(Path(ctx.db), path)
    with ctx.ledger(write=False) as led:
        return led.backup(path)


@dataclass(frozen=True)
class LedgerCopy:
    """What `ledger copy` wrote and verified: rows per table, then `ledger check` on the copy
    and the number of invoices found identical on both sides."""

    source: str
    target: str
    counts: dict[str, int]
    invoices_compared: int


def copy_ledger(ctx: Context, source: str, target: str) -> LedgerCopy:
    """Copy the whole ledger at `source` into a new ledger at `target` (an SQLite path or a
    PostgreSQL URI, either way), in one transaction on the target; then check the copy
    (hash chains, every finalized invoice recomputed) and compare every invoice with the
    source's. Refuses a target that holds rows (Conflict) and changes nothing then."""
    from billing_cli.api.ledger_check import check_ledger

    if source == target:
        raise Conflict(
            f"source and target are the same ledger {source!r}", hint="give a new target"
        )
    with open_store(source, create=False) as src, open_store(target, create=True) as dst:
        with src.read(), dst.write():
            counts = copy_ledger_rows(src, dst)
        names = (src.name, dst.name)
    report = check_ledger(Context(target, ctx.now))
    if not report.ok:
        first = report.problems[0]
        raise LedgerError(
            f"the copy at {names[1]} fails ledger check: {first.subject}: {first.message}",
            hint="the source is unchanged; run `billing ledger check` on it",
        )
    with open_store(source, create=False) as src, open_store(target, create=False) as dst:
        with src.read(), dst.read():
            mine, theirs = src.list_invoices(), dst.list_invoices()
    if mine != theirs:
        raise LedgerError(
            f"the invoices of the copy at {names[1]} differ from those of {names[0]}",
            hint="the source is unchanged; report this as a bug",
        )
    return LedgerCopy(names[0], names[1], counts, len(mine))


@contextmanager
def held_open(ctx: Context) -> Iterator[None]:
    """Create the ledger if it is missing, bring its schema up to date, and keep it open while
    a long-running process (`billing serve`) works on it.

    Opened at start, a foreign or newer file is refused before the first request. Held open, it
    spares every request a WAL checkpoint: SQLite copies the WAL into the file when the last
    connection to it closes, so a server whose requests each open and close their own
    connection would pay a checkpoint (and its fsync) per request, most of a request's cost.
    Held, checkpoints are SQLite's automatic ones, and the last one runs at shutdown."""
    with ctx.ledger(write=True):
        yield


class SharedWriter:
    """The ledger a long-running process writes through, one write at a time (the caller
    serializes them: `billing serve`'s write lock). On SQLite one connection kept open, so the
    pages a write touches stay cached for the next (storage/sqlite/held.py); on PostgreSQL
    each write opens the ledger as a command does."""

    def __init__(self, db: str | Path) -> None:
        self._held: HeldStore | None = hold_store(db)

    @contextmanager
    def bound(self, ctx: Context) -> Iterator[Context]:
        """`ctx` with the held ledger as its ledger: the use case's transactions run on it."""
        if self._held is None:
            yield ctx
            return
        with self._held.using() as led:
            yield ctx.bound(led)

    def close(self) -> None:
        if self._held is not None:
            self._held.close()
