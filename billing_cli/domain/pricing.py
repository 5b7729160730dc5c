"""Tier parsing and validation (SPEC 1.2) and line amounts (SPEC 4.1 steps 2-4).

Pure functions of a price and a quantity: the preview, the final invoice and `ledger check`
all call `price_line_amount`, so they cannot disagree by construction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, localcontext

from billing_cli.domain.models import Price, Tier
from billing_cli.domain.money import DECIMAL_CONTEXT, decimal_str, parse_decimal, round_minor
from billing_cli.errors import InvalidInput

__all__ = [
    "MAX_AMOUNT",
    "MAX_DECIMAL_PLACES",
    "LineAmount",
    "format_tier_spec",
    "parse_tier_spec",
    "parse_tiers_json",
    "price_line_amount",
    "prorate",
    "validate_tiers",
]

MAX_DECIMAL_PLACES = 12  # Stripe's limit for unit_amount_decimal (SPEC 1.2)
# Upper bounds, so that an absurd amount or tier bound is refused up front instead of failing
# later (Python's 4300-digit int/str limit on display, SQLite's 64-bit integers on an invoice
# line): a unit or flat amount is at most 10^15 minor units, an up_to at most 18 digits.
MAX_AMOUNT = Decimal(10) ** 15
MAX_UP_TO_DIGITS = 18

_TIER_KEYS = ("up_to", "unit_amount", "unit_amount_decimal", "flat_amount", "flat_amount_decimal")
_TIER_EXAMPLE = "e.g. 'up_to=5,unit_amount=700' or 'up_to=inf,unit_amount_decimal=0.5'"
_TIERS_HINT = (
    "give tiers with strictly increasing up_to, the last one 'inf', each with a unit or flat "
    f"amount: {_TIER_EXAMPLE}"
)
_INT_RE = re.compile(r"[0-9]+")
_ZERO = Decimal(0)
_ToInt = Callable[[str, object], int]


# --- parsing -------------------------------------------------------------------------------


def parse_tier_spec(spec: str) -> Tier:
    """Parse one `--tier` short form. The list as a whole still goes through `validate_tiers`."""
    if not spec.strip():
        raise InvalidInput(f"invalid tier {spec!r}: empty", _TIER_EXAMPLE)
    values: dict[str, str] = {}
    for part in spec.split(","):
        key, eq, value = (s.strip() for s in part.partition("="))
        if not eq or not key:
            raise InvalidInput(
                f"invalid tier {spec!r}: {part.strip()!r} is not key=value", _TIER_EXAMPLE
            )
        if key not in _TIER_KEYS:
            raise InvalidInput(
                f"invalid tier {spec!r}: unknown key {key!r}",
                f"keys are {', '.join(_TIER_KEYS)}; {_TIER_EXAMPLE}",
            )
        if key in values:
            raise InvalidInput(f"invalid tier {spec!r}: {key} given twice", _TIER_EXAMPLE)
        values[key] = value
    try:
        return _build_tier(values, _spec_int)
    except InvalidInput as exc:
        raise InvalidInput(f"invalid tier {spec!r}: {exc.message}", exc.hint) from None


def _spec_int(key: str, value: object) -> int:
    if not isinstance(value, str) or _INT_RE.fullmatch(value) is None:
        raise InvalidInput(f"{key} {value!r} is not a whole number >= 0", _TIER_EXAMPLE)
    if len(value.lstrip("0")) > MAX_UP_TO_DIGITS:
        raise InvalidInput(
            f"{key} {value[:24]}… has {len(value)} digits", f"use at most {MAX_UP_TO_DIGITS}"
        )
    return int(value)


def parse_tiers_json(data: object) -> tuple[Tier, ...]:
    """Parse Stripe's `tiers` array and validate it.

    Load the text with `json.loads(text, parse_float=Decimal)`: a JSON float then arrives as an
    exact Decimal that this function refuses by type (money in JSON is an integer of minor units
    or a decimal *string*), and plain `json.loads` floats are refused the same way, so no float
    is ever accepted as money. Nulls count as absent. A tier may carry both `unit_amount` and
    `unit_amount_decimal` when they agree, as Stripe's own price objects do, so `price show
    --json` output can be fed back; Stripe's create call would refuse that, but it is harmless.
    """
    if not isinstance(data, list):
        raise InvalidInput(
            f"invalid tiers: expected a JSON array of tier objects, got {type(data).__name__}",
            '[{"up_to": 5, "unit_amount": 700}, {"up_to": "inf", "unit_amount_decimal": "600"}]',
        )
    tiers = []
    for index, item in enumerate(data, start=1):
        try:
            if not isinstance(item, dict):
                raise InvalidInput(f"expected an object, got {type(item).__name__}", _TIERS_HINT)
            unknown = sorted(str(k) for k in item if k not in _TIER_KEYS)
            if unknown:
                raise InvalidInput(
                    f"unknown key {unknown[0]!r}", f"tier keys are {', '.join(_TIER_KEYS)}"
                )
            values = {k: v for k, v in item.items() if v is not None}
            tiers.append(_build_tier(values, _json_int, both_allowed=True))
        except InvalidInput as exc:
            raise InvalidInput(f"invalid tier {index}: {exc.message}", exc.hint) from None
    return validate_tiers(tiers)


def _json_int(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if key == "up_to":
            raise InvalidInput(f"up_to {value!r} is not an integer", 'give an integer or "inf"')
        raise InvalidInput(
            f"{key} {value!r} is not an integer",
            f"give {key} as a JSON integer of minor units, or use {key}_decimal with a string "
            'such as "0.5"',
        )
    if value < 0:
        raise InvalidInput(f"{key} {value!r} is negative", "amounts must be >= 0")
    if value >= 10**MAX_UP_TO_DIGITS:
        raise InvalidInput(f"{key} is too large", f"use at most {MAX_UP_TO_DIGITS} digits")
    return value


def _build_tier(values: dict, to_int: _ToInt, *, both_allowed: bool = False) -> Tier:
    """Shared by both input forms so the CLI and JSON accept exactly the same tiers."""
    if "up_to" not in values:
        raise InvalidInput("up_to is missing", _TIER_EXAMPLE)
    raw_up_to = values["up_to"]
    up_to = None if raw_up_to == "inf" else to_int("up_to", raw_up_to)
    unit = _amount(values, "unit_amount", to_int, both_allowed)
    flat = _amount(values, "flat_amount", to_int, both_allowed)
    return Tier(up_to=up_to, unit_amount_decimal=unit, flat_amount_decimal=flat)


def _amount(values: dict, key: str, to_int: _ToInt, both_allowed: bool) -> Decimal | None:
    whole = values.get(key)
    text = values.get(f"{key}_decimal")
    from_int = None if whole is None else Decimal(to_int(key, whole))
    if text is None:
        return from_int
    if not isinstance(text, str):
        raise InvalidInput(
            f"{key}_decimal {text!r} is not a string",
            f'give {key}_decimal as a decimal string such as "0.5" (never a JSON number)',
        )
    exact = parse_decimal(
        text,
        field=f"{key}_decimal",
        max_decimal_places=MAX_DECIMAL_PLACES,
        allow_negative=False,
    )
    if from_int is not None and not (both_allowed and from_int == exact):
        raise InvalidInput(
            f"both {key} and {key}_decimal given",
            f"give only one of {key} (an integer) or {key}_decimal",
        )
    return exact


def format_tier_spec(tier: Tier) -> str:
    """The `--tier` short form of a tier, the inverse of `parse_tier_spec` (for display)."""
    parts = [f"up_to={'inf' if tier.up_to is None else tier.up_to}"]
    if tier.unit_amount_decimal is not None:
        parts.append(f"unit_amount_decimal={decimal_str(tier.unit_amount_decimal)}")
    if tier.flat_amount_decimal is not None:
        parts.append(f"flat_amount_decimal={decimal_str(tier.flat_amount_decimal)}")
    return ",".join(parts)


# --- validation ----------------------------------------------------------------------------


def validate_tiers(tiers: Iterable[Tier]) -> tuple[Tier, ...]:
    """Check the tier list as a whole (SPEC 1.2); prices are immutable, so this runs once."""
    result = tuple(tiers)
    if not result:
        raise InvalidInput("invalid tiers: a tiered price needs at least one tier", _TIERS_HINT)
    previous: int | None = None
    last = len(result)
    for index, tier in enumerate(result, start=1):
        where = f"invalid tier {index} of {last}"
        up_to = tier.up_to
        if up_to is None:
            if index != last:
                raise InvalidInput(f"{where}: only the last tier may have up_to inf", _TIERS_HINT)
        else:
            if isinstance(up_to, bool) or not isinstance(up_to, int) or up_to <= 0:
                raise InvalidInput(f"{where}: up_to {up_to!r} must be an integer > 0", _TIERS_HINT)
            if index == last:
                raise InvalidInput(
                    f"{where}: the last tier must have up_to inf, not {up_to}", _TIERS_HINT
                )
            if previous is not None and up_to <= previous:
                raise InvalidInput(
                    f"{where}: up_to {up_to} is not greater than the previous tier's {previous}",
                    _TIERS_HINT,
                )
            previous = up_to
        if tier.unit_amount_decimal is None and tier.flat_amount_decimal is None:
            raise InvalidInput(f"{where}: no unit or flat amount", _TIERS_HINT)
        for name, amount in (
            ("unit_amount_decimal", tier.unit_amount_decimal),
            ("flat_amount_decimal", tier.flat_amount_decimal),
        ):
            if amount is not None:
                _check_amount(where, name, amount)
    return result


def _check_amount(where: str, name: str, amount: object) -> None:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidInput(f"{where}: {name} {amount!r} is not a finite Decimal", _TIERS_HINT)
    if amount < 0:
        raise InvalidInput(f"{where}: {name} {decimal_str(amount)} is negative", _TIERS_HINT)
    if amount > MAX_AMOUNT:
        raise InvalidInput(
            f"{where}: {name} is {amount.adjusted() + 1} digits long",
            f"amounts are at most {MAX_AMOUNT:,} minor units",
        )
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > MAX_DECIMAL_PLACES:
        raise InvalidInput(
            f"{where}: {name} {decimal_str(amount)} has more than "
            f"{MAX_DECIMAL_PLACES} decimal places",
            f"round it to {MAX_DECIMAL_PLACES} decimal places",
        )


# --- amounts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineAmount:
    """Every intermediate of SPEC 4.1, kept so `invoice show --explain` can show its work."""

    quantity: Decimal  # usage after the negative -> 0 clamp, before transform
    transformed_quantity: Decimal  # after transform_quantity (else == quantity)
    exact_amount: Decimal  # minor units, unrounded
    amount: int  # round_minor(exact_amount)
    tier_walk: tuple[dict, ...] = ()  # tiered only: the tiers that priced the quantity


def price_line_amount(price: Price, quantity: Decimal) -> LineAmount:
    """SPEC 4.1 steps 2-4: exact arithmetic throughout, then the single rounding step.

    Money's one context has unbounded precision and traps Inexact: no intermediate result is
    ever rounded, so the only rounding in the whole computation is `round_minor`.
    """
    if not isinstance(quantity, Decimal) or not quantity.is_finite():
        raise InvalidInput(f"invalid quantity {quantity!r}: not a finite Decimal")
    with localcontext(DECIMAL_CONTEXT):
        q = quantity if quantity > 0 else _ZERO
        if price.billing_scheme == "per_unit":
            transformed = _transform(price, q)
            if price.unit_amount_decimal is None:
                raise InvalidInput(f"price {price.id} has no unit_amount_decimal")
            exact = transformed * price.unit_amount_decimal
            walk: tuple[dict, ...] = ()
        elif price.billing_scheme == "tiered":
            if price.transform_divide_by is not None:
                raise InvalidInput(f"price {price.id}: transform_quantity requires per_unit")
            transformed = q
            if price.tiers_mode == "volume":
                steps = _volume(price.tiers, q)
            elif price.tiers_mode == "graduated":
                steps = _graduated(price.tiers, q)
            else:
                raise InvalidInput(f"price {price.id}: unknown tiers_mode {price.tiers_mode!r}")
            walk = tuple(entry for entry, _ in steps)
            exact = sum((part for _, part in steps), _ZERO)
        else:
            raise InvalidInput(f"price {price.id}: unknown billing_scheme {price.billing_scheme!r}")
    return LineAmount(
        quantity=q,
        transformed_quantity=transformed,
        exact_amount=exact,
        amount=round_minor(exact),
        tier_walk=walk,
    )


def _transform(price: Price, q: Decimal) -> Decimal:
    """A quantity step, not money rounding: exact integer division, then ceil or floor."""
    divide_by = price.transform_divide_by
    if divide_by is None:
        return q
    if isinstance(divide_by, bool) or not isinstance(divide_by, int) or divide_by < 1:
        raise InvalidInput(f"price {price.id}: transform divide_by {divide_by!r} must be >= 1")
    whole, remainder = divmod(q, Decimal(divide_by))  # exact; q >= 0 so // is floor
    if price.transform_round == "up":
        return whole + 1 if remainder else whole
    if price.transform_round == "down":
        return whole
    raise InvalidInput(f"price {price.id}: transform round {price.transform_round!r}")


def _walk_entry(index: int, tier: Tier, units: Decimal) -> tuple[dict, Decimal]:
    unit = tier.unit_amount_decimal
    flat = tier.flat_amount_decimal
    part = units * (unit if unit is not None else _ZERO) + (flat if flat is not None else _ZERO)
    entry = {
        "tier": index,
        "up_to": "inf" if tier.up_to is None else tier.up_to,
        "units": decimal_str(units),
        "unit_amount_decimal": None if unit is None else decimal_str(unit),
        "flat_amount_decimal": None if flat is None else decimal_str(flat),
        "amount_decimal": decimal_str(part),
    }
    return entry, part


def _volume(tiers: tuple[Tier, ...], q: Decimal) -> list[tuple[dict, Decimal]]:
    """The first tier that holds q prices every unit; q = 0 lands in tier 1 (its flat amount)."""
    for index, tier in enumerate(tiers, start=1):
        if tier.up_to is None or q <= tier.up_to:
            return [_walk_entry(index, tier, q)]
    raise InvalidInput(f"quantity {decimal_str(q)} exceeds the last tier (no 'inf' tier)")


def _graduated(tiers: tuple[Tier, ...], q: Decimal) -> list[tuple[dict, Decimal]]:
    """Tier i covers (up_to[i-1], up_to[i]]; each tier with units in it adds its flat amount."""
    if not tiers:
        raise InvalidInput("a tiered price needs at least one tier")
    if q == 0:  # Stripe bills the first tier's flat amount at quantity 0
        return [_walk_entry(1, tiers[0], _ZERO)]
    walk = []
    floor = _ZERO
    for index, tier in enumerate(tiers, start=1):
        ceiling = q if tier.up_to is None else min(q, Decimal(tier.up_to))
        if ceiling > floor:
            walk.append(_walk_entry(index, tier, ceiling - floor))
        if tier.up_to is None or q <= tier.up_to:
            return walk
        floor = Decimal(tier.up_to)
    raise InvalidInput(f"quantity {decimal_str(q)} exceeds the last tier (no 'inf' tier)")


def prorate(amount_exact: Decimal, numerator_seconds: int, denominator_seconds: int) -> int:
    """A licensed line's share of a full period (SPEC 1.4), rounded once like any line.

    The ratio is applied in exact rational arithmetic: dividing Decimals would round before
    the one rounding step does.
    """
    if denominator_seconds <= 0 or not 0 <= numerator_seconds <= denominator_seconds:
        raise ValueError(
            f"proration {numerator_seconds}/{denominator_seconds} is not a fraction in [0, 1]"
        )
    if not amount_exact.is_finite():
        raise ValueError(f"cannot prorate a non-finite amount: {amount_exact!r}")
    num, den = amount_exact.as_integer_ratio()
    num *= numerator_seconds
    den *= denominator_seconds
    magnitude = (2 * abs(num) + den) // (2 * den)  # half away from zero, as ROUND_HALF_UP
    return -magnitude if num < 0 else magnitude
