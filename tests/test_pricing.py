"""pricing.py: tiers (SPEC 1.2) and line amounts (SPEC 4.1), against the shared worked cases."""

from __future__ import annotations

import json
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from billing_cli.domain.models import Price, Tier
from billing_cli.domain.money import DECIMAL_CONTEXT, decimal_str, round_minor
from billing_cli.domain.pricing import (
    LineAmount,
    format_tier_spec,
    parse_tier_spec,
    parse_tiers_json,
    price_line_amount,
    prorate,
    validate_tiers,
)
from billing_cli.errors import InvalidInput

EXAMPLES = Path(__file__).resolve().parent / "data" / "pricing.json"
CASES: list[dict[str, Any]] = (
    json.loads(EXAMPLES.read_text(encoding="utf-8"))["cases"] if EXAMPLES.exists() else []
)

STRIPE_TIERS = (
    Tier(5, Decimal("700"), None),
    Tier(10, Decimal("650"), None),
    Tier(None, Decimal("600"), None),
)


def make_price(
    *,
    billing_scheme: str = "per_unit",
    unit_amount_decimal: Decimal | None = None,
    tiers_mode: str | None = None,
    tiers: tuple[Tier, ...] = (),
    divide_by: int | None = None,
    round_: str | None = None,
    currency: str = "usd",
) -> Price:
    return Price(
        id="price_test",
        created=1_700_000_000,
        product="prod_test",
        currency=currency,
        nickname=None,
        lookup_key=None,
        active=True,
        interval="month",
        interval_count=1,
        usage_type="metered",
        meter="mtr_test",
        billing_scheme=billing_scheme,
        unit_amount_decimal=unit_amount_decimal,
        tiers_mode=tiers_mode,
        tiers=tiers,
        transform_divide_by=divide_by,
        transform_round=round_,
    )


def price_from_case(case: dict[str, Any]) -> Price:
    spec = case["price"]
    transform = spec.get("transform_quantity") or {}
    scheme = spec.get("billing_scheme", "per_unit")
    unit = spec.get("unit_amount_decimal")
    return make_price(
        billing_scheme=scheme,
        unit_amount_decimal=None if unit is None else Decimal(unit),
        tiers_mode=spec.get("tiers_mode"),
        tiers=parse_tiers_json(spec["tiers"]) if scheme == "tiered" else (),
        divide_by=transform.get("divide_by"),
        round_=transform.get("round"),
        currency=case["currency"],
    )


# --- the shared worked cases ---------------------------------------------------------------


def test_examples_file_present() -> None:
    """Fails (never skips) when the shared cases are missing, so they cannot silently vanish."""
    assert EXAMPLES.exists(), f"missing {EXAMPLES}"
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_worked_case(case: dict[str, Any]) -> None:
    line = price_line_amount(price_from_case(case), Decimal(case["quantity"]))
    assert line.amount == case["expected_amount"]
    assert type(line.amount) is int


# --- line amounts --------------------------------------------------------------------------


def test_alpaca_line_keeps_every_step() -> None:
    price = make_price(unit_amount_decimal=Decimal(4), divide_by=100, round_="up")
    line = price_line_amount(price, Decimal("4275"))
    assert line == LineAmount(Decimal(4275), Decimal(43), Decimal(172), 172, ())


def test_graduated_tier_walk() -> None:
    price = make_price(billing_scheme="tiered", tiers_mode="graduated", tiers=STRIPE_TIERS)
    line = price_line_amount(price, Decimal(20))
    assert line.amount == 12750
    assert [(w["tier"], w["up_to"], w["units"], w["amount_decimal"]) for w in line.tier_walk] == [
        (1, 5, "5", "3500"),
        (2, 10, "5", "3250"),
        (3, "inf", "10", "6000"),
    ]
    assert line.tier_walk[0]["unit_amount_decimal"] == "700"
    assert line.tier_walk[0]["flat_amount_decimal"] is None


