"""Subscriptions (SPEC 1.4) and their cancellation (SPEC 1.5)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from billing_cli import ids
from billing_cli.api.catalog import require_customer
from billing_cli.api.context import Context, newest_first, parse_int, parse_metadata
from billing_cli.api.prices import require_price
from billing_cli.api.tax_rates import default_tax_rates as resolve_tax_rates
from billing_cli.clock import format_time, from_unix, to_unix
from billing_cli.domain import periods
from billing_cli.domain.models import Price, Subscription, SubscriptionItem
from billing_cli.errors import Conflict, InvalidInput, NotFound, UsageError
from billing_cli.storage.port import LedgerStore

MAX_ITEMS = 20
MAX_QUANTITY = 999_999_999_999_999  # 15 digits, like an event value (SPEC 2.2)
_QUANTITY_RE = re.compile(r"[0-9]{1,15}", re.ASCII)


def parse_price_spec(spec: str) -> tuple[str, int | None]:
    """`PRICE[:QTY]` → (price, quantity or None)."""
    price, sep, qty = spec.rpartition(":")
    if not sep:
        return spec, None
    if not _QUANTITY_RE.fullmatch(qty) or not price:
        raise InvalidInput(
            f"--price {spec!r}: the quantity after ':' must be a whole number "
            f"from 0 to {MAX_QUANTITY}",
            hint="e.g. --price price_seats:3",
        )
    return price, int(qty)


def _price_name(price: Price, typed: dict[str, str]) -> str:
    """The price as the user gave it (a lookup key or an id), then its id when that differs."""
    given = typed.get(price.id, price.id)
    return given if given == price.id else f"{given} ({price.id})"


def _check_items(prices: list[tuple[Price, int | None]], typed: dict[str, str]) -> None:
    if not prices:
        raise UsageError("a subscription needs at least one --price")
    if len(prices) > MAX_ITEMS:
        raise InvalidInput(f"{len(prices)} prices given", hint=f"at most {MAX_ITEMS} items")
    seen: set[str] = set()
    first = prices[0][0]
    first_name = _price_name(first, typed)
    for price, qty in prices:
        name = _price_name(price, typed)
        if price.id in seen:
            raise InvalidInput(f"price {name} appears twice", hint="give each price once")
        seen.add(price.id)
        if not price.active:
            raise InvalidInput(f"price {name} is inactive", hint="use an active price")
        if price.currency != first.currency:
            raise InvalidInput(
                f"price {name} is in {price.currency}, {first_name} in {first.currency}",
                hint="all items of a subscription share one currency",
            )
        if (price.interval, price.interval_count) != (first.interval, first.interval_count):
            raise InvalidInput(
                f"price {name} bills every {_every(price)}, {first_name} every {_every(first)}",
                hint="all items of a subscription share one billing interval",
            )
        if price.usage_type == "metered" and qty is not None:
            raise InvalidInput(
                f"price {name} is metered: its quantity comes from usage",
                hint=f"drop ':{qty}' after the price",
            )


def _every(price: Price) -> str:
    """`month`, `3 months`: how often a price bills, in words."""
    if price.interval_count == 1:
        return price.interval
    return f"{price.interval_count} {price.interval}s"


def _check_meters(
    led: LedgerStore, customer: str, prices: list[Price], start: int, typed: dict[str, str]
) -> None:
    meters: dict[str, Price] = {}
    for price in prices:
        if price.meter is None:
            continue
        if price.meter in meters:
            raise Conflict(
                f"prices {_price_name(meters[price.meter], typed)} and "
                f"{_price_name(price, typed)} both bill meter {price.meter}",
                hint="one event is billed once: use one price per meter",
            )
        meters[price.meter] = price
        for item, sub, ended_at in led.items_on_meter(customer, price.meter):
            if ended_at is None or ended_at > start:
                raise Conflict(
                    f"customer {customer} already has item {item} (subscription {sub}) "
                    f"on meter {price.meter}",
                    hint="cancel that subscription first; one event is never billed twice",
                )


def create_subscription(
    ctx: Context,
    *,
    customer: str,
    prices: list[str],
    billing_cycle_anchor: datetime | None = None,
    backdate_start_date: datetime | None = None,
    trial_end: datetime | None = None,
    trial_period_days: int | str | None = None,
    metadata: list[str] | None = None,
    default_tax_rates: list[str] | None = None,
) -> Subscription:
    specs = [parse_price_spec(s) for s in prices]
    meta = parse_metadata(metadata)
    now = ctx.now_ts
    if trial_end is not None and trial_period_days is not None:
        raise UsageError("--trial-end and --trial-period-days cannot be used together")
    if trial_period_days is not None:
        trial_period_days = parse_int(trial_period_days, field="--trial-period-days", example="14")
    start = now
    if backdate_start_date is not None:
        start = to_unix(backdate_start_date)
        if start > now:
            raise InvalidInput(
                f"--backdate-start-date {format_time(start)} is in the future",
                hint="backdating takes a past time; omit it to start now",
            )
    trial: int | None = None
    if trial_period_days is not None:
        if not 1 <= trial_period_days <= 730:
            raise InvalidInput(
                f"--trial-period-days {trial_period_days} is out of range", hint="use 1 to 730"
            )
        trial = to_unix(from_unix(start) + timedelta(days=trial_period_days))
    elif trial_end is not None:
        trial = to_unix(trial_end)
        if trial <= now or trial <= start:
            raise InvalidInput(
                f"--trial-end {format_time(trial)} is not in the future",
                hint="give a future time, e.g. --trial-period-days 14",
            )
    with ctx.ledger(write=True) as led, led.write():
        cust = require_customer(led, customer)
        resolved = [(require_price(led, p), q) for p, q in specs]
        tax_rates = resolve_tax_rates(led, default_tax_rates or [])
        typed = {price.id: given for (price, _), (given, _) in zip(resolved, specs, strict=True)}
        _check_items(resolved, typed)
        first = resolved[0][0]
        if cust.currency is not None and cust.currency != first.currency:
            raise Conflict(
                f"customer {cust.id} is billed in {cust.currency}, price "
                f"{_price_name(first, typed)} in {first.currency}",
                hint="a customer's subscriptions all use one currency",
            )
        _check_meters(led, cust.id, [p for p, _ in resolved], start, typed)
        anchor = trial if trial is not None else start
        if billing_cycle_anchor is not None:
            anchor = to_unix(billing_cycle_anchor)
            floor = trial if trial is not None else now
            limit = periods.step(from_unix(floor), first.interval, first.interval_count, 1)
            if not floor <= anchor <= to_unix(limit):
                raise InvalidInput(
                    f"--billing-cycle-anchor {format_time(anchor)} is not within one interval "
                    f"after {format_time(floor)}",
                    hint=f"give a time between {format_time(floor)} and {format_time(limit)}",
                )
        sub_id = ids.new_id("sub_")
        items = tuple(
            SubscriptionItem(
                id=ids.new_id("si_"),
                created=now,
                subscription=sub_id,
                price=p.id,
                quantity=(1 if q is None else q) if p.usage_type == "licensed" else None,
            )
            for p, q in resolved
        )
        sub = Subscription(
            id=sub_id,
            created=now,
            customer=cust.id,
            status="trialing" if trial is not None and trial > now else "active",
            currency=first.currency,
            interval=first.interval,
            interval_count=first.interval_count,
            start_date=start,
            billing_cycle_anchor=anchor,
            trial_end=trial,
            cancel_at_period_end=False,
            canceled_at=None,
            ended_at=None,
            items=items,
            metadata=meta,
            default_tax_rates=tax_rates,
        )
        led.insert_subscription(sub)
        if cust.currency is None:
            led.set_customer_currency(cust.id, first.currency)
        # Licensed items are billed in advance: the subscription_create invoice (SPEC 4.2).
        from billing_cli.api.compose import issue_create_invoice

        issue_create_invoice(led, sub, now)
    return sub


def require_subscription(led: LedgerStore, subscription_id: str) -> Subscription:
    sub = led.get_subscription(subscription_id)
    if sub is None:
        raise NotFound(
            f"no subscription {subscription_id!r}", hint="`billing subscription list` shows them"
        )
    return sub


def get_subscription(ctx: Context, subscription_id: str) -> Subscription:
    with ctx.ledger(write=False) as led:
        return require_subscription(led, subscription_id)


def list_subscriptions(ctx: Context, customer: str | None = None) -> list[Subscription]:
    with ctx.ledger(write=False) as led:
        if customer is not None:
            require_customer(led, customer)
        return newest_first(led.list_subscriptions(customer))


def prices_of(ctx: Context, subs: list[Subscription]) -> dict[str, Price]:
    """The prices a rendering of these subscriptions needs, read in one go."""
    with ctx.ledger(write=False) as led:
        return {i.price: require_price(led, i.price) for s in subs for i in s.items}
