"""Template filters: times and amounts exactly as the CLI prints them.

`money` is `format_amount` (integer minor units to "12.34 USD"), `unit_price` is the CLI
invoice's unit price column, `time` is `format_time`; so a number read on a page and in a
terminal are the same characters.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import jinja2

from billing_cli.clock import format_time
from billing_cli.present.amounts import format_amount, format_unit_amount


def time_text(value: int | None) -> str:
    return "" if value is None else format_time(value)


def date_text(value: int | None) -> str:
    return "" if value is None else format_time(value)[:10]


def money(amount: int | None, currency: str) -> str:
    return "" if amount is None else format_amount(amount, currency)


def unit_price(line: dict[str, Any], currency: str) -> str:
    """As `billing invoice show` prints it: the exact unit price, or "tiered"."""
    unit = (line.get("pricing") or {}).get("unit_amount_decimal")
    if unit is None:
        return "tiered" if (line["billing_cli"].get("explain") or {}).get("tiers_mode") else ""
    return format_unit_amount(Decimal(unit), currency)


def price_text(price: dict[str, Any], products: dict[str, str]) -> str:
    """A price in one phrase: "Alpaca AI: 0.04 USD per 100 units / month, metered"."""
    currency = price["currency"]
    recurring = price.get("recurring") or {}
    count = recurring.get("interval_count") or 1
    every = recurring.get("interval", "")
    interval = every if count == 1 else f"{count} {every}s"
    if price.get("billing_scheme") == "tiered":
        amount = f"tiered ({price.get('tiers_mode')})"
    else:
        amount = format_unit_amount(Decimal(price["unit_amount_decimal"]), currency)
        transform = price.get("transform_quantity")
        amount += f" per {transform['divide_by']} units" if transform else " per unit"
    name = price.get("nickname") or products.get(price["product"], price["product"])
    return f"{name}: {amount} / {interval}, {recurring.get('usage_type', '')}"


def install(env: jinja2.Environment) -> None:
    env.filters.update(
        time=time_text, date=date_text, money=money, unit_price=unit_price, price_text=price_text
    )
