"""`billing ledger backup PATH` (SPEC 5, 6): one consistent snapshot through SQLite's online
backup API, safe while other processes write, never overwriting an existing file."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

from billing_cli.errors import LedgerError
from billing_cli.storage.sqlite.maintenance import MaintenanceStore
from billing_cli.storage.sqlite.schema import APPLICATION_ID, SCHEMA_VERSION
from tests.conftest import assert_error, json_of, snapshot

# A second process that writes through the Ledger as fast as it can. Each transaction adds one
# customer, one product and one meter event numbered i, so a consistent snapshot holds exactly
# the rows 0..n-1 of each table: equal counts, no gaps.
WRITER = """
import sys
from decimal import Decimal
from pathlib import Path
from billing_cli.storage.sqlite import Ledger
from billing_cli.domain.models import Customer, Product
from billing_cli.domain.events import ValidEvent

path, stop = Path(sys.argv[1]), Path(sys.argv[2])
led = Ledger(path, create=True)
i = 0
while not stop.exists() and i < 200_000:
    cus = f"cus_{i:06d}"
    event = ValidEvent(f"ev_{i:06d}", "m", "mtr_m", cus, Decimal(1), "1", i,
                       {"stripe_customer_id": cus, "value": "1"}, 0)
    with led.write():
        led.insert_customer(Customer(cus, i, None, None, f"P{i:06d}", 1, None, 0))
        led.insert_product(Product(f"prod_{i:06d}", i, "p", None, None, True))
        assert led.append_events([event], i) == []
    i += 1
