"""Prices (SPEC 1.2): how usage or seats turn into money; immutable where money is concerned."""

from __future__ import annotations

from decimal import Decimal

from billing_cli.api.catalog import (
    build_product,
    check_choice,
    new_object_id,
    require_meter,
    require_product,
)
from billing_cli.api.context import Context, check_text, newest_first, parse_int, parse_metadata
from billing_cli.domain import money, periods, pricing
from billing_cli.domain.models import Price, Tier
from billing_cli.errors import Conflict, InvalidInput, NotFound, UsageError
from billing_cli.storage.port import LedgerStore


def _whole_amount(value: int | str, field: str) -> int:
    """An integer amount of minor units; text is diagnosed like any decimal (1e3, NaN, 1,000)."""
    if isinstance(value, int) and not isinstance(value, bool):
        amount = value
    else:
        exact = money.parse_decimal(str(value), field=field)
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


def parse_tiers(specs: list[str] | None, tiers_json: object | None) -> tuple[Tier, ...]:
    """Tiers from `--tier UP_TO:UNIT[:FLAT]` specs or from a parsed `--tiers-json` document."""
    if specs:
        return tuple(pricing.parse_tier_spec(spec) for spec in specs)
    if tiers_json is not None:
        return pricing.parse_tiers_json(tiers_json)
    return ()


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
    check_choice(usage_type, field="--usage-type", choices=("metered", "licensed"))
    if usage_type == "metered" and meter is None:
        raise UsageError("a metered price needs --meter", hint="e.g. --meter mtr_…")
    if usage_type == "licensed" and meter is not None:
        raise UsageError("--meter is only for --usage-type metered")
    scheme = billing_scheme or ("tiered" if tiers or tiers_mode else "per_unit")
    check_choice(scheme, field="--billing-scheme", choices=("per_unit", "tiered"))
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
            check_choice(transform_round, field="--transform-round", choices=("up", "down"))
    else:
        if unit_amount is not None or unit_amount_decimal is not None:
            raise UsageError("a tiered price takes its amounts from --tier, not --unit-amount")
        if transform_divide_by is not None or transform_round is not None:
            raise UsageError("transform_quantity works only with --billing-scheme per_unit")
        if tiers_mode is None:
            raise UsageError("a tiered price needs --tiers-mode graduated|volume")
        check_choice(tiers_mode, field="--tiers-mode", choices=("graduated", "volume"))
        tiers = pricing.validate_tiers(tiers)
    nickname, lookup_key = nickname or None, lookup_key or None
    check_text(nickname, field="--nickname", max_len=250)
    check_text(lookup_key, field="--lookup-key", max_len=200)
    meta = parse_metadata(metadata)
    with ctx.ledger(write=True) as led, led.write():
        new_id = new_object_id(led, "prices", "price_", price_id)
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
            product_id = build_product(
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


def require_price(led: LedgerStore, price_id: str) -> Price:
    price = led.get_price(price_id) or led.get_price_by_lookup_key(price_id)
    if price is None:
        raise NotFound(f"no price {price_id!r}", hint="`billing price list` shows the prices")
    return price


def get_price(ctx: Context, price_id: str) -> Price:
    with ctx.ledger(write=False) as led:
        return require_price(led, price_id)


def list_prices(ctx: Context) -> list[Price]:
    with ctx.ledger(write=False) as led:
        return newest_first(led.list_prices())


def products_by_price(ctx: Context) -> dict[str, str]:
    """price id → product id, for invoice lines (Stripe's `pricing.price_details.product`)."""
    return {p.id: p.product for p in list_prices(ctx)}
