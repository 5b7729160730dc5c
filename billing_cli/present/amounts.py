"""Amounts as people read them, for the faces (cli/, http/) that may not reach into domain/:
major units with the currency code, by integer arithmetic, so what a table or a document shows
can never disagree with the stored integer. The functions live in `domain.money` because domain
messages (an amount that does not fit) name amounts the same way."""

from __future__ import annotations

from billing_cli.domain.money import decimal_str, format_amount, format_unit_amount

__all__ = ["decimal_str", "format_amount", "format_unit_amount"]
