"""The accounting journal (issue 12, item 5): beancount output validated by beancount's own
loader, receivables equal to the open invoices' amount due, hledger output balanced."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader
from beancount.core.data import Transaction

from tests.conftest import Billing, assert_error
from tests.documents import CLOSE, START, build_shop, send, subscribe

pytestmark = pytest.mark.both_backends

LATER = "2026-12-10T00:00:00Z"


@pytest.fixture
def books(billing: Billing) -> Billing:
    """Max's metered November invoice (open) and five seat customers whose invoices meet every
    fate: paid, uncollectible, void, open, uncollectible then paid."""
    build_shop(billing)
    billing.json("tax-rate", "create", "--display-name", "VAT", "--percentage", "19",
                 "--id", "txr_vat", now=START)  # fmt: skip
    subscribe(billing, "--default-tax-rate", "txr_vat")
    send(billing, "5800", "ev1", "2026-11-03T12:30:00Z")
    billing.json(
        "price", "create", "--id", "price_seat", "--product-name", "Seats", "--currency", "usd",
        "--unit-amount", "2000", "--interval", "month", "--usage-type", "licensed", now=START,
    )  # fmt: skip
    for n in range(1, 6):
        billing.json("customer", "create", "--id", f"cus_{n}", "--name", f"Seat customer {n}",
                     "--invoice-prefix", f"SEAT{n}", now=START)  # fmt: skip
        billing.json("subscription", "create", "--customer", f"cus_{n}", "--price", "price_seat",
                     "--default-tax-rate", "txr_vat", now=START)  # fmt: skip
    billing.json("invoice", "run", now=CLOSE)  # ALPACA-0001 and the seats' December invoices
    billing.json("invoice", "pay", "SEAT1-0001", now="2026-11-05T00:00:00Z")
    billing.json("invoice", "mark-uncollectible", "SEAT2-0001", now="2026-11-06T00:00:00Z")
    billing.json("invoice", "void", "SEAT3-0001", now="2026-11-07T00:00:00Z")
    billing.json("invoice", "mark-uncollectible", "SEAT5-0001", now="2026-11-08T00:00:00Z")
    billing.json("invoice", "pay", "SEAT5-0001", now="2026-11-09T00:00:00Z")
    return billing


def balances(text: str) -> dict[str, Decimal]:
    entries, errors, _ = loader.load_string(text)
    assert not errors, errors
    out: dict[str, Decimal] = {}
    for entry in entries:
        if isinstance(entry, Transaction):
            assert sum(p.units.number for p in entry.postings) == 0
            for p in entry.postings:
                out[p.account] = out.get(p.account, Decimal(0)) + p.units.number
    return out


def open_amount_due(billing: Billing) -> Decimal:
    invoices = billing.json("invoice", "list", "--status", "open", now=LATER)["data"]
    return Decimal(sum(i["amount_due"] for i in invoices)) / 100


def test_beancount_loads_and_receivables_equal_open_invoices(books: Billing) -> None:
    result = books("export", "journal", "--format", "beancount", now=LATER)
    assert result.exit_code == 0, result.stderr
    totals = balances(result.stdout)
    # open: ALPACA-0001 (2.32 + 0.44) and the five seats' December invoices; SEAT4-0001
    assert totals["Assets:Receivable"] == open_amount_due(books) > 0
    assert totals["Assets:Bank"] == Decimal("47.60")  # SEAT1 and SEAT5: 2 × (20.00 + 3.80)
    assert totals["Expenses:BadDebt"] == Decimal("23.80")  # SEAT2 (SEAT5 was recovered)
    assert totals["Income:Usage:Alpaca-AI"] == Decimal("-2.32")
    # nine seat invoices stand (ten minus one void): net 20.00 each, 19 % VAT 3.80 each
    assert totals["Income:Usage:Seats"] == Decimal("-180.00")
    assert totals["Liabilities:VAT:VAT-19"] == Decimal("-34.64")  # 9 × 3.80 + 0.44
    again = books("export", "journal", "--format", "beancount", now="2027-06-01T00:00:00Z")
    assert again.stdout == result.stdout  # deterministic


def test_hledger_output_balances(books: Billing) -> None:
    text = books("export", "journal", "--format", "hledger", now=LATER).stdout
    blocks = [b for b in text.split("\n\n") if re.match(r"\d{4}-\d\d-\d\d \* ", b)]
    assert len(blocks) == 11 + 2 + 2 + 1  # invoices, payments, write-offs, the void
    for block in blocks:
        amounts = re.findall(r"\s(-?\d+\.\d\d) USD$", block, flags=re.M)
        assert sum(Decimal(a) for a in amounts) == 0, block
    assert "account Assets:Receivable" in text


def test_range_accounts_and_output_file(books: Billing, tmp_path: Path) -> None:
    path = tmp_path / "books.beancount"
    result = books(
        "export", "journal", "--format", "beancount", "--from", "2026-11-06", "--to",
        "2026-11-08", "--account", "bad_debt=Expenses:Losses", "-o", str(path), now=LATER,
    )  # fmt: skip
    assert result.exit_code == 0 and result.stdout == ""
    text = path.read_text()
    totals = balances(text)
    assert set(totals) == {"Expenses:Losses", "Assets:Receivable", "Income:Usage:Seats",
                           "Liabilities:VAT:VAT-19"}  # fmt: skip
    assert "SEAT2-0001 uncollectible" in text and "SEAT3-0001 voided" in text
    assert "SEAT1" not in text and "SEAT5" not in text


def test_journal_errors(books: Billing) -> None:
    assert_error(books("export", "journal", "--format", "gnucash", now=LATER), 4, "gnucash")
    bad = books("export", "journal", "--format", "hledger", "--account", "bank=bank", now=LATER)
    assert_error(bad, 4, "bank=bank")
    bad = books("export", "journal", "--format", "hledger", "--account", "till=Assets:X", now=LATER)
    assert_error(bad, 4, "till")
    bad = books("export", "journal", "--format", "hledger", "--from", "2026-12", now=LATER)
    assert_error(bad, 4, "--from")
