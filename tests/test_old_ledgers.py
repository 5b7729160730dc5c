"""Issue 10.6: a ledger written by each older schema version (tests/data/ledgers, built by
make_ledgers.py with the program of that time) opens with today's program, is migrated in
place, and passes `ledger check`: every stored hash, every finalized invoice recomputed."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from billing_cli.storage.sqlite.schema import SCHEMA_VERSION
from tests.conftest import Billing, json_of

LEDGERS = Path(__file__).parent / "data" / "ledgers"
# schema10.db is schema9.db as the program at schema 10 (commit c92ca93) migrated it: opened
# once with `ledger check`, which writes nothing but the migration.
OLD_VERSIONS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]


def test_every_older_version_is_checked_in() -> None:
    assert sorted(int(p.stem.removeprefix("schema")) for p in LEDGERS.glob("schema*.db")) == (
        list(range(1, SCHEMA_VERSION))
    ), "a new migration needs the ledger of the version before it checked in (make_ledgers.py)"


@pytest.mark.parametrize("version", OLD_VERSIONS)
def test_old_ledger_migrates_and_passes_ledger_check(tmp_path: Path, version: int) -> None:
    db = tmp_path / "old.db"
    shutil.copy(LEDGERS / f"schema{version}.db", db)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == version
    conn.close()
    billing = Billing(db)
    report = json_of(billing("ledger", "check", "--json", now="2027-02-02T00:00:00Z"))
    assert report["ok"] and report["invoices_checked"] == 5, report
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    # the migrated ledger keeps working: the January drafts finalize, the check still holds
    run = billing.json("invoice", "run", now="2027-02-02T00:00:00Z")
    assert len(run["finalized"]) == 2, run
    assert billing("ledger", "check", now="2027-02-02T00:00:00Z").exit_code == 0
    december = billing.json("invoice", "show", "MAX-0003")
    late = [li for li in december["lines"]["data"] if li["description"].startswith("Late usage")]
    assert [li["quantity_decimal"] for li in late] == ["10.25"]
