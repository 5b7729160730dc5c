"""Tax rates on invoice lines (Stripe's `tax_rates`, `default_tax_rates`): one pure step.

Stripe computes tax per line item, so a line's tax for each rate is its own exact product,
rounded half-up once (the one rounding step tax adds to SPEC 3.2); the invoice's
`total_taxes` sum those rounded per-line amounts per rate. An exclusive rate adds its tax on top
of the line's amount; an inclusive rate's tax is contained in it: with inclusive rates summing
to P %, the line's net is amount × 100 / (100 + P), and each rate's tax is that net × its
percentage / 100. A line's `taxable_amount` is its amount less the inclusive taxes it holds.

Worked: 19 % exclusive on 232 cents → 44.08 → 44; 19 % inclusive in 1000 cents →
1000 × 19 / 119 = 159.66 → 160, taxable 840. Credits apply before tax: the amount a line is
taxed on is its amount after any credit applied to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING

from billing_cli.domain.models import TaxRate
from billing_cli.domain.money import decimal_str

if TYPE_CHECKING:
    from billing_cli.domain.invoice_lines import Line

__all__ = [
    "LineTax",
    "TaxTotal",
    "apply_taxes",
    "exclusive_tax",
    "line_taxes",
    "retax",
    "taxes_data",
    "total_taxes",
]

_HUNDRED = Fraction(100)


@dataclass(frozen=True)
class LineTax:
    """One rate's tax on one line (Stripe's line item `taxes[]`), with the rate's name and
    percentage as they were when computed (an issued invoice keeps them)."""

    tax_rate: str
    display_name: str
    percentage: Decimal
    inclusive: bool
    amount: int
    taxable_amount: int


@dataclass(frozen=True)
class TaxTotal:
    """One rate's tax over the invoice (Stripe's invoice `total_taxes[]`)."""

    tax_rate: str
    display_name: str
    percentage: Decimal
    inclusive: bool
    amount: int
    taxable_amount: int


def _half_up(exact: Fraction) -> int:
    """ROUND_HALF_UP (half away from zero) of an exact rational, as `pricing.prorate` does."""
    magnitude = (2 * abs(exact.numerator) + exact.denominator) // (2 * exact.denominator)
    return -magnitude if exact < 0 else magnitude


def line_taxes(amount: int, rates: Sequence[TaxRate]) -> tuple[LineTax, ...]:
    """The tax of each rate on a line of `amount` minor units (after credits), each rounded
    half-up once. Computed in exact rational arithmetic: 100 / 119 has no finite decimal, and
    a Decimal division would round before the one rounding step does."""
    if not rates:
        return ()
    inclusive_pct = sum((Fraction(r.percentage) for r in rates if r.inclusive), Fraction(0))
    net = Fraction(amount) * _HUNDRED / (_HUNDRED + inclusive_pct)
    taxes = [_half_up(net * Fraction(r.percentage) / _HUNDRED) for r in rates]
    contained = sum(t for t, r in zip(taxes, rates, strict=True) if r.inclusive)
    taxable = amount - contained
    return tuple(
        LineTax(r.id, r.display_name, r.percentage, r.inclusive, tax, taxable)
        for tax, r in zip(taxes, rates, strict=True)
    )


def apply_taxes(lines: Iterable[Line], rates: Sequence[TaxRate]) -> tuple[Line, ...]:
    """Every line with its taxes: the tax step of composing an invoice, on each line's amount
    after the billing credits applied to it."""
    return tuple(
        replace(line, taxes=line_taxes(line.amount - line.pretax_credit_total, rates))
        for line in lines
    )


def retax(lines: Iterable[Line]) -> tuple[Line, ...]:
    """Every line taxed again at the rates it was taxed at (its credits changed)."""
    return tuple(
        replace(
            line,
            taxes=line_taxes(
                line.amount - line.pretax_credit_total,
                [
                    TaxRate(t.tax_rate, 0, t.display_name, t.percentage, t.inclusive)
                    for t in line.taxes
                ],
            ),
        )
        for line in lines
    )


def total_taxes(lines: Iterable[Line]) -> tuple[TaxTotal, ...]:
    """Per rate, in order of first appearance: the sums of the lines' rounded taxes."""
    totals: dict[str, TaxTotal] = {}
    for line in lines:
        for t in line.taxes:
            seen = totals.get(t.tax_rate)
            amount, taxable = (0, 0) if seen is None else (seen.amount, seen.taxable_amount)
            totals[t.tax_rate] = TaxTotal(
                t.tax_rate,
                t.display_name,
                t.percentage,
                t.inclusive,
                amount + t.amount,
                taxable + t.taxable_amount,
            )
    return tuple(totals.values())


def exclusive_tax(totals: Iterable[TaxTotal]) -> int:
    """What exclusive rates add on top of the subtotal (inclusive ones are inside it)."""
    return sum(t.amount for t in totals if not t.inclusive)


def taxes_data(taxes: Iterable[LineTax | TaxTotal]) -> list[dict[str, object]]:
    """Canonical plain data of a line's taxes or an invoice's totals: what the ledger stores
    and the invoice hash covers."""
    return [
        {
            "tax_rate": t.tax_rate,
            "display_name": t.display_name,
            "percentage": decimal_str(t.percentage),
            "inclusive": t.inclusive,
            "amount": t.amount,
            "taxable_amount": t.taxable_amount,
        }
        for t in taxes
    ]
