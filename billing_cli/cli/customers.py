"""`billing customer …`."""

from __future__ import annotations

from typing import Annotated

import typer

from billing_cli.api import catalog as api
from billing_cli.cli import context
from billing_cli.cli.account import City, Country, Line1, Line2, PostalCode, State, address_input
from billing_cli.cli.catalog import IdArg, Metadata
from billing_cli.cli.output import (
    AMOUNT,
    ID,
    TEXT,
    AllOption,
    Column,
    CsvOption,
    JsonOption,
    LimitOption,
    NlOption,
    StartingAfterOption,
    time_column,
)
from billing_cli.cli.render import Page, after, render_list, render_one
from billing_cli.present import stripe_json as serialize
from billing_cli.present.amounts import format_amount

customer_app = typer.Typer(no_args_is_help=True, help="Customers: who receives invoices.")

BuyerReference = Annotated[
    str | None,
    typer.Option(
        "--buyer-reference", help="Buyer reference (Leitweg-ID) XRechnung e-invoices carry."
    ),
]
TaxIdOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tax-id",
        help='VAT id with its country prefix, e.g. DE123456789 (repeatable; "" clears).',
    ),
]


def _balance(row: dict) -> str:
    return (
        format_amount(row["balance"], row["currency"]) if row["currency"] else str(row["balance"])
    )


CUSTOMER_COLUMNS = [
    Column("id", lambda r: r["id"], ID),
    Column("name", lambda r: r["name"], TEXT),
    Column("email", lambda r: r["email"], TEXT),
    Column("invoice_prefix", lambda r: r["invoice_prefix"], ID),
    Column("currency", lambda r: r["currency"], stack=True),
    # CSV: the integer minor units (a number to sum), the currency in its own column.
    Column("balance", _balance, AMOUNT, csv=lambda r: r["balance"]),
    time_column("created", "created"),
]


@customer_app.command("create")
def customer_create(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option(help="Full name.")] = None,
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    invoice_prefix: Annotated[
        str | None, typer.Option(help="3–12 chars [A-Z0-9], unique; generated when omitted.")
    ] = None,
    metadata: Metadata = None,
    customer_id: Annotated[str | None, typer.Option("--id", help="Choose the id (cus_…).")] = None,
    address_line1: Line1 = None,
    address_line2: Line2 = None,
    postal_code: PostalCode = None,
    city: City = None,
    state: State = None,
    country: Country = None,
    tax_id: TaxIdOption = None,
    buyer_reference: BuyerReference = None,
    as_json: JsonOption = False,
) -> None:
    """Create a customer."""
    customer = api.create_customer(
        context(ctx),
        name=name,
        email=email,
        invoice_prefix=invoice_prefix,
        metadata=metadata,
        customer_id=customer_id,
        address=address_input(address_line1, address_line2, postal_code, city, state, country),
        tax_ids=tax_id,
        buyer_reference=buyer_reference,
    )
    render_one(serialize.customer_dict(customer), as_json=as_json, title="customer")


@customer_app.command("update")
def customer_update(
    ctx: typer.Context,
    customer_id: IdArg,
    name: Annotated[str | None, typer.Option(help="Full name.")] = None,
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    metadata: Metadata = None,
    address_line1: Line1 = None,
    address_line2: Line2 = None,
    postal_code: PostalCode = None,
    city: City = None,
    state: State = None,
    country: Country = None,
    tax_id: TaxIdOption = None,
    buyer_reference: BuyerReference = None,
    as_json: JsonOption = False,
) -> None:
    """Change a customer; fields not given stay, an empty value clears one, metadata merges.

    Invoices finalized from now on carry the new details; issued ones keep theirs.
    """
    customer = api.update_customer(
        context(ctx),
        customer_id,
        name=name,
        email=email,
        metadata=metadata,
        address=address_input(address_line1, address_line2, postal_code, city, state, country),
        tax_ids=tax_id,
        buyer_reference=buyer_reference,
    )
    render_one(serialize.customer_dict(customer), as_json=as_json, title="customer")


@customer_app.command("list")
def customer_list(
    ctx: typer.Context,
    limit: LimitOption = None,
    starting_after: StartingAfterOption = None,
    all_: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    as_nl: NlOption = False,
) -> None:
    """List customers, newest first."""
    page = Page.of(limit, all_, starting_after)
    data = [serialize.customer_dict(c) for c in api.list_customers(context(ctx))]
    render_list(
        after(data, starting_after, "customer"),
        CUSTOMER_COLUMNS,
        as_json=as_json,
        as_csv=as_csv,
        as_nl=as_nl,
        title="customers",
        page=page,
    )


@customer_app.command("show")
def customer_show(ctx: typer.Context, customer_id: IdArg, as_json: JsonOption = False) -> None:
    """Show one customer, with the credit balance carried to the next invoice."""
    customer = api.get_customer(context(ctx), customer_id)
    render_one(serialize.customer_dict(customer), as_json=as_json, title="customer")
