"""Use cases on the ledger file itself: `billing ledger backup PATH` (SPEC 5, 6).

A backup must never destroy what it is meant to protect, so an existing non-empty PATH is
refused (Conflict) rather than overwritten: the file there may be yesterday's only good copy.
A zero-byte PATH is taken, since SPEC 5 treats an empty file as a new ledger.
"""

from __future__ import annotations

import os
from pathlib import Path

from billing_cli.api.context import Context
from billing_cli.errors import Conflict, InvalidInput, LedgerError
from billing_cli.storage.port import BackupCopy, is_postgres


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
