"""`billing invoice …`, `subscription cancel`, `ledger check` through the CLI (SPEC 4, 5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from billing_cli.storage.port import open_store
from tests.conftest import Billing, assert_error, json_of, snapshot, tamper
from tests.test_api_invoices import ACTIONS, ALLOWED, T0, Book, _invoice_in

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.both_backends


@pytest.fixture
def book(db: Path) -> Book:
    return Book(db).setup()


def test_upcoming_document_and_json(billing: Billing, book: Book) -> None:
    book.subscribe()
    book.event("2026-11-03T12:30:00Z", "4275")
    result = billing("invoice", "upcoming", "--customer", "cus_a", now="2026-11-16T00:00:00Z")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    for fragment in ("preview", "Alpaca AI", "4275 → 43 packages of 100 (rounded up)", "0.04 USD",
                     "1.72 USD", "amount due", "subtotal"):  # fmt: skip
        assert fragment in text, text
    data = billing.json("invoice", "upcoming", "--customer", "cus_a", now="2026-11-16T00:00:00Z")
    assert (data["id"], data["number"], data["status"], data["billing_reason"]) == (
        None,
        None,
        "draft",
        "upcoming",
    )
    [line] = data["lines"]["data"]
    assert (line["quantity_decimal"], line["quantity"], line["amount"]) == ("4275", 4275, 172)
    assert "explain" not in line["billing_cli"]  # only when asked for
    explained_json = billing.json(
        "invoice", "upcoming", "--customer", "cus_a", "--explain", now="2026-11-16T00:00:00Z"
    )
    assert (
        explained_json["lines"]["data"][0]["billing_cli"]["explain"]["transformed_quantity"] == "43"
    )
    explained = billing(
        "invoice", "upcoming", "--customer", "cus_a", "--explain", now="2026-11-16T00:00:00Z"
    )
    assert "exact amount" in explained.stdout and "raw aggregate" in explained.stdout


@pytest.mark.sqlite_only  # a missing ledger file
def test_upcoming_errors(billing: Billing, book: Book) -> None:
    assert_error(billing("invoice", "upcoming", "--customer", "cus_x"), 3, "cus_x")
    assert_error(billing("invoice", "upcoming", "--customer", "cus_a"), 3, "no upcoming")
    nowhere = book.db.parent / "no.db"
    for args in (
        ["invoice", "upcoming", "--customer", "cus_a"],
        ["invoice", "run"],
        ["invoice", "pay", "in_x"],
        ["invoice", "list"],
        ["event", "late", "--resolve", "next-invoice"],
        ["ledger", "check"],
    ):
        assert_error(billing(*args, db=nowhere), 3, "no ledger")
    assert not nowhere.exists()


def test_run_json_table_and_dry_run(billing: Billing, book: Book) -> None:
    book.subscribe()
    before = snapshot(book.db)
    dry = billing.json("invoice", "run", "--dry-run", now="2027-01-02T00:00:00Z")
    assert len(dry["created"]) == 2 and dry["finalized"] == dry["created"]
    assert snapshot(book.db) == before
    table = billing("invoice", "run", now="2026-12-01T09:30:00Z")
    assert table.exit_code == 0 and "created" in table.stdout and "draft" in table.stdout
    out = billing.json("invoice", "run", "--grace", "30m", now="2026-12-01T09:30:00Z")
    assert out["created"] == [] and out["finalized"] == out["recomputed"] and out["finalized"]
    assert_error(billing("invoice", "run", "--grace", "73h"), 4, "--grace")
    assert_error(billing("invoice", "run", "--grace", "1w"), 4, "--grace")
    nothing = billing("invoice", "run", now="2026-12-01T09:30:00Z")
    assert nothing.exit_code == 0 and nothing.stdout == ""


def test_list_show_and_lifecycle(billing: Billing, book: Book) -> None:
    book.subscribe("price_tokens", "price_seats:2")
    listed = billing.json("invoice", "list", "--customer", "cus_a")
    [inv] = listed["data"]
    assert (inv["number"], inv["status"], inv["total"]) == ("ALPACA-0001", "open", 4000)
    csv_out = billing("invoice", "list", "--csv")
    assert csv_out.stdout.splitlines()[0].startswith("id,number,customer,status")
    shown = billing("invoice", "show", "ALPACA-0001", "--explain")
    assert "ALPACA-0001" in shown.stdout and "40.00 USD" in shown.stdout
    paid = billing.json("invoice", "pay", inv["id"], now="2026-11-02T00:00:00Z")
    assert paid["status"] == "paid" and paid["amount_paid"] == 4000
    before = snapshot(book.db)
    for action in ("pay", "void", "mark-uncollectible", "finalize", "delete"):
        assert_error(billing("invoice", action, inv["id"]), 5, "is paid")
    assert snapshot(book.db) == before
    assert_error(billing("invoice", "show", "in_nope"), 3, "in_nope")
    assert_error(billing("invoice", "list", "--status", "late"), 4, "--status")
    assert_error(billing("invoice", "list", "--json", "--csv"), 2)


@pytest.mark.parametrize("status", ["draft", "open", "paid", "void", "uncollectible"])
def test_forbidden_transitions_exit_5_and_change_nothing(
    billing: Billing, book: Book, status: str
) -> None:
    inv_id = _invoice_in(book, status)
    before = snapshot(book.db)
    for action in sorted(set(ACTIONS) - ALLOWED[status]):
        assert_error(billing("invoice", action, inv_id), 5, f"is {status}")
        assert snapshot(book.db) == before


def test_draft_finalize_and_delete(billing: Billing, book: Book) -> None:
    book.subscribe()
    book.event("2026-11-05T00:00:00Z", "1000")  # something to pay: the invoice stays open
    [draft] = billing.json("invoice", "run", now="2026-12-01T09:10:00Z")["created"]
    assert billing.json("invoice", "show", draft)["status"] == "draft"
    deleted = billing.json("invoice", "delete", draft, now="2026-12-01T09:11:00Z")
    assert deleted["id"] == draft
    [again] = billing.json("invoice", "run", now="2026-12-01T09:12:00Z")["created"]
    final = billing.json("invoice", "finalize", again, now="2026-12-01T09:13:00Z")
    assert (final["status"], final["number"]) == ("open", "ALPACA-0001")
    voided = billing.json("invoice", "void", "ALPACA-0001", now="2026-12-01T09:14:00Z")
    assert voided["status"] == "void" and voided["status_transitions"]["voided_at"]


def test_subscription_cancel(billing: Billing, book: Book) -> None:
    sub = book.subscribe()
    book.event("2026-11-05T00:00:00Z", "1000")
    out = billing("subscription", "cancel", sub, "--json", now="2026-11-10T00:00:00Z")
    data = json_of(out)
    assert data["status"] == "canceled" and data["ended_at"] is not None
    assert "not billed" in out.stderr
    assert_error(billing("subscription", "cancel", sub), 5, "already canceled")
    assert_error(billing("subscription", "cancel", "sub_nope"), 3, "sub_nope")
    book.customer("cus_b", "BETA")
    other = book.subscribe(customer="cus_b")
    out = billing("subscription", "cancel", other, "--invoice-now", now="2026-11-10T00:00:00Z")
    assert out.exit_code == 0 and "subscription_cancel" in out.stderr
    flags = billing("subscription", "cancel", other, "--at-period-end", "--invoice-now")
    assert_error(flags, 2)


def test_ledger_check(billing: Billing, book: Book) -> None:
    book.subscribe()
    book.event("2026-11-05T00:00:00Z", "1000")
    billing("invoice", "run", now="2026-12-02T00:00:00Z")
    ok = billing("ledger", "check")
    assert ok.exit_code == 0 and "ok" in ok.stdout
    assert json_of(billing("ledger", "check", "--json"))["ok"] is True
    tamper(book.db, "UPDATE invoices SET total = total + 1")
    bad = billing("ledger", "check")
    assert bad.exit_code == 6 and "ALPACA-0001" in bad.stdout
    assert bad.stderr.startswith("error: ledger check found")


def test_two_concurrent_runs_create_each_invoice_once(book: Book) -> None:
    for n in range(30):
        book.customer(f"cus_{n}", f"C{n:03d}")
        book.subscribe(customer=f"cus_{n}")
    argv = [sys.executable, "-m", "billing_cli", "--db", str(book.db), "--now",
            "2027-02-02T00:00:00Z", "invoice", "run", "--json"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("BILLING_NOW", None)
    procs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    created = [json.loads(out)["created"] for out, _ in outs]
    all_ids = created[0] + created[1]
    assert len(all_ids) == len(set(all_ids)) == 90  # 30 subscriptions × 3 periods
    with open_store(book.db, create=False) as led:
        conn = led.conn  # type: ignore[attr-defined]
        rows = conn.execute(
            "SELECT subscription, period_start, count(*) FROM invoices GROUP BY 1, 2"
        ).fetchall()
        numbers = conn.execute("SELECT count(DISTINCT number) FROM invoices").fetchone()[0]
    assert len(rows) == 90 and all(r[2] == 1 for r in rows) and numbers == 90


def test_invoice_group_help(billing: Billing) -> None:
    out = billing("invoice", "--help", now=None)
    assert out.exit_code == 0
    for command in ("upcoming", "run", "list", "show", "finalize", "pay", "void",
                    "mark-uncollectible", "delete"):  # fmt: skip
        assert command in out.stdout
    assert T0  # the shared start time of the fixtures
