"""Tax rates (issue 12, item 3): Stripe's `tax_rates` and `default_tax_rates`, tax per line
and rate rounded half-up once, exclusive and inclusive, preview equals final with taxes.
Worked cases are computed by hand in the comments."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing_cli.domain.models import TaxRate
from billing_cli.domain.tax import line_taxes
from tests.conftest import Billing, assert_error
from tests.documents import CLOSE, START, build_shop, send, subscribe
from tests.test_tamper import check_names, edit

pytestmark = pytest.mark.both_backends


def rate(pct: str, *, inclusive: bool = False, rid: str = "txr_a") -> TaxRate:
    return TaxRate(rid, 0, "VAT", Decimal(pct), inclusive)


@pytest.mark.parametrize(
    ("amount", "rates", "expected"),
    [
        # 19 % of 232 cents = 44.08 → 44 (the 2.32 USD case)
        (232, [rate("19")], [(44, 232)]),
        # 1000 × 19 / 119 = 159.663… → 160 inside 10.00 EUR; net 840
        (1000, [rate("19", inclusive=True)], [(160, 840)]),
        # 10 % of 5 = 0.5 → 1 (half-up), of 4 = 0.4 → 0
        (5, [rate("10")], [(1, 5)]),
        (4, [rate("10")], [(0, 4)]),
        # a credit line: -0.5 rounds away from zero like +0.5
        (-5, [rate("10")], [(-1, -5)]),
        # 7 % of 1999 = 139.93 → 140; 19 % of 1999 = 379.81 → 380 (rounded per rate)
        (1999, [rate("7", rid="txr_7"), rate("19", rid="txr_19")], [(140, 1999), (380, 1999)]),
        # 0 % and 100 %
        (1234, [rate("0")], [(0, 1234)]),
        (1234, [rate("100")], [(1234, 1234)]),
        # 7.5 % inclusive in 10750: 10750 × 7.5 / 107.5 = 750 exactly
        (10750, [rate("7.5", inclusive=True)], [(750, 10000)]),
        # 19 % exclusive on a line holding 7 % inclusive: net = 1070 / 1.07 = 1000;
        # 7 % of it = 70, 19 % of it = 190; the taxable amount is the net for both
        (
            1070,
            [rate("7", inclusive=True, rid="txr_7"), rate("19", rid="txr_19")],
            [(70, 1000), (190, 1000)],
        ),
        (0, [rate("19")], [(0, 0)]),
    ],
)
def test_worked_cases(amount: int, rates: list[TaxRate], expected: list[tuple[int, int]]) -> None:
    taxes = line_taxes(amount, rates)
    assert [(t.amount, t.taxable_amount) for t in taxes] == expected
    assert [t.tax_rate for t in taxes] == [r.id for r in rates]


def test_tax_rate_create_list_show(billing: Billing) -> None:
    vat = billing.json(
        "tax-rate", "create", "--display-name", "VAT", "--percentage", "19",
        "--country", "de", "--jurisdiction", "DE", "--id", "txr_vat",
    )  # fmt: skip
    assert vat["object"] == "tax_rate" and vat["id"] == "txr_vat"
    assert vat["percentage"] == "19" and vat["inclusive"] is False and vat["country"] == "DE"
    assert vat["active"] is True and vat["display_name"] == "VAT"
    incl = billing.json("tax-rate", "create", "--display-name", "MwSt", "--percentage", "7.25",
                        "--inclusive")  # fmt: skip
    assert incl["id"].startswith("txr_") and incl["inclusive"] is True
    assert incl["percentage"] == "7.25"
    assert billing.json("tax-rate", "show", "txr_vat") == vat
    assert [r["id"] for r in billing.json("tax-rate", "list")["data"]] == [
        incl["id"],
        "txr_vat",
    ]  # newest first
    table = billing("tax-rate", "list")
    assert table.exit_code == 0 and "txr_vat" in table.stdout and "7.25 %" in table.stdout


@pytest.mark.parametrize("bad", ["101", "-1", "19.12345", "abc", "1e1", "", "100.0001"])
def test_a_bad_percentage_is_exit_4(billing: Billing, bad: str) -> None:
    result = billing("tax-rate", "create", "--display-name", "VAT", "--percentage", bad)
    assert_error(result, 4, "--percentage")


def test_unknown_tax_rates_are_exit_3(billing: Billing) -> None:
    build_shop(billing)
    assert_error(billing("tax-rate", "show", "txr_nope"), 3, "txr_nope")
    assert_error(billing("tax-rate", "update", "txr_nope", "--display-name", "X"), 3, "txr_nope")
    result = billing(
        "subscription", "create", "--customer", "cus_max", "--price", "price_tokens",
        "--default-tax-rate", "txr_nope",
    )  # fmt: skip
    assert_error(result, 3, "txr_nope")


def _vat(billing: Billing, *extra: str) -> None:
    billing.json(
        "tax-rate", "create", "--display-name", "VAT", "--percentage", "19", "--id", "txr_vat",
        *extra, now=START,
    )  # fmt: skip


def test_exclusive_vat_on_the_alpaca_invoice_and_preview_equals_final(billing: Billing) -> None:
    build_shop(billing)
    _vat(billing)
    subscribe(billing, "--default-tax-rate", "txr_vat")
    send(billing, "5800", "ev1", "2026-11-03T12:30:00Z")  # 58 packages × 4 cents = 232
    preview = billing.json(
        "invoice", "upcoming", "--customer", "cus_max", now="2026-12-01T09:30:00Z"
    )
    billing.json("invoice", "run", now=CLOSE)
    final = billing.json("invoice", "show", "ALPACA-0001", now=CLOSE)
    for inv in (preview, final):
        assert inv["subtotal"] == 232 and inv["subtotal_excluding_tax"] == 232
        assert inv["total_taxes"][0]["amount"] == 44  # 44.08 → 44
        assert inv["total_taxes"][0]["tax_rate_details"]["tax_rate"] == "txr_vat"
        assert inv["total_taxes"][0]["taxable_amount"] == 232
        assert inv["total_taxes"][0]["tax_behavior"] == "exclusive"
        assert inv["total"] == 276 and inv["total_excluding_tax"] == 232
        assert inv["amount_due"] == 276
        assert inv["lines"]["data"][0]["taxes"][0]["amount"] == 44
    keys = ("subtotal", "total", "total_taxes", "amount_due", "total_excluding_tax")
    assert {k: preview[k] for k in keys} == {k: final[k] for k in keys}
    assert [line["taxes"] for line in preview["lines"]["data"]] == [
        line["taxes"] for line in final["lines"]["data"]
    ]
    shown = billing("invoice", "show", "ALPACA-0001", now=CLOSE)
    assert "VAT 19 %" in shown.stdout and "0.44 USD" in shown.stdout and "2.76 USD" in shown.stdout
    assert billing("ledger", "check", now=CLOSE).exit_code == 0


def test_inclusive_vat_is_contained_in_the_price(billing: Billing) -> None:
    billing.json("customer", "create", "--id", "cus_eu", "--invoice-prefix", "EURO", now=START)
    billing.json(
        "price", "create", "--id", "price_seat", "--product-name", "Seat", "--currency", "eur",
        "--unit-amount", "1000", "--interval", "month", "--usage-type", "licensed", now=START,
    )  # fmt: skip
    _vat(billing, "--inclusive")
    billing.json(
        "subscription", "create", "--customer", "cus_eu", "--price", "price_seat",
        "--default-tax-rate", "txr_vat", now=START,
    )  # fmt: skip
    inv = billing.json("invoice", "show", "EURO-0001", now=START)
    # 10.00 EUR holds 1000 × 19 / 119 = 159.66 → 1.60 EUR VAT; net 8.40 EUR
    assert inv["subtotal"] == 1000 and inv["total"] == 1000 and inv["amount_due"] == 1000
    assert inv["total_taxes"][0]["amount"] == 160
    assert inv["total_taxes"][0]["taxable_amount"] == 840
    assert inv["total_taxes"][0]["tax_behavior"] == "inclusive"
    assert inv["total_excluding_tax"] == 840 and inv["subtotal_excluding_tax"] == 840
    assert billing("ledger", "check", now=START).exit_code == 0


def test_a_used_rate_keeps_its_percentage(billing: Billing) -> None:
    build_shop(billing)
    _vat(billing)
    billing.json("tax-rate", "create", "--display-name", "Spare", "--percentage", "5",
                 "--id", "txr_spare", now=START)  # fmt: skip
    # an unused rate may still change
    changed = billing.json("tax-rate", "update", "txr_spare", "--percentage", "7", now=START)
    assert changed["percentage"] == "7"
    subscribe(billing, "--default-tax-rate", "txr_vat")
    send(billing, "5800", "ev1", "2026-11-03T12:30:00Z")
    billing.json("invoice", "run", now=CLOSE)
    assert_error(billing("tax-rate", "update", "txr_vat", "--percentage", "20", now=CLOSE), 5)
    assert_error(billing("tax-rate", "update", "txr_vat", "--inclusive", now=CLOSE), 5)
    # a rename is fine (Stripe), the issued invoice keeps the name it was issued with
    billing.json("tax-rate", "update", "txr_vat", "--display-name", "USt", now=CLOSE)
    inv = billing.json("invoice", "show", "ALPACA-0001", now=CLOSE)
    assert inv["total_taxes"][0]["billing_cli"]["display_name"] == "VAT"
    assert billing("ledger", "check", now=CLOSE).exit_code == 0
    # inactive rates take no new subscriptions
    billing.json("tax-rate", "update", "txr_spare", "--inactive", now=CLOSE)
    result = billing(
        "subscription", "create", "--customer", "cus_max", "--price", "price_tokens",
        "--default-tax-rate", "txr_spare", now=CLOSE,
    )  # fmt: skip
    assert_error(result, 4, "txr_spare")


def test_edited_taxes_are_named_by_ledger_check(billing: Billing) -> None:
    build_shop(billing)
    _vat(billing)
    subscribe(billing, "--default-tax-rate", "txr_vat")
    send(billing, "5800", "ev1", "2026-11-03T12:30:00Z")
    billing.json("invoice", "run", now=CLOSE)
    edit(billing.db, "UPDATE invoice_lines SET taxes = replace(taxes, '44', '4')")
    check_names(billing.db, "ALPACA-0001")
