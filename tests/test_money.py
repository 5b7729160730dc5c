"""money.py: exact parsing, the one rounding step, display (SPEC 3.1, 3.2)."""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_cli.domain.money import (
    DECIMAL_CONTEXT,
    ISO_4217_CODES,
    currency_exponent,
    decimal_str,
    normalize_currency,
    parse_decimal,
    round_minor,
)
from billing_cli.errors import InvalidInput
from billing_cli.present.amounts import format_amount, format_unit_amount

finite_decimals = st.decimals(allow_nan=False, allow_infinity=False)
# Decimals built from digits and an exponent reach far beyond st.decimals' default scale.
wide_decimals = st.builds(
    lambda sign, digits, exp: Decimal((sign, tuple(int(c) for c in str(digits)), exp)),
    st.integers(0, 1),
    st.integers(0, 10**40),
    st.integers(-40, 40),
)


def shifted(value: Decimal, places: int) -> Decimal:
    """value * 10**places, exactly (scaleb would round to the default context's precision)."""
    sign, digits, exp = value.as_tuple()
    assert isinstance(exp, int)
    return Decimal((sign, digits, exp + places))


# --- currencies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "exponent"),
    [("usd", 2), ("EUR", 2), ("jpy", 0), ("krw", 0), ("xof", 0), ("kwd", 3), ("TND", 3)],
)
def test_currency_exponent(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent


def test_spec_exponent_lists_are_known_codes() -> None:
    zero = "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
    three = "bhd jod kwd omr tnd".split()
    assert all(currency_exponent(c) == 0 for c in zero)
    assert all(currency_exponent(c) == 3 for c in three)
    assert set(zero + three) <= ISO_4217_CODES
    assert 170 <= len(ISO_4217_CODES) <= 190
    assert all(len(c) == 3 and c.isascii() and c.islower() for c in ISO_4217_CODES)


def test_normalize_currency() -> None:
    assert normalize_currency("USD") == "usd"
    assert normalize_currency("eur") == "eur"


@pytest.mark.parametrize("bad", ["xyz", "us", "usdd", "", "hrk", " usd", "dollar"])
def test_unknown_currency_refused(bad: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_currency(bad)
    assert repr(bad) in info.value.message
    assert "ISO 4217" in (info.value.hint or "")
    with pytest.raises(InvalidInput):
        currency_exponent(bad)


# --- parse_decimal -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", "0"), ("4275", "4275"), ("-1.25", "-1.25"), ("+7", "7"), ("0.05", "0.05"),
     ("007", "7"), ("1.500", "1.5")],
)  # fmt: skip
def test_parse_decimal_accepts(text: str, expected: str) -> None:
    assert parse_decimal(text, field="value") == Decimal(expected)


@pytest.mark.parametrize(
    "bad",
    ["", " ", " 1", "1 ", "1\n", "1e3", "1E3", "1.5e-2", "1,000", "1_000", "1'000", "NaN",
     "nan", "-Infinity", "inf", "sNaN", ".5", "5.", "-.5", "+", "-", "1.2.3", "0x10", "١٢",
     "½", "1/2", "--1", "1-"],
)  # fmt: skip
def test_parse_decimal_refuses(bad: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_decimal(bad, field="value")
    assert "value" in info.value.message
    assert repr(bad) in info.value.message
    assert info.value.hint


@pytest.mark.parametrize("bad", [0.5, 1.0, True, False, 3, None, Decimal("1"), b"1"])
def test_parse_decimal_refuses_non_text(bad: object) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_decimal(bad, field="value")  # type: ignore[arg-type]
    assert repr(bad) in info.value.message
    assert "text" in (info.value.hint or "")


def test_specific_hints() -> None:
    hints = {}
    for text in ["1e3", "1,000", ".5", "nan"]:
        with pytest.raises(InvalidInput) as info:
            parse_decimal(text, field="value")
        hints[text] = (info.value.message, info.value.hint)
    assert "exponent" in hints["1e3"][0] and "1000" in hints["1e3"][1]
    assert "separator" in hints["1,000"][0]
    assert "0.5" in hints[".5"][1]
    assert "finite" in hints["nan"][0]


@pytest.mark.parametrize(
    ("text", "digits"),
    [("0.0001", 1), ("100", 3), ("0", 1), ("0.000", 1), ("000123", 3), ("1.50", 3),
     ("-123456789012345", 15), ("0.30000000000000004", 17)],
)  # fmt: skip
def test_significant_digits(text: str, digits: int) -> None:
    assert parse_decimal(text, field="v", max_significant_digits=digits) == Decimal(text)
    if digits > 1:
        with pytest.raises(InvalidInput, match="significant digits"):
            parse_decimal(text, field="v", max_significant_digits=digits - 1)


def test_decimal_places_and_sign() -> None:
    assert parse_decimal("0.000000000001", field="u", max_decimal_places=12) == Decimal("1E-12")
    with pytest.raises(InvalidInput, match="13 decimal places"):
        parse_decimal("0.0000000000001", field="u", max_decimal_places=12)
    with pytest.raises(InvalidInput, match="negative"):
        parse_decimal("-1", field="u", allow_negative=False)
    assert parse_decimal("-0", field="u", allow_negative=False) == 0


@given(wide_decimals)
def test_parse_round_trips_decimal_str(value: Decimal) -> None:
    assert parse_decimal(decimal_str(value), field="value") == value


@given(finite_decimals)
def test_parse_round_trips_generated_decimals(value: Decimal) -> None:
    assert parse_decimal(decimal_str(value), field="value") == value


@given(st.floats())
def test_floats_always_refused(value: float) -> None:
    with pytest.raises(InvalidInput):
        parse_decimal(value, field="value")  # type: ignore[arg-type]


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_reprs_with_exponent_refused(value: float) -> None:
    text = f"{value:e}"
    with pytest.raises(InvalidInput):
        parse_decimal(text, field="value")


@given(st.integers(0, 10**6), st.integers(-20, 20), st.sampled_from(["e", "E"]))
def test_exponent_strings_refused(mantissa: int, exponent: int, letter: str) -> None:
    with pytest.raises(InvalidInput, match="exponent"):
        parse_decimal(f"{mantissa}{letter}{exponent}", field="value")


@given(st.integers(1000, 10**15), st.sampled_from([",", "_", "'"]))
def test_separator_strings_refused(value: int, sep: str) -> None:
    grouped = f"{value:,}".replace(",", sep)
    with pytest.raises(InvalidInput, match="separator"):
        parse_decimal(grouped, field="value")


# --- rounding ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exact", "rounded"),
    [("2.5", 3), ("-2.5", -3), ("1.5", 2), ("0.5", 1), ("0.4999", 0), ("-0.4999", 0),
     ("2.5000000000005", 3), ("7", 7), ("0", 0), ("-1.5", -2), ("1E+3", 1000)],
)  # fmt: skip
def test_round_minor(exact: str, rounded: int) -> None:
    result = round_minor(Decimal(exact))
    assert result == rounded and type(result) is int


