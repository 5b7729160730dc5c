from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_cli.errors import InvalidInput
from billing_cli.ids import MAX_ID_LENGTH, PREFIXES, new_id, validate_id

BASE62 = re.compile(r"[0-9A-Za-z]{24}")


def test_prefixes_match_spec() -> None:
    assert PREFIXES == {
        "billing.meter": "mtr_",
        "product": "prod_",
        "price": "price_",
        "customer": "cus_",
        "subscription": "sub_",
        "subscription_item": "si_",
        "invoice": "in_",
        "line_item": "il_",
        # issue 19 (Stripe's prefixes; a chosen grant --id may also start with cg_)
        "billing.credit_grant": "credgr_",
        "billing.credit_balance_transaction": "cbtxn_",
    }


@pytest.mark.parametrize("prefix", sorted(PREFIXES.values()))
def test_new_id_shape(prefix: str) -> None:
    value = new_id(prefix)
    assert value.startswith(prefix)
    assert BASE62.fullmatch(value[len(prefix) :])
    assert validate_id(value, prefix) == value


def test_new_ids_are_distinct() -> None:
    assert len({new_id("cus_") for _ in range(1000)}) == 1000


@pytest.mark.parametrize(
    ("value", "prefix"),
    [
        ("mtr_tokens", "mtr_"),
        ("mtr_API_calls_2026", "mtr_"),
        ("price_x", "price_"),
        ("cus_" + "a" * (MAX_ID_LENGTH - 4), "cus_"),
        ("mtr__", "mtr_"),
    ],
)
def test_validate_id_accepts(value: str, prefix: str) -> None:
    assert validate_id(value, prefix) == value


@pytest.mark.parametrize(
    ("value", "prefix", "why"),
    [
        ("tokens", "mtr_", "does not start with 'mtr_'"),
        ("cus_acme", "mtr_", "does not start with 'mtr_'"),
        ("MTR_tokens", "mtr_", "does not start with 'mtr_'"),
        ("mtr_", "mtr_", "nothing after the prefix"),
        ("", "mtr_", "does not start"),
        ("mtr_" + "a" * (MAX_ID_LENGTH - 3), "mtr_", "65 characters"),
        ("mtr_api-calls", "mtr_", "only letters"),
        ("mtr_api calls", "mtr_", "only letters"),
        ("mtr_tökens", "mtr_", "only letters"),
        ("mtr_tokens\n", "mtr_", "only letters"),
        ("mtr_١", "mtr_", "only letters"),
    ],
)
def test_validate_id_rejects(value: str, prefix: str, why: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_id(value, prefix)
    err = info.value
    assert err.exit_code == 4
    assert repr(value) in err.message
    assert why in err.message
    assert err.hint is not None and prefix in err.hint


def test_validate_id_hint_has_example() -> None:
    with pytest.raises(InvalidInput) as info:
        validate_id("tokens", "mtr_")
    assert "mtr_tokens" in (info.value.hint or "")


@given(st.text(max_size=80), st.sampled_from(sorted(PREFIXES.values())))
def test_validate_id_agrees_with_the_rule(value: str, prefix: str) -> None:
    ok = (
        value.startswith(prefix)
        and len(prefix) < len(value) <= MAX_ID_LENGTH
        and re.fullmatch(r"[A-Za-z0-9_]+", value, re.ASCII) is not None
    )
    if ok:
        assert validate_id(value, prefix) == value
    else:
        with pytest.raises(InvalidInput):
            validate_id(value, prefix)