led.close()
print(i)
"""


def counts(path: Path) -> tuple[int, int, int]:
    conn = sqlite3.connect(path)
    try:
        return tuple(
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("customers", "products", "meter_events")
        )  # type: ignore[return-value]
    finally:
        conn.close()


def assert_prefix_snapshot(path: Path) -> int:
    """Every table holds the rows 0..n-1 written by WRITER: one moment, nothing torn."""
    n_customers, n_products, n_events = counts(path)
    assert n_customers == n_products == n_events, (n_customers, n_products, n_events)
    conn = sqlite3.connect(path)
    try:
        ids = [r[0] for r in conn.execute("SELECT id FROM customers ORDER BY id")]
        seqs = [r[0] for r in conn.execute("SELECT seq FROM meter_events ORDER BY seq")]
    finally:
        conn.close()
    assert ids == [f"cus_{i:06d}" for i in range(n_customers)]
    assert seqs == list(range(1, n_events + 1))
    return n_customers


def wait_for(predicate, timeout: float = 20.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_backup_while_another_process_writes_is_a_consistent_snapshot(
    billing, db: Path, tmp_path: Path
) -> None:
    billing.json(
        "meter", "create", "--id", "mtr_m", "--display-name", "M", "--event-name", "m",
        "--aggregation", "sum",
    )  # fmt: skip
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: counts(db)[0] >= 50)
        taken = []
        for k in range(3):
            copy = tmp_path / f"copy{k}.db"
            result = billing("ledger", "backup", str(copy), "--json")
            report = json_of(result)
            n = assert_prefix_snapshot(copy)
            assert report["counts"]["customers"] == n
            taken.append(n)
        wait_for(lambda: counts(db)[0] > taken[-1] + 10)  # the writer went on meanwhile
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=30)
    assert writer.returncode == 0, err
    assert taken == sorted(taken) and taken[0] >= 50
    assert int(out) > taken[-1]
    for k in range(3):
        copy = tmp_path / f"copy{k}.db"
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
        assert json_of(billing("meter", "list", "--json", db=copy))["data"][0]["id"] == "mtr_m"
        check = billing("ledger", "check", db=copy)
        assert check.exit_code == 0, check.stderr
    leftovers = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("billing.db"))
    assert leftovers == ["copy0.db", "copy1.db", "copy2.db", "stop"]


def test_the_copy_is_a_full_ledger_and_the_source_is_untouched(
    alpaca, db: Path, tmp_path: Path
) -> None:
    before = snapshot(db)
    copy = tmp_path / "copy.db"
    old = os.umask(0)
    try:
        result = alpaca("ledger", "backup", str(copy))
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"backed up {db} to {copy} (")
    assert "customers: 1" in result.stdout
    assert snapshot(db) == before
    assert snapshot(copy) == before
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["billing.db", "copy.db"]
    conn = sqlite3.connect(copy)
    try:
        pragmas = [conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("application_id",
                   "user_version", "journal_mode", "quick_check")]  # fmt: skip
    finally:
        conn.close()
    assert pragmas == [APPLICATION_ID, SCHEMA_VERSION, "wal", "ok"]
    # A copy is a working ledger: it takes writes and shows what the source showed.
    json_of(alpaca("customer", "create", "--name", "after restore", "--json", db=copy))
    assert len(json_of(alpaca("customer", "list", "--json", db=copy))["data"]) == 2
    assert alpaca.json("meter", "list", db=copy) == alpaca.json("meter", "list")


def test_json_report(alpaca, db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    report = alpaca.json("ledger", "backup", str(copy))
    assert report["object"] == "ledger_backup"
    assert report["source"] == str(db) and report["path"] == str(copy)
    assert report["bytes"] == copy.stat().st_size
    assert report["schema_version"] == SCHEMA_VERSION
    assert report["counts"]["meters"] == 1 and report["counts"]["prices"] == 2
    assert report["counts"]["meter_events"] == 0


def test_an_existing_file_is_never_overwritten(alpaca, tmp_path: Path) -> None:
    target = tmp_path / "yesterday.db"
    target.write_bytes(b"the only good copy")
    line = assert_error(alpaca("ledger", "backup", str(target)), 5, str(target), "not empty")
    assert "exists" in line
    assert target.read_bytes() == b"the only good copy"
    assert "hint: give a new path" in alpaca("ledger", "backup", str(target)).stderr


def test_a_zero_byte_file_is_taken(alpaca, tmp_path: Path) -> None:
    target = tmp_path / "empty.db"
    target.touch(mode=0o644)
    json_of(alpaca("ledger", "backup", str(target), "--json"))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert alpaca.json("meter", "list", db=target)["data"][0]["id"] == "mtr_tokens"


def test_the_ledger_itself_is_refused(alpaca, db: Path) -> None:
    before = snapshot(db)
    assert_error(alpaca("ledger", "backup", str(db)), 5, "ledger itself")
    assert snapshot(db) == before


def test_a_directory_is_refused(alpaca, tmp_path: Path) -> None:
    assert_error(alpaca("ledger", "backup", str(tmp_path)), 4, "directory")


def test_a_missing_folder_is_a_ledger_error(alpaca, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "copy.db"
    assert_error(alpaca("ledger", "backup", str(target)), 6, str(target))
    assert not (tmp_path / "no").exists()


def test_no_ledger_no_backup(billing, db: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy.db"
    assert_error(billing("ledger", "backup", str(target)), 3, f"no ledger at {db}")
    assert not target.exists() and not db.exists()


def test_a_foreign_file_is_not_backed_up(billing, db: Path, tmp_path: Path) -> None:
    db.write_text("id,name\n")
    target = tmp_path / "copy.db"
    assert_error(billing("ledger", "backup", str(target)), 6, "not a billing ledger")
    assert not target.exists()


def test_a_failed_copy_leaves_nothing_behind(alpaca, tmp_path: Path, monkeypatch) -> None:
    def broken(self, tmp: Path) -> tuple[int, dict[str, int]]:  # noqa: ANN001
        assert tmp.exists() and stat.S_IMODE(tmp.stat().st_mode) == 0o600
        raise LedgerError("disk went away")

    monkeypatch.setattr(MaintenanceStore, "_copy_into", broken)
    target = tmp_path / "copy.db"
    assert_error(alpaca("ledger", "backup", str(target)), 6, "disk went away")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["billing.db"]


def test_a_backup_runs_while_a_writer_holds_the_write_lock(
    alpaca, db: Path, tmp_path: Path
) -> None:
    """WAL: the backup reads a snapshot, so even a writer sitting on BEGIN IMMEDIATE (an import
    mid-batch) does not make it wait, let alone fail."""
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("UPDATE customers SET name = 'uncommitted'")
    try:
        copy = tmp_path / "copy.db"
        report = alpaca.json("ledger", "backup", str(copy), env={"BILLING_BUSY_TIMEOUT_MS": "1"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert report["counts"]["customers"] == 1
    names = [c["name"] for c in alpaca.json("customer", "list", db=copy)["data"]]
    assert names == ["Alpaca AI"]
