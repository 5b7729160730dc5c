"""Invoice lines (SPEC 4.1, 1.4, 2.6): one item and one period → one line with its `explain`.

Pure, like `invoicing`, which assembles these lines into invoices. Every amount comes from
`pricing.price_line_amount` (or `pricing.prorate` for a short licensed period), so each line is
rounded exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Any

from billing_cli.clock import from_unix, to_unix
from billing_cli.domain import periods
from billing_cli.domain.aggregation import Aggregate, billable_quantity
from billing_cli.domain.models import Meter, Price, Product, Subscription, SubscriptionItem
from billing_cli.domain.money import (
    DECIMAL_CONTEXT,
    INT64_MAX,
    decimal_str,
    fits_int64,
    format_amount,
)
from billing_cli.domain.pricing import LineAmount, price_line_amount, prorate
from billing_cli.domain.tax import LineTax
from billing_cli.errors import AmountOutOfRange

CREATE = "subscription_create"
CYCLE = "subscription_cycle"
CANCEL = "subscription_cancel"

UsageFn = Callable[[Meter, int, int], Aggregate]
"""(meter, start, end) → SPEC 2.7 aggregate for the invoice's customer, as of a bound time."""

_ZERO = Decimal(0)


@dataclass(frozen=True)
class Catalog:
    """The catalog objects an invoice of one subscription refers to."""

    prices: Mapping[str, Price]
    products: Mapping[str, Product]
    meters: Mapping[str, Meter]


@dataclass(frozen=True)
class PretaxCredit:
    """One entry of a line's `pretax_credit_amounts`: what one credit grant paid of the line
    before tax. The debit transaction's id is set when the invoice is finalized (a preview or a
    draft shows what would apply, with no transaction yet)."""

    amount: int
    credit_grant: str
    credit_balance_transaction: str | None = None


@dataclass(frozen=True)
class Line:
    """One invoice line (SPEC 4.1); `explain` holds every intermediate of the computation."""

    type: str  # subscription | late_usage
    description: str
    period_start: int
    period_end: int
    quantity_decimal: Decimal
    amount: int
    subscription_item: str | None = None
    price: str | None = None
    meter: str | None = None
    unit_amount_decimal: Decimal | None = None
    proration: bool = False
    explain: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None
    taxes: tuple[LineTax, ...] = ()
    pretax_credit_amounts: tuple[PretaxCredit, ...] = ()

    @property
    def quantity(self) -> int:
        """Stripe's integer quantity: the decimal one with its fraction truncated."""
        return int(self.quantity_decimal)

    @property
    def pretax_credit_total(self) -> int:
        """What billing credits paid of this line; tax is computed on `amount` minus this."""
        return sum(c.amount for c in self.pretax_credit_amounts)


def usage_window(sub: Subscription, start: int, end: int) -> tuple[int, int]:
    """The part of [start, end) after the trial: events before trial_end count nowhere."""
    if sub.trial_end is None:
        return start, end
    return max(start, min(sub.trial_end, end)), end


# -- the 64-bit limit --------------------------------------------------------------------------


def out_of_range(
    what: str, value: int, currency: str, customer: str, line: Line
) -> AmountOutOfRange:
    """The refusal of an amount the ledger cannot store, naming what a user can act on: the
    price, the customer and the quantity that produced it."""
    shown = format_amount(value, currency) if what != "quantity" else str(value)
    return AmountOutOfRange(
        f"{what} {shown} for customer {customer}, price {line.price}, quantity "
        f"{decimal_str(line.quantity_decimal)} is outside the range the ledger stores "
        f"(signed 64-bit: at most {INT64_MAX:,} minor units)",
        hint="check the price's unit amount and the usage sent for this customer; cancel a "
        "wrong event with `billing event cancel`",
    )


def checked(line: Line, *, customer: str, currency: str) -> Line:
    """Refuse a line whose amount or integer quantity does not fit a signed 64-bit integer."""
    if not fits_int64(line.amount):
        raise out_of_range("amount", line.amount, currency, customer, line)
    if not fits_int64(line.quantity):
        raise out_of_range("quantity", line.quantity, currency, customer, line)
    return line


# -- lines --------------------------------------------------------------------------------------


def _full_period(sub: Subscription, end: int) -> tuple[int, int]:
    """The grid period [anchor + (j-1) interval, anchor + j interval) that ends at `end`."""
    anchor = from_unix(sub.billing_cycle_anchor)
    j = periods.period_index(anchor, sub.interval, sub.interval_count, from_unix(end))
    upper = to_unix(periods.step(anchor, sub.interval, sub.interval_count, j))
    lower = to_unix(periods.step(anchor, sub.interval, sub.interval_count, j - 1))
    return lower, upper


