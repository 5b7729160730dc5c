"""The two things every command needs: where the ledger is and the one reading of the clock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from billing_cli.clock import to_unix
from billing_cli.errors import InvalidInput
from billing_cli.storage.port import (
    LedgerStore,
    ReportSource,
    ledger_exists,
    open_reports,
    open_store,
)


@dataclass(frozen=True)
class Context:
    """`db` is the `--db` value: a path to an SQLite file, or a `postgresql://` URI."""

    db: str | Path
    now: datetime
    # A ledger already open in a transaction that the use case joins (see `bound`).
    open_ledger: LedgerStore | None = field(default=None, compare=False, repr=False)

    @property
    def now_ts(self) -> int:
        return to_unix(self.now)

    @contextmanager
    def reports(self) -> Iterator[ReportSource]:
        """Read-only SQL on the ledger (`ledger query`, `ledger export`; SQLite only). It is
        opened the usual way first, so a foreign file is refused and an older one upgraded."""
        with self.ledger(write=False):
            pass
        with open_reports(self.db) as reports:
            yield reports

    @contextmanager
    def ledger(self, *, write: bool) -> Iterator[LedgerStore]:
        """Open the ledger for one command; read commands never create it."""
        if self.open_ledger is not None:
            yield self.open_ledger
            return
        with open_store(self.db, create=write) as led:
            yield led

    def ledger_exists(self) -> bool:
        return self.open_ledger is not None or ledger_exists(self.db)

    def bound(self, led: LedgerStore) -> Context:
        """This context with `led` (in an open transaction) as its ledger: a use case run with
        it commits or rolls back with the caller's transaction (the HTTP idempotency record is
        written in the same transaction as the change it answers)."""
        return replace(self, open_ledger=led)


T = TypeVar("T")


def newest_first(objects: list[T]) -> list[T]:
    """Every list is newest first, as Stripe's are: the ledger hands objects over in creation
    order (created, then insertion), so objects created in the same second keep a stable order
    (the one created last comes first)."""
    return objects[::-1]


METADATA_KEY_MAX = 40
METADATA_VALUE_MAX = 500
METADATA_KEYS_MAX = 50


def parse_metadata(pairs: list[str] | None) -> dict[str, str]:
    """`--metadata K=V` pairs, with Stripe's limits (50 keys, 40-char keys, 500-char values)."""
    result: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(
                f"--metadata {pair!r} is not KEY=VALUE", hint="e.g. --metadata plan=pro"
            )
        if len(key) > METADATA_KEY_MAX or len(value) > METADATA_VALUE_MAX:
            raise InvalidInput(
                f"--metadata {pair!r} is too long",
                hint=f"keys hold at most {METADATA_KEY_MAX} chars, values {METADATA_VALUE_MAX}",
            )
        result[key] = value
    if len(result) > METADATA_KEYS_MAX:
        raise InvalidInput(
            f"{len(result)} metadata keys given", hint=f"at most {METADATA_KEYS_MAX} are allowed"
        )
    return result


def check_text(value: str | None, *, field: str, max_len: int, required: bool = False) -> None:
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{field} is required and was empty", hint=f"give {field} a value")
        return
    if len(value) > max_len:
        shown = repr(value) if len(value) <= 40 else f"{value[:40]!r}…"
        raise InvalidInput(
            f"{field} {shown} is {len(value)} characters long",
            hint=f"use at most {max_len} characters",
        )
    if any(ord(ch) < 32 for ch in value):
        raise InvalidInput(f"{field} {value!r} contains control characters")


_INT_RE = re.compile(r"[+-]?[0-9]{1,18}", re.ASCII)


def parse_int(value: int | str, *, field: str, example: str = "1") -> int:
    """A whole number given as text on the command line (an int from Python callers)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str) or not _INT_RE.fullmatch(value.strip()):
        raise InvalidInput(
            f"{field} {value!r} is not a whole number", hint=f"e.g. {field} {example}"
        )
    return int(value.strip())


def check_pattern(value: str, *, field: str, pattern: re.Pattern[str], example: str) -> None:
    if not pattern.fullmatch(value):
        raise InvalidInput(f"{field} {value!r} is not valid", hint=f"e.g. {example}")
