"""Amounts as people read them: major units with the currency code, by integer arithmetic, so
what a table or a document shows can never disagree with the stored integer."""

from __future__ import annotations

from decimal import Decimal

from billing_cli.domain.money import currency_exponent, decimal_str


def format_amount(amount: int, currency: str) -> str:
    """Major units by integer arithmetic, so display can never disagree with the stored int."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"amount must be int minor units, got {type(amount).__name__}")
    exponent = currency_exponent(currency)
    code = currency.upper()
    if exponent == 0:
        return f"{amount} {code}"
    whole, frac = divmod(abs(amount), 10**exponent)
    sign = "-" if amount < 0 else ""
    return f"{sign}{whole}.{frac:0{exponent}d} {code}"


def format_unit_amount(unit_amount_decimal: Decimal, currency: str) -> str:
    """Show a unit price in major units with every digit it has (0.0005 USD must not become 0.00).

    At least the currency's places are shown so prices line up with amounts ("10.00 USD").
    """
    exponent = currency_exponent(currency)
    sign, digits, exp = unit_amount_decimal.as_tuple()
    if not isinstance(exp, int):
        raise ValueError(f"cannot format a non-finite unit amount: {unit_amount_decimal!r}")
    major = Decimal((sign, digits, exp - exponent))  # exact shift by the exponent
    text = decimal_str(major)
    if exponent:
        whole, _, frac = text.partition(".")
        text = f"{whole}.{frac.ljust(exponent, '0')}"
    return f"{text} {currency.upper()}"