@given(wide_decimals)
def test_round_minor_is_half_up_within_half(value: Decimal) -> None:
    rounded = round_minor(value)
    assert isinstance(rounded, int)
    diff = abs(Decimal(rounded) - value)
    assert diff <= Decimal("0.5")
    if diff == Decimal("0.5"):  # ties go away from zero
        assert abs(rounded) > abs(value)


def test_round_minor_refuses_non_finite() -> None:
    with pytest.raises(ValueError):
        round_minor(Decimal("NaN"))


def test_decimal_context() -> None:
    assert DECIMAL_CONTEXT.prec >= 50
    assert DECIMAL_CONTEXT.rounding == decimal.ROUND_HALF_UP
    with decimal.localcontext(DECIMAL_CONTEXT), pytest.raises(decimal.DivisionByZero):
        Decimal(1) / Decimal(0)


# --- display -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [(172, "usd", "1.72 USD"), (-5, "usd", "-0.05 USD"), (5000, "jpy", "5000 JPY"),
     (1234, "kwd", "1.234 KWD"), (0, "usd", "0.00 USD"), (-1, "kwd", "-0.001 KWD"),
     (120, "EUR", "1.20 EUR"), (-5000, "jpy", "-5000 JPY"), (100000000, "usd", "1000000.00 USD")],
)  # fmt: skip
def test_format_amount(amount: int, currency: str, text: str) -> None:
    assert format_amount(amount, currency) == text


@given(st.integers(-(10**20), 10**20), st.sampled_from(["usd", "jpy", "kwd", "eur", "clp"]))
def test_format_amount_by_exponent(amount: int, currency: str) -> None:
    exponent = currency_exponent(currency)
    text = format_amount(amount, currency)
    number, code = text.split(" ")
    assert code == currency.upper()
    if exponent == 0:
        assert "." not in number
    else:
        assert len(number.split(".")[1]) == exponent
    assert shifted(Decimal(number), exponent) == amount


def test_format_amount_refuses_non_int() -> None:
    with pytest.raises(TypeError):
        format_amount(Decimal("1"), "usd")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_amount(True, "usd")


@pytest.mark.parametrize(
    ("unit", "currency", "text"),
    [("4", "usd", "0.04 USD"), ("0.05", "usd", "0.0005 USD"), ("1000", "usd", "10.00 USD"),
     ("5", "jpy", "5 JPY"), ("0.5", "jpy", "0.5 JPY"), ("1", "kwd", "0.001 KWD"),
     ("0.000000000001", "usd", "0.00000000000001 USD"), ("700.0", "usd", "7.00 USD"),
     ("0", "usd", "0.00 USD"), ("1E+3", "jpy", "1000 JPY")],
)  # fmt: skip
def test_format_unit_amount(unit: str, currency: str, text: str) -> None:
    assert format_unit_amount(Decimal(unit), currency) == text


@given(finite_decimals, st.sampled_from(["usd", "jpy", "kwd"]))
def test_format_unit_amount_keeps_every_digit(unit: Decimal, currency: str) -> None:
    number, _ = format_unit_amount(unit, currency).split(" ")
    assert "E" not in number and "e" not in number
    assert shifted(Decimal(number), currency_exponent(currency)) == unit


@pytest.mark.parametrize(
    ("value", "text"),
    [("4275", "4275"), ("0.50", "0.5"), ("-1.250", "-1.25"), ("0", "0"), ("-0", "0"),
     ("-0.000", "0"), ("1E+20", "100000000000000000000"), ("1E-7", "0.0000001"),
     ("100", "100"), ("1.0", "1")],
)  # fmt: skip
def test_decimal_str(value: str, text: str) -> None:
    assert decimal_str(Decimal(value)) == text


@given(wide_decimals)
def test_decimal_str_is_plain(value: Decimal) -> None:
    text = decimal_str(value)
    assert "e" not in text.lower()
    assert text == "0" or not text.lstrip("-").startswith("00")
    if "." in text:
        assert not text.endswith("0")
    assert Decimal(text) == value
