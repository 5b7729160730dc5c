"""Billing credits are append-only and tamper-evident (issue 19, item 5): the ledger refuses edits,
a debit past a grant's balance, and `ledger check` names what an editor changed behind the
program's back (the credit chain, a grant, an invoice line's credits)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import psycopg
import pytest

from tests.conftest import Billing
from tests.test_credits_worked import grant, november, run, subscribe
from tests.test_tamper import edit

pytestmark = pytest.mark.both_backends

RUN_DEC = "2026-12-01T01:00:00Z"
LATER = "2026-12-02T00:00:00Z"


@pytest.fixture
def spent(billing: Billing) -> Billing:
    """The first worked case: a 1000 grant fully used by the December invoice."""
    from tests.test_credits_worked import START

    b = billing
    b.json(
        "meter", "create", "--id", "mtr_alpaca", "--display-name", "Alpaca AI tokens",
        "--event-name", "alpaca_ai_tokens", "--aggregation", "sum", now=START,
    )  # fmt: skip
    b.json(
        "price", "create", "--id", "price_alpaca", "--product-name", "Alpaca AI",
        "--currency", "usd", "--unit-amount", "4", "--transform-divide-by", "100",
        "--transform-round", "up", "--interval", "month", "--usage-type", "metered",
        "--meter", "mtr_alpaca", now=START,
    )  # fmt: skip
    b.json("customer", "create", "--id", "cus_max", "--invoice-prefix", "ALPACA", now=START)
    subscribe(b, "price_alpaca")
    grant(b, 1000, "--id", "cg_main")
    grant(b, 300, "--id", "cg_spare", "--expires-at", "2027-06-01T00:00:00Z")
    november(b)
    run(b, RUN_DEC)
    assert b("ledger", "check", now=LATER).exit_code == 0
    return b


def sql(db: Path | str, *statements: str, drop_triggers: bool = False) -> None:
    edit(db, *statements, drop_triggers=drop_triggers)


# What the database raises when a trigger refuses a statement, on either backend.
REFUSED = (sqlite3.IntegrityError, psycopg.Error)


def problems(b: Billing) -> list[str]:
    result = b("ledger", "check", "--json", now=LATER)
    assert result.exit_code == 6, result.stdout
    return [f"{p['subject']}: {p['problem']}" for p in json.loads(result.stdout)["problems"]]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE credit_grants SET value = 99999",
        "DELETE FROM credit_grants WHERE id = 'cg_spare'",
        "UPDATE credit_balance_transactions SET amount = 1",
        "DELETE FROM credit_balance_transactions",
    ],
)
def test_sqlite_refuses_edits(spent: Billing, statement: str) -> None:
    with pytest.raises(REFUSED, match="append-only"):
        sql(spent.db, statement)


def test_sqlite_refuses_a_debit_past_the_balance(spent: Billing) -> None:
    with pytest.raises(REFUSED, match="below zero"):
        sql(
            spent.db,
            "INSERT INTO credit_balance_transactions (seq, id, created, effective_at,"
            " credit_grant, customer, currency, type, reason, amount, hash) VALUES"
            " (99, 'cbtxn_x', 1, 1, 'cg_main', 'cus_max', 'usd', 'debit', 'credits_applied',"
            " 1, 'h')",
        )


def test_an_edited_grant_is_named(spent: Billing) -> None:
    sql(spent.db, "UPDATE credit_grants SET value = 5000 WHERE id = 'cg_main'", drop_triggers=True)
    found = problems(spent)
    assert any(
        p.startswith("cg_main: credit_grants cg_main: not the grant recorded") for p in found
    )


def test_an_edited_transaction_breaks_the_chain(spent: Billing) -> None:
    sql(
        spent.db,
        "UPDATE credit_balance_transactions SET amount = 10 WHERE reason = 'credits_applied'",
        drop_triggers=True,
    )
    found = problems(spent)
    assert any("credit_balance_transactions seq" in p and "hash does not match" in p for p in found)


def test_a_deleted_transaction_is_found(spent: Billing) -> None:
    sql(
        spent.db,
        "DELETE FROM credit_balance_transactions WHERE reason = 'credits_applied'",
        drop_triggers=True,
    )
    found = problems(spent)
    assert any("missing credit debit" in p for p in found), found


def test_credits_removed_from_a_line_are_found(spent: Billing) -> None:
    sql(spent.db, "UPDATE invoice_lines SET pretax_credit_amounts = '[]'", drop_triggers=True)
    found = problems(spent)
    assert any("ALPACA-0001" in p for p in found), found
    assert any("is on no invoice line" in p for p in found), found


def test_credits_are_recomputed_where_the_invoice_was_finalized(spent: Billing) -> None:
    """Replayed to the invoice's place in the credit chain, Stripe's order must give what the
    invoice took: moved to after a later grant of priority 0, it should have used that one."""
    spent.json("credit-grant", "create", "--customer", "cus_max", "--amount", "700",
               "--currency", "usd", "--priority", "0", "--id", "cg_first",
               "--effective-at", "2026-11-01", now=LATER)  # fmt: skip
    assert spent("ledger", "check", now=LATER).exit_code == 0  # granted after: fine
    sql(
        spent.db,
        "UPDATE invoices SET credit_seq ="
        " (SELECT seq FROM credit_balance_transactions WHERE credit_grant = 'cg_first')",
        drop_triggers=True,
    )
    found = problems(spent)
    assert any("credits recomputed as [('cg_first', 700)" in p for p in found), found
    sql(spent.db, "UPDATE invoices SET credit_seq = 60", drop_triggers=True)
    assert any("seq 60, which does not exist" in p for p in problems(spent))


def test_the_finalization_place_is_frozen(spent: Billing) -> None:
    with pytest.raises(REFUSED, match="append-only"):
        sql(spent.db, "UPDATE invoices SET credit_seq = 0")


def test_void_then_check_then_expire(spent: Billing) -> None:
    spent.json("invoice", "void", "ALPACA-0001", now=LATER)
    assert spent("ledger", "check", now=LATER).exit_code == 0
    spent.json("credit-grant", "expire", "cg_main", now=LATER)
    assert spent("ledger", "check", now=LATER).exit_code == 0
    summary = spent.json("credit", "balance", "--customer", "cus_max", now=LATER)
    assert summary["balances"][0]["available_balance"]["monetary"]["value"] == 300