def _prorated(exact: Decimal, seconds: int, full_seconds: int) -> int:
    """exact × seconds / full_seconds, rounded once; a backdated first period may exceed 1."""
    if seconds <= full_seconds:
        return prorate(exact, seconds, full_seconds)
    m = -(-seconds // full_seconds)  # ceil in integers, never through float
    with localcontext(DECIMAL_CONTEXT):
        scaled = exact * m
    return prorate(scaled, seconds, full_seconds * m)


def _pricing_explain(price: Price, la: LineAmount) -> dict[str, Any]:
    transform = None
    if price.transform_divide_by is not None:
        transform = {"divide_by": price.transform_divide_by, "round": price.transform_round}
    return {
        "quantity": decimal_str(la.quantity),
        "transform_quantity": transform,
        "transformed_quantity": decimal_str(la.transformed_quantity),
        "billing_scheme": price.billing_scheme,
        "unit_amount_decimal": _dstr(price.unit_amount_decimal),
        "tiers_mode": price.tiers_mode,
        "tier_walk": list(la.tier_walk),
        "exact_amount": decimal_str(la.exact_amount),
    }


def _dstr(value: Decimal | None) -> str | None:
    return None if value is None else decimal_str(value)


def _line_unit(price: Price) -> Decimal | None:
    return price.unit_amount_decimal if price.billing_scheme == "per_unit" else None


def licensed_line(
    sub: Subscription, item: SubscriptionItem, price: Price, name: str, bounds: tuple[int, int]
) -> Line:
    start, end = bounds
    paid_start, _ = usage_window(sub, start, end)
    la = price_line_amount(price, Decimal(item.quantity if item.quantity is not None else 1))
    full = _full_period(sub, end)
    explain: dict[str, Any] = {"kind": "licensed", **_pricing_explain(price, la)}
    explain["trial"] = None if paid_start == start else {"trial_end": sub.trial_end}
    explain["proration"] = None
    description = name
    if paid_start >= end:
        amount, description = 0, f"Trial period for {name}"
    elif (paid_start, end) == full:
        amount = la.amount
    else:
        explain["proration"] = {
            "seconds": end - paid_start,
            "period_seconds": full[1] - full[0],
            "full_period": {"start": full[0], "end": full[1]},
        }
        amount = _prorated(la.exact_amount, end - paid_start, full[1] - full[0])
    explain["amount"] = amount
    line = Line(
        type="subscription",
        description=description,
        period_start=start,
        period_end=end,
        quantity_decimal=la.quantity,
        amount=amount,
        subscription_item=item.id,
        price=price.id,
        unit_amount_decimal=_line_unit(price),
        proration=explain["proration"] is not None,
        explain=explain,
    )
    return checked(line, customer=sub.customer, currency=price.currency)


def _meter_explain(meter: Meter, window: tuple[int, int], agg: Aggregate) -> dict[str, Any]:
    return {
        "kind": "metered",
        "meter": meter.id,
        "formula": meter.formula,
        "event_time_window": meter.event_time_window,
        "usage_window": {"start": window[0], "end": window[1]},
        "event_count": agg.event_count,
        "window_count": agg.window_count,
        "raw_aggregate": decimal_str(agg.value),
    }


def metered_line(
    sub: Subscription,
    item: SubscriptionItem,
    price: Price,
    name: str,
    meter: Meter,
    bounds: tuple[int, int],
    usage: UsageFn,
) -> Line:
    start, end = bounds
    window = usage_window(sub, start, end)
    in_trial = window[0] >= end
    agg = Aggregate(_ZERO, 0, None) if in_trial else usage(meter, window[0], window[1])
    la = price_line_amount(price, billable_quantity(agg))
    amount = 0 if in_trial else la.amount  # a whole-trial period bills no tier flat amount
    explain = {**_meter_explain(meter, window, agg), **_pricing_explain(price, la)}
    explain["trial"] = None if window[0] == start else {"trial_end": sub.trial_end}
    explain["amount"] = amount
    line = Line(
        type="subscription",
        description=f"Trial period for {name}" if in_trial else name,
        period_start=start,
        period_end=end,
        quantity_decimal=la.quantity,
        amount=amount,
        subscription_item=item.id,
        price=price.id,
        meter=meter.id,
        unit_amount_decimal=_line_unit(price),
        explain=explain,
    )
    return checked(line, customer=sub.customer, currency=price.currency)


def late_usage_line(
    *,
    customer: str,
    original: Line,
    original_invoice: str,
    price: Price,
    product: Product,
    meter: Meter,
    recomputed: Aggregate,
    already_invoiced: int,
    identifiers: Iterable[str],
) -> Line:
    """SPEC 2.6: the original period's line recomputed with the resolved late events, minus
    what was invoiced for it already (original line + earlier late lines). Negative = credit."""
    la = price_line_amount(price, billable_quantity(recomputed))
    window = original.explain.get("usage_window") or {
        "start": original.period_start,
        "end": original.period_end,
    }
    delta = la.amount - already_invoiced
    explain = {
        "kind": "late_usage",
        "original_invoice": original_invoice,
        "original_line": original.id,
        "original_period": {"start": original.period_start, "end": original.period_end},
        "original_quantity": decimal_str(original.quantity_decimal),
        "identifiers": sorted(identifiers),
        **_meter_explain(meter, (window["start"], window["end"]), recomputed),
        **_pricing_explain(price, la),
        "recomputed_amount": la.amount,
        "already_invoiced": already_invoiced,
        "amount": delta,
    }
    period = f"{_day(original.period_start)} – {_day(original.period_end)}"
    line = Line(
        type="late_usage",
        description=f"Late usage: {product.name} ({period})",
        period_start=original.period_start,
        period_end=original.period_end,
        quantity_decimal=DECIMAL_CONTEXT.subtract(la.quantity, original.quantity_decimal),
        amount=delta,
        subscription_item=original.subscription_item,
        price=price.id,
        meter=meter.id,
        unit_amount_decimal=_line_unit(price),
        explain=explain,
    )
    return checked(line, customer=customer, currency=price.currency)


def _day(ts: int) -> str:
    return from_unix(ts).strftime("%Y-%m-%d %H:%MZ")


def explain_text(explain: Mapping[str, Any]) -> str:
    """Canonical JSON of an `explain` record: what the ledger stores and the hash covers."""
    return json.dumps(explain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
