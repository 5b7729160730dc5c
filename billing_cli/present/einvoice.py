"""EN 16931 e-invoices: the CII XML (drafthorse) for XRechnung, and a ZUGFeRD / Factur-X PDF/A-3
(factur-x) that embeds it in the printed invoice.

Built from the same Stripe-shaped invoice dict as the PDF and `--json`, so the XML's amounts
are the invoice's to the cent: line net amounts (inclusive taxes taken out), one VAT breakdown
per tax rate (category S, Z for 0 %), billing credits as allowances before tax (one per rate),
totals (line total, allowances, tax basis, tax, grand total, prepaid = customer credit
applied, due payable). A quantity transformed into packages is billed as that many units (C62)
at the package price, so quantity × price = line amount. The XML is validated against the
Factur-X EN 16931 XSD that drafthorse ships; the PDF embedding checks it again (factur-x). Both
libraries are in the optional `einvoice` extra.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from billing_cli.domain.money import currency_exponent

__all__ = ["FORMATS", "cii_xml", "missing", "zugferd_pdf"]

FORMATS = ("zugferd", "xrechnung")
EN16931 = "urn:cen.eu:en16931:2017"
XRECHNUNG = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
PEPPOL_BILLING = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
PAYMENT_DAYS = 30  # Stripe's default `days_until_due` for invoices sent to be paid by transfer


def missing(data: dict[str, Any], fmt: str) -> list[tuple[str, str]]:
    """(what, the option that sets it) for each value EN 16931 (and XRechnung) requires that
    the invoice lacks."""
    out: list[tuple[str, str]] = []
    seller = data.get("account_address") or {}
    buyer = data.get("customer_address") or {}
    if not data.get("account_name"):
        out.append(("the seller's name", "billing account update --business-name"))
    for key, option in (("line1", "--address-line1"), ("postal_code", "--postal-code"),
                        ("city", "--city"), ("country", "--country")):  # fmt: skip
        if not seller.get(key):
            out.append((f"the seller's address ({key})", f"billing account update {option}"))
    if not data.get("account_tax_id"):
        out.append(("the seller's VAT id", "billing account update --tax-id"))
    if not data.get("account_iban"):
        out.append(("the seller's IBAN", "billing account update --iban"))
    if not data.get("customer_name"):
        out.append(("the buyer's name", "billing customer update --name"))
    if not buyer.get("country"):
        out.append(("the buyer's country", "billing customer update --country"))
    if fmt == "xrechnung":
        if not data.get("customer_buyer_reference"):
            out.append(("the buyer reference (Leitweg-ID)",
                        "billing customer update --buyer-reference"))  # fmt: skip
        if not data.get("account_email"):
            out.append(("the seller's email", "billing account update --email"))
        if not data.get("customer_email"):
            out.append(("the buyer's email", "billing customer update --email"))
    return out


def _major(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-currency_exponent(currency))


def _day(ts: int) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


def _party(party: Any, name: str, address: dict[str, Any], email: str | None) -> None:
    party.name = name
    if address.get("postal_code"):
        party.address.postcode = address["postal_code"]
    if address.get("line1"):
        party.address.line_one = address["line1"]
    if address.get("line2"):
        party.address.line_two = address["line2"]
    if address.get("city"):
        party.address.city_name = address["city"]
    party.address.country_id = address["country"]
    if email:
        party.electronic_address.uri_ID = ("EM", email)


def _category(percentage: Decimal) -> str:
    return "S" if percentage > 0 else "Z"


def _percentage(tax: dict[str, Any]) -> Decimal:
    return Decimal(tax["billing_cli"]["percentage"])  # the rate's, as when computed


def _line_net(line: dict[str, Any]) -> int:
    inclusive = (t["amount"] for t in line["taxes"] if t["tax_behavior"] == "inclusive")
    return line["amount"] - sum(inclusive)


def _billed_quantity(line: dict[str, Any]) -> Decimal:
    explain = line["billing_cli"].get("explain") or {}
    if line["billing_cli"]["type"] == "subscription" and explain.get("transform_quantity"):
        return Decimal(explain["transformed_quantity"])
    return Decimal(line["quantity_decimal"])


def _net_price(net: Decimal, quantity: Decimal) -> Decimal:
    """The unit price the line amount implies: exact when it has a finite decimal, else to 6
    places (a price, unlike an amount, may carry more digits than the currency)."""
    if quantity == 0:
        return Decimal(0)
    price = net / quantity
    return price if price == price.quantize(Decimal("1e-6")) else price.quantize(Decimal("1e-6"))


def _line_rate(line: dict[str, Any]) -> Decimal:
    return _percentage(line["taxes"][0]) if line["taxes"] else Decimal(0)


def _credit_allowances(settlement: Any, lines: list[dict[str, Any]], money: Any) -> Decimal:
    """Billing credits are taken off before tax (Stripe's pretax credits), so in EN 16931 they
    are document-level allowances (BG-20), one per VAT rate of the lines they paid, which
    lower that rate's tax basis; returns their sum (BT-107)."""
    from drafthorse.models.accounting import CategoryTradeTax, TradeAllowanceCharge

    by_rate: dict[Decimal, int] = {}
    for line in lines:
        paid = sum(c["amount"] for c in line.get("pretax_credit_amounts") or [])
        if paid:
            by_rate[_line_rate(line)] = by_rate.get(_line_rate(line), 0) + paid
    for pct, amount in by_rate.items():
        allowance = TradeAllowanceCharge()
        allowance.indicator = False
        allowance.actual_amount = money(amount)
        allowance.reason = "Billing credits applied before tax"
        category = CategoryTradeTax()
        category.type_code = "VAT"
        category.category_code = _category(pct)
        category.rate_applicable_percent = pct
        allowance.trade_tax.add(category)
        settlement.allowance_charge.add(allowance)
    return sum((money(amount) for amount in by_rate.values()), Decimal(0))


def cii_xml(data: dict[str, Any], fmt: str) -> bytes:
    """The CII XML of one issued invoice, validated against the EN 16931 XSD."""
    from drafthorse.models.accounting import ApplicableTradeTax
    from drafthorse.models.document import Document
    from drafthorse.models.note import IncludedNote
    from drafthorse.models.party import TaxRegistration
    from drafthorse.models.payment import PaymentMeans, PaymentTerms
    from drafthorse.models.tradelines import LineItem

    cur = data["currency"].upper()
    sign = -1 if data["total"] < 0 else 1  # a negative invoice is a credit note (381)

    def money(amount: int) -> Decimal:
        return _major(sign * amount, data["currency"])

    issued = _day(data["effective_at"])
    doc = Document()
    doc.context.guideline_parameter.id = XRECHNUNG if fmt == "xrechnung" else EN16931
    if fmt == "xrechnung":
        doc.context.business_parameter.id = PEPPOL_BILLING
    doc.header.id = data["number"]
    doc.header.type_code = "381" if sign < 0 else "380"
    doc.header.issue_date_time = issued
    if data.get("footer"):
        note = IncludedNote()
        note.content = data["footer"]
        doc.header.notes.add(note)

    agreement = doc.trade.agreement
    if data.get("customer_buyer_reference"):
        agreement.buyer_reference = data["customer_buyer_reference"]
    _party(
        agreement.seller, data["account_name"], data["account_address"], data.get("account_email")
    )
    agreement.seller.tax_registrations.add(TaxRegistration(id=("VA", data["account_tax_id"])))
    if fmt == "xrechnung":
        agreement.seller.contact.email.address = data["account_email"]
    buyer_name = data.get("customer_name") or data["customer"]
    _party(
        agreement.buyer, buyer_name, data.get("customer_address") or {}, data.get("customer_email")
    )
    for tax_id in data.get("customer_tax_ids") or []:
        if tax_id["type"] in ("eu_vat", "gb_vat", "ch_vat", "no_vat"):
            agreement.buyer.tax_registrations.add(TaxRegistration(id=("VA", tax_id["value"])))
            break

    doc.trade.delivery.event.occurrence = _day(data["period_end"] - 1)
    settlement = doc.trade.settlement
    settlement.currency_code = cur
    settlement.payment_reference = data["number"]
    means = PaymentMeans()
    means.type_code = "58"  # SEPA credit transfer
    means.payee_account.iban = data["account_iban"]
    if data.get("account_bic"):
        means.payee_institution.bic = data["account_bic"]
    settlement.payment_means.add(means)
    settlement.period.start = _day(data["period_start"])
    settlement.period.end = _day(data["period_end"] - 1)  # the last day served, inclusive

    lines = data["lines"]["data"]
    taxes = data.get("total_taxes") or []
    for position, line in enumerate(lines, start=1):
        item = LineItem()
        item.document.line_id = str(position)
        item.product.name = line["description"]
        net = money(_line_net(line))
        quantity = _billed_quantity(line)
        item.agreement.net.amount = _net_price(net, quantity)
        item.delivery.billed_quantity = (quantity, "C62")
        item.settlement.period.start = _day(line["period"]["start"])
        item.settlement.period.end = _day(line["period"]["end"] - 1)
        item.settlement.trade_tax.type_code = "VAT"
        pct = _line_rate(line)
        item.settlement.trade_tax.category_code = _category(pct)
        item.settlement.trade_tax.rate_applicable_percent = pct
        item.settlement.monetary_summation.total_amount = net
        doc.trade.items.add(item)

    line_total = sum((money(_line_net(line)) for line in lines), Decimal(0))
    allowance_total = _credit_allowances(settlement, lines, money)
    basis_total = line_total - allowance_total
    for t in taxes:
        trade_tax = ApplicableTradeTax()
        trade_tax.calculated_amount = money(t["amount"])
        trade_tax.type_code = "VAT"
        trade_tax.basis_amount = money(t["taxable_amount"])
        trade_tax.category_code = _category(_percentage(t))
        trade_tax.rate_applicable_percent = _percentage(t)
        settlement.trade_tax.add(trade_tax)
    if not taxes:
        trade_tax = ApplicableTradeTax()
        trade_tax.calculated_amount = Decimal(0)
        trade_tax.type_code = "VAT"
        trade_tax.basis_amount = basis_total
        trade_tax.category_code = "Z"
        trade_tax.rate_applicable_percent = Decimal(0)
        settlement.trade_tax.add(trade_tax)

    terms = PaymentTerms()
    due = issued + timedelta(days=PAYMENT_DAYS)
    terms.description = f"Payable by {due.isoformat()} to IBAN {data['account_iban']}"
    terms.due = due
    settlement.terms.add(terms)

    tax_total = sum((money(t["amount"]) for t in taxes), Decimal(0))
    summation = settlement.monetary_summation
    summation.line_total = line_total
    summation.charge_total = Decimal(0)
    summation.allowance_total = allowance_total
    summation.tax_basis_total = basis_total
    summation.tax_total = (tax_total, cur)
    summation.grand_total = basis_total + tax_total
    summation.prepaid_total = money(data["total"] - data["amount_due"]) if sign > 0 else Decimal(0)
    summation.due_amount = money(data["amount_due"]) if sign > 0 else money(data["total"])
    return bytes(doc.serialize(schema="FACTUR-X_EN16931"))


def zugferd_pdf(pdf: bytes, xml: bytes, data: dict[str, Any]) -> bytes:
    """The printed invoice as PDF/A-3 with `factur-x.xml` embedded (Factur-X 1.0 / ZUGFeRD
    2.x, profile EN 16931), the XML checked against the XSD once more on the way in."""
    from facturx import generate_from_binary

    metadata = {
        "author": data.get("account_name") or "",
        "keywords": "Factur-X, ZUGFeRD, invoice",
        "title": f"Invoice {data['number']}",
        "subject": f"Invoice {data['number']} from {data.get('account_name') or ''}",
    }
    return bytes(
        generate_from_binary(
            pdf, xml, flavor="factur-x", level="en16931", check_xsd=True, pdf_metadata=metadata
        )
    )
