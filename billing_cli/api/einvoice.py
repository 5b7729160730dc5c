"""E-invoices (`billing invoice einvoice`, `invoice run --einvoice-dir`): an issued invoice as
EN 16931 CII XML (XRechnung) or as a ZUGFeRD / Factur-X PDF with that XML embedded.

Only issued invoices have the number and issue date an e-invoice needs. A value EN 16931 (or
XRechnung) requires that the ledger lacks is refused with exit 4 naming the option that sets
it, never written as an invalid file. The seller and buyer come from the invoice's snapshot;
what it lacks (an invoice issued before the IBAN or the buyer reference was set) is taken as
it stands now. The libraries (drafthorse, factur-x) are the optional `einvoice` extra.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from billing_cli.api import invoices
from billing_cli.api.account import get_account
from billing_cli.api.catalog import get_customer
from billing_cli.api.context import Context
from billing_cli.api.documents import invoice_pdf_bytes, write_file
from billing_cli.errors import Conflict, InvalidInput, UsageError
from billing_cli.present.invoice_json import document_view, invoice_dict

FORMATS = ("zugferd", "xrechnung")
SUFFIX = {"zugferd": ".pdf", "xrechnung": ".xml"}
_FILLABLE = (
    "account_name",
    "account_address",
    "account_tax_id",
    "account_email",
    "account_iban",
    "account_bic",
    "customer_name",
    "customer_email",
    "customer_address",
    "customer_tax_ids",
    "customer_buyer_reference",
)


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InvalidInput(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    return fmt


def einvoice_data(ctx: Context, invoice_id: str) -> dict[str, Any]:
    inv = invoices.get_invoice(ctx, invoice_id)
    if inv.status == "draft" or inv.number is None:
        raise Conflict(
            f"invoice {inv.id} is a draft: only issued invoices become e-invoices",
            hint="finalize it first (`billing invoice finalize`, or `invoice run`)",
        )
    customer, account = get_customer(ctx, inv.customer), get_account(ctx)
    data = document_view(invoice_dict(inv, customer, account, explain=True))
    live = document_view(invoice_dict(replace(inv, parties=None), customer, account))
    for key in _FILLABLE:
        if not data.get(key) or (key.endswith("_address") and not _complete(data[key])):
            data[key] = live.get(key) or data.get(key)
    return data


def _complete(address: dict[str, Any]) -> bool:
    return all(address.get(k) for k in ("line1", "postal_code", "city", "country"))


def einvoice_bytes(data: dict[str, Any], fmt: str) -> tuple[bytes, bytes]:
    """(the CII XML, the file: that XML, or the ZUGFeRD PDF embedding it)."""
    from billing_cli.present import einvoice

    gaps = einvoice.missing(data, fmt)
    if gaps:
        what, option = gaps[0]
        more = f" (and {len(gaps) - 1} more)" if len(gaps) > 1 else ""
        raise InvalidInput(
            f"invoice {data['number']} cannot be a {fmt} e-invoice: {what} is missing{more};"
            f" set it with `{option}`",
            hint="; ".join(f"{w}: `{o}`" for w, o in gaps),
        )
    try:
        xml = einvoice.cii_xml(data, fmt)
        if fmt == "xrechnung":
            return xml, xml
        return xml, einvoice.zugferd_pdf(invoice_pdf_bytes(data), xml, data)
    except ImportError as exc:  # drafthorse and factur-x are the optional `einvoice` extra
        raise UsageError(
            f"e-invoices need the einvoice extra ({exc.name} is not installed)",
            hint="pip install 'billing-cli[einvoice]'",
        ) from exc


def _write(target: Path, fmt: str, data: dict[str, Any], *, replace: bool) -> bool:
    """Write the e-invoice; a ZUGFeRD PDF already there that embeds the very same XML is up to
    date (factur-x stamps each PDF it makes with the time, so its bytes never repeat)."""
    xml, content = einvoice_bytes(data, fmt)
    if fmt == "zugferd" and target.is_file() and not replace:
        from facturx import get_facturx_xml_from_pdf

        try:
            _, embedded = get_facturx_xml_from_pdf(target.read_bytes(), check_xsd=False)
        except Exception:  # noqa: BLE001 - any unreadable file is simply not the same one
            embedded = None
        if embedded == xml:
            return False
    return write_file(target, content, replace=replace)


def write_einvoice(
    ctx: Context, invoice_id: str, *, fmt: str, path: Path | None = None, replace: bool = False
) -> tuple[Path, bool]:
    data = einvoice_data(ctx, invoice_id)
    target = path if path is not None else Path(f"{data['number']}{SUFFIX[check_format(fmt)]}")
    return target, _write(target, fmt, data, replace=replace)


def write_run_einvoices(
    ctx: Context, invoice_ids: Iterable[str], folder: Path, fmt: str
) -> list[Path]:
    """`invoice run --einvoice-dir`: one e-invoice per invoice the run finalized."""
    written = []
    for invoice_id in invoice_ids:
        data = einvoice_data(ctx, invoice_id)
        target = folder / f"{data['number']}{SUFFIX[fmt]}"
        _write(target, fmt, data, replace=False)
        written.append(target)
    return written
