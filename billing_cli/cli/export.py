"""`billing export …`: the ledger for other tools (an accounting journal)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from billing_cli.api import journal as api
from billing_cli.cli import context
from billing_cli.cli.output import note
from billing_cli.clock import parse_time

export_app = typer.Typer(no_args_is_help=True, help="Export the ledger for other tools.")


@export_app.command("journal")
def export_journal(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="beancount or hledger.")],
    start: Annotated[
        str | None, typer.Option("--from", help="Only bookings at or after this time.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Only bookings before this time.")] = None,
    account: Annotated[
        list[str] | None,
        typer.Option(
            "--account",
            help="KEY=NAME to rename an account (receivable, bank, income, vat,"
            " customer_credit, bad_debt, paid_credits, promotional_credits); repeatable.",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to this file (else stdout).")
    ] = None,
) -> None:
    """Issued invoices, payments, write-offs and voids as double-entry bookings.

    Each invoice books Assets:Receivable (amount due) and the customer credit it used against
    Income:Usage:<product> (net) and Liabilities:VAT:<rate>; payments move Receivable to
    Assets:Bank; uncollectible invoices go to Expenses:BadDebt; voids reverse.
    """
    text = api.export_journal(
        context(ctx),
        fmt=fmt,
        accounts=account,
        start=None if start is None else parse_time(start, field="--from"),
        end=None if end is None else parse_time(end, field="--to"),
        output=output,
    )
    if output is None:
        sys.stdout.write(text)
    else:
        note(f"wrote {output}")