def test_volume_tier_walk_names_one_tier() -> None:
    price = make_price(billing_scheme="tiered", tiers_mode="volume", tiers=STRIPE_TIERS)
    line = price_line_amount(price, Decimal(6))
    assert [(w["tier"], w["units"], w["amount_decimal"]) for w in line.tier_walk] == [
        (2, "6", "3900")
    ]


def test_graduated_fractional_units() -> None:
    tiers = (Tier(5, Decimal(100), Decimal(10)), Tier(None, Decimal(50), Decimal(1000)))
    price = make_price(billing_scheme="tiered", tiers_mode="graduated", tiers=tiers)
    line = price_line_amount(price, Decimal("5.5"))
    # tier 1: 5 x 100 + 10; tier 2: 0.5 x 50 + its whole flat amount
    assert line.exact_amount == Decimal("1535")
    assert [w["units"] for w in line.tier_walk] == ["5", "0.5"]


def test_zero_quantity_without_flat_is_zero() -> None:
    for mode in ("graduated", "volume"):
        price = make_price(billing_scheme="tiered", tiers_mode=mode, tiers=STRIPE_TIERS)
        line = price_line_amount(price, Decimal(0))
        assert line.amount == 0
        assert [w["tier"] for w in line.tier_walk] == [1]


def test_negative_quantity_is_clamped_before_transform() -> None:
    price = make_price(unit_amount_decimal=Decimal(4), divide_by=100, round_="up")
    line = price_line_amount(price, Decimal("-50"))
    assert (line.quantity, line.transformed_quantity, line.amount) == (0, 0, 0)


def test_transform_on_fractional_quantity() -> None:
    up = make_price(unit_amount_decimal=Decimal(1), divide_by=10, round_="up")
    down = make_price(unit_amount_decimal=Decimal(1), divide_by=10, round_="down")
    assert price_line_amount(up, Decimal("10.0001")).transformed_quantity == 2
    assert price_line_amount(down, Decimal("19.9999")).transformed_quantity == 1
    assert price_line_amount(up, Decimal("10.000")).transformed_quantity == 1


def test_transform_refused_on_tiered() -> None:
    price = make_price(
        billing_scheme="tiered", tiers_mode="volume", tiers=STRIPE_TIERS, divide_by=2, round_="up"
    )
    with pytest.raises(InvalidInput, match="per_unit"):
        price_line_amount(price, Decimal(1))


def test_long_quantities_stay_exact() -> None:
    """Money's one context has unbounded precision: 60 digits times 3 is not rounded (the
    line's 64-bit limit is checked where the line is built, invoice_lines.checked)."""
    price = make_price(unit_amount_decimal=Decimal("3.000000000001"))
    q = Decimal("9" * 30 + "." + "9" * 30)
    exact = price_line_amount(price, q).exact_amount
    assert Fraction(exact) == Fraction(q) * Fraction("3.000000000001")


def test_float_quantity_refused() -> None:
    with pytest.raises(InvalidInput):
        price_line_amount(make_price(unit_amount_decimal=Decimal(1)), 1.5)  # type: ignore[arg-type]


# --- proration -----------------------------------------------------------------------------


def test_prorate() -> None:
    assert prorate(Decimal(1000), 15, 30) == 500
    assert prorate(Decimal(1000), 30, 30) == 1000
    assert prorate(Decimal(1000), 0, 30) == 0
    assert prorate(Decimal(5), 1, 2) == 3  # 2.5 -> 3
    assert prorate(Decimal(-5), 1, 2) == -3
    assert prorate(Decimal(1), 1, 3) == 0
    with pytest.raises(ValueError):
        prorate(Decimal(1), 31, 30)


