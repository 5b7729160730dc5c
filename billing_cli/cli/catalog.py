"""`billing meter|product|price …`: parse, call the api, render."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from billing_cli.api import catalog as api
from billing_cli.api import prices as prices_api
from billing_cli.cli import context
from billing_cli.cli.completion import complete_id
from billing_cli.cli.output import (
    AMOUNT,
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
from billing_cli.errors import InvalidInput, UsageError
from billing_cli.present import stripe_json as serialize
from billing_cli.present.amounts import format_unit_amount

meter_app = typer.Typer(no_args_is_help=True, help="Meters: what usage is counted and how.")
product_app = typer.Typer(no_args_is_help=True, help="Products: what prices are for.")
price_app = typer.Typer(no_args_is_help=True, help="Prices: how usage or seats turn into money.")

IdArg = Annotated[
    str, typer.Argument(metavar="ID", help="The object's id.", autocompletion=complete_id)
]
Metadata = Annotated[
    list[str] | None, typer.Option("--metadata", help="KEY=VALUE, repeatable (≤ 50 keys).")
]


# -- meters ------------------------------------------------------------------------------
METER_COLUMNS = [
    Column("id", lambda r: r["id"], ID),
    Column("display_name", lambda r: r["display_name"], TEXT),
    Column("event_name", lambda r: r["event_name"], ID),
    Column("formula", lambda r: r["default_aggregation"]["formula"], stack=True),
    Column("customer_key", lambda r: r["customer_mapping"]["event_payload_key"]),
    Column("value_key", lambda r: r["value_settings"]["event_payload_key"], stack=True),
    Column("window", lambda r: r["event_time_window"]),
    Column("status", lambda r: r["status"], stack=True),
    time_column("created", "created"),
]


@meter_app.command("create")
def meter_create(
    ctx: typer.Context,
    display_name: Annotated[str, typer.Option(help="Name shown to people (≤ 250 chars).")],
    event_name: Annotated[str, typer.Option(help="Name events carry ([A-Za-z0-9_.:-], unique).")],
    aggregation: Annotated[str, typer.Option(help="Formula: sum, count or last.")],
    customer_key: Annotated[
        str | None, typer.Option(help="Payload key naming the customer [stripe_customer_id].")
    ] = None,
    value_key: Annotated[str | None, typer.Option(help="Payload key of the value [value].")] = None,
    event_time_window: Annotated[
        str | None, typer.Option(help="Pre-aggregated meter: hour or day (latest event wins).")
    ] = None,
    meter_id: Annotated[str | None, typer.Option("--id", help="Choose the id (mtr_…).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a meter (Stripe's billing.meter)."""
    meter = api.create_meter(
        context(ctx),
        display_name=display_name,
        event_name=event_name,
        aggregation=aggregation,
        customer_key=customer_key,
        value_key=value_key,
        event_time_window=event_time_window,
        meter_id=meter_id,
    )
    render_one(serialize.meter_dict(meter), as_json=as_json, title="meter")


@meter_app.command("list")
def meter_list(
    ctx: typer.Context,
    limit: LimitOption = None,
    starting_after: StartingAfterOption = None,
    all_: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    as_nl: NlOption = False,
) -> None:
    """List all meters, active and inactive, newest first."""
    page = Page.of(limit, all_, starting_after)
    data = [serialize.meter_dict(x) for x in api.list_meters(context(ctx))]
    render_list(
        after(data, starting_after, "meter"),
        METER_COLUMNS,
        as_json=as_json,
        as_csv=as_csv,
        as_nl=as_nl,
        title="meters",
        page=page,
    )


@meter_app.command("show")
def meter_show(ctx: typer.Context, meter_id: IdArg, as_json: JsonOption = False) -> None:
    """Show one meter (by id or event name)."""
    meter = api.get_meter(context(ctx), meter_id)
    render_one(serialize.meter_dict(meter), as_json=as_json, title="meter")


@meter_app.command("update")
def meter_update(
    ctx: typer.Context,
    meter_id: IdArg,
    display_name: Annotated[str, typer.Option(help="The new display name.")],
    as_json: JsonOption = False,
) -> None:
    """Change a meter's display name (the only mutable field)."""
    meter = api.update_meter(context(ctx), meter_id, display_name=display_name)
    render_one(serialize.meter_dict(meter), as_json=as_json, title="meter")


@meter_app.command("deactivate")
def meter_deactivate(ctx: typer.Context, meter_id: IdArg, as_json: JsonOption = False) -> None:
    """Stop a meter accepting events and new prices (meters are never deleted)."""
    meter = api.set_meter_status(context(ctx), meter_id, active=False)
    render_one(serialize.meter_dict(meter), as_json=as_json, title="meter")


