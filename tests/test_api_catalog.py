"""api/catalog.py and api/context.py called directly, as a script or a test would (no CLI);
on both backends (issue 13.4)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_cli.api import Context
from billing_cli.api import catalog as api
from billing_cli.api import prices as prices_api
from billing_cli.api import subscriptions as subs
from billing_cli.api.context import check_text, parse_int, parse_metadata
from billing_cli.domain.models import Tier
from billing_cli.domain.money import decimal_str
from billing_cli.errors import Conflict, InvalidInput, NotFound, UsageError
from billing_cli.present.stripe_json import price_dict
from tests.backends import ledger_exists

pytestmark = pytest.mark.both_backends

NOW = datetime(2026, 11, 1, 9, tzinfo=UTC)
NOW_TS = 1793523600


@pytest.fixture
def ctx(db: Path | str) -> Context:
    return Context(db=db, now=NOW)


@pytest.fixture
def meter(ctx: Context):
    return api.create_meter(
        ctx, display_name="Tokens", event_name="api_tokens", aggregation="sum", meter_id="mtr_t"
    )


def licensed(ctx: Context, **kw):
    args = {"currency": "usd", "interval": "month", "usage_type": "licensed",
            "product_name": "Seats", "unit_amount": 100}  # fmt: skip
    args.update(kw)
    return prices_api.create_price(ctx, **args)


# -- context helpers -----------------------------------------------------------------------
def test_context_now_ts(ctx: Context) -> None:
    assert ctx.now_ts == NOW_TS


def test_parse_metadata() -> None:
    assert parse_metadata(None) == {}
    assert parse_metadata(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(InvalidInput, match="'=v'"):
        parse_metadata(["=v"])
    with pytest.raises(InvalidInput, match="too long"):
        parse_metadata(["k" * 41 + "=v"])
    with pytest.raises(InvalidInput, match="too long"):
        parse_metadata(["k=" + "v" * 501])
    assert len(parse_metadata([f"k{i}=v" for i in range(50)])) == 50
    with pytest.raises(InvalidInput, match="51"):
        parse_metadata([f"k{i}=v" for i in range(51)])


def test_parse_int() -> None:
    assert parse_int(7, field="--n") == 7
    assert parse_int("36", field="--n") == 36
    assert parse_int("-3", field="--n") == -3
    for bad in ("1.0", "1e3", "", "ten", "1_000", "٣", True):
        with pytest.raises(InvalidInput, match="--n"):
            parse_int(bad, field="--n")  # type: ignore[arg-type]


def test_check_text() -> None:
    check_text(None, field="--x", max_len=3)
    check_text("abc", field="--x", max_len=3)
    with pytest.raises(InvalidInput, match="4 characters"):
        check_text("abcd", field="--x", max_len=3)
    with pytest.raises(InvalidInput, match="required"):
        check_text("", field="--x", max_len=3, required=True)
    with pytest.raises(InvalidInput, match="control"):
        check_text("a\nb", field="--x", max_len=9)


# -- meters --------------------------------------------------------------------------------
def test_meter_create_get_update(ctx: Context, meter) -> None:
    assert meter.created == NOW_TS and meter.status == "active"
    assert api.get_meter(ctx, "mtr_t") == meter == api.get_meter(ctx, "api_tokens")
    later = Context(ctx.db, datetime(2026, 11, 2, tzinfo=UTC))
    updated = api.update_meter(later, "api_tokens", display_name="T2")
    assert (updated.display_name, updated.created, updated.updated) == ("T2", NOW_TS, 1793577600)
    assert api.set_meter_status(ctx, "mtr_t", active=False).status == "inactive"
    assert api.list_meters(ctx) == [api.get_meter(ctx, "mtr_t")]


def test_meter_keys_must_differ(ctx: Context) -> None:
    with pytest.raises(InvalidInput, match="'k'"):
        api.create_meter(ctx, display_name="x", event_name="e", aggregation="sum",
                         customer_key="k", value_key="k")  # fmt: skip
    assert not ledger_exists(ctx.db)


def test_validation_happens_before_the_file_is_created(ctx: Context) -> None:
    with pytest.raises(InvalidInput):
        api.create_meter(ctx, display_name="x", event_name="no spaces", aggregation="sum")
    with pytest.raises(InvalidInput):
        licensed(ctx, currency="zzz")
    with pytest.raises(InvalidInput):
        api.create_customer(ctx, email="nope")
    assert not ledger_exists(ctx.db)


def test_reads_on_a_missing_ledger_are_not_found(ctx: Context) -> None:
    for call in (api.list_meters, api.list_products, prices_api.list_prices, api.list_customers):
        with pytest.raises(NotFound, match="no ledger"):
            call(ctx)
    assert not ledger_exists(ctx.db)


# -- prices --------------------------------------------------------------------------------
def test_price_from_python_ints(ctx: Context, meter) -> None:
    price = prices_api.create_price(
        ctx, currency="JPY", interval="week", interval_count=2, usage_type="metered",
        meter="api_tokens", product_name="Tokens", unit_amount=3, transform_divide_by=10,
        transform_round="down", lookup_key="k", nickname="n", metadata=["a=b"],
    )  # fmt: skip
    assert (price.currency, price.interval_count, price.meter) == ("jpy", 2, "mtr_t")
    assert price.unit_amount_decimal == Decimal(3)
    assert prices_api.get_price(ctx, "k") == price == prices_api.get_price(ctx, price.id)
    assert api.get_product(ctx, price.product).name == "Tokens"


def test_price_amount_text_forms(ctx: Context) -> None:
    assert licensed(ctx, unit_amount="0").unit_amount_decimal == 0
    assert licensed(ctx, unit_amount="12").unit_amount_decimal == 12
    assert licensed(ctx, unit_amount="+12").unit_amount_decimal == 12
    assert licensed(ctx, unit_amount="12.0").unit_amount_decimal == 12
    for bad in ("-1", "1e3", "NaN", "1,000", "1.5", " 1", "0x1"):
        with pytest.raises(InvalidInput, match="--unit-amount"):
            licensed(ctx, unit_amount=bad)
    with pytest.raises(InvalidInput, match="negative"):
        licensed(ctx, unit_amount=-1)


def test_price_tiers_from_python(ctx: Context) -> None:
    tiers = (Tier(10, Decimal("1.5"), None), Tier(None, Decimal(1), Decimal(100)))
    price = licensed(ctx, unit_amount=None, tiers_mode="volume", tiers=tiers)
    assert price.billing_scheme == "tiered" and price.tiers == tiers
    assert prices_api.get_price(ctx, price.id).tiers == tiers


def test_empty_lookup_key_and_nickname_mean_none(ctx: Context) -> None:
    a = licensed(ctx, lookup_key="", nickname="")
    b = licensed(ctx, lookup_key="")
    assert a.lookup_key is None and a.nickname is None and b.lookup_key is None


def test_product_name_errors_name_the_option(ctx: Context) -> None:
    with pytest.raises(InvalidInput, match="--product-name"):
        licensed(ctx, product_name="")
    with pytest.raises(InvalidInput, match="--product-name"):
        licensed(ctx, product_name="n" * 251)
    with pytest.raises(UsageError):
        licensed(ctx, product="prod_x")  # both --product and --product-name


def test_failed_price_leaves_no_inline_product(ctx: Context) -> None:
    licensed(ctx, lookup_key="k")
    with pytest.raises(Conflict):
        licensed(ctx, product_name="Orphan", lookup_key="k")
    assert [p.name for p in api.list_products(ctx)] == ["Seats"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.decimals(min_value=0, max_value=10**15, places=12, allow_nan=False, allow_infinity=False))
def test_unit_amount_decimal_round_trips_exactly(ctx: Context, value: Decimal) -> None:
    """Any price the money parser accepts is stored and shown digit for digit (each example a
    new price in the same ledger; PostgreSQL's NUMERIC reads back as the text it was given)."""
    text = format(value, "f")
    price = licensed(ctx, unit_amount=None, unit_amount_decimal=text)
    shown = price_dict(prices_api.get_price(ctx, price.id))
    assert Decimal(shown["unit_amount_decimal"]) == value
    assert shown["unit_amount_decimal"] == decimal_str(value)
    whole = value == value.to_integral_value()
    assert shown["unit_amount"] == (int(value) if whole else None)


# -- customers and subscriptions -----------------------------------------------------------
def test_customer_and_subscription(ctx: Context, meter) -> None:
    customer = api.create_customer(ctx, name="A", email="a@b", customer_id="cus_a")
    assert customer.invoice_prefix.isalnum() and len(customer.invoice_prefix) == 8
    price = prices_api.create_price(
        ctx, currency="usd", interval="month", usage_type="metered", meter="mtr_t",
        product_name="Tokens", unit_amount_decimal="0.04",
    )  # fmt: skip
    sub = subs.create_subscription(ctx, customer="cus_a", prices=[price.id])
    assert sub.status == "active" and sub.start_date == sub.billing_cycle_anchor == NOW_TS
    assert sub.items[0].quantity is None
    assert subs.get_subscription(ctx, sub.id) == sub
    assert subs.list_subscriptions(ctx, "cus_a") == [sub]
    assert api.get_customer(ctx, "cus_a").currency == "usd"
    with pytest.raises(Conflict, match="mtr_t"):
        subs.create_subscription(ctx, customer="cus_a", prices=[price.id])


def test_parse_price_spec() -> None:
    assert subs.parse_price_spec("price_a") == ("price_a", None)
    assert subs.parse_price_spec("price_a:3") == ("price_a", 3)
    assert subs.parse_price_spec("price_a:0") == ("price_a", 0)
    for bad in ("price_a:", "price_a:x", ":3", "price_a:-1"):
        with pytest.raises(InvalidInput):
            subs.parse_price_spec(bad)
