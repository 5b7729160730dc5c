"""One ledger connection kept open across the writes of a long-running process (`billing serve`).

Why: a connection opened per request starts with an empty page cache, so each 100-event write
of the v2 meter event stream read the B-tree pages it touched (identifier index, usage index,
roll-ups) afresh, more of them as the ledger grew: most of a request's time on a ledger of
100,000 events. One connection, used by the server's writers one at a time (they queue on the
server's write lock), keeps those pages cached between requests; SQLite drops the cache by
itself when another process (an `event import`, an `invoice run`) has written in between.

What a fresh connection checked on every request is still checked: before each use, that the
path still names the file that was opened (a ledger replaced or removed is opened anew, as a
request would have), that it may still be written, and that its schema is the one this
program writes (another billing_cli may have migrated it: it is then opened anew, which
refuses a newer file, or a read-only one, as any command does).
Transactions are the ledger's own (`write()`): one request = one transaction, as before.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from billing_cli.storage.sqlite.connection import file_key, translated
from billing_cli.storage.sqlite.schema import SCHEMA_VERSION

# The writer's page cache: 64 MiB, as `event import` uses (`EventStore.bulk_import_mode`);
# pages are allocated only as they are read, so a small ledger costs little.
CACHE_KIB = 65536
# A checkpoint every 10,000 WAL frames (~40 MiB) rather than 1,000: a stream request dirties a
# few hundred pages, mostly the same index pages as the requests before it, which a checkpoint
# then copies into the file once rather than every few requests (100,000 events streamed:
# 12.9 -> 11.5 ms a request in-process). The WAL shrinks again when the server stops.
CHECKPOINT_FRAMES = 10_000


class HeldLedger:
    """The ledger at `path`, opened on first use and kept open until `close`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._led: Any = None
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def using(self) -> Iterator[Any]:
        """The open ledger for one use (the caller makes sure uses do not overlap), inside the
        same error boundary as `open_ledger`."""
        with translated(self.path):
            yield self._current()

    def _current(self) -> Any:
        led = self._led
        if led is not None and not self._still_valid(led):
            self.close()
            led = None
        if led is None:
            from billing_cli.storage.sqlite import _WHOLE, CoreLedger, _whole_ledger

            kind = _whole_ledger() if _WHOLE in sys.modules else CoreLedger
            led = kind(self.path, create=True, any_thread=True)
            led.conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            led.conn.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_FRAMES}")
            self._led = led
        return led

    def _still_valid(self, led: Any) -> bool:
        if file_key(self.path) != led.file or not os.access(self.path, os.W_OK):
            return False  # opened anew: a read-only ledger is then refused as by any command
        return bool(led.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION)

    def close(self) -> None:
        with self._lock:
            led, self._led = self._led, None
            if led is not None:
                led.close()
