"""`billing tax-rate …`: Stripe's tax rates, applied to subscriptions' invoice lines."""

from __future__ import annotations

from typing import Annotated

import typer

from billing_cli.api import tax_rates as api
from billing_cli.cli import context
from billing_cli.cli.catalog import IdArg, Metadata
from billing_cli.cli.output import (
    ID,
    NUMBER,
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
from billing_cli.present.stripe_json import tax_rate_dict

tax_rate_app = typer.Typer(
    no_args_is_help=True,
    help="Tax rates (VAT, sales tax): exclusive ones add tax, inclusive ones contain it.",
)

TAX_RATE_COLUMNS = [
    Column("id", lambda r: r["id"], ID),
    Column("display_name", lambda r: r["display_name"], TEXT),
    # CSV: the plain number (a spreadsheet computes with it), not "19 %".
    Column("percentage", lambda r: f"{r['percentage']} %", NUMBER, csv=lambda r: r["percentage"]),
    Column("inclusive", lambda r: "inclusive" if r["inclusive"] else "exclusive", stack=True),
    Column("country", lambda r: r["country"] or ""),
    Column("active", lambda r: "yes" if r["active"] else "no", stack=True),
    time_column("created", "created"),
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
    ctx: typer.Context,
    limit: LimitOption = None,
    starting_after: StartingAfterOption = None,
    all_: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    as_nl: NlOption = False,
) -> None:
    """List tax rates, newest first."""
    page = Page.of(limit, all_, starting_after)
    data = [tax_rate_dict(r) for r in api.list_tax_rates(context(ctx))]
    render_list(
        after(data, starting_after, "tax rate"),
        TAX_RATE_COLUMNS,
        as_json=as_json,
        as_csv=as_csv,
        as_nl=as_nl,
        title="tax rates",
        page=page,
    )


@tax_rate_app.command("show")
def tax_rate_show(ctx: typer.Context, tax_rate_id: IdArg, as_json: JsonOption = False) -> None:
    """Show one tax rate."""
    rate = api.get_tax_rate(context(ctx), tax_rate_id)
    render_one(tax_rate_dict(rate), as_json=as_json, title="tax rate")