@given(
    st.integers(-(10**12), 10**12),
    st.integers(0, 6),
    st.integers(1, 10**8),
    st.data(),
)
def test_prorate_matches_exact_rational(digits: int, places: int, full: int, data: Any) -> None:
    short = data.draw(st.integers(0, full))
    amount = Decimal(digits).scaleb(-places)
    exact = Fraction(amount) * Fraction(short, full)
    expected = round_minor(Decimal(exact.numerator) / Decimal(exact.denominator))
    if abs(exact - int(exact)) != Fraction(1, 2):  # Decimal division can blur exact ties
        assert prorate(amount, short, full) == expected
    assert abs(Fraction(prorate(amount, short, full)) - exact) <= Fraction(1, 2)


# --- tier parsing --------------------------------------------------------------------------


def test_parse_tier_spec_forms() -> None:
    assert parse_tier_spec("up_to=5,unit_amount=700") == Tier(5, Decimal(700), None)
    assert parse_tier_spec("up_to=inf,unit_amount_decimal=0.5,flat_amount=100") == Tier(
        None, Decimal("0.5"), Decimal(100)
    )
    assert parse_tier_spec(" up_to = 10 , flat_amount_decimal = 2.25 ") == Tier(
        10, None, Decimal("2.25")
    )


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("", "empty"),
        ("unit_amount=700", "up_to"),
        ("up_to=5,unit_amount=700,unit_amount=1", "twice"),
        ("up_to=5,unit_amount=700,unit_amount_decimal=700", "unit_amount_decimal"),
        ("up_to=5,flat_amount=1,flat_amount_decimal=1", "flat_amount_decimal"),
        ("up_to=5,price=7", "'price'"),
        ("up_to=5,unit_amount", "'unit_amount'"),
        ("up_to=five,unit_amount=7", "'five'"),
        ("up_to=5,unit_amount=-7", "'-7'"),
        ("up_to=5,unit_amount=7.5", "'7.5'"),
        ("up_to=5,unit_amount_decimal=1e3", "'1e3'"),
        ("up_to=5,unit_amount_decimal=-1", "negative"),
        ("up_to=5,unit_amount_decimal=0.0000000000001", "decimal places"),
        ("up_to=5;unit_amount=7", "whole number"),
        ("up_to=5,,unit_amount=7", "key=value"),
    ],
)
def test_parse_tier_spec_refusals(spec: str, named: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_tier_spec(spec)
    assert repr(spec) in info.value.message
    assert named in info.value.message
    assert info.value.hint


def test_parse_tiers_json_accepts_stripe_shapes() -> None:
    text = """[
      {"up_to": 5, "unit_amount": 700, "unit_amount_decimal": "700",
       "flat_amount": null, "flat_amount_decimal": null},
      {"up_to": "inf", "unit_amount_decimal": "0.5", "flat_amount": 100}
    ]"""
    tiers = parse_tiers_json(json.loads(text, parse_float=Decimal))
    assert tiers == (Tier(5, Decimal(700), None), Tier(None, Decimal("0.5"), Decimal(100)))


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('{"up_to": "inf", "unit_amount": 1}', "array"),
        ('[{"up_to": "inf", "unit_amount": 1.5}]', "unit_amount"),
        ('[{"up_to": "inf", "unit_amount": 700.0}]', "unit_amount"),
        ('[{"up_to": "inf", "unit_amount_decimal": 0.5}]', "not a string"),
        ('[{"up_to": "inf", "unit_amount": true}]', "unit_amount"),
        ('[{"up_to": "inf", "unit_amount": "700"}]', "unit_amount"),
        ('[{"up_to": 5.0, "unit_amount": 1}, {"up_to": "inf", "unit_amount": 1}]', "up_to"),
        ('[{"up_to": "inf", "unit_amount": 1, "unit_amount_decimal": "2"}]', "both"),
        ('[{"up_to": "inf", "unit_amount": 1, "tax": 2}]', "'tax'"),
        ('[{"up_to": "inf", "flat_amount": -1}]', "negative"),
        ('["up_to=inf,unit_amount=1"]', "object"),
        ("[]", "at least one tier"),
    ],
)
def test_parse_tiers_json_refusals(text: str, named: str) -> None:
    for data in (json.loads(text, parse_float=Decimal), json.loads(text)):
        with pytest.raises(InvalidInput) as info:
            parse_tiers_json(data)
        assert named in info.value.message


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tiers", "named"),
    [
        ((Tier(5, Decimal(1), None),), "tier 1 of 1"),
        ((Tier(None, Decimal(1), None), Tier(None, Decimal(1), None)), "tier 1 of 2"),
        ((Tier(0, Decimal(1), None), Tier(None, Decimal(1), None)), "tier 1 of 2"),
        ((Tier(-3, Decimal(1), None), Tier(None, Decimal(1), None)), "tier 1 of 2"),
        ((Tier(5, Decimal(1), None), Tier(5, Decimal(1), None), Tier(None, Decimal(1), None)),
         "tier 2 of 3"),
        ((Tier(5, Decimal(1), None), Tier(4, Decimal(1), None), Tier(None, Decimal(1), None)),
         "tier 2 of 3"),
        ((Tier(5, None, None), Tier(None, Decimal(1), None)), "tier 1 of 2"),
        ((Tier(None, Decimal(-1), None),), "negative"),
        ((Tier(None, None, Decimal("-0.5")),), "negative"),
        ((Tier(None, Decimal("1E-13"), None),), "decimal places"),
        ((Tier(None, 1.5, None),), "Decimal"),  # type: ignore[arg-type]
        ((Tier(None, Decimal("NaN"), None),), "Decimal"),
        ((Tier(True, Decimal(1), None), Tier(None, Decimal(1), None)), "tier 1 of 2"),  # type: ignore[arg-type]
        ((), "at least one tier"),
    ],
)  # fmt: skip
def test_validate_tiers_refusals(tiers: tuple[Tier, ...], named: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_tiers(tiers)
    assert named in info.value.message
    assert info.value.hint


# --- properties ----------------------------------------------------------------------------

amounts = st.builds(
    lambda n, places: Decimal((0, tuple(int(c) for c in str(n)), -places)),
    st.integers(0, 10**9),
    st.integers(0, 12),
)
quantities = st.builds(
    lambda n, places: Decimal((0, tuple(int(c) for c in str(n)), -places)),
    st.integers(0, 10**12),
    st.integers(0, 3),
)


@st.composite
def tier_lists(draw: Any) -> tuple[Tier, ...]:
    bounds = sorted(draw(st.sets(st.integers(1, 10**6), max_size=5)))
    tiers = []
    for up_to in [*bounds, None]:
        unit = draw(st.none() | amounts)
        flat = draw(amounts) if unit is None else draw(st.none() | amounts)
        tiers.append(Tier(up_to, unit, flat))
    return tuple(tiers)


@st.composite
def prices(draw: Any, schemes: tuple[str, ...] = ("per_unit", "graduated", "volume")) -> Price:
    scheme = draw(st.sampled_from(schemes))
    if scheme == "per_unit":
        divide_by = draw(st.none() | st.integers(1, 10_000))
        return make_price(
            unit_amount_decimal=draw(amounts),
            divide_by=divide_by,
            round_=None if divide_by is None else draw(st.sampled_from(["up", "down"])),
        )
    return make_price(billing_scheme="tiered", tiers_mode=scheme, tiers=draw(tier_lists()))


@given(prices(), quantities | quantities.map(lambda q: -q))
def test_amount_is_an_int_rounded_once(price: Price, quantity: Decimal) -> None:
    line = price_line_amount(price, quantity)
    assert type(line.amount) is int
    assert line.amount == round_minor(line.exact_amount)
    assert line.quantity == max(quantity, Decimal(0))
    if price.transform_divide_by is None:
        assert line.transformed_quantity == line.quantity
    else:
        assert line.transformed_quantity == line.transformed_quantity.to_integral_value()


@given(prices(("per_unit", "graduated")), quantities, quantities)
def test_amount_never_decreases_with_quantity(price: Price, a: Decimal, b: Decimal) -> None:
    low, high = sorted((a, b))
    small, large = price_line_amount(price, low), price_line_amount(price, high)
    assert small.exact_amount <= large.exact_amount
    assert small.amount <= large.amount


@given(tier_lists(), quantities)
def test_graduated_walk_sums_to_exact_amount(tiers: tuple[Tier, ...], quantity: Decimal) -> None:
    price = make_price(billing_scheme="tiered", tiers_mode="graduated", tiers=tiers)
    line = price_line_amount(price, quantity)
    # The reference sums in the same 60-digit context as the code, not Python's default 28.
    with localcontext(DECIMAL_CONTEXT):
        assert line.exact_amount == sum(Decimal(w["amount_decimal"]) for w in line.tier_walk)
        if quantity > 0:
            assert sum(Decimal(w["units"]) for w in line.tier_walk) == quantity
        for w in line.tier_walk:
            tier = tiers[w["tier"] - 1]
            unit = tier.unit_amount_decimal or Decimal(0)
            flat = tier.flat_amount_decimal or Decimal(0)
            assert Decimal(w["amount_decimal"]) == Decimal(w["units"]) * unit + flat


@given(tier_lists(), quantities)
def test_volume_prices_all_units_in_one_tier(tiers: tuple[Tier, ...], quantity: Decimal) -> None:
    price = make_price(billing_scheme="tiered", tiers_mode="volume", tiers=tiers)
    (entry,) = price_line_amount(price, quantity).tier_walk
    tier = tiers[entry["tier"] - 1]
    assert tier.up_to is None or quantity <= tier.up_to
    assert entry["tier"] == 1 or quantity > tiers[entry["tier"] - 2].up_to  # type: ignore[operator]
    assert Decimal(entry["units"]) == quantity


@given(tier_lists())
def test_tier_spec_and_json_round_trip(tiers: tuple[Tier, ...]) -> None:
    assert validate_tiers(tiers) == tiers
    assert tuple(parse_tier_spec(format_tier_spec(t)) for t in tiers) == tiers
    as_json = [
        {
            "up_to": "inf" if t.up_to is None else t.up_to,
            "unit_amount_decimal": None
            if t.unit_amount_decimal is None
            else decimal_str(t.unit_amount_decimal),
            "flat_amount_decimal": None
            if t.flat_amount_decimal is None
            else decimal_str(t.flat_amount_decimal),
        }
        for t in tiers
    ]
    assert parse_tiers_json(json.loads(json.dumps(as_json), parse_float=Decimal)) == tiers


@given(tier_lists(), st.data())
def test_broken_tier_lists_are_refused(tiers: tuple[Tier, ...], data: Any) -> None:
    assume(len(tiers) >= 2)
    index = data.draw(st.integers(0, len(tiers) - 2))
    breakers = [
        lambda t: Tier(None, t.unit_amount_decimal, t.flat_amount_decimal),  # inf too early
        lambda t: Tier(t.up_to, None, None),  # no amount
        lambda t: Tier(t.up_to, Decimal(-1), t.flat_amount_decimal),  # negative
        lambda t: Tier(0, t.unit_amount_decimal, t.flat_amount_decimal),  # not > 0
    ]
    broken = list(tiers)
    broken[index] = data.draw(st.sampled_from(breakers))(tiers[index])
    with pytest.raises(InvalidInput, match=f"tier {index + 1} of {len(tiers)}"):
        validate_tiers(broken)
    with pytest.raises(InvalidInput):
        validate_tiers(tiers[:-1])  # last tier no longer inf
    with pytest.raises(InvalidInput):
        validate_tiers(tuple(reversed(tiers)))
