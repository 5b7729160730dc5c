"""SQL reports (issue 12, item 6): `ledger query` read-only, `ledger export TABLE`, through
sqlite-utils."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.conftest import Billing, assert_error, snapshot
from tests.documents import CLOSE, START, build_shop, november, subscribe


@pytest.fixture
def closed(billing: Billing) -> Billing:
    build_shop(billing)
    billing.json("tax-rate", "create", "--display-name", "VAT", "--percentage", "19",
                 "--id", "txr_vat", now=START)  # fmt: skip
    subscribe(billing, "--default-tax-rate", "txr_vat")
    november(billing)  # ALPACA-0001: 5055 tokens → 51 packages → 2.04 USD + 0.39 VAT
    return billing


SQL = (
    "SELECT i.number, i.total, json_extract(t.value, '$.amount') AS vat"
    " FROM invoices i, json_each(i.total_taxes) t ORDER BY i.number"
)


def test_query_outputs(closed: Billing) -> None:
    rows = json.loads(closed("ledger", "query", SQL, "--json", now=CLOSE).stdout)
    assert rows == [{"number": "ALPACA-0001", "total": 243, "vat": 39}]
    nl = closed("ledger", "query", SQL, "--nl", now=CLOSE).stdout.splitlines()
    assert [json.loads(line) for line in nl] == rows
    table = list(csv.reader(io.StringIO(closed("ledger", "query", SQL, "--csv", now=CLOSE).stdout)))
    assert table == [["number", "total", "vat"], ["ALPACA-0001", "243", "39"]]
    people = closed("ledger", "query", SQL, now=CLOSE)
    assert people.exit_code == 0 and "ALPACA-0001" in people.stdout and "243" in people.stdout
    # JSON held in a column comes out as JSON (sqlite-utils' --json-cols)
    lines = json.loads(
        closed("ledger", "query", "SELECT taxes FROM invoice_lines", "--json", now=CLOSE).stdout
    )
    assert lines[0]["taxes"][0]["tax_rate"] == "txr_vat"


def test_export_tables(closed: Billing) -> None:
    invoices = json.loads(closed("ledger", "export", "invoices", "--json", now=CLOSE).stdout)
    assert [i["number"] for i in invoices] == ["ALPACA-0001"]
    assert invoices[0]["parties"]["customer_name"] == "Max Mustermann"
    events = closed("ledger", "export", "meter_events", "--csv", now=CLOSE).stdout
    assert events.splitlines()[0].startswith("seq,identifier,event_name")
    assert len(events.splitlines()) == 2
    same = closed("ledger", "export", "events", "--csv", now=CLOSE).stdout  # the view
    assert same == events
    rollups = closed("ledger", "export", "usage_hourly", "--nl", now=CLOSE)  # WITHOUT ROWID
    assert rollups.exit_code == 0 and json.loads(rollups.stdout.splitlines()[0])["meter"]
    assert_error(closed("ledger", "export", "nope", now=CLOSE), 3, "nope")


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM invoices",
        "UPDATE customers SET name = 'x'",
        "INSERT INTO tax_rates (id) VALUES ('txr_x')",
        "DROP TABLE events",
        "CREATE TABLE x (a)",
        "PRAGMA user_version = 1",
        "ATTACH 'other.db' AS other",
        "SELECT 1; DELETE FROM invoices",
    ],
)
def test_writes_are_refused_and_change_nothing(
    closed: Billing, sql: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = snapshot(closed.db)
    result = closed("ledger", "query", sql, now=CLOSE)
    assert result.exit_code == 4, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stderr.startswith("error: ")
    assert snapshot(closed.db) == before
    assert not (tmp_path / "other.db").exists()


def test_query_errors(closed: Billing, tmp_path: Path) -> None:
    assert_error(closed("ledger", "query", "SELEC 1", now=CLOSE), 4, "SELEC")
    assert_error(closed("ledger", "query", " ", now=CLOSE), 4, "empty")
    assert_error(closed("ledger", "query", "SELECT 1", "--json", "--csv", now=CLOSE), 2)
    missing = Billing(tmp_path / "none.db")
    assert_error(missing("ledger", "query", "SELECT 1"), 3, "no ledger")
    assert not (tmp_path / "none.db").exists()


def test_the_reports_in_docs_ledger_md_run(closed: Billing) -> None:
    doc = (Path(__file__).parents[1] / "docs" / "ledger.md").read_text()
    queries = [block.split("```")[0] for block in doc.split("```sql\n")[1:]]
    assert len(queries) >= 4
    for sql in queries:
        result = closed("ledger", "query", sql.strip().rstrip(";"), "--json", now=CLOSE)
        assert result.exit_code == 0, (sql, result.stderr)
        assert json.loads(result.stdout), sql  # each finds the closed November invoice
