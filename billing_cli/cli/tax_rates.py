"""`billing tax-rate …`: Stripe's tax rates, applied to subscriptions' invoice lines."""

from __future__ import annotations

from typing import Annotated

import typer

from billing_cli.api import tax_rates as api
from billing_cli.cli import context
from billing_cli.cli.catalog import IdArg, Metadata, _time
from billing_cli.cli.output import Column, CsvOption, JsonOption, render_list, render_one
from billing_cli.present.stripe_json import tax_rate_dict

tax_rate_app = typer.Typer(
    no_args_is_help=True,
    help="Tax rates (VAT, sales tax): exclusive ones add tax, inclusive ones contain it.",
)

TAX_RATE_COLUMNS = [
    Column("id", lambda r: r["id"]),
    Column("display_name", lambda r: r["display_name"]),
    Column("percentage", lambda r: f"{r['percentage']} %", right=True),
    Column("inclusive", lambda r: "inclusive" if r["inclusive"] else "exclusive"),
    Column("country", lambda r: r["country"] or ""),
    Column("active", lambda r: "yes" if r["active"] else "no"),
    Column("created", _time),
]

Country = Annotated[str | None, typer.Option(help="ISO 3166-1 alpha-2 code, e.g. DE.")]
Jurisdiction = Annotated[str | None, typer.Option(help="Where the tax applies, e.g. DE.")]
Description = Annotated[str | None, typer.Option(help="Internal description.")]


@tax_rate_app.command("create")
def tax_rate_create(
    ctx: typer.Context,
    display_name: Annotated[str, typer.Option(help="Shown on invoices, e.g. VAT or USt.")],
    percentage: Annotated[str, typer.Option(help="0–100, at most 4 decimals, e.g. 19.")],
    inclusive: Annotated[
        bool, typer.Option("--inclusive", help="Prices already contain this tax.")
    ] = False,
    country: Country = None,
    jurisdiction: Jurisdiction = None,
    description: Description = None,
    metadata: Metadata = None,
    tax_rate_id: Annotated[str | None, typer.Option("--id", help="Choose the id (txr_…).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a tax rate (exclusive unless --inclusive)."""
    rate = api.create_tax_rate(
        context(ctx),
        display_name=display_name,
        percentage=percentage,
        inclusive=inclusive,
        country=country,
        jurisdiction=jurisdiction,
        description=description,
        metadata=metadata,
        tax_rate_id=tax_rate_id,
    )
    render_one(tax_rate_dict(rate), as_json=as_json, title="tax rate")


@tax_rate_app.command("update")
def tax_rate_update(
    ctx: typer.Context,
    tax_rate_id: IdArg,
    display_name: Annotated[str | None, typer.Option(help="Shown on invoices.")] = None,
    percentage: Annotated[
        str | None, typer.Option(help="Only while no issued invoice used the rate.")
    ] = None,
    inclusive: Annotated[
        bool | None,
        typer.Option("--inclusive/--exclusive", help="Only while no issued invoice used it."),
    ] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Inactive rates take no new use.")
    ] = None,
    country: Country = None,
    jurisdiction: Jurisdiction = None,
    description: Description = None,
    metadata: Metadata = None,
    as_json: JsonOption = False,
) -> None:
    """Change a tax rate. A rate an issued invoice used keeps its percentage (exit 5)."""
    rate = api.update_tax_rate(
        context(ctx),
        tax_rate_id,
        display_name=display_name,
        percentage=percentage,
        inclusive=inclusive,
        active=active,
        country=country,
        jurisdiction=jurisdiction,
        description=description,
        metadata=metadata,
    )
    render_one(tax_rate_dict(rate), as_json=as_json, title="tax rate")


@tax_rate_app.command("list")
def tax_rate_list(
    ctx: typer.Context, as_json: JsonOption = False, as_csv: CsvOption = False
) -> None:
    """List tax rates."""
    data = [tax_rate_dict(r) for r in api.list_tax_rates(context(ctx))]
    render_list(data, TAX_RATE_COLUMNS, as_json=as_json, as_csv=as_csv, title="tax rates")


@tax_rate_app.command("show")
def tax_rate_show(ctx: typer.Context, tax_rate_id: IdArg, as_json: JsonOption = False) -> None:
    """Show one tax rate."""
    rate = api.get_tax_rate(context(ctx), tax_rate_id)
    render_one(tax_rate_dict(rate), as_json=as_json, title="tax rate")
