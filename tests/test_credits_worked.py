"""Issue 19's worked cases, through the CLI as a user runs them.

The Alpaca price (0.04 USD per hundred tokens, rounded up), 107,122 tokens in November =
1,072 packages = 42.88 USD, `invoice run` on 1 December; amounts in cents.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Billing

pytestmark = pytest.mark.both_backends

START = "2026-11-01T00:00:00Z"
RUN_DEC = "2026-12-01T01:00:00Z"  # after the 1 h grace of the period ending 1 December
RUN_JAN = "2027-01-01T01:00:00Z"


@pytest.fixture
def shop(billing: Billing) -> Billing:
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
    b.json(
        "customer", "create", "--id", "cus_max", "--name", "Max Mustermann",
        "--invoice-prefix", "ALPACA", now=START,
    )  # fmt: skip
    return b


def subscribe(b: Billing, *prices: str) -> None:
    args = [a for p in prices for a in ("--price", p)]
    b.json("subscription", "create", "--customer", "cus_max", *args, now=START)


def tokens(b: Billing, value: int, at: str, ident: str) -> None:
    b.json(
        "event", "send", "--event-name", "alpaca_ai_tokens", "--customer", "cus_max",
        "--value", str(value), "--identifier", ident, "--timestamp", at, now=at,
    )  # fmt: skip


def grant(b: Billing, amount: int, *extra: str, now: str = START) -> dict[str, Any]:
    return b.json(
        "credit-grant", "create", "--customer", "cus_max", "--amount", str(amount),
        "--currency", "usd", *extra, now=now,
    )  # fmt: skip


def november(b: Billing) -> None:
    tokens(b, 100_000, "2026-11-10T12:00:00Z", "nov1")
    tokens(b, 7_122, "2026-11-20T12:00:00Z", "nov2")


def run(b: Billing, now: str) -> dict[str, Any]:
    result = b.json("invoice", "run", now=now)
    assert len(result["finalized"]) >= 1, result
    return b.json("invoice", "show", result["finalized"][-1], "--explain", now=now)


def balance(b: Billing, now: str) -> int:
    summary = b.json("credit", "balance", "--customer", "cus_max", now=now)
    assert summary["object"] == "billing.credit_balance_summary"
    (usd,) = summary["balances"]
    assert usd["available_balance"]["monetary"]["currency"] == "usd"
    return usd["available_balance"]["monetary"]["value"]


def credits_by_grant(inv: dict[str, Any]) -> list[tuple[str, int]]:
    return [
        (c["credit_grant"], c["amount"])
        for line in inv["lines"]["data"]
        for c in line["billing_cli"]["explain"]["credits"]
    ]


def check_ok(b: Billing, now: str) -> None:
    assert b("ledger", "check", now=now).exit_code == 0


def test_grant_1000_pays_1000(shop: Billing) -> None:
    subscribe(shop, "price_alpaca")
    g = grant(shop, 1000)
    november(shop)
    inv = run(shop, RUN_DEC)
    assert inv["subtotal"] == 4288
    assert [c["amount"] for c in inv["total_pretax_credit_amounts"]] == [1000]
    assert inv["total"] == 3288 and inv["amount_due"] == 3288 and inv["status"] == "open"
    assert credits_by_grant(inv) == [(g["id"], 1000)]
    assert balance(shop, RUN_DEC) == 0
    check_ok(shop, RUN_DEC)


def test_grant_10000_pays_the_whole_invoice_then_january(shop: Billing) -> None:
    subscribe(shop, "price_alpaca")
    grant(shop, 10000)
    november(shop)
    inv = run(shop, RUN_DEC)
    assert (inv["subtotal"], inv["total"], inv["amount_due"]) == (4288, 0, 0)
    assert inv["status"] == "paid"
    assert balance(shop, RUN_DEC) == 5712
    tokens(shop, 20_000, "2026-12-15T00:00:00Z", "dec1")  # 200 packages = 8.00 USD
    jan = run(shop, RUN_JAN)
    assert (jan["subtotal"], jan["total"], jan["amount_due"]) == (800, 0, 0)
    assert [c["amount"] for c in jan["total_pretax_credit_amounts"]] == [800]
    assert balance(shop, RUN_JAN) == 4912
    check_ok(shop, RUN_JAN)


def test_expiring_promotional_before_paid(shop: Billing) -> None:
    subscribe(shop, "price_alpaca")
    paid = grant(shop, 5000)
    promo = grant(shop, 500, "--category", "promotional", "--expires-at", "2026-12-15T00:00:00Z")
    november(shop)
    inv = run(shop, RUN_DEC)
    assert credits_by_grant(inv) == [(promo["id"], 500), (paid["id"], 3788)]
    assert inv["amount_due"] == 0
    assert balance(shop, RUN_DEC) == 1212
    check_ok(shop, RUN_DEC)


def test_priority_before_category(shop: Billing) -> None:
    subscribe(shop, "price_alpaca")
    promo = grant(shop, 3000, "--category", "promotional", "--priority", "50")
    paid = grant(shop, 3000, "--priority", "10")
    november(shop)
    inv = run(shop, RUN_DEC)
    assert credits_by_grant(inv) == [(paid["id"], 3000), (promo["id"], 1288)]
    assert balance(shop, RUN_DEC) == 1712
    check_ok(shop, RUN_DEC)


def test_expired_grant_pays_nothing(shop: Billing) -> None:
    subscribe(shop, "price_alpaca")
    grant(shop, 1000, "--expires-at", "2026-11-30T00:00:00Z")
    november(shop)
    inv = run(shop, RUN_DEC)
    assert inv["total_pretax_credit_amounts"] == [] and inv["amount_due"] == 4288
    assert balance(shop, RUN_DEC) == 0
    check_ok(shop, RUN_DEC)


def test_grant_effective_later_pays_the_next_invoice(shop: Billing) -> None:
    subscribe(shop, "price_alpaca")
    later = grant(shop, 1000, "--effective-at", "2026-12-05T00:00:00Z")
    november(shop)
    inv = run(shop, RUN_DEC)
    assert inv["total_pretax_credit_amounts"] == [] and inv["amount_due"] == 4288
    assert balance(shop, RUN_DEC) == 0  # not effective yet
    tokens(shop, 20_000, "2026-12-15T00:00:00Z", "dec1")
    jan = run(shop, RUN_JAN)
    assert credits_by_grant(jan) == [(later["id"], 800)]
    assert balance(shop, RUN_JAN) == 200
    check_ok(shop, RUN_JAN)


def test_licensed_seat_line_is_not_paid(shop: Billing) -> None:
    shop.json(
        "price", "create", "--id", "price_seat", "--product-name", "Seat", "--currency", "usd",
        "--unit-amount", "1000", "--interval", "month", "--usage-type", "licensed", now=START,
    )  # fmt: skip
    subscribe(shop, "price_alpaca", "price_seat")
    grant(shop, 10000)
    november(shop)
    inv = run(shop, RUN_DEC)
    by_price = {line["pricing"]["price_details"]["price"]: line for line in inv["lines"]["data"]}
    assert by_price["price_seat"]["pretax_credit_amounts"] == []
    assert [c["amount"] for c in by_price["price_alpaca"]["pretax_credit_amounts"]] == [4288]
    assert (inv["subtotal"], inv["amount_due"]) == (5288, 1000)
    check_ok(shop, RUN_DEC)


def test_voiding_returns_the_credits(shop: Billing) -> None:
    subscribe(shop, "price_alpaca")
    g = grant(shop, 1000)
    november(shop)
    inv = run(shop, RUN_DEC)
    assert balance(shop, RUN_DEC) == 0
    voided = shop.json("invoice", "void", inv["id"], now="2026-12-02T00:00:00Z")
    assert voided["status"] == "void"
    assert balance(shop, "2026-12-02T00:00:00Z") == 1000
    txns = shop.json("credit", "transactions", "--customer", "cus_max", now="2026-12-02T00:00:00Z")
    reasons = [
        (
            (t["credit"] or t["debit"])["type"],
            (t["credit"] or t["debit"])["amount"]["monetary"]["value"],
        )
        for t in txns["data"]
    ]
    assert reasons == [
        ("credits_application_invoice_voided", 1000),
        ("credits_applied", 1000),
        ("credits_granted", 1000),
    ]
    back = txns["data"][0]
    assert back["credit_grant"] == g["id"] and back["type"] == "credit"
    assert back["credit"]["credits_application_invoice_voided"]["invoice"] == inv["id"]
    check_ok(shop, "2026-12-02T00:00:00Z")


def test_voiding_after_the_grant_expired_returns_nothing_usable(shop: Billing) -> None:
    subscribe(shop, "price_alpaca")
    grant(shop, 1000, "--expires-at", "2026-12-10T00:00:00Z")
    november(shop)
    inv = run(shop, RUN_DEC)
    shop.json("invoice", "void", inv["id"], now="2026-12-20T00:00:00Z")
    summary = shop.json("credit", "balance", "--customer", "cus_max", now="2026-12-20T00:00:00Z")
    (usd,) = summary["balances"]
    assert usd["available_balance"]["monetary"]["value"] == 0
    assert usd["ledger_balance"]["monetary"]["value"] == 0
    check_ok(shop, "2026-12-20T00:00:00Z")


def test_preview_shows_what_would_apply_and_equals_the_final(shop: Billing) -> None:
    subscribe(shop, "price_alpaca")
    g = grant(shop, 1000)
    november(shop)
    mid = shop.json(
        "invoice", "upcoming", "--customer", "cus_max", "--explain", now="2026-11-25T00:00:00Z"
    )
    assert mid["total"] == 3288 and mid["subtotal"] == 4288
    (credit,) = mid["lines"]["data"][0]["pretax_credit_amounts"]
    assert credit == {
        "amount": 1000,
        "credit_balance_transaction": None,
        "discount": None,
        "type": "credit_balance_transaction",
    }
    assert credits_by_grant(mid) == [(g["id"], 1000)]
    assert balance(shop, "2026-11-25T00:00:00Z") == 1000  # a preview spends nothing
    final = run(shop, RUN_DEC)
    assert (final["total"], credits_by_grant(final)) == (mid["total"], credits_by_grant(mid))
    (applied,) = final["lines"]["data"][0]["pretax_credit_amounts"]
    assert applied["credit_balance_transaction"].startswith("cbtxn_")
    assert final["total_pretax_credit_amounts"] == [applied]


def test_credits_apply_before_tax(shop: Billing) -> None:
    """19 % exclusive VAT and a 1000 grant: the tax is on the line after credits."""
    shop.json(
        "tax-rate", "create", "--id", "txr_vat", "--display-name", "VAT", "--percentage", "19",
        now=START,
    )  # fmt: skip
    shop.json(
        "subscription", "create", "--customer", "cus_max", "--price", "price_alpaca",
        "--default-tax-rate", "txr_vat", now=START,
    )  # fmt: skip
    grant(shop, 1000)
    november(shop)
    preview = shop.json(
        "invoice", "upcoming", "--customer", "cus_max", "--explain", now="2026-11-30T00:00:00Z"
    )
    inv = run(shop, RUN_DEC)
    for doc in (preview, inv):
        (line,) = doc["lines"]["data"]
        (tax,) = line["taxes"]
        assert (tax["taxable_amount"], tax["amount"]) == (3288, 625)
        assert (doc["subtotal"], doc["total"], doc["amount_due"]) == (4288, 3913, 3913)
        assert [t["amount"] for t in doc["total_taxes"]] == [625]
        assert doc["total_excluding_tax"] == 3288
    check_ok(shop, RUN_DEC)
    # Voiding returns the credit; the invoice itself keeps its numbers.
    shop.json("invoice", "void", inv["id"], now="2026-12-02T00:00:00Z")
    assert balance(shop, "2026-12-02T00:00:00Z") == 1000


def test_journal_and_pdf_show_the_credits(shop: Billing, tmp_path: Path) -> None:
    """The journal books paid credit against deferred revenue and promotional credit as a
    marketing expense (beancount's loader accepts it, each transaction balances); the PDF
    read back shows the credits applied before tax."""
    from beancount import loader
    from beancount.core.data import Transaction
    from pypdf import PdfReader

    subscribe(shop, "price_alpaca")
    grant(shop, 3000, "--priority", "10")
    grant(shop, 500, "--category", "promotional")
    november(shop)
    inv = run(shop, RUN_DEC)
    text = shop("export", "journal", "--format", "beancount", now=RUN_DEC).stdout
    entries, errors, _ = loader.load_string(text)
    assert not errors, errors
    totals: dict[str, Decimal] = {}
    for entry in entries:
        if isinstance(entry, Transaction):
            assert sum(p.units.number for p in entry.postings) == 0
            for p in entry.postings:
                totals[p.account] = totals.get(p.account, Decimal(0)) + p.units.number
    assert totals["Liabilities:DeferredRevenue:BillingCredits"] == Decimal("30.00")
    assert totals["Expenses:Marketing:PromotionalCredits"] == Decimal("5.00")
    assert totals["Income:Usage:Alpaca-AI"] == Decimal("-42.88")
    assert totals["Assets:Receivable"] == Decimal("7.88")
    pdf = tmp_path / "inv.pdf"
    assert shop("invoice", "pdf", inv["id"], "-o", str(pdf), now=RUN_DEC).exit_code == 0
    page = " ".join(p.extract_text() for p in PdfReader(pdf).pages)
    assert "Credits applied (before tax)" in page and "-35.00" in page.replace("−", "-")
    # Voided, the journal reverses the credits with the rest of the invoice.
    shop.json("invoice", "void", inv["id"], now="2026-12-02T00:00:00Z")
    text = shop("export", "journal", "--format", "beancount", now="2026-12-02T00:00:00Z").stdout
    entries, errors, _ = loader.load_string(text)
    assert not errors
    left = Decimal(0)
    for entry in entries:
        if isinstance(entry, Transaction):
            left += sum(
                p.units.number
                for p in entry.postings
                if p.account == "Liabilities:DeferredRevenue:BillingCredits"
            )
    assert left == 0
