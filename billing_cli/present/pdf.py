"""An invoice as a PDF document (fpdf2), from the same Stripe-shaped dict `--json` prints.

Complete for an EU B2B invoice (§14 UStG, VAT directive art. 226): seller and buyer with
addresses and tax ids, number, issue date, service period, one row per line, billing credits
applied before tax, net per tax rate, the tax, the gross, credit applied, amount due. Drafts
and previews carry a DRAFT / PREVIEW mark, so they are never mistaken for an issued invoice.
The font ships with the package (DejaVu Sans, its licence beside it), so a Latin, Greek or
Cyrillic name renders the same on every machine. The output is deterministic: the document's
dates are the invoice's own, so one invoice always gives the same bytes (and `invoice run
--pdf-dir` can tell a rerun from a different file).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

from billing_cli.domain.money import format_amount, format_unit_amount

__all__ = ["credit_applied", "invoice_pdf", "mark"]

_FONT = "DejaVu"
_GREY = (110, 110, 110)


def mark(data: dict[str, Any]) -> str | None:
    """PREVIEW for `invoice upcoming`, DRAFT for a stored draft, None for an issued invoice."""
    if data["id"] is None:
        return "PREVIEW"
    return "DRAFT" if data["status"] == "draft" else None


def credit_applied(data: dict[str, Any]) -> int:
    """The customer credit (starting balance) this invoice used: total less amount due."""
    return max(data["total"], 0) - data["amount_due"] if data["starting_balance"] else 0


def _day(ts: int | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _moment(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _period(start: int, end: int) -> str:
    return f"{_moment(start)} – {_moment(end)} UTC"


def _address(address: dict[str, Any] | None) -> list[str]:
    if not address:
        return []
    city = " ".join(p for p in (address.get("postal_code"), address.get("city")) if p)
    parts = [address.get("line1"), address.get("line2"), city, address.get("state")]
    return [p for p in [*parts, address.get("country")] if p]


def _tax_id_line(value: str, kind: str = "eu_vat") -> str:
    return (
        f"VAT ID: {value}"
        if kind in ("eu_vat", "gb_vat", "ch_vat", "no_vat")
        else f"Tax ID: {value}"
    )


def seller_lines(data: dict[str, Any]) -> list[str]:
    lines = [data.get("account_name") or "", *_address(data.get("account_address"))]
    if data.get("account_tax_id"):
        lines.append(_tax_id_line(data["account_tax_id"]))
    if data.get("account_email"):
        lines.append(data["account_email"])
    return [line for line in lines if line]


def buyer_lines(data: dict[str, Any]) -> list[str]:
    lines = [data.get("customer_name") or data["customer"], *_address(data.get("customer_address"))]
    lines += [_tax_id_line(t["value"], t["type"]) for t in data.get("customer_tax_ids") or []]
    if data.get("customer_email"):
        lines.append(data["customer_email"])
    return lines


def _explain(line: dict[str, Any]) -> dict[str, Any]:
    return line["billing_cli"].get("explain") or {}


def _quantity(line: dict[str, Any]) -> str:
    explain = _explain(line)
    transform = explain.get("transform_quantity")
    text = line["quantity_decimal"]
    if transform and line["billing_cli"]["type"] == "subscription":
        text += f"\n= {explain['transformed_quantity']} × {transform['divide_by']}"
    return text


def _unit(line: dict[str, Any], currency: str) -> str:
    unit = (line.get("pricing") or {}).get("unit_amount_decimal")
    if unit is None:
        return "tiered" if _explain(line).get("tiers_mode") else ""
    per = _explain(line).get("transform_quantity")
    text = format_unit_amount(Decimal(unit), currency)
    subscription = line["billing_cli"]["type"] == "subscription"
    return f"{text}\nper {per['divide_by']}" if per and subscription else text


class _Document:
    """fpdf2 with the shipped font and a footer (the invoice's footer text and page numbers)."""

    def __init__(self, footer: str | None, stamp: str | None) -> None:
        from fpdf import FPDF

        footer_text, mark_text = footer, stamp

        class Pdf(FPDF):  # type: ignore[misc]
            def footer(self) -> None:
                self.set_y(-18)
                self.set_font(_FONT, size=7.5)
                self.set_text_color(*_GREY)
                if footer_text:
                    self.multi_cell(0, 3.6, footer_text, align="C")
                page = f"Page {self.page_no()}/{{nb}}"
                if mark_text:
                    page = f"{mark_text} – not a valid invoice · {page}"
                self.cell(0, 4, page, align="C")

        self.pdf = Pdf(format="A4")
        fonts = resources.files("billing_cli.present") / "fonts"
        with resources.as_file(fonts / "DejaVuSans.ttf") as regular:
            self.pdf.add_font(_FONT, "", str(regular))
        with resources.as_file(fonts / "DejaVuSans-Bold.ttf") as bold:
            self.pdf.add_font(_FONT, "B", str(bold))
        self.pdf.set_auto_page_break(True, margin=24)
        self.pdf.set_margins(18, 16, 18)


def invoice_pdf(data: dict[str, Any]) -> bytes:
    """The PDF bytes of one invoice dict, its party fields beside Stripe's
    (`present.invoice_json.document_view`)."""
    currency = data["currency"]

    def money(amount: int) -> str:
        return format_amount(amount, currency)

    stamp = mark(data)
    doc = _Document(data.get("footer"), stamp)
    pdf = doc.pdf
    issued = data.get("effective_at") or data["created"]
    pdf.set_creation_date(datetime.fromtimestamp(issued, UTC))
    title = data["number"] or stamp or ""
    pdf.set_title(f"Invoice {title}".strip())
    pdf.set_author(data.get("account_name") or "")
    pdf.set_creator("billing_cli")
    pdf.set_producer("billing_cli")
    pdf.add_page()

    # seller, top right; the sender line above the buyer's address
    seller = seller_lines(data)
    pdf.set_font(_FONT, "B", 13)
    pdf.cell(0, 7, seller[0] if seller else "", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FONT, size=8.5)
    for line in seller[1:]:
        pdf.cell(0, 4.2, line, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    if stamp:
        pdf.set_font(_FONT, "B", 22)
        pdf.set_text_color(200, 30, 30)
        pdf.cell(0, 10, stamp, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)

    top = pdf.get_y()
    pdf.set_font(_FONT, size=7)
    pdf.set_text_color(*_GREY)
    if seller:
        sender = " · ".join(seller[:1] + _address(data.get("account_address")))
        pdf.cell(95, 4, sender, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(_FONT, "B", 10)
    buyer = buyer_lines(data)
    pdf.cell(95, 5.5, "Bill to", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FONT, size=10)
    for line in buyer:
        pdf.cell(95, 5, line, new_x="LMARGIN", new_y="NEXT")
    bottom = pdf.get_y()

    pdf.set_xy(120, top)
    meta = [
        ("Invoice number", data["number"] or "—"),
        ("Issue date", _day(data.get("effective_at")) or "—"),
        ("Service period", f"from {_moment(data['period_start'])} UTC"),
        ("", f"to {_moment(data['period_end'])} UTC"),
        ("Customer", data["customer"]),
        ("Currency", currency.upper()),
    ]
    for label, value in meta:
        pdf.set_x(120)
        pdf.set_font(_FONT, "B" if label else "", 9)
        pdf.cell(33, 5, label)
        pdf.set_font(_FONT, size=9)
        pdf.cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(bottom, pdf.get_y()) + 8)

    pdf.set_font(_FONT, "B", 15)
    pdf.cell(0, 8, f"Invoice {data['number'] or ''}".strip(), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    pdf.set_font(_FONT, size=8.5)
    with pdf.table(
        col_widths=(52, 50, 26, 22, 24),
        text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
        line_height=4.6,
        first_row_as_headings=True,
    ) as table:
        header = table.row()
        for name in ("Description", "Period", "Quantity", "Unit price", "Amount"):
            header.cell(name)
        for line in data["lines"]["data"]:
            row = table.row()
            row.cell(line["description"])
            row.cell(_period(line["period"]["start"], line["period"]["end"]))
            row.cell(_quantity(line))
            row.cell(_unit(line, currency))
            row.cell(money(line["amount"]))
    pdf.ln(4)

    totals: list[tuple[str, str, bool]] = [("Subtotal", money(data["subtotal"]), False)]
    prepaid = sum(c["amount"] for c in data.get("total_pretax_credit_amounts") or [])
    if prepaid:
        totals.append(("Credits applied (before tax)", money(-prepaid), False))
    for t in data.get("total_taxes") or []:
        kind = "included in" if t["tax_behavior"] == "inclusive" else "on"
        rate = t["billing_cli"]
        label = f"{rate['display_name']} {rate['percentage']} % {kind} {money(t['taxable_amount'])}"
        totals.append((label, money(t["amount"]), False))
    totals.append(("Total", money(data["total"]), True))
    applied = credit_applied(data)
    if applied:
        totals.append(("Credit applied", money(-applied), False))
    totals.append(("Amount due", money(data["amount_due"]), True))
    if data.get("ending_balance"):
        totals.append(("Credit carried forward", money(-data["ending_balance"]), False))
    for label, value, strong in totals:
        pdf.set_font(_FONT, "B" if strong else "", 10 if strong else 9)
        pdf.set_x(80)
        pdf.cell(80, 6, label, align="R")
        pdf.cell(0, 6, value, align="R", new_x="LMARGIN", new_y="NEXT")
    if data.get("account_iban") and data["amount_due"] > 0:
        pdf.ln(4)
        pdf.set_font(_FONT, size=9)
        bic = f" (BIC {data['account_bic']})" if data.get("account_bic") else ""
        reference = data["number"] or ""
        pdf.multi_cell(
            0,
            5,
            f"Please transfer {money(data['amount_due'])} to IBAN {data['account_iban']}{bic}"
            + (f", reference {reference}." if reference else "."),
        )
    return bytes(pdf.output())
