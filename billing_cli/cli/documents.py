"""`billing invoice pdf`: an invoice (or the preview of the next one) as a PDF document."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from billing_cli.api import documents as api
from billing_cli.cli import context
from billing_cli.cli.invoices import invoice_app
from billing_cli.cli.output import note


@invoice_app.command("pdf")
def invoice_pdf(
    ctx: typer.Context,
    invoice: Annotated[
        str | None, typer.Argument(help="Invoice id or number (omit with --customer).")
    ] = None,
    customer: Annotated[
        str | None, typer.Option(help="Without INVOICE: the preview of this customer's next.")
    ] = None,
    subscription: Annotated[
        str | None, typer.Option(help="With --customer: only this subscription.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="File to write [default: <number>.pdf]."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a different file at the path.")
    ] = False,
) -> None:
    """Write an invoice as a PDF (drafts are marked DRAFT, previews PREVIEW).

    The file is written atomically; an existing different file is refused (exit 5) unless
    --force is given; the same file again is left as it is.
    """
    path, written = api.write_invoice_pdf(
        context(ctx),
        invoice_id=invoice,
        customer=customer,
        subscription=subscription,
        path=output,
        replace=force,
    )
    note(f"wrote {path}" if written else f"{path} is up to date")


@invoice_app.command("einvoice")
def invoice_einvoice(
    ctx: typer.Context,
    invoice: Annotated[str, typer.Argument(help="An issued invoice: id or number.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="zugferd (PDF/A-3 with the XML inside) or xrechnung (the XML)."
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="File to write [default: <number>.pdf or .xml]."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a different file at the path.")
    ] = False,
) -> None:
    """Write an issued invoice as an EN 16931 e-invoice (ZUGFeRD / Factur-X or XRechnung).

    Needs the seller's name, address, VAT id and IBAN (`billing account update`), the buyer's
    name and country, and for XRechnung the buyer reference and both emails; a missing one is
    refused (exit 4) naming the option that sets it. Requires the `einvoice` extra.
    """
    from billing_cli.api import einvoice

    path, written = einvoice.write_einvoice(
        context(ctx), invoice, fmt=fmt, path=output, replace=force
    )
    note(f"wrote {path}" if written else f"{path} is up to date")
