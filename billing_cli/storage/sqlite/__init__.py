"""The only module that speaks SQL: one SQLite file, WAL, STRICT tables (SPEC 6).

`Ledger` is assembled from one store per domain area so each file stays small; callers see
one narrow object and never build SQL themselves.

Start-up time is a feature (issue 10.8): `event send`, `meter list` and other simple commands
need only the catalog and the events, so `open_ledger` starts with a `CoreLedger` of those
stores, and the first use of any other method (an invoice, a credit, a backup) turns the object
into the whole `Ledger` (storage/sqlite/ledger.py), importing the other stores, and the
invoicing domain they speak, only then. Once that module is loaded (by such a use, or by code
that names `Ledger`), every ledger opened is whole from the start.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from billing_cli.storage.sqlite.base import LedgerBase
from billing_cli.storage.sqlite.catalog import CatalogStore
from billing_cli.storage.sqlite.catalog_chain import CatalogChainStore
from billing_cli.storage.sqlite.connection import translated
from billing_cli.storage.sqlite.events import EventStore

if TYPE_CHECKING:
    from billing_cli.storage.sqlite.ledger import Ledger

_WHOLE = "billing_cli.storage.sqlite.ledger"


class CoreLedger(EventStore, CatalogStore, CatalogChainStore, LedgerBase):
    """The stores every command needs; becomes the whole `Ledger` when asked for more."""

    def __getattr__(self, name: str) -> Any:
        # Only reached for a name this class lacks: become the whole ledger, once.
        if name.startswith("__") or type(self) is not CoreLedger:
            raise AttributeError(name)
        self.__class__ = _whole_ledger()
        return getattr(self, name)


def _whole_ledger() -> type[Ledger]:
    from billing_cli.storage.sqlite.ledger import Ledger

    return Ledger


def __getattr__(name: str) -> Any:
    """`from billing_cli.storage.sqlite import Ledger` loads the whole ledger (PEP 562)."""
    if name == "Ledger":
        return _whole_ledger()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@contextlib.contextmanager
def open_ledger(path: Path, *, create: bool) -> Iterator[Ledger]:
    """The ledger for one command, inside the one error boundary: whatever SQLite reports while
    it is open (a damaged page met by a plain list, a lock, a full disk) leaves as the
    `LedgerError` or `Conflict` of `connection.translate`, never as a raw sqlite3 error."""
    with translated(path):
        kind = _whole_ledger() if _WHOLE in sys.modules else CoreLedger
        led: Any = kind(path, create=create)
        try:
            yield led
        finally:
            led.close()


__all__ = ["CoreLedger", "Ledger", "open_ledger"]