@meter_app.command("reactivate")
def meter_reactivate(ctx: typer.Context, meter_id: IdArg, as_json: JsonOption = False) -> None:
    """Make an inactive meter accept events again."""
    meter = api.set_meter_status(context(ctx), meter_id, active=True)
    render_one(serialize.meter_dict(meter), as_json=as_json, title="meter")


# -- products ----------------------------------------------------------------------------
PRODUCT_COLUMNS = [
    Column("id", lambda r: r["id"], ID),
    Column("name", lambda r: r["name"], TEXT),
    Column("unit_label", lambda r: r["unit_label"], TEXT),
    Column("active", lambda r: r["active"]),
    time_column("created", "created", stack=True),
]


@product_app.command("create")
def product_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Product name (shown on invoice lines).")],
    description: Annotated[str | None, typer.Option(help="Longer description.")] = None,
    unit_label: Annotated[str | None, typer.Option(help="Unit shown to customers (≤ 12).")] = None,
    metadata: Metadata = None,
    product_id: Annotated[str | None, typer.Option("--id", help="Choose the id (prod_…).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a product."""
    product = api.create_product(
        context(ctx),
        name=name,
        description=description,
        unit_label=unit_label,
        metadata=metadata,
        product_id=product_id,
    )
    render_one(serialize.product_dict(product), as_json=as_json, title="product")


@product_app.command("list")
def product_list(
    ctx: typer.Context,
    limit: LimitOption = None,
    starting_after: StartingAfterOption = None,
    all_: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    as_nl: NlOption = False,
) -> None:
    """List products, newest first."""
    page = Page.of(limit, all_, starting_after)
    data = [serialize.product_dict(x) for x in api.list_products(context(ctx))]
    render_list(
        after(data, starting_after, "product"),
        PRODUCT_COLUMNS,
        as_json=as_json,
        as_csv=as_csv,
        as_nl=as_nl,
        title="products",
        page=page,
    )


@product_app.command("show")
def product_show(ctx: typer.Context, product_id: IdArg, as_json: JsonOption = False) -> None:
    """Show one product."""
    product = api.get_product(context(ctx), product_id)
    render_one(serialize.product_dict(product), as_json=as_json, title="product")


# -- prices ------------------------------------------------------------------------------
def _price_amount(row: dict) -> str:
    if row["billing_scheme"] == "tiered":
        count = len(row["tiers"])
        return f"{row['tiers_mode']} ({count} tier{'' if count == 1 else 's'})"
    return row["unit_amount_decimal"]


def _unit_price(row: dict) -> str:
    """The unit price in major units with every digit (SPEC 3.2): 0.04 minor = 0.0004 USD."""
    if row["billing_scheme"] == "tiered":
        return ""
    return format_unit_amount(Decimal(row["unit_amount_decimal"]), row["currency"])


PRICE_COLUMNS = [
    Column("id", lambda r: r["id"], ID),
    Column("product", lambda r: r["product"], ID, stack=True),
    Column("currency", lambda r: r["currency"]),
    Column("billing_scheme", lambda r: r["billing_scheme"], where="csv"),
    Column("tiers_mode", lambda r: r["tiers_mode"], where="csv"),
    # CSV keeps the number (minor units, Stripe's field); a table also names tiered prices.
    Column("unit_amount_decimal", _price_amount, NUMBER, csv=lambda r: r["unit_amount_decimal"]),
    Column("unit_price", _unit_price, AMOUNT, where="table", stack=True),
    Column(
        "transform",
        lambda r: (
            f"/{r['transform_quantity']['divide_by']} {r['transform_quantity']['round']}"
            if r["transform_quantity"]
            else ""
        ),
    ),
    Column(
        "interval",
        lambda r: f"{r['recurring']['interval_count']} {r['recurring']['interval']}",
    ),
    Column("usage_type", lambda r: r["recurring"]["usage_type"], stack=True),
    Column("meter", lambda r: r["recurring"]["meter"], ID),
    Column("lookup_key", lambda r: r["lookup_key"], ID, stack=True),
    Column("active", lambda r: r["active"]),
]


def _read_tiers_json(source: str) -> object:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"--tiers-json {source!r}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"--tiers-json {source!r} is not UTF-8") from exc
    try:
        data = json.loads(text, parse_float=lambda s: _refuse_float(s, source))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--tiers-json {source!r} is not valid JSON: {exc.msg}") from exc
    except (ValueError, RecursionError) as exc:  # a 5000-digit number, arrays nested 10^5 deep
        raise InvalidInput(
            f"--tiers-json {source!r} is not a tiers array: {type(exc).__name__}",
            hint='e.g. [{"up_to": 5, "unit_amount": 700}, {"up_to": "inf", "unit_amount": 600}]',
        ) from exc
    if isinstance(data, list):
        # Stripe shows the last tier as `"up_to": null`: accept `price show --json` output back.
        data = [
            {**t, "up_to": "inf"}
            if isinstance(t, dict) and "up_to" in t and t["up_to"] is None
            else t
            for t in data
        ]
    return data


def _refuse_float(text: str, source: str) -> object:
    raise InvalidInput(
        f"--tiers-json {source!r}: {text} is a JSON number with a fraction",
        hint='give fractional amounts as strings: "unit_amount_decimal": "0.5"',
    )


@price_app.command("create")
def price_create(
    ctx: typer.Context,
    currency: Annotated[str, typer.Option(help="ISO 4217 code, e.g. usd.")],
    interval: Annotated[str, typer.Option(help="day, week, month or year.")],
    usage_type: Annotated[str, typer.Option(help="metered (needs --meter) or licensed.")],
    product: Annotated[str | None, typer.Option(help="Existing product id.")] = None,
    product_name: Annotated[str | None, typer.Option(help="Create a product inline.")] = None,
    unit_amount: Annotated[
        str | None, typer.Option(help="Whole minor units per unit (4 = 0.04 USD).")
    ] = None,
    unit_amount_decimal: Annotated[
        str | None, typer.Option(help="Minor units per unit, decimal (≤ 12 places).")
    ] = None,
    billing_scheme: Annotated[
        str | None, typer.Option(help="per_unit (default) or tiered.")
    ] = None,
    tiers_mode: Annotated[str | None, typer.Option(help="graduated or volume.")] = None,
    tier: Annotated[
        list[str] | None,
        typer.Option(help='Repeatable: "up_to=5,unit_amount=700", "up_to=inf,flat_amount=100".'),
    ] = None,
    tiers_json: Annotated[
        str | None, typer.Option(help="File (or - for stdin) with Stripe's tiers array.")
    ] = None,
    transform_divide_by: Annotated[
        str | None, typer.Option(help="Bill per package of N units (N ≥ 1).")
    ] = None,
    transform_round: Annotated[str | None, typer.Option(help="up or down.")] = None,
    interval_count: Annotated[
        str, typer.Option(help="Intervals per period, 1 up to 3 years (e.g. 36 months).")
    ] = "1",
    meter: Annotated[str | None, typer.Option(help="Meter of a metered price.")] = None,
    nickname: Annotated[str | None, typer.Option(help="Internal name.")] = None,
    lookup_key: Annotated[str | None, typer.Option(help="Unique key among active prices.")] = None,
    metadata: Metadata = None,
    price_id: Annotated[str | None, typer.Option("--id", help="Choose the id (price_…).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a recurring price: per-unit (optionally per package) or tiered."""
    if tier and tiers_json:
        raise UsageError("--tier and --tiers-json cannot be used together")
    tiers = prices_api.parse_tiers(tier, _read_tiers_json(tiers_json) if tiers_json else None)
    price = prices_api.create_price(
        context(ctx),
        currency=currency,
        interval=interval,
        usage_type=usage_type,
        product=product,
        product_name=product_name,
        unit_amount=unit_amount,
        unit_amount_decimal=unit_amount_decimal,
        billing_scheme=billing_scheme,
        tiers_mode=tiers_mode,
        tiers=tiers,
        transform_divide_by=transform_divide_by,
        transform_round=transform_round,
        interval_count=interval_count,
        meter=meter,
        nickname=nickname,
        lookup_key=lookup_key,
        metadata=metadata,
        price_id=price_id,
    )
    render_one(serialize.price_dict(price), as_json=as_json, title="price")


@price_app.command("list")
def price_list(
    ctx: typer.Context,
    limit: LimitOption = None,
    starting_after: StartingAfterOption = None,
    all_: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    as_nl: NlOption = False,
) -> None:
    """List prices, newest first."""
    page = Page.of(limit, all_, starting_after)
    data = [serialize.price_dict(x) for x in prices_api.list_prices(context(ctx))]
    render_list(
        after(data, starting_after, "price"),
        PRICE_COLUMNS,
        as_json=as_json,
        as_csv=as_csv,
        as_nl=as_nl,
        title="prices",
        page=page,
    )


@price_app.command("show")
def price_show(ctx: typer.Context, price_id: IdArg, as_json: JsonOption = False) -> None:
    """Show one price (by id or lookup key)."""
    price = prices_api.get_price(context(ctx), price_id)
    render_one(serialize.price_dict(price), as_json=as_json, title="price")
