"""Issue 10.2: amounts that do not fit the ledger's signed 64-bit integers are refused (exit 4)
where they are computed, naming the price, the customer and the quantity; `invoice run` refuses
only the subscription concerned and closes every other one, then exits 4."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from billing_cli.domain.invoice_lines import Line
from billing_cli.domain.invoicing import Invoice, finalized
from billing_cli.domain.money import INT64_MAX, INT64_MIN
from billing_cli.errors import AmountOutOfRange
from tests.conftest import Billing, assert_error

pytestmark = pytest.mark.both_backends

HUGE_VALUE = "999999999999999"  # 15 significant digits: the largest event value allowed


@pytest.fixture
def two_customers(billing: Billing) -> Billing:
    """cus_huge on a 10^15-minor-unit price, cus_ok on a 1-unit price, both metered monthly."""
    billing.json(
        "meter", "create", "--id", "mtr_t", "--display-name", "T", "--event-name", "t",
        "--aggregation", "sum",
    )  # fmt: skip
    for price, unit in (("price_huge", "1000000000000000"), ("price_ok", "1")):
        billing.json(
            "price", "create", "--id", price, "--product-name", price, "--currency", "usd",
            "--unit-amount", unit, "--interval", "month", "--usage-type", "metered",
            "--meter", "mtr_t",
        )  # fmt: skip
    for customer, price in (("cus_huge", "price_huge"), ("cus_ok", "price_ok")):
        billing.json("customer", "create", "--id", customer, "--name", customer)
        billing.json("subscription", "create", "--customer", customer, "--price", price)
    for customer, value in (("cus_huge", HUGE_VALUE), ("cus_ok", "5")):
        billing.json(
            "event", "send", "--event-name", "t", "--customer", customer, "--value", value,
            "--identifier", f"ev_{customer}", "--timestamp", "2026-11-02T00:00:00Z",
            now="2026-11-03",
        )  # fmt: skip
    return billing


def test_preview_refuses_line_past_64_bits(two_customers: Billing) -> None:
    result = two_customers("invoice", "upcoming", "--customer", "cus_huge", now="2026-11-03")
    assert_error(result, 4, "price_huge", "cus_huge", HUGE_VALUE, "64-bit")
    ok = two_customers.json("invoice", "upcoming", "--customer", "cus_ok", now="2026-11-03")
    assert ok["total"] == 5


def test_run_refuses_one_subscription_and_finalizes_the_rest(two_customers: Billing) -> None:
    billing = two_customers
    result = billing("invoice", "run", "--json", now="2026-12-02")
    assert result.exit_code == 4, result.stderr
    out = json.loads(result.stdout)
    assert len(out["created"]) == 1 and out["finalized"] == out["created"]
    [refused] = out["refused"]
    assert refused["subscription"].startswith("sub_")
    for fragment in ("price_huge", "cus_huge", HUGE_VALUE):
        assert fragment in refused["error"]
    errors = [li for li in result.stderr.splitlines() if li.startswith("error:")]
    assert len(errors) == 1 and refused["subscription"] in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    invoices = billing.json("invoice", "list")["data"]
    assert [(i["customer"], i["status"], i["total"]) for i in invoices] == [("cus_ok", "open", 5)]
    assert billing("ledger", "check").exit_code == 0

    # the dry run says the same and writes nothing
    dry = billing("invoice", "run", "--dry-run", now="2026-12-02")
    assert dry.exit_code == 4 and "not invoiced" in dry.stderr

    # the wrong event cancelled, the next run invoices the refused subscription
    billing.json("event", "cancel", "--event-name", "t", "--identifier", "ev_cus_huge")
    again = billing.json("invoice", "run", now="2026-12-02")
    assert len(again["finalized"]) == 1 and "refused" not in again


def test_run_table_reports_refusal_on_stderr(two_customers: Billing) -> None:
    result = two_customers("invoice", "run", now="2026-12-02")
    assert result.exit_code == 4
    assert "cus_ok" in result.stdout
    assert "error: subscription sub_" in result.stderr and "price_huge" in result.stderr


def _line(amount: int, quantity: str = "1", price: str = "price_x") -> Line:
    return Line(
        type="subscription", description="x", period_start=0, period_end=1,
        quantity_decimal=Decimal(quantity), amount=amount, price=price,
    )  # fmt: skip


def _invoice(lines: tuple[Line, ...], total: int) -> Invoice:
    return Invoice(
        id="in_x", created=0, customer="cus_x", subscription="sub_x", status="draft",
        billing_reason="subscription_cycle", number=None, currency="usd", period_start=0,
        period_end=1, lines=lines, subtotal=total, total=total, starting_balance=0,
        ending_balance=None, amount_due=max(total, 0), computed_at=0,
    )  # fmt: skip


def test_balance_past_64_bits_is_refused_at_finalization() -> None:
    credit = _line(INT64_MIN + 1, quantity="3", price="price_credit")
    draft = _invoice((credit,), credit.amount)
    with pytest.raises(AmountOutOfRange) as caught:
        finalized(draft, number="X-0001", finalized_at=1, starting_balance=-10)
    for fragment in ("balance", "cus_x", "price_credit", "quantity 3"):
        assert fragment in caught.value.message


def test_quantity_past_64_bits_is_refused() -> None:
    from billing_cli.domain.invoice_lines import checked

    with pytest.raises(AmountOutOfRange, match="quantity"):
        checked(_line(0, quantity=str(INT64_MAX + 1)), customer="cus_x", currency="usd")
    assert checked(_line(INT64_MAX, quantity=str(INT64_MAX)), customer="c", currency="usd")


def test_subtotal_past_64_bits_is_refused(billing: Billing) -> None:
    """Two lines that each fit, whose sum does not."""
    for name in ("a", "b"):
        billing.json(
            "meter", "create", "--id", f"mtr_{name}", "--display-name", name,
            "--event-name", name, "--aggregation", "sum",
        )  # fmt: skip
        billing.json(
            "price", "create", "--id", f"price_{name}", "--product-name", name,
            "--currency", "usd", "--unit-amount", "1000000000000000", "--interval", "month",
            "--usage-type", "metered", "--meter", f"mtr_{name}",
        )  # fmt: skip
    billing.json("customer", "create", "--id", "cus_two")
    billing.json(
        "subscription", "create", "--customer", "cus_two", "--price", "price_a",
        "--price", "price_b",
    )  # fmt: skip
    for name in ("a", "b"):
        billing.json(
            "event", "send", "--event-name", name, "--customer", "cus_two", "--value", "5000",
            "--timestamp", "2026-11-02T00:00:00Z", now="2026-11-03",
        )  # fmt: skip
    result = billing("invoice", "upcoming", "--customer", "cus_two", now="2026-11-03")
    assert_error(result, 4, "subtotal", "cus_two", "price_", "quantity 5000")
