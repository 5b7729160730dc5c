"""Billing credits in the EN 16931 e-invoice (issue 19, item 3): taken off before tax, so a
document-level allowance at the lines' VAT rate; the XML validates against the XSD and its
totals are the invoice's to the cent (basis after credits, tax on it, due)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from facturx import xml_check_xsd
from lxml import etree

from tests.conftest import Billing
from tests.documents import CLOSE, START, build_shop, november, subscribe
from tests.test_einvoice import text

pytestmark = pytest.mark.both_backends


def test_credits_are_an_allowance_before_tax(billing: Billing, tmp_path: Path) -> None:
    build_shop(billing)
    billing.json("account", "update", "--iban", "DE89 3704 0044 0532 0130 00", now=START)
    billing.json("customer", "update", "cus_max", "--buyer-reference", "04011000-1234512345-06",
                 now=START)  # fmt: skip
    billing.json("tax-rate", "create", "--display-name", "VAT", "--percentage", "19",
                 "--id", "txr_vat", now=START)  # fmt: skip
    subscribe(billing, "--default-tax-rate", "txr_vat")
    billing.json("credit-grant", "create", "--customer", "cus_max", "--amount", "100",
                 "--currency", "usd", now=START)  # fmt: skip
    inv = november(billing)  # 204 cents of tokens, 100 of them paid by the grant
    assert (inv["subtotal"], inv["total_excluding_tax"]) == (204, 104)
    assert (inv["total_taxes"][0]["amount"], inv["total"]) == (20, 124)  # 19.76 → 20
    path = tmp_path / "x.xml"
    result = billing("invoice", "einvoice", "ALPACA-0001", "--format", "xrechnung",
                     "-o", str(path), now=CLOSE)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    xml = path.read_bytes()
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    tree = etree.fromstring(xml)
    cents = lambda p: int(Decimal(text(tree, p)) * 100)  # noqa: E731
    summary = ".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    assert cents(summary + "LineTotalAmount") == 204
    assert cents(summary + "AllowanceTotalAmount") == 100
    assert cents(summary + "TaxBasisTotalAmount") == 104
    assert cents(summary + "TaxTotalAmount") == 20
    assert cents(summary + "GrandTotalAmount") == 124
    assert cents(summary + "DuePayableAmount") == inv["amount_due"] == 124
    allowance = ".//ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeAllowanceCharge/"
    assert text(tree, allowance + "ram:ChargeIndicator/udt:Indicator") == "false"
    assert cents(allowance + "ram:ActualAmount") == 100
    assert text(tree, allowance + "ram:CategoryTradeTax/ram:RateApplicablePercent") == "19"
    breakdown = ".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/"
    assert cents(breakdown + "ram:BasisAmount") == 104
    assert cents(breakdown + "ram:CalculatedAmount") == 20
