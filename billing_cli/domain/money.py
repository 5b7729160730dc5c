"""Money primitives: currencies, exact decimals, the one rounding step, display (SPEC 3.1-3.2).

Everything here is pure. Amounts are `int` minor units; unit prices and quantities are `Decimal`
built from text. A `float` never enters: one float artefact (0.1 + 0.2) in one of a million
events would make an invoice unreproducible.
"""

from __future__ import annotations

import re
from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)

from billing_cli.errors import InvalidInput

__all__ = [
    "DECIMAL_CONTEXT",
    "INT64_MAX",
    "INT64_MIN",
    "ISO_4217_CODES",
    "canonical_text",
    "currency_exponent",
    "decimal_str",
    "format_amount",
    "format_unit_amount",
    "fits_int64",
    "normalize_currency",
    "parse_decimal",
    "round_minor",
]

# The one context every Decimal operation on prices, quantities and usage runs in (always via
# `localcontext(DECIMAL_CONTEXT)` or its methods, never the thread's default context, whose
# 28 digits would round silently). Values have at most 15 significant digits but any exponent,
# so a sum of a large and a tiny value can need many digits: the precision is unbounded (a
# Decimal operation only allocates the digits its result needs) and Inexact is trapped, so an
# operation that would round raises instead. No division happens on money (proration is exact
# rational arithmetic, `pricing.prorate`); the one rounding is `round_minor`'s quantization.
DECIMAL_CONTEXT = Context(
    prec=MAX_PREC,
    Emax=MAX_EMAX,
    Emin=MIN_EMIN,
    rounding=ROUND_HALF_UP,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)

# The ledger stores amounts, quantities and balances as SQLite INTEGERs: signed 64-bit. An
# amount outside this range cannot be stored, so it is refused where it is computed.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def fits_int64(value: int) -> bool:
    """True when `value` can be stored as an SQLite INTEGER (signed 64-bit)."""
    return INT64_MIN <= value <= INT64_MAX


# ISO 4217 list one (active alphabetic codes, lowercase), including the fund codes (BOV, CHE,
# CHW, CLF, COU, MXV, USN, UYI, UYW) and the X codes (metals, bond units, XDR, XSU, XUA, XTS,
# XXX). Transitional codes still listed while their successors circulate (ANG/XCG, SLL/SLE,
# BGN) are kept so that a price created before the switch still loads. Withdrawn codes
# (HRK, ZWL, VEF, MRO, STD, ...) are refused.
ISO_4217_CODES: frozenset[str] = frozenset(
    {
        "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn",
        "bam", "bbd", "bdt", "bgn", "bhd", "bif", "bmd", "bnd", "bob", "bov",
        "brl", "bsd", "btn", "bwp", "byn", "bzd",
        "cad", "cdf", "che", "chf", "chw", "clf", "clp", "cny", "cop", "cou",
        "crc", "cuc", "cup", "cve", "czk",
        "djf", "dkk", "dop", "dzd",
        "egp", "ern", "etb", "eur",
        "fjd", "fkp",
        "gbp", "gel", "ghs", "gip", "gmd", "gnf", "gtq", "gyd",
        "hkd", "hnl", "htg", "huf",
        "idr", "ils", "inr", "iqd", "irr", "isk",
        "jmd", "jod", "jpy",
        "kes", "kgs", "khr", "kmf", "kpw", "krw", "kwd", "kyd", "kzt",
        "lak", "lbp", "lkr", "lrd", "lsl", "lyd",
        "mad", "mdl", "mga", "mkd", "mmk", "mnt", "mop", "mru", "mur", "mvr",
        "mwk", "mxn", "mxv", "myr", "mzn",
        "nad", "ngn", "nio", "nok", "npr", "nzd",
        "omr",
        "pab", "pen", "pgk", "php", "pkr", "pln", "pyg",
        "qar",
        "ron", "rsd", "rub", "rwf",
        "sar", "sbd", "scr", "sdg", "sek", "sgd", "shp", "sle", "sll", "sos",
        "srd", "ssp", "stn", "svc", "syp", "szl",
        "thb", "tjs", "tmt", "tnd", "top", "try", "ttd", "twd", "tzs",
        "uah", "ugx", "usd", "usn", "uyi", "uyu", "uyw", "uzs",
        "ved", "ves", "vnd", "vuv",
        "wst",
        "xaf", "xag", "xau", "xba", "xbb", "xbc", "xbd", "xcd", "xcg", "xdr",
        "xof", "xpd", "xpf", "xpt", "xsu", "xts", "xua", "xxx",
        "yer",
        "zar", "zmw", "zwg",
    }
)  # fmt: skip

# SPEC 3.1 follows Stripe's minor units, not ISO's table (ISO says ISK 0, IQD 3; Stripe does not).
_ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
_THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())

_CURRENCY_HINT = "use an ISO 4217 code such as usd, eur, jpy"


def normalize_currency(code: str) -> str:
    """Lowercase and check a currency code once at the edge, so stored codes are always known."""
    if type(code) is not str:
        raise InvalidInput(f"invalid currency {code!r}: not a currency code", _CURRENCY_HINT)
    lowered = code.lower()
    if lowered not in ISO_4217_CODES:
        raise InvalidInput(f"unknown currency {code!r}", _CURRENCY_HINT)
    return lowered


