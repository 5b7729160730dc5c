"""`billing account …`: the seller profile printed on every invoice, and the address options
that customers share."""

from __future__ import annotations

from typing import Annotated

import typer

from billing_cli.api import account as api
from billing_cli.api.account import AddressInput
from billing_cli.cli import context
from billing_cli.cli.output import Column, JsonOption, print_json, print_table
from billing_cli.present import stripe_json

account_app = typer.Typer(
    no_args_is_help=True,
    help="The seller profile (business name, address, VAT id) that invoices carry.",
)

Line1 = Annotated[str | None, typer.Option("--address-line1", help="Street and number.")]
Line2 = Annotated[str | None, typer.Option("--address-line2", help="Address line 2.")]
PostalCode = Annotated[str | None, typer.Option("--postal-code", help="Postal code.")]
City = Annotated[str | None, typer.Option("--city", help="City.")]
State = Annotated[str | None, typer.Option("--state", help="State, county or province.")]
Country = Annotated[str | None, typer.Option("--country", help="ISO 3166-1 alpha-2 code, e.g. DE.")]


def address_input(
    line1: str | None,
    line2: str | None,
    postal_code: str | None,
    city: str | None,
    state: str | None,
    country: str | None,
) -> AddressInput:
    return AddressInput(line1, line2, postal_code, city, state, country)


@account_app.command("update")
def account_update(
    ctx: typer.Context,
    business_name: Annotated[
        str | None, typer.Option("--business-name", help="The seller's legal name.")
    ] = None,
    address_line1: Line1 = None,
    address_line2: Line2 = None,
    postal_code: PostalCode = None,
    city: City = None,
    state: State = None,
    country: Country = None,
    tax_id: Annotated[
        str | None, typer.Option("--tax-id", help="The seller's VAT id, e.g. DE123456789.")
    ] = None,
    email: Annotated[str | None, typer.Option("--email", help="Billing contact email.")] = None,
    invoice_footer: Annotated[
        str | None, typer.Option("--invoice-footer", help="Text printed at the foot of invoices.")
    ] = None,
    iban: Annotated[
        str | None, typer.Option("--iban", help="Where customers pay (e-invoices carry it).")
    ] = None,
    bic: Annotated[str | None, typer.Option("--bic", help="The bank's BIC (optional).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Change the seller profile; fields not given stay, an empty value clears one.

    Invoices finalized from now on carry the new details; issued ones keep theirs.
    """
    account = api.update_account(
        context(ctx),
        business_name=business_name,
        address=address_input(address_line1, address_line2, postal_code, city, state, country),
        tax_id=tax_id,
        email=email,
        invoice_footer=invoice_footer,
        iban=iban,
        bic=bic,
    )
    _render(stripe_json.account_dict(account), as_json=as_json)


@account_app.command("show")
def account_show(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show the seller profile."""
    _render(stripe_json.account_dict(api.get_account(context(ctx))), as_json=as_json)


def _render(data: dict, *, as_json: bool) -> None:
    """JSON in Stripe's shape; for people, one row per field with the address on one line."""
    if as_json:
        print_json(data)
        return
    company = data["company"]
    address = company["address"] or {}
    parts = [address.get(k) for k in ("line1", "line2", "postal_code", "city", "state")]
    rows = [
        {"field": "business_name", "value": company["name"]},
        {"field": "address", "value": ", ".join(p for p in parts if p)},
        {"field": "country", "value": address.get("country")},
        {"field": "tax_id", "value": company["vat_id"]},
        {"field": "email", "value": data["email"]},
        {"field": "invoice_footer", "value": data["settings"]["invoices"]["footer"]},
        {"field": "iban", "value": data["bank_account"]["iban"]},
        {"field": "bic", "value": data["bank_account"]["bic"]},
    ]
    columns = [Column("field", lambda r: r["field"]), Column("value", lambda r: r["value"] or "")]
    print_table(columns, rows, title="account")
