"""Meters, products, prices and customers (SPEC 1.1–1.3)."""

from __future__ import annotations

import re
import secrets
import string
from decimal import Decimal

from billing_cli import ids, money, periods, pricing
from billing_cli.api.context import (
    Context,
    check_pattern,
    check_text,
    parse_int,
    parse_metadata,
)
from billing_cli.errors import Conflict, InvalidInput, NotFound, UsageError
from billing_cli.ledger import Ledger
from billing_cli.models import Customer, Meter, Price, Product, Tier

EVENT_NAME_RE = re.compile(r"[A-Za-z0-9_.:-]+")
INVOICE_PREFIX_RE = re.compile(r"[A-Z0-9]{3,12}")
FORMULAS = ("sum", "count", "last")
WINDOWS = ("hour", "day")


def _choice(value: str, *, field: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidInput(f"{field} {value!r} is not one of {', '.join(choices)}")
    return value


def _new_id(led: Ledger, table: str, prefix: str, wanted: str | None) -> str:
    if wanted is None:
        return ids.new_id(prefix)
    ids.validate_id(wanted, prefix)
    if led.id_exists(table, wanted):
        raise Conflict(f"{wanted} already exists", hint="choose another --id or omit it")
    return wanted


# -- meters ------------------------------------------------------------------------------
def create_meter(
    ctx: Context,
    *,
    display_name: str,
    event_name: str,
    aggregation: str,
    customer_key: str | None = None,
    value_key: str | None = None,
    event_time_window: str | None = None,
    meter_id: str | None = None,
) -> Meter:
    check_text(display_name, field="--display-name", max_len=250, required=True)
    check_text(event_name, field="--event-name", max_len=100, required=True)
    check_pattern(event_name, field="--event-name", pattern=EVENT_NAME_RE, example="api_tokens")
    _choice(aggregation, field="--aggregation", choices=FORMULAS)
    customer_key = "stripe_customer_id" if customer_key is None else customer_key
    value_key = "value" if value_key is None else value_key
    check_text(customer_key, field="--customer-key", max_len=100, required=True)
    check_text(value_key, field="--value-key", max_len=100, required=True)
    if customer_key == value_key:
        raise InvalidInput(
            f"--customer-key and --value-key are both {customer_key!r}",
            hint="the customer and the value need two different payload keys",
        )
    if event_time_window is not None:
        _choice(event_time_window, field="--event-time-window", choices=WINDOWS)
    with ctx.ledger(write=True) as led, led.write():
        new_id = _new_id(led, "meters", "mtr_", meter_id)
        if led.get_meter_by_event_name(event_name):
            raise Conflict(
                f"a meter with event_name {event_name!r} already exists",
                hint="event names are unique across all meters, active or not",
            )
        meter = Meter(
            id=new_id,
            created=ctx.now_ts,
            display_name=display_name,
            event_name=event_name,
            formula=aggregation,
            customer_key=customer_key,
            value_key=value_key,
            event_time_window=event_time_window,
            status="active",
            updated=ctx.now_ts,
        )
        led.insert_meter(meter)
    return meter


def require_meter(led: Ledger, meter_id: str) -> Meter:
    meter = led.get_meter(meter_id) or led.get_meter_by_event_name(meter_id)
    if meter is None:
        raise NotFound(f"no meter {meter_id!r}", hint="`billing meter list` shows the meters")
    return meter


def get_meter(ctx: Context, meter_id: str) -> Meter:
    with ctx.ledger(write=False) as led:
        return require_meter(led, meter_id)


def list_meters(ctx: Context) -> list[Meter]:
    with ctx.ledger(write=False) as led:
        return led.list_meters()


def update_meter(ctx: Context, meter_id: str, *, display_name: str) -> Meter:
    check_text(display_name, field="--display-name", max_len=250, required=True)
    with ctx.ledger(write=True) as led, led.write():
        meter = require_meter(led, meter_id)
        led.update_meter(meter.id, updated=ctx.now_ts, display_name=display_name)
        return require_meter(led, meter.id)


def set_meter_status(ctx: Context, meter_id: str, *, active: bool) -> Meter:
    wanted = "active" if active else "inactive"
    with ctx.ledger(write=True) as led, led.write():
        meter = require_meter(led, meter_id)
        if meter.status == wanted:
            raise Conflict(f"meter {meter.id} is already {wanted}")
        led.update_meter(meter.id, updated=ctx.now_ts, status=wanted)
        return require_meter(led, meter.id)


# -- products ----------------------------------------------------------------------------
def _build_product(
    led: Ledger,
    now: int,
    *,
    name: str,
    description: str | None,
    unit_label: str | None,
    metadata: dict[str, str],
    product_id: str | None,
    name_field: str = "--name",
) -> Product:
    check_text(name, field=name_field, max_len=250, required=True)
    check_text(description, field="--description", max_len=1000)
    check_text(unit_label, field="--unit-label", max_len=12)
    product = Product(
        id=_new_id(led, "products", "prod_", product_id),
        created=now,
        name=name,
        description=description,
        unit_label=unit_label,
        active=True,
        metadata=metadata,
    )
    led.insert_product(product)
    return product


def create_product(
    ctx: Context,
    *,
    name: str,
    description: str | None = None,
    unit_label: str | None = None,
    metadata: list[str] | None = None,
    product_id: str | None = None,
) -> Product:
    meta = parse_metadata(metadata)
    with ctx.ledger(write=True) as led, led.write():
        return _build_product(
            led,
            ctx.now_ts,
            name=name,
            description=description,
            unit_label=unit_label,
            metadata=meta,
            product_id=product_id,
        )


def require_product(led: Ledger, product_id: str) -> Product:
    product = led.get_product(product_id)
    if product is None:
        raise NotFound(f"no product {product_id!r}", hint="`billing product list` shows them")
    return product


def get_product(ctx: Context, product_id: str) -> Product:
    with ctx.ledger(write=False) as led:
        return require_product(led, product_id)


def list_products(ctx: Context) -> list[Product]:
    with ctx.ledger(write=False) as led:
        return led.list_products()


# -- prices ------------------------------------------------------------------------------
def _whole_amount(value: int | str, field: str) -> int:
    """An integer amount of minor units; text is diagnosed like any decimal (1e3, NaN, 1,000)."""
    if isinstance(value, int) and not isinstance(value, bool):
        amount = value
    else:
        exact = money.parse_decimal(value, field=field)
        if exact != exact.to_integral_value():
            raise InvalidInput(
                f"{field} {value!r} is not a whole number of minor units",
                hint="use --unit-amount-decimal for fractions of a minor unit, e.g. 0.5",
            )
        amount = int(exact)
    if amount < 0:
        raise InvalidInput(f"{field} {value} is negative", hint="use an integer ≥ 0")
    return amount


def _unit_amount(unit_amount: int | str | None, unit_amount_decimal: str | None) -> Decimal:
    if unit_amount is not None and unit_amount_decimal is not None:
        raise UsageError("--unit-amount and --unit-amount-decimal cannot be used together")
    if unit_amount is not None:
        field, unit = "--unit-amount", Decimal(_whole_amount(unit_amount, "--unit-amount"))
    elif unit_amount_decimal is None:
        raise UsageError(
            "a per-unit price needs --unit-amount or --unit-amount-decimal",
            hint="e.g. --unit-amount 4 (minor units: 4 = 0.04 USD)",
        )
    else:
        field = "--unit-amount-decimal"
        unit = money.parse_decimal(
            unit_amount_decimal, field=field, max_decimal_places=12, allow_negative=False
        )
    if unit > pricing.MAX_AMOUNT:  # else display and invoice lines overflow later
        raise InvalidInput(
            f"{field} is {unit.adjusted() + 1} digits long",
            hint=f"amounts are at most {pricing.MAX_AMOUNT:,} minor units",
        )
    return unit


def create_price(
    ctx: Context,
    *,
    currency: str,
    interval: str,
    usage_type: str,
    product: str | None = None,
    product_name: str | None = None,
    unit_amount: int | str | None = None,
    unit_amount_decimal: str | None = None,
    billing_scheme: str | None = None,
    tiers_mode: str | None = None,
    tiers: tuple[Tier, ...] = (),
    transform_divide_by: int | str | None = None,
    transform_round: str | None = None,
    interval_count: int | str = 1,
    meter: str | None = None,
    nickname: str | None = None,
    lookup_key: str | None = None,
    metadata: list[str] | None = None,
    price_id: str | None = None,
) -> Price:
    if (product is None) == (product_name is None):
        raise UsageError("give exactly one of --product and --product-name")
    if product_name is not None:
        check_text(product_name, field="--product-name", max_len=250, required=True)
    currency = money.normalize_currency(currency)
    interval_count = parse_int(interval_count, field="--interval-count")
    if transform_divide_by is not None:
        transform_divide_by = parse_int(
            transform_divide_by, field="--transform-divide-by", example="100"
        )
    periods.validate_interval(interval, interval_count)
    _choice(usage_type, field="--usage-type", choices=("metered", "licensed"))
    if usage_type == "metered" and meter is None:
        raise UsageError("a metered price needs --meter", hint="e.g. --meter mtr_…")
    if usage_type == "licensed" and meter is not None:
        raise UsageError("--meter is only for --usage-type metered")
    scheme = billing_scheme or ("tiered" if tiers or tiers_mode else "per_unit")
    _choice(scheme, field="--billing-scheme", choices=("per_unit", "tiered"))
    unit: Decimal | None = None
    if scheme == "per_unit":
        if tiers or tiers_mode:
            raise UsageError("--tier/--tiers-mode need --billing-scheme tiered")
        unit = _unit_amount(unit_amount, unit_amount_decimal)
        if (transform_divide_by is None) != (transform_round is None):
            raise UsageError("--transform-divide-by and --transform-round go together")
        if transform_divide_by is not None and transform_divide_by < 1:
            raise InvalidInput(
                f"--transform-divide-by {transform_divide_by} is below 1", hint="e.g. 100"
            )
        if transform_round is not None:
            _choice(transform_round, field="--transform-round", choices=("up", "down"))
    else:
        if unit_amount is not None or unit_amount_decimal is not None:
            raise UsageError("a tiered price takes its amounts from --tier, not --unit-amount")
        if transform_divide_by is not None or transform_round is not None:
            raise UsageError("transform_quantity works only with --billing-scheme per_unit")
        if tiers_mode is None:
            raise UsageError("a tiered price needs --tiers-mode graduated|volume")
        _choice(tiers_mode, field="--tiers-mode", choices=("graduated", "volume"))
        tiers = pricing.validate_tiers(tiers)
    nickname, lookup_key = nickname or None, lookup_key or None
    check_text(nickname, field="--nickname", max_len=250)
    check_text(lookup_key, field="--lookup-key", max_len=200)
    meta = parse_metadata(metadata)
    with ctx.ledger(write=True) as led, led.write():
        new_id = _new_id(led, "prices", "price_", price_id)
        meter_id = None
        if meter is not None:
            found = require_meter(led, meter)
            if found.status != "active":
                raise InvalidInput(
                    f"meter {found.id} is inactive and cannot be attached to a new price",
                    hint=f"reactivate it first: billing meter reactivate {found.id}",
                )
            meter_id = found.id
        if lookup_key and led.get_price_by_lookup_key(lookup_key):
            raise Conflict(f"an active price already has lookup_key {lookup_key!r}")
        if product is not None:
            product_id = require_product(led, product).id
        else:
            product_id = _build_product(
                led,
                ctx.now_ts,
                name=product_name or "",
                description=None,
                unit_label=None,
                metadata={},
                product_id=None,
                name_field="--product-name",
            ).id
        price = Price(
            id=new_id,
            created=ctx.now_ts,
            product=product_id,
            currency=currency,
            nickname=nickname,
            lookup_key=lookup_key,
            active=True,
            interval=interval,
            interval_count=interval_count,
            usage_type=usage_type,
            meter=meter_id,
            billing_scheme=scheme,
            unit_amount_decimal=unit,
            tiers_mode=tiers_mode if scheme == "tiered" else None,
            tiers=tiers if scheme == "tiered" else (),
            transform_divide_by=transform_divide_by,
            transform_round=transform_round,
            metadata=meta,
        )
        led.insert_price(price)
    return price


def require_price(led: Ledger, price_id: str) -> Price:
    price = led.get_price(price_id) or led.get_price_by_lookup_key(price_id)
    if price is None:
        raise NotFound(f"no price {price_id!r}", hint="`billing price list` shows the prices")
    return price


def get_price(ctx: Context, price_id: str) -> Price:
    with ctx.ledger(write=False) as led:
        return require_price(led, price_id)


def list_prices(ctx: Context) -> list[Price]:
    with ctx.ledger(write=False) as led:
        return led.list_prices()


# -- customers ---------------------------------------------------------------------------
def _generate_prefix(led: Ledger) -> str:
    alphabet = string.ascii_uppercase + string.digits
    while True:
        prefix = "".join(secrets.choice(alphabet) for _ in range(8))
        if not led.invoice_prefix_taken(prefix):
            return prefix


def create_customer(
    ctx: Context,
    *,
    name: str | None = None,
    email: str | None = None,
    invoice_prefix: str | None = None,
    metadata: list[str] | None = None,
    customer_id: str | None = None,
) -> Customer:
    check_text(name, field="--name", max_len=256)
    check_text(email, field="--email", max_len=512)
    if email is not None and (email.count("@") != 1 or " " in email or email.startswith("@")):
        raise InvalidInput(
            f"--email {email!r} is not an email address", hint="e.g. max@example.com"
        )
    if invoice_prefix is not None:
        check_pattern(
            invoice_prefix, field="--invoice-prefix", pattern=INVOICE_PREFIX_RE, example="ALPACA"
        )
    meta = parse_metadata(metadata)
    with ctx.ledger(write=True) as led, led.write():
        new_id = _new_id(led, "customers", "cus_", customer_id)
        if invoice_prefix is None:
            invoice_prefix = _generate_prefix(led)
        elif led.invoice_prefix_taken(invoice_prefix):
            raise Conflict(
                f"invoice prefix {invoice_prefix!r} is already used by another customer",
                hint="invoice prefixes are unique; choose another or omit it",
            )
        customer = Customer(
            id=new_id,
            created=ctx.now_ts,
            name=name,
            email=email,
            invoice_prefix=invoice_prefix,
            next_invoice_sequence=1,
            currency=None,
            balance=0,
            metadata=meta,
        )
        led.insert_customer(customer)
    return customer


def require_customer(led: Ledger, customer_id: str) -> Customer:
    customer = led.get_customer(customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id!r}", hint="`billing customer list` shows them")
    return customer


def get_customer(ctx: Context, customer_id: str) -> Customer:
    with ctx.ledger(write=False) as led:
        return require_customer(led, customer_id)


def list_customers(ctx: Context) -> list[Customer]:
    with ctx.ledger(write=False) as led:
        return led.list_customers()
