"""Issue 10.5: errors name what the user typed (an invoice number or id, a price lookup key),
with the other name in parentheses, in grammatical sentences."""

from __future__ import annotations

import pytest

from tests.conftest import Billing, assert_error

pytestmark = pytest.mark.both_backends


@pytest.fixture
def open_invoice(alpaca: Billing) -> tuple[Billing, str]:
    """ALPACA-0001: the subscription_create invoice of a licensed seat, finalized (open)."""
    alpaca.json("subscription", "create", "--customer", "cus_alpaca", "--price", "price_seats")
    [inv] = alpaca.json("invoice", "list")["data"]
    assert inv["number"] == "ALPACA-0001" and inv["status"] == "open"
    return alpaca, inv["id"]


def test_finalize_an_open_invoice_names_id_and_number(open_invoice: tuple[Billing, str]) -> None:
    billing, inv_id = open_invoice
    line = assert_error(billing("invoice", "finalize", inv_id), 5)
    assert line == (
        f"error: invoice {inv_id} (ALPACA-0001) is open: only draft invoices can be finalized"
    )


def test_by_number_the_number_comes_first(open_invoice: tuple[Billing, str]) -> None:
    billing, inv_id = open_invoice
    billing.json("invoice", "pay", "ALPACA-0001")
    line = assert_error(billing("invoice", "mark-uncollectible", "ALPACA-0001"), 5)
    assert line == (
        f"error: invoice ALPACA-0001 ({inv_id}) is paid: only open invoices can be marked "
        "uncollectible"
    )
    assert "it" not in line.split(":")[-1].split()  # never "cannot mark uncollectible it"
    line = assert_error(billing("invoice", "delete", "ALPACA-0001"), 5)
    assert line.endswith("is paid: only draft invoices can be deleted")
    line = assert_error(billing("invoice", "pay", inv_id), 5)
    assert line.endswith("is paid: only open or uncollectible invoices can be paid")


def test_a_draft_has_no_number_yet(alpaca: Billing) -> None:
    alpaca.json("subscription", "create", "--customer", "cus_alpaca", "--price", "price_tokens")
    run = alpaca.json("invoice", "run", "--grace", "72h", now="2026-12-01T10:00:00Z")
    [draft] = run["created"]
    line = assert_error(alpaca("invoice", "void", draft), 5)
    assert line == (
        f"error: invoice {draft} is draft: only open or uncollectible invoices can be voided"
    )


def test_price_named_by_lookup_key_is_named_so(alpaca: Billing) -> None:
    alpaca.json(
        "price", "create", "--id", "price_eur", "--product-name", "Euro seats",
        "--currency", "eur", "--unit-amount", "100", "--interval", "month",
        "--usage-type", "licensed", "--lookup-key", "seats_eur",
    )  # fmt: skip
    result = alpaca(
        "subscription", "create", "--customer", "cus_alpaca",
        "--price", "tokens_monthly", "--price", "seats_eur",
    )  # fmt: skip
    assert_error(
        result, 4, "price seats_eur (price_eur) is in eur", "tokens_monthly (price_tokens)"
    )
    quarterly = alpaca(
        "price", "create", "--id", "price_q", "--product-name", "Q", "--currency", "usd",
        "--unit-amount", "1", "--interval", "month", "--interval-count", "3",
        "--usage-type", "licensed",
    )  # fmt: skip
    assert quarterly.exit_code == 0
    result = alpaca(
        "subscription", "create", "--customer", "cus_alpaca", "--price", "price_seats",
        "--price", "price_q",
    )  # fmt: skip
    assert_error(result, 4, "price price_q bills every 3 months, price_seats every month")
