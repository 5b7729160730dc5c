"""`billing subscription …`."""

from __future__ import annotations

from typing import Annotated

import typer

from billing_cli.api import subscriptions as api
from billing_cli.cli import context
from billing_cli.cli.catalog import IdArg, Metadata
from billing_cli.cli.output import (
    ID,
    TIME,
    AllOption,
    Column,
    CsvOption,
    JsonOption,
    LimitOption,
    NlOption,
    StartingAfterOption,
)
from billing_cli.cli.render import Page, after, render_list, render_one
from billing_cli.clock import format_time, parse_time
from billing_cli.present import stripe_json as serialize

subscription_app = typer.Typer(
    no_args_is_help=True, help="Subscriptions: a customer's prices and billing periods."
)


def _start(row: dict) -> str:
    return format_time(row["billing_cli"]["current_period_start"])


def _end(row: dict) -> str:
    return format_time(row["billing_cli"]["current_period_end"])


SUBSCRIPTION_COLUMNS = [
    Column("id", lambda r: r["id"], ID),
    Column("customer", lambda r: r["customer"], ID, stack=True),
    Column("status", lambda r: r["status"]),
    Column("cancel_at_period_end", lambda r: r["cancel_at_period_end"], stack=True),
    # One price per line in a table; space-separated in CSV.
    Column(
        "prices",
        lambda r: tuple(i["price"]["id"] for i in r["items"]["data"]),
        ID,
        csv=lambda r: " ".join(i["price"]["id"] for i in r["items"]["data"]),
    ),
    # the period is Stripe's on each item, repeated under billing_cli (one for all items)
    Column("current_period", lambda r: (_start(r), _end(r)), TIME, where="table"),
    Column("current_period_start", _start, TIME, where="csv"),
    Column("current_period_end", _end, TIME, where="csv"),
]


def _opt_time(value: str | None, field: str):  # noqa: ANN202
    return None if value is None else parse_time(value, field=field)


@subscription_app.command("create")
def subscription_create(
    ctx: typer.Context,
    customer: Annotated[str, typer.Option(help="Customer id.")],
    price: Annotated[
        list[str], typer.Option(help="PRICE[:QTY], repeatable (1–20 items; QTY for licensed).")
    ],
    billing_cycle_anchor: Annotated[
        str | None, typer.Option(help="Future time within one interval: first short period.")
    ] = None,
    backdate_start_date: Annotated[str | None, typer.Option(help="A past start date.")] = None,
    trial_end: Annotated[str | None, typer.Option(help="End of a free trial.")] = None,
    trial_period_days: Annotated[
        str | None, typer.Option(help="Trial length in days (1–730), from the start date.")
    ] = None,
    metadata: Metadata = None,
    default_tax_rate: Annotated[
        list[str] | None,
        typer.Option("--default-tax-rate", help="Tax rate id (txr_…) for every line, repeatable."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Subscribe a customer to one or more prices."""
    c = context(ctx)
    sub = api.create_subscription(
        c,
        customer=customer,
        prices=price,
        billing_cycle_anchor=_opt_time(billing_cycle_anchor, "--billing-cycle-anchor"),
        backdate_start_date=_opt_time(backdate_start_date, "--backdate-start-date"),
        trial_end=_opt_time(trial_end, "--trial-end"),
        trial_period_days=trial_period_days,
        metadata=metadata,
        default_tax_rates=default_tax_rate,
    )
    prices = api.prices_of(c, [sub])
    data = serialize.subscription_dict(sub, prices, c.now_ts)
    render_one(data, as_json=as_json, title="subscription")


@subscription_app.command("list")
def subscription_list(
    ctx: typer.Context,
    customer: Annotated[str | None, typer.Option(help="Only this customer's.")] = None,
    limit: LimitOption = None,
    starting_after: StartingAfterOption = None,
    all_: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    as_nl: NlOption = False,
) -> None:
    """List subscriptions with their current period, newest first."""
    page = Page.of(limit, all_, starting_after)
    c = context(ctx)
    subs = api.list_subscriptions(c, customer)
    prices = api.prices_of(c, subs)
    data = [serialize.subscription_dict(s, prices, c.now_ts) for s in subs]
    render_list(
        after(data, starting_after, "subscription"),
        SUBSCRIPTION_COLUMNS,
        as_json=as_json,
        as_csv=as_csv,
        as_nl=as_nl,
        title="subscriptions",
        page=page,
    )


@subscription_app.command("show")
def subscription_show(
    ctx: typer.Context, subscription_id: IdArg, as_json: JsonOption = False
) -> None:
    """Show one subscription, its items and its current period."""
    c = context(ctx)
    sub = api.get_subscription(c, subscription_id)
    prices = api.prices_of(c, [sub])
    render_one(
        serialize.subscription_dict(sub, prices, c.now_ts), as_json=as_json, title="subscription"
    )


@subscription_app.command("cancel")
def subscription_cancel(
    ctx: typer.Context,
    subscription_id: IdArg,
    at_period_end: Annotated[
        bool, typer.Option("--at-period-end", help="End at the current period's end.")
    ] = False,
    invoice_now: Annotated[
        bool,
        typer.Option("--invoice-now", help="Ending now: invoice the usage since period start."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Cancel a subscription, now or at the end of its current period (SPEC 1.5)."""
    from billing_cli.api.invoices import cancel_subscription
    from billing_cli.cli.output import note

    c = context(ctx)
    result = cancel_subscription(
        c, subscription_id, at_period_end=at_period_end, invoice_now=invoice_now
    )
    sub = result.subscription
    if result.invoice is not None:
        note(
            f"final invoice {result.invoice.id} (subscription_cancel) created as a draft; "
            "`billing invoice run` finalizes it after the grace period"
        )
    if result.usage_discarded:
        note(
            "metered usage since the period start is not billed (as in Stripe); "
            "use --invoice-now to invoice it"
        )
    prices = api.prices_of(c, [sub])
    render_one(
        serialize.subscription_dict(sub, prices, c.now_ts), as_json=as_json, title="subscription"
    )
