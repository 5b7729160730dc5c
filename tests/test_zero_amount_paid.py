"""Issue 15 item 10: an invoice with nothing to pay (amount due 0) is marked paid when it is
finalized, as Stripe does, instead of staying open forever as a debt of zero."""

from __future__ import annotations

import pytest

from tests.conftest import Billing, assert_error, json_of

pytestmark = pytest.mark.both_backends

CLOSED = "2026-12-01T10:30:00Z"  # November ended, past its 1 h grace


def test_a_zero_cycle_invoice_is_paid_at_finalization(alpaca: Billing) -> None:
    alpaca.json("subscription", "create", "--customer", "cus_alpaca", "--price", "price_tokens",
                now="2026-11-01T09:00:00Z")  # fmt: skip
    run = alpaca.json("invoice", "run", now=CLOSED)
    [invoice_id] = run["finalized"]
    inv = alpaca.json("invoice", "show", invoice_id, now=CLOSED)
    assert (inv["total"], inv["amount_due"], inv["amount_paid"]) == (0, 0, 0)
    assert inv["status"] == "paid" and inv["amount_remaining"] == 0
    transitions = inv["status_transitions"]
    assert transitions["paid_at"] == transitions["finalized_at"] == inv["effective_at"]
    assert [i["status"] for i in alpaca.json("invoice", "list")["data"]] == ["paid"]
    assert_error(alpaca("invoice", "pay", inv["number"], now=CLOSED), 5, "is paid")
    assert json_of(alpaca("ledger", "check", "--json", now=CLOSED))["ok"] is True


def test_a_trial_creation_invoice_at_zero_is_paid(alpaca: Billing) -> None:
    sub = alpaca.json("subscription", "create", "--customer", "cus_alpaca", "--price",
                      "price_seats:2", "--trial-period-days", "14",
                      now="2026-11-01T09:00:00Z")  # fmt: skip
    [inv] = alpaca.json("invoice", "list", "--customer", "cus_alpaca")["data"]
    assert (
        inv["parent"]["subscription_details"]["subscription"] == sub["id"]
        and inv["billing_reason"] == "subscription_create"
    )
    assert (inv["amount_due"], inv["status"]) == (0, "paid")


def test_an_invoice_with_something_to_pay_stays_open(alpaca: Billing) -> None:
    alpaca.json("subscription", "create", "--customer", "cus_alpaca", "--price", "price_seats",
                now="2026-11-01T09:00:00Z")  # fmt: skip
    [inv] = alpaca.json("invoice", "list")["data"]
    assert (inv["amount_due"], inv["status"]) == (2000, "open")
