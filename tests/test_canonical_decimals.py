"""Issue 10.4: every decimal column holds canonical plain text (`7.5`, `0.0000001`, never
`+007.50` or `1E-7`), all Decimal arithmetic runs in money's one exact context, and migration 5
rewrites an older ledger's rows while every hash chain still verifies."""

from __future__ import annotations

import decimal
import json
import re
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from billing_cli.domain.money import canonical_text
from tests.conftest import Billing, json_of

LEDGERS = Path(__file__).parent / "data" / "ledgers"
sys.path.insert(0, str(LEDGERS))
from make_ledgers import build_schema4  # noqa: E402

_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_JSON_COLUMNS = {"prices": ("tiers",), "invoice_lines": ("explain",)}
_TEXT_COLUMNS = {
    "prices": ("unit_amount_decimal",),
    "meter_events": ("value",),
    "usage_hourly": ("sum", "last_value", "recv_value"),
    "invoice_lines": ("quantity_decimal", "unit_amount_decimal"),
}


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def non_canonical(db: Path) -> list[tuple[str, str, str]]:
    """(table, column, text) for every decimal text not in canonical form."""
    conn = sqlite3.connect(db)
    found = []
    try:
        for table, columns in _TEXT_COLUMNS.items():
            for column in columns:
                for (text,) in conn.execute(f"SELECT {column} FROM {table}"):
                    if text is not None and canonical_text(text) != text:
                        found.append((table, column, text))
        for table, columns in _JSON_COLUMNS.items():
            for column in columns:
                for (text,) in conn.execute(f"SELECT {column} FROM {table}"):
                    for s in _strings(json.loads(text) if text else None):
                        if _NUMBER.fullmatch(s) and canonical_text(s) != s:
                            found.append((table, column, s))
    finally:
        conn.close()
    return found


@pytest.fixture(scope="module")
def storyline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """make_ledgers' storyline (`+007.50`, `0.0000001`, `0.50` tiers, late usage …) written by
    today's program, with the thread's default Decimal context made hostile: 2 digits and
    every rounding trapped, so any arithmetic outside money's context raises."""
    db = tmp_path_factory.mktemp("canonical") / "story.db"
    hostile = decimal.Context(
        prec=2, traps=[decimal.Inexact, decimal.Rounded, decimal.InvalidOperation]
    )
    with decimal.localcontext(hostile):
        build_schema4(db)
        billing = Billing(db)
        for argv in (
            ("invoice", "upcoming", "--customer", "cus_max"),
            ("invoice", "show", "MAX-0003", "--explain"),
            ("meter", "usage", "mtr_tokens", "--customer", "cus_max", "--start", "2026-11-01",
             "--end", "2026-12-01", "--window", "day"),
            ("ledger", "check"),
        ):  # fmt: skip
            result = billing(*argv, now="2027-02-01T00:30:00Z")
            assert result.exit_code == 0, (argv, result.stderr)
    return db


def test_new_writes_are_canonical(storyline: Path) -> None:
    assert non_canonical(storyline) == []
    conn = sqlite3.connect(storyline)
    values = dict(conn.execute("SELECT identifier, value FROM meter_events").fetchall())
    price = conn.execute("SELECT unit_amount_decimal FROM prices WHERE id = 'price_tokens'")
    assert (values["imp1"], values["imp3"], price.fetchone()[0]) == ("7.5", "1", "0.0000001")
    # the value as sent stays in the payload, which is what the event chain covers
    payload = conn.execute("SELECT payload FROM meter_events WHERE identifier = 'imp1'")
    assert json.loads(payload.fetchone()[0])["value"] == "+007.50"
    conn.close()


def test_migration_rewrites_an_older_ledger_and_chains_still_verify(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copy(LEDGERS / "schema4.db", db)
    before = non_canonical(db)
    assert ("meter_events", "value", "+007.50") in before
    assert ("prices", "unit_amount_decimal", "1E-7") in before
    assert ("invoice_lines", "quantity_decimal", "2501.000") in before
    billing = Billing(db)
    report = json_of(billing("ledger", "check", "--json", now="2027-02-02"))
    assert report["ok"], report["problems"]
    assert non_canonical(db) == []
    # the migrated rows bill exactly as before
    assert billing.json("invoice", "show", "MAX-0002")["total"] == 3118


def test_an_edited_value_column_is_named(storyline: Path, tmp_path: Path) -> None:
    db = tmp_path / "edited.db"
    shutil.copy(storyline, db)
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER meter_events_no_update")
    conn.execute("UPDATE meter_events SET value = '8' WHERE identifier = 'imp1'")
    conn.commit()
    conn.close()
    result = Billing(db)("ledger", "check", now="2027-02-02")
    assert result.exit_code == 6
    assert "imp1" in result.stderr and "does not match its payload" in result.stderr
