"""The temporary files of `ledger backup`, and the removal of those a killed backup left.

A backup is written to a hidden file beside its target and renamed into place only when it is
whole. A backup killed midway (SIGKILL, a full disk, a closed terminal) cannot delete its file:
one soak left 13 of them, 582 MB, invisible to `ls`. So the file is named to be recognized
later, `.billing-backup.<host>.<pid>.<random>.tmp`, and the next `ledger backup` into that
folder, or `ledger check` for the ledger's own folder, removes the ones whose writer is gone:

- written on this host by a process that no longer runs, and untouched for a minute
  (a live backup's copy is written continuously, its check takes seconds);
- or untouched for a day, whoever wrote it (a pid reused since, another host on a shared
  folder): no backup runs that long.

Files named by older versions (`.<target>.<8 hex digits>.tmp`) are removed only when they are
a day old and start as a billing ledger (SQLite's header with our application id), so nothing
of anybody else's is ever touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import time
from pathlib import Path

from billing_cli.storage.sqlite.schema import APPLICATION_ID

PREFIX = ".billing-backup"
ORPHAN_SECONDS = 60
ANYONE_SECONDS = 24 * 3600
_SUFFIXES = ("", "-wal", "-shm", "-journal")  # SQLite's files beside a database
_OURS = re.compile(
    r"\.billing-backup\.(?P<host>[A-Za-z0-9-]{1,32})\.(?P<pid>[0-9]{1,10})\.[0-9a-f]{8}\.tmp"
    r"(?:-wal|-shm|-journal)?"
)
_OLDER = re.compile(r"\..+\.[0-9a-f]{8}\.tmp")
_SQLITE_HEADER = b"SQLite format 3\x00"


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32] or "host"


def temp_path(target: Path) -> Path:
    """A fresh name for the copy of `target` while it is written."""
    return target.with_name(f"{PREFIX}.{_host()}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def remove_with_companions(path: Path) -> None:
    """A temporary database and the -wal/-shm/-journal files SQLite may have made beside it."""
    for suffix in _SUFFIXES:
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process; a pid out of range
        return pid < 2**31
    return True


def _older_version_copy(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            header = fh.read(72)
    except OSError:
        return False
    return header[:16] == _SQLITE_HEADER and header[68:72] == APPLICATION_ID.to_bytes(4, "big")


def _stale(path: Path, age: float) -> bool:
    ours = _OURS.fullmatch(path.name)
    if ours is not None:
        if age > ANYONE_SECONDS:
            return True
        same_host = ours["host"] == _host()
        return same_host and age > ORPHAN_SECONDS and not _running(int(ours["pid"]))
    return bool(_OLDER.fullmatch(path.name)) and age > ANYONE_SECONDS and _older_version_copy(path)


def remove_stale(folder: Path) -> list[tuple[Path, int]]:
    """Remove the temporary files killed backups left in `folder`; (path, bytes) of each.
    Never raises: a folder that cannot be listed, or a file another process removed first,
    is simply left to the next attempt."""
    removed: list[tuple[Path, int]] = []
    now = time.time()
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(".") and ".tmp" in e.name]
    except OSError:
        return removed
    for entry in sorted(entries, key=lambda e: e.name):  # a copy before its -journal, -wal
        path = Path(entry.path)
        try:
            info = entry.stat(follow_symlinks=False)
            if not entry.is_file(follow_symlinks=False) or not _stale(path, now - info.st_mtime):
                continue
        except OSError:  # removed meanwhile, with its copy
            continue
        for suffix in _SUFFIXES:  # the copy's own -journal/-wal/-shm go with it, whatever age
            companion = Path(f"{path}{suffix}")
            try:
                size = companion.stat().st_size if suffix else info.st_size
                companion.unlink()
            except OSError:
                continue
            removed.append((companion, size))
    return removed
