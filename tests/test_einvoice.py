"""E-invoices (issue 14): XRechnung CII XML and ZUGFeRD / Factur-X PDF/A-3 of the Alpaca
example with 19 % VAT, checked against the EN 16931 XSD with factur-x's own check, amounts
equal to the invoice's to the cent, the embedded XML extracted back identical, and missing
mandatory values refused with exit 4 naming the option."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from facturx import get_facturx_xml_from_pdf, xml_check_xsd
from lxml import etree
from pypdf import PdfReader

from billing_cli.api.context import Context
from billing_cli.api.einvoice import einvoice_data
from billing_cli.clock import resolve_now
from billing_cli.present.einvoice import cii_xml
from tests.conftest import Billing, assert_error
from tests.documents import CLOSE, START, build_shop, november, send, subscribe

pytestmark = pytest.mark.both_backends

IBAN = "DE89370400440532013000"
NS = {
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}


@pytest.fixture
def issued(billing: Billing) -> Billing:
    build_shop(billing)
    billing.json("account", "update", "--iban", "DE89 3704 0044 0532 0130 00", now=START)
    billing.json("customer", "update", "cus_max", "--buyer-reference", "04011000-1234512345-06",
                 now=START)  # fmt: skip
    billing.json("tax-rate", "create", "--display-name", "VAT", "--percentage", "19",
                 "--id", "txr_vat", now=START)  # fmt: skip
    subscribe(billing, "--default-tax-rate", "txr_vat")
    november(billing)  # 5055 tokens → 51 packages → 2.04 USD, VAT 0.39, total 2.43
    return billing


def text(tree: etree._Element, path: str) -> str:
    found = tree.findall(path, NS)
    assert len(found) == 1, path
    return str(found[0].text)


def test_xrechnung_xml_validates_and_carries_the_invoice(issued: Billing, tmp_path: Path) -> None:
    path = tmp_path / "x.xml"
    result = issued("invoice", "einvoice", "ALPACA-0001", "--format", "xrechnung",
                    "-o", str(path), now=CLOSE)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    xml = path.read_bytes()
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    tree = etree.fromstring(xml)
    assert "xrechnung" in text(tree, ".//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID")
    assert text(tree, "rsm:ExchangedDocument/ram:ID") == "ALPACA-0001"
    assert text(tree, "rsm:ExchangedDocument/ram:TypeCode") == "380"
    issue_date = ".//rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString"
    assert text(tree, issue_date) == "20261201"
    assert text(tree, ".//ram:InvoiceCurrencyCode") == "USD"
    assert text(tree, ".//ram:BuyerReference") == "04011000-1234512345-06"
    seller = ".//ram:SellerTradeParty/"
    assert text(tree, seller + "ram:Name") == "Alpaca AI GmbH"
    assert text(tree, seller + "ram:PostalTradeAddress/ram:CityName") == "Berlin"
    assert text(tree, seller + "ram:PostalTradeAddress/ram:CountryID") == "DE"
    assert text(tree, seller + "ram:SpecifiedTaxRegistration/ram:ID") == "DE123456789"
    buyer = ".//ram:BuyerTradeParty/"
    assert text(tree, buyer + "ram:Name") == "Max Mustermann"
    assert text(tree, buyer + "ram:PostalTradeAddress/ram:CityName") == "München"
    assert text(tree, buyer + "ram:SpecifiedTaxRegistration/ram:ID") == "DE987654321"
    assert text(tree, ".//ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == IBAN
    period = ".//ram:ApplicableHeaderTradeSettlement/ram:BillingSpecifiedPeriod/"
    assert text(tree, period + "ram:StartDateTime/udt:DateTimeString") == "20261101"
    line = ".//ram:IncludedSupplyChainTradeLineItem/"
    assert text(tree, line + "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity") == "51"
    assert text(tree, line + ".//ram:NetPriceProductTradePrice/ram:ChargeAmount") == "0.04"
    assert text(tree, line + ".//ram:CategoryCode") == "S"
    assert text(tree, line + ".//ram:LineTotalAmount") == "2.04"
    # the amounts equal the invoice's, to the cent
    inv = issued.json("invoice", "show", "ALPACA-0001", now=CLOSE)
    cents = lambda path: int(Decimal(text(tree, path)) * 100)  # noqa: E731
    summary = ".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    assert cents(summary + "LineTotalAmount") == inv["subtotal"] == 204
    assert cents(summary + "TaxBasisTotalAmount") == inv["total_excluding_tax"]
    assert cents(summary + "TaxTotalAmount") == inv["total_taxes"][0]["amount"] == 39
    assert cents(summary + "GrandTotalAmount") == inv["total"] == 243
    assert cents(summary + "DuePayableAmount") == inv["amount_due"] == 243
    assert (
        cents(".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CalculatedAmount")
        == 39
    )  # noqa: E501
    assert (
        text(tree, ".//ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString")
        == "20261231"
    )  # noqa: E501


def test_zugferd_pdf_embeds_the_xml(
    issued: Billing, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: E501
    monkeypatch.chdir(tmp_path)
    result = issued("invoice", "einvoice", "ALPACA-0001", "--format", "zugferd", now=CLOSE)
    assert result.exit_code == 0, result.stderr
    pdf = (tmp_path / "ALPACA-0001.pdf").read_bytes()
    name, embedded = get_facturx_xml_from_pdf(pdf, check_xsd=True)
    assert name == "factur-x.xml"
    ctx = Context(db=issued.db, now=resolve_now(CLOSE))
    assert embedded == cii_xml(einvoice_data(ctx, "ALPACA-0001"), "zugferd")
    assert xml_check_xsd(embedded, flavor="factur-x", level="en16931")
    assert b"urn:cen.eu:en16931:2017<" in embedded
    again = issued("invoice", "einvoice", "ALPACA-0001", "--format", "zugferd", now=CLOSE)
    assert again.exit_code == 0 and "up to date" in again.stderr
    assert (tmp_path / "ALPACA-0001.pdf").read_bytes() == pdf
    page = PdfReader(tmp_path / "ALPACA-0001.pdf").pages[0].extract_text()
    assert "Invoice ALPACA-0001" in page and "Amount due 2.43 USD" in page
    assert f"Please transfer 2.43 USD to IBAN {IBAN}, reference ALPACA-0001." in page


def test_invoice_run_writes_one_einvoice_per_finalized_invoice(
    billing: Billing, tmp_path: Path
) -> None:  # noqa: E501
    build_shop(billing)
    billing.json("account", "update", "--iban", IBAN, now=START)
    subscribe(billing)
    send(billing, "100", "ev1", "2026-11-02T00:00:00Z")
    folder = tmp_path / "einvoices"
    folder.mkdir()
    result = billing("invoice", "run", "--einvoice-dir", str(folder), "--einvoice-format",
                     "zugferd", now=CLOSE)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in folder.iterdir()] == ["ALPACA-0001.pdf"]
    name, xml = get_facturx_xml_from_pdf((folder / "ALPACA-0001.pdf").read_bytes())
    # no tax rate on this subscription: one zero-rated VAT breakdown
    assert b"<ram:CategoryCode>Z</ram:CategoryCode>" in xml
    assert_error(billing("invoice", "run", "--einvoice-dir", str(folder), now=CLOSE), 2)


def test_missing_values_are_refused_naming_the_option(billing: Billing, tmp_path: Path) -> None:
    build_shop(billing)
    subscribe(billing)
    billing.json("account", "update", "--tax-id", "", "--address-line1", "", "--iban", IBAN,
                 now=START)  # fmt: skip
    november(billing)
    out = tmp_path / "x.pdf"
    no_vat = billing("invoice", "einvoice", "ALPACA-0001", "--format", "zugferd", "-o", str(out))
    line = assert_error(no_vat, 4, "ALPACA-0001")
    assert "--address-line1" in line  # the first missing value named on the error line
    assert "--tax-id" in no_vat.stderr  # every missing one in the hint
    assert not out.exists()
    billing.json("account", "update", "--address-line1", "Hauptstraße 1", now=CLOSE)
    assert_error(
        billing("invoice", "einvoice", "ALPACA-0001", "--format", "zugferd", "-o", str(out)),
        4,
        "seller's VAT id",
        "--tax-id",
    )
    billing.json("account", "update", "--tax-id", "DE123456789", now=CLOSE)
    assert_error(
        billing("invoice", "einvoice", "ALPACA-0001", "--format", "xrechnung", "-o", str(out)),
        4,
        "--buyer-reference",
    )
    result = billing("invoice", "einvoice", "ALPACA-0001", "--format", "zugferd", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert_error(billing("invoice", "einvoice", "ALPACA-0001", "--format", "ubl"), 4, "ubl")
    assert_error(billing("account", "update", "--iban", "DE00 1234"), 4, "--iban")


def test_drafts_are_no_einvoices(billing: Billing) -> None:
    build_shop(billing)
    subscribe(billing)
    billing.json("invoice", "run", now="2026-12-01T09:05:00Z")
    draft = billing.json("invoice", "list", now="2026-12-01T09:05:00Z")["data"][0]["id"]
    assert_error(billing("invoice", "einvoice", draft, "--format", "xrechnung"), 5, "draft")


def test_without_the_extra_the_error_names_it(issued: Billing, tmp_path: Path) -> None:
    """Without drafthorse (the `einvoice` extra) the command says what to install, exit 2."""
    import subprocess
    import sys

    out = tmp_path / "x.xml"

    code = (
        "import sys; sys.modules['drafthorse'] = None\n"  # as if it were not installed
        "from billing_cli.cli import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "--db", str(issued.db), "invoice", "einvoice",
         "ALPACA-0001", "--format", "xrechnung", "-o", str(out)],
        capture_output=True, text=True, env={"PYTHONPATH": str(Path(__file__).parents[1])},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: e-invoices need the einvoice extra (drafthorse")
    assert "pip install 'billing-cli[einvoice]'" in result.stderr
    assert not out.exists()
