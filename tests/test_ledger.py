"""The ledger file (SPEC 5, 6): creation, refusal of foreign files, error translation, and the
CLI's error boundary for unexpected exceptions."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from billing_cli.domain.models import Customer
from billing_cli.errors import Conflict, LedgerError, NotFound
from billing_cli.storage.sqlite import Ledger
from billing_cli.storage.sqlite.connection import translate
from billing_cli.storage.sqlite.schema import APPLICATION_ID, SCHEMA_VERSION
from tests.conftest import assert_error, json_of, snapshot

WRITE = ["customer", "create", "--name", "x"]
READ = ["meter", "list"]


def file_state(path: Path) -> tuple[bytes, int, list[str]]:
    """Bytes, mtime (ns) and the sibling files: everything a refused open must leave alone."""
    siblings = sorted(p.name for p in path.parent.iterdir())
    return path.read_bytes(), path.stat().st_mtime_ns, siblings


def make_ledger(billing) -> None:
    json_of(billing(*WRITE, "--json"))


# -- a new ledger --------------------------------------------------------------------------
def test_new_ledger_is_private_wal_with_foreign_keys(billing, db: Path) -> None:
    make_ledger(billing)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    led = Ledger(db, create=False)
    try:
        pragma = {
            p: led.conn.execute(f"PRAGMA {p}").fetchone()[0]
            for p in ("journal_mode", "foreign_keys", "busy_timeout", "user_version",
                      "application_id")
        }  # fmt: skip
        strict = led.conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE '%STRICT%'"
        ).fetchone()[0]
    finally:
        led.close()
    assert pragma["journal_mode"] == "wal"
    assert pragma["foreign_keys"] == 1
    assert pragma["busy_timeout"] >= 5000
    assert pragma["user_version"] == SCHEMA_VERSION
    assert pragma["application_id"] == APPLICATION_ID
    assert strict == 0


def test_private_mode_ignores_a_permissive_umask(billing, db: Path) -> None:
    old = os.umask(0)
    try:
        make_ledger(billing)
    finally:
        os.umask(old)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_foreign_keys_are_enforced(billing, db: Path) -> None:
    make_ledger(billing)
    led = Ledger(db, create=False)
    try:
        with pytest.raises(Conflict), led.write():
            led.conn.execute(
                "INSERT INTO subscriptions (id, created, customer, status, currency, interval,"
                " interval_count, start_date, billing_cycle_anchor)"
                " VALUES ('sub_x', 0, 'cus_missing', 'active', 'usd', 'month', 1, 0, 0)"
            )
    finally:
        led.close()


def test_read_command_on_missing_file_creates_nothing(billing, db: Path) -> None:
    for args in (READ, ["customer", "show", "cus_x"], ["price", "list", "--json"]):
        line = assert_error(billing(*args), 3, f"no ledger at {db}")
        assert line == f"error: no ledger at {db}"
        assert not db.exists()
    assert list(db.parent.iterdir()) == []


def test_missing_folder_for_a_write(billing, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "dir" / "billing.db"
    assert_error(billing(*WRITE, db=target), 6, str(target))
    assert not (tmp_path / "no").exists()


def test_directory_is_not_a_ledger(billing, tmp_path: Path) -> None:
    assert_error(billing(*READ, db=tmp_path), 6, str(tmp_path))


def test_db_from_environment(billing, tmp_path: Path) -> None:
    target = tmp_path / "env.db"
    json_of(billing(*WRITE, "--json", db=None, env={"BILLING_DB": str(target)}))
    assert target.exists() and not billing.db.exists()


def test_zero_byte_file_is_a_new_ledger(billing, db: Path) -> None:
    db.touch()
    assert json_of(billing(*READ, "--json"))["data"] == []
    created = json_of(billing(*WRITE, "--json"))
    assert json_of(billing("customer", "list", "--json"))["data"] == [created]


def test_zero_byte_file_takes_writes_directly(billing, db: Path) -> None:
    db.touch()
    created = json_of(billing(*WRITE, "--json"))
    assert json_of(billing("customer", "show", created["id"], "--json")) == created


# -- files that are not ours ---------------------------------------------------------------
def _text_file(path: Path) -> None:
    path.write_text("id,name\ncus_1,Alpaca\n")


def _short_garbage(path: Path) -> None:
    path.write_bytes(b"SQL")


def _other_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('hello')")
    conn.commit()
    conn.close()


def _other_app_id(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.commit()
    conn.close()


def _newer_ledger(path: Path) -> None:
    led = Ledger(path, create=True)
    led.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    led.close()


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (_text_file, "not an SQLite file"),
        (_short_garbage, "not an SQLite file"),
        (_other_sqlite, "another program"),
        (_other_app_id, "another program"),
        (_newer_ledger, "newer"),
    ],
)
@pytest.mark.parametrize("args", [READ, WRITE, ["price", "show", "price_x"]])
def test_foreign_files_are_refused_untouched(
    billing, db: Path, make, fragment: str, args: list[str]
) -> None:
    make(db)
    before = file_state(db)
    os.utime(db, ns=(before[1] - 10**9, before[1] - 10**9))  # an mtime a write would change
    before = file_state(db)
    line = assert_error(billing(*args), 6, str(db))
    assert fragment in line
    assert file_state(db) == before


def test_newer_ledger_message_names_both_versions(billing, db: Path) -> None:
    _newer_ledger(db)
    result = billing(*READ)
    assert_error(result, 6, str(SCHEMA_VERSION + 1), str(SCHEMA_VERSION))
    assert "upgrade" in result.stderr


@pytest.mark.parametrize("keep", [100, 5000, 20_000])
def test_truncated_ledger_is_a_clear_ledger_error(billing, db: Path, keep: int) -> None:
    make_ledger(billing)
    for n in range(5):
        json_of(billing("product", "create", "--name", f"p{n}" * 50, "--json"))
    data = db.read_bytes()
    assert len(data) > keep
    db.write_bytes(data[:keep])
    for args in (READ, WRITE):
        result = billing(*args)
        assert_error(result, 6, str(db))
        assert "Traceback" not in result.stderr


def test_garbage_after_a_valid_header(billing, db: Path) -> None:
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    before = file_state(db)
    assert_error(billing(*READ), 6, str(db))
    assert file_state(db) == before


# -- read-only, locked ---------------------------------------------------------------------
@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_file_for_a_write_command(billing, db: Path) -> None:
    make_ledger(billing)
    db.chmod(0o400)
    before = snapshot(db)
    assert_error(billing(*WRITE), 6, "read-only")
    assert snapshot(db) == before
    assert billing(*READ).exit_code == 0


def test_read_only_connection_for_a_write_command(billing, db: Path, monkeypatch) -> None:
    """Root cannot be stopped by chmod, so open the file read-only the way SQLite would."""
    make_ledger(billing)
    before = snapshot(db)
    real_connect = sqlite3.connect

    def read_only(path, *args, **kwargs):  # noqa: ANN001, ANN202
        return real_connect(f"file:{path}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    line = assert_error(billing(*WRITE), 6, str(db))
    assert "read-only" in line
    assert json_of(billing(*READ, "--json"))["data"] == []
    monkeypatch.undo()
    assert snapshot(db) == before


def test_locked_ledger_is_exit_6(billing, db: Path) -> None:
    make_ledger(billing)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = billing(*WRITE, env={"BILLING_BUSY_TIMEOUT_MS": "50"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    line = assert_error(result, 6, str(db))
    assert "locked" in line


def test_translate_maps_sqlite_failures() -> None:
    path = Path("b.db")
    cases = [
        (sqlite3.OperationalError, "SQLITE_READONLY", LedgerError),
        (sqlite3.OperationalError, "SQLITE_FULL", LedgerError),
        (sqlite3.OperationalError, "SQLITE_BUSY", LedgerError),
        (sqlite3.DatabaseError, "SQLITE_NOTADB", LedgerError),
        (sqlite3.DatabaseError, "SQLITE_CORRUPT", LedgerError),
        (sqlite3.IntegrityError, "SQLITE_CONSTRAINT_UNIQUE", Conflict),
    ]
    for cls, name, kind in cases:
        exc = cls("some text")
        exc.sqlite_errorname = name  # type: ignore[attr-defined]
        translated = translate(exc, path)
        assert type(translated) is kind, exc
        assert "b.db" in translated.message or kind is Conflict


# -- the store -----------------------------------------------------------------------------
def test_store_round_trips_a_customer(db: Path) -> None:
    customer = Customer(
        id="cus_1", created=5, name="Ünïcode", email=None, invoice_prefix="ABC",
        next_invoice_sequence=1, currency=None, balance=0, metadata={"b": "2", "a": "1"},
    )  # fmt: skip
    led = Ledger(db, create=True)
    try:
        with led.write():
            led.insert_customer(customer)
        assert led.get_customer("cus_1") == customer
        assert led.get_customer("cus_2") is None
        assert led.invoice_prefix_taken("ABC") and not led.invoice_prefix_taken("ABD")
        with pytest.raises(Conflict), led.write():
            led.insert_customer(customer)
        with led.write():
            led.set_customer_currency("cus_1", "usd")
        assert led.get_customer("cus_1").currency == "usd"
    finally:
        led.close()


def test_failed_transaction_rolls_back(db: Path) -> None:
    customer = Customer("cus_1", 5, None, None, "ABC", 1, None, 0)
    led = Ledger(db, create=True)
    try:
        with pytest.raises(RuntimeError), led.write():
            led.insert_customer(customer)
            raise RuntimeError("boom")
        assert led.get_customer("cus_1") is None
    finally:
        led.close()


def test_ledger_open_on_missing_file_without_create(db: Path) -> None:
    with pytest.raises(NotFound):
        Ledger(db, create=False)
    assert not db.exists()


# -- internal errors -----------------------------------------------------------------------
def test_internal_error_is_one_line_and_exit_1(alpaca, monkeypatch) -> None:
    from billing_cli.api import catalog

    def boom(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("kaput\nsecond line")

    monkeypatch.setattr(catalog, "list_meters", boom)
    result = alpaca(*READ)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "error: internal error: RuntimeError: kaput second line"
    assert lines[1].startswith("hint: ") and "BILLING_DEBUG=1" in lines[1]
    assert len(lines) == 2 and "Traceback" not in result.stderr

    debug = alpaca(*READ, env={"BILLING_DEBUG": "1"})
    assert debug.exit_code == 1 and debug.stdout == ""
    assert "Traceback (most recent call last)" in debug.stderr
    assert "RuntimeError: kaput" in debug.stderr
    assert "error: internal error: RuntimeError" in debug.stderr