def currency_exponent(currency: str) -> int:
    """Minor-unit exponent; unknown codes raise rather than silently display with 2 places."""
    code = currency.lower()
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    normalize_currency(currency)  # raises InvalidInput naming an unknown code
    return 2


# ASCII digits only: `\d` and Decimal() both accept other scripts' digits, which no CSV means.
_DECIMAL_RE = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_fullmatch = _DECIMAL_RE.fullmatch
_GOOD_EXAMPLE = "write a plain decimal such as '1250' or '0.05'"
_NON_FINITE = {"nan", "snan", "inf", "infinity"}


def parse_decimal(
    text: str,
    *,
    field: str,
    max_significant_digits: int | None = None,
    max_decimal_places: int | None = None,
    allow_negative: bool = True,
) -> Decimal:
    """Turn user text into an exact Decimal, refusing anything that could hide a float artefact.

    Called once per imported event (a million per import), so the accepting path is one
    precompiled regex match and one `Decimal(text)`; diagnosis of refusals happens off it.
    Significant digits are those of the value as written without leading zeros
    ("0.0001" -> 1, "100" -> 3, "1.50" -> 3, "0" -> 1); decimal places count as written.
    """
    if type(text) is not str or _fullmatch(text) is None:
        raise _refusal(text, field)
    value = Decimal(text)
    # Length pre-checks: text can never hold more digits or places than characters, and most
    # values are short, so the exact count (Decimal.as_tuple is slow) is rarely needed.
    if max_significant_digits is not None and len(text) > max_significant_digits:
        significant = len(value.as_tuple().digits)
        if significant > max_significant_digits:
            raise InvalidInput(
                f"invalid {field} {text!r}: {significant} significant digits, "
                f"at most {max_significant_digits} allowed",
                f"give at most {max_significant_digits} significant digits; a float artefact "
                "such as '0.30000000000000004' is not accepted",
            )
    if max_decimal_places is not None and len(text) > max_decimal_places + 1:
        point = text.find(".")
        places = 0 if point < 0 else len(text) - point - 1
        if places > max_decimal_places:
            raise InvalidInput(
                f"invalid {field} {text!r}: {places} decimal places, "
                f"at most {max_decimal_places} allowed",
                f"round it yourself to {max_decimal_places} decimal places, e.g. '0.05'",
            )
    if not allow_negative and value < 0:
        raise InvalidInput(
            f"invalid {field} {text!r}: must not be negative",
            "give 0 or a positive decimal such as '0.05'",
        )
    return value


def _refusal(text: object, field: str) -> InvalidInput:
    """Explain why `text` was refused; off the hot path, so it may be thorough."""
    if isinstance(text, bool) or not isinstance(text, str):
        reason = f"a Python {type(text).__name__} is not accepted, only decimal text"
        hint = f"pass the literal text of the number: {_GOOD_EXAMPLE}"
    elif not text:
        reason, hint = "empty", _GOOD_EXAMPLE
    elif any(ch.isspace() for ch in text):
        reason, hint = "contains whitespace", f"remove the spaces: {_GOOD_EXAMPLE}"
    elif text.lower().lstrip("+-") in _NON_FINITE:
        reason, hint = "not a finite number", _GOOD_EXAMPLE
    elif _EXPONENT_RE.fullmatch(text):
        reason = "exponent notation is not accepted"
        hint = "write the number out in full, e.g. '1000' not '1e3'"
    elif any(sep in text for sep in ",_'"):
        reason = "separators are not accepted"
        hint = "use '.' as the decimal point and no thousands separator, e.g. '1000.5'"
    elif _BARE_POINT_RE.fullmatch(text):
        reason = "needs a digit on both sides of the decimal point"
        hint = "write '0.5' rather than '.5', and '5' rather than '5.'"
    elif any(ch.isdigit() and not ch.isascii() for ch in text):
        reason, hint = "only the ASCII digits 0-9 are accepted", _GOOD_EXAMPLE
    else:
        reason, hint = "not a decimal number", _GOOD_EXAMPLE
    return InvalidInput(f"invalid {field} {text!r}: {reason}", hint)


_EXPONENT_RE = re.compile(r"[+-]?[0-9]*\.?[0-9]*[eE][+-]?[0-9]+")
_BARE_POINT_RE = re.compile(r"[+-]?(?:\.[0-9]+|[0-9]+\.)")


def round_minor(exact: Decimal) -> int:
    """SPEC 3.2's one rounding step, half away from zero, so every caller rounds alike."""
    if not exact.is_finite():
        raise ValueError(f"cannot round a non-finite amount: {exact!r}")
    return int(exact.to_integral_value(rounding=ROUND_HALF_UP))


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


# Text already in `decimal_str`'s form: no sign but a minus, no leading zeros, a fraction
# without trailing zeros, never "-0". Checked first, so canonical input costs one regex match.
_CANONICAL_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?")


def canonical_text(text: str) -> str:
    """The canonical form of a decimal given as text (`+007.50` -> `7.5`, `1E-7` ->
    `0.0000001`): what every decimal column of the ledger holds."""
    if _CANONICAL_RE.fullmatch(text) and text != "-0":
        return text
    return decimal_str(Decimal(text))


def decimal_str(value: Decimal) -> str:
    """Canonical text for storage and JSON: no exponent, no trailing zeros, no '-0'."""
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        return "0"
    return text
