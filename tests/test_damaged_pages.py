"""Issue 10.3: a damaged ledger is exit 6 everywhere. Bytes of one page are overwritten (the
table's root page: where its rows live in a small ledger) and every read command runs against
the copy: each exits 0 or 6, never 1, with one `error:` line; every command that reads the
damaged table exits 6; `ledger check` always exits 6 (SQLite's page walk finds any page)."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Billing, assert_error, build_alpaca

# command -> the tables it must read (so a damaged page of one of them is exit 6)
READS: dict[tuple[str, ...], set[str]] = {
    ("meter", "list"): {"meters"},
    ("meter", "show", "mtr_tokens"): {"meters"},
    ("meter", "usage", "mtr_tokens", "--customer", "cus_alpaca", "--start", "2026-11-01",
     "--end", "2026-11-02"): {"meters", "customers", "usage_hourly"},
    ("product", "list"): {"products"},
    ("product", "show", "prod_api"): {"products"},
    ("price", "list"): {"prices"},
    ("price", "show", "price_tokens"): {"prices"},
    ("customer", "list"): {"customers"},
    ("customer", "show", "cus_alpaca"): {"customers"},
    ("subscription", "list"): {"subscriptions", "subscription_items"},
    ("subscription", "show", "sub_x"): set(),
    ("event", "list"): {"meter_events"},
    ("event", "late"): set(),
    ("invoice", "list"): {"invoices"},
    ("invoice", "show", "ALPACA-0001"): {"invoices", "invoice_lines"},
    ("invoice", "upcoming", "--customer", "cus_alpaca"): {"customers", "subscriptions"},
    ("ledger", "check"): set(),
}  # fmt: skip


@pytest.fixture(scope="module")
def sound_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every table holds rows: catalog, a subscription, events, a finalized invoice."""
    db = tmp_path_factory.mktemp("damaged") / "sound.db"
    billing = build_alpaca(Billing(db))
    billing.json("subscription", "create", "--customer", "cus_alpaca", "--price", "price_tokens")
    for n in range(3):
        billing.json(
            "event", "send", "--event-name", "api_tokens", "--customer", "cus_alpaca",
            "--value", str(100 + n), "--identifier", f"ev{n}",
            "--timestamp", "2026-11-01T10:00:00Z", now="2026-11-02",
        )  # fmt: skip
    billing.json("event", "cancel", "--event-name", "api_tokens", "--identifier", "ev2")
    assert billing.json("invoice", "run", now="2026-12-02")["finalized"]
    return db


def _root_pages(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT name, rootpage FROM sqlite_master WHERE type = 'table'")
        return {name: page for name, page in rows if page}
    finally:
        conn.close()


def _damage(src: Path, dst: Path, page: int, seed: int) -> None:
    shutil.copy(src, dst)
    page_size = int.from_bytes(src.read_bytes()[16:18], "big")
    with open(dst, "r+b") as fh:
        fh.seek((page - 1) * page_size)
        fh.write(random.Random(seed).randbytes(page_size))


TABLES = [
    "meters", "products", "prices", "customers", "subscriptions", "subscription_items",
    "meter_events", "meter_event_adjustments", "usage_hourly", "invoices", "invoice_lines",
    "invoice_chain",
]  # fmt: skip


@pytest.mark.parametrize("table", TABLES)
def test_every_read_command_on_a_damaged_page_exits_6(
    sound_ledger: Path, tmp_path: Path, table: str
) -> None:
    db = tmp_path / "damaged.db"
    _damage(sound_ledger, db, _root_pages(sound_ledger)[table], seed=len(table))
    billing = Billing(db)
    for argv, reads in READS.items():
        result = billing(*argv, now="2026-12-03")
        if table in reads or argv == ("ledger", "check"):
            assert_error(result, 6, "damaged")
        else:
            assert result.exit_code in (0, 3, 6), (argv, result.exit_code, result.stderr)
            assert "Traceback" not in result.stderr and "internal error" not in result.stderr
            if result.exit_code:
                assert len(result.stderr.splitlines()) <= 2, result.stderr


def test_a_write_on_a_damaged_page_exits_6_and_one_line(sound_ledger: Path, tmp_path: Path) -> None:
    db = tmp_path / "damaged.db"
    _damage(sound_ledger, db, _root_pages(sound_ledger)["customers"], seed=1)
    result = Billing(db)("customer", "create", "--name", "x")
    assert_error(result, 6, "damaged")


def test_translation_goes_by_sqlite_error_code_names(tmp_path: Path) -> None:
    """The same message text with another code is translated by the code (no substring
    matching): SQLite's wording is not an interface."""
    from billing_cli.errors import Conflict, LedgerError
    from billing_cli.storage.sqlite.connection import translate

    def error(cls: type[sqlite3.Error], text: str, name: str) -> sqlite3.Error:
        exc = cls(text)
        exc.sqlite_errorname = name  # type: ignore[attr-defined]
        return exc

    path = tmp_path / "b.db"
    locked = translate(error(sqlite3.OperationalError, "x", "SQLITE_BUSY"), path)
    assert isinstance(locked, LedgerError) and "locked" in locked.message
    corrupt = translate(error(sqlite3.DatabaseError, "unique", "SQLITE_CORRUPT_INDEX"), path)
    assert isinstance(corrupt, LedgerError) and "damaged" in corrupt.message
    dup = translate(error(sqlite3.IntegrityError, "locked", "SQLITE_CONSTRAINT_UNIQUE"), path)
    assert isinstance(dup, Conflict)
    readonly = translate(error(sqlite3.OperationalError, "", "SQLITE_READONLY_DBMOVED"), path)
    assert isinstance(readonly, LedgerError) and "read-only" in readonly.message
    bug = sqlite3.ProgrammingError("Cannot operate on a closed database.")
    assert translate(bug, path) is bug  # no SQLite code: a bug of this program, exit 1
