"""Tax rates (`billing tax-rate …`, Stripe's `tax_rates`).

A rate's `percentage` and `inclusive` decide invoice amounts, so once an issued invoice used
the rate they never change (exit 5: create a new rate instead, as Stripe requires); the name,
description, country, jurisdiction and `active` stay editable, and an issued invoice keeps the
name it was issued with.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from billing_cli.api.catalog import new_object_id
from billing_cli.api.context import Context, check_text, newest_first, parse_metadata
from billing_cli.domain.models import TaxRate
from billing_cli.domain.money import parse_decimal
from billing_cli.domain.parties import COUNTRIES
from billing_cli.errors import Conflict, InvalidInput, NotFound
from billing_cli.storage.port import LedgerStore

_HUNDRED = Decimal(100)


def parse_percentage(text: str) -> Decimal:
    """0 to 100 with at most 4 decimal places (Stripe's limits), as exact text."""
    value = parse_decimal(text, field="--percentage", max_decimal_places=4, allow_negative=False)
    if value > _HUNDRED:
        raise InvalidInput(
            f"invalid --percentage {text!r}: more than 100", hint="give 0 to 100, e.g. 19"
        )
    return value


def _country(value: str | None) -> str | None:
    if not value:
        return None
    if value.upper() not in COUNTRIES:
        raise InvalidInput(
            f"--country {value!r} is not an ISO 3166-1 alpha-2 country code",
            hint="use two letters, e.g. --country DE",
        )
    return value.upper()


def require_tax_rate(led: LedgerStore, tax_rate_id: str) -> TaxRate:
    rate = led.get_tax_rate(tax_rate_id)
    if rate is None:
        raise NotFound(
            f"no tax rate {tax_rate_id!r}", hint="`billing tax-rate list` shows the tax rates"
        )
    return rate


def create_tax_rate(
    ctx: Context,
    *,
    display_name: str,
    percentage: str,
    inclusive: bool = False,
    country: str | None = None,
    jurisdiction: str | None = None,
    description: str | None = None,
    metadata: list[str] | None = None,
    tax_rate_id: str | None = None,
) -> TaxRate:
    check_text(display_name, field="--display-name", max_len=50, required=True)
    check_text(jurisdiction, field="--jurisdiction", max_len=50)
    check_text(description, field="--description", max_len=500)
    pct = parse_percentage(percentage)
    meta = parse_metadata(metadata)
    with ctx.ledger(write=True) as led, led.write():
        rate = TaxRate(
            id=new_object_id(led, "tax_rates", "txr_", tax_rate_id),
            created=ctx.now_ts,
            display_name=display_name,
            percentage=pct,
            inclusive=inclusive,
            active=True,
            description=description or None,
            country=_country(country),
            jurisdiction=jurisdiction or None,
            metadata=meta,
        )
        led.insert_tax_rate(rate)
    return rate


def update_tax_rate(
    ctx: Context,
    tax_rate_id: str,
    *,
    display_name: str | None = None,
    percentage: str | None = None,
    inclusive: bool | None = None,
    active: bool | None = None,
    country: str | None = None,
    jurisdiction: str | None = None,
    description: str | None = None,
    metadata: list[str] | None = None,
) -> TaxRate:
    """Change the given fields; the percentage and inclusiveness only of a rate no issued
    invoice used."""
    if display_name is not None:
        check_text(display_name, field="--display-name", max_len=50, required=True)
    check_text(jurisdiction, field="--jurisdiction", max_len=50)
    check_text(description, field="--description", max_len=500)
    pct = None if percentage is None else parse_percentage(percentage)
    meta = parse_metadata(metadata)
    with ctx.ledger(write=False) as led, led.write():
        rate = require_tax_rate(led, tax_rate_id)
        new_pct = rate.percentage if pct is None else pct
        new_inclusive = rate.inclusive if inclusive is None else inclusive
        if (new_pct, new_inclusive) != (rate.percentage, rate.inclusive):
            used = led.tax_rate_used_by(rate.id)
            if used is not None:
                raise Conflict(
                    f"tax rate {rate.id} was used by invoice {used}: its percentage and"
                    " inclusiveness cannot change",
                    hint="create a new tax rate (`billing tax-rate create`) and use it instead",
                )
        updated = replace(
            rate,
            display_name=rate.display_name if display_name is None else display_name,
            percentage=new_pct,
            inclusive=new_inclusive,
            active=rate.active if active is None else active,
            country=rate.country if country is None else _country(country),
            jurisdiction=rate.jurisdiction if jurisdiction is None else (jurisdiction or None),
            description=rate.description if description is None else (description or None),
            metadata={**rate.metadata, **meta},
        )
        led.update_tax_rate(updated)
    return updated


def get_tax_rate(ctx: Context, tax_rate_id: str) -> TaxRate:
    with ctx.ledger(write=False) as led:
        return require_tax_rate(led, tax_rate_id)


def list_tax_rates(ctx: Context) -> list[TaxRate]:
    with ctx.ledger(write=False) as led:
        return newest_first(led.list_tax_rates())


def default_tax_rates(led: LedgerStore, given: list[str]) -> tuple[str, ...]:
    """`subscription create --default-tax-rate`: existing, active rates, each once."""
    ids: list[str] = []
    for tax_rate_id in given:
        rate = require_tax_rate(led, tax_rate_id)
        if not rate.active:
            raise InvalidInput(
                f"tax rate {rate.id} is inactive",
                hint="activate it (`billing tax-rate update --active`) or use another",
            )
        if rate.id in ids:
            raise InvalidInput(f"--default-tax-rate {rate.id} is given twice")
        ids.append(rate.id)
    return tuple(ids)
