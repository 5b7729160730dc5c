"""`billing meter|product|price|customer …` via Typer's CliRunner (SPEC 1.1–1.3, 5, 5.1, 5.2)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from tests.conftest import NOW_TS, assert_error, json_of, ledger_exists, snapshot

BASE62_ID = re.compile(r"(mtr|prod|price|cus|sub|si)_[0-9A-Za-z]{24}")

METER = ["meter", "create", "--display-name", "Tokens", "--aggregation", "sum"]

pytestmark = pytest.mark.both_backends


def price_args(*extra: str) -> list[str]:
    """A valid licensed per-unit price unless `extra` overrides or adds options."""
    return ["price", "create", "--product", "prod_api", "--currency", "usd", "--interval",
            "month", *extra]  # fmt: skip


LICENSED = ["--usage-type", "licensed"]
METERED = ["--usage-type", "metered", "--meter", "mtr_tokens"]


def unchanged(billing, args: list[str], code: int, *fragments: str) -> str:
    """Run a failing command and check SPEC 5.2's error shape and that the ledger is untouched."""
    before = snapshot(billing.db)
    line = assert_error(billing(*args), code, *fragments)
    assert snapshot(billing.db) == before
    return line


# -- round trips ---------------------------------------------------------------------------
def test_meter_round_trip(billing) -> None:
    created = billing.json(
        "meter", "create", "--display-name", "API tokens", "--event-name", "api.tokens:v1-x",
        "--aggregation", "last", "--customer-key", "cust", "--value-key", "n",
        "--event-time-window", "hour",
    )  # fmt: skip
    assert BASE62_ID.fullmatch(created["id"]) and created["id"].startswith("mtr_")
    assert created == {
        "id": created["id"],
        "object": "billing.meter",
        "created": NOW_TS,
        "customer_mapping": {"event_payload_key": "cust", "type": "by_id"},
        "default_aggregation": {"formula": "last"},
        "display_name": "API tokens",
        "event_name": "api.tokens:v1-x",
        "event_time_window": "hour",
        "livemode": False,
        "status": "active",
        "status_transitions": {"deactivated_at": None},
        "updated": NOW_TS,
        "value_settings": {"event_payload_key": "n"},
    }
    assert billing.json("meter", "show", created["id"]) == created
    assert billing.json("meter", "show", "api.tokens:v1-x") == created  # by event name
    assert billing.json("meter", "list")["data"] == [created]


def test_meter_defaults_follow_stripe(billing) -> None:
    meter = billing.json(*METER, "--event-name", "api_tokens")
    assert meter["customer_mapping"] == {"event_payload_key": "stripe_customer_id", "type": "by_id"}
    assert meter["value_settings"] == {"event_payload_key": "value"}
    assert meter["event_time_window"] is None


def test_meter_update_deactivate_reactivate(alpaca) -> None:
    updated = alpaca.json(
        "meter", "update", "mtr_tokens", "--display-name", "Tokens (v2)", now="2026-11-02"
    )
    assert updated["display_name"] == "Tokens (v2)"
    assert updated["updated"] == NOW_TS - 9 * 3600 + 86400
    assert updated["created"] == NOW_TS
    assert alpaca.json("meter", "deactivate", "mtr_tokens")["status"] == "inactive"
    unchanged(alpaca, ["meter", "deactivate", "mtr_tokens"], 5, "mtr_tokens")
    assert alpaca.json("meter", "reactivate", "mtr_tokens")["status"] == "active"
    unchanged(alpaca, ["meter", "reactivate", "mtr_tokens"], 5, "mtr_tokens")
    assert alpaca.json("meter", "show", "mtr_tokens")["display_name"] == "Tokens (v2)"


def test_product_round_trip(billing) -> None:
    created = billing.json(
        "product", "create", "--name", "Alpaca API", "--description", "LLM access",
        "--unit-label", "token", "--metadata", "tier=pro", "--metadata", "team=ml",
    )  # fmt: skip
    assert created["id"].startswith("prod_") and BASE62_ID.fullmatch(created["id"])
    assert created == {
        "id": created["id"],
        "object": "product",
        "active": True,
        "created": NOW_TS,
        "default_price": None,
        "description": "LLM access",
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": {"team": "ml", "tier": "pro"},
        "name": "Alpaca API",
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "tax_details": None,
        "type": "service",
        "unit_label": "token",
        "updated": NOW_TS,
        "url": None,
    }
    assert billing.json("product", "show", created["id"]) == created
    assert billing.json("product", "list")["data"] == [created]


def test_price_per_unit_round_trip(alpaca) -> None:
    price = alpaca.json("price", "show", "price_tokens")
    assert price == {
        "id": "price_tokens",
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": NOW_TS,
        "currency": "usd",
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": "tokens_monthly",
        "metadata": {},
        "nickname": None,
        "product": "prod_api",
        "recurring": {
            "interval": "month",
            "interval_count": 1,
            "meter": "mtr_tokens",
            "trial_period_days": None,
            "usage_type": "metered",
        },
        "tax_behavior": "unspecified",
        "tiers": None,
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring",
        "unit_amount": None,  # 0.04 is not whole
        "unit_amount_decimal": "0.04",
    }
    assert alpaca.json("price", "show", "tokens_monthly") == price  # by lookup key
    listed = {p["id"]: p for p in alpaca.json("price", "list")["data"]}
    assert listed["price_tokens"] == price
    seats = alpaca.json("price", "show", "price_seats")
    assert listed["price_seats"] == seats
    assert (seats["unit_amount"], seats["unit_amount_decimal"]) == (2000, "2000")
    assert seats["product"].startswith("prod_")  # --product-name created one
    product = alpaca.json("product", "show", seats["product"])
    assert product["name"] == "Seats" and product["created"] == NOW_TS


def test_price_currency_is_stored_lowercase(alpaca) -> None:
    price = alpaca.json(*price_args("--currency", "EUR", "--unit-amount", "5", *LICENSED))
    assert price["currency"] == "eur"


def test_price_transform_and_interval_round_trip(alpaca) -> None:
    price = alpaca.json(
        *price_args(
            "--unit-amount-decimal", "0.000000000001", "--transform-divide-by", "100",
            "--transform-round", "up", "--interval-count", "36", "--nickname", "packs",
            "--metadata", "k=v", *LICENSED,
        )
    )  # fmt: skip
    assert price["transform_quantity"] == {"divide_by": 100, "round": "up"}
    assert price["unit_amount_decimal"] == "0.000000000001"
    assert price["recurring"]["interval_count"] == 36
    assert (price["nickname"], price["metadata"]) == ("packs", {"k": "v"})
    assert alpaca.json("price", "show", price["id"]) == price


def test_price_tiered_round_trip(alpaca) -> None:
    price = alpaca.json(
        *price_args(
            "--billing-scheme", "tiered", "--tiers-mode", "graduated",
            "--tier", "up_to=5,unit_amount=700",
            "--tier", "up_to=10,flat_amount=100,unit_amount_decimal=0.5",
            "--tier", "up_to=inf,unit_amount_decimal=0.25",
            *METERED,
        )
    )  # fmt: skip
    assert price["billing_scheme"] == "tiered" and price["tiers_mode"] == "graduated"
    assert price["unit_amount"] is None and price["unit_amount_decimal"] is None
    assert price["tiers"] == [
        {"flat_amount": None, "flat_amount_decimal": None, "unit_amount": 700,
         "unit_amount_decimal": "700", "up_to": 5},
        {"flat_amount": 100, "flat_amount_decimal": "100", "unit_amount": None,
         "unit_amount_decimal": "0.5", "up_to": 10},
        {"flat_amount": None, "flat_amount_decimal": None, "unit_amount": None,
         "unit_amount_decimal": "0.25", "up_to": None},
    ]  # fmt: skip
    assert alpaca.json("price", "show", price["id"]) == price


def test_price_tiers_json_round_trips_stripe_output(alpaca, tmp_path) -> None:
    """`price show --json`'s tiers fed back through --tiers-json (file and stdin) give the same."""
    first = alpaca.json(
        *price_args("--tiers-mode", "volume", "--tier", "up_to=1000,unit_amount=4",
                    "--tier", "up_to=inf,unit_amount_decimal=3.5", *METERED)
    )  # fmt: skip
    tiers_file = tmp_path / "tiers.json"
    tiers_file.write_text(json.dumps(first["tiers"]))
    again = alpaca.json(
        *price_args("--tiers-mode", "volume", "--tiers-json", str(tiers_file), *LICENSED)
    )
    assert again["tiers"] == first["tiers"]
    stdin = alpaca.json(
        *price_args("--tiers-mode", "volume", "--tiers-json", "-", *LICENSED),
        input=json.dumps(first["tiers"]),
    )
    assert stdin["tiers"] == first["tiers"]


def test_customer_round_trip(billing) -> None:
    created = billing.json(
        "customer", "create", "--name", "Alpaca AI", "--email", "ops@alpaca.example",
        "--invoice-prefix", "ALPACA", "--metadata", "crm=42",
    )  # fmt: skip
    assert created["id"].startswith("cus_") and BASE62_ID.fullmatch(created["id"])
    assert created == {
        "id": created["id"],
        "object": "customer",
        "address": None,
        "balance": 0,
        "business_name": None,
        "created": NOW_TS,
        "currency": None,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": "ops@alpaca.example",
        "individual_name": None,
        "invoice_prefix": "ALPACA",
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {"crm": "42"},
        "name": "Alpaca AI",
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "tax_ids": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/customers/{created['id']}/tax_ids",
        },
        "test_clock": None,
        "billing_cli": {"buyer_reference": None},
    }
    assert billing.json("customer", "show", created["id"]) == created
    assert billing.json("customer", "list")["data"] == [created]


def test_customer_invoice_prefix_generated(billing) -> None:
    prefixes = {billing.json("customer", "create")["invoice_prefix"] for _ in range(3)}
    assert len(prefixes) == 3
    assert all(re.fullmatch(r"[A-Z0-9]{8}", p) for p in prefixes)


@pytest.mark.parametrize("name", ["meter", "product", "price", "customer"])
def test_list_json_shape(alpaca, name: str) -> None:
    data = alpaca.json(name, "list")
    assert data["object"] == "list" and data["has_more"] is False
    assert isinstance(data["data"], list) and data["data"]
    for obj in data["data"]:
        assert alpaca.json(name, "show", obj["id"]) == obj


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--now", "2027-03-04T05:06:07Z"), ("--now", "1804136767"), ("env", "2027-03-04T05:06:07Z"),
     ("--now", "2027-03-04T06:06:07+01:00")],
)  # fmt: skip
def test_created_is_the_injected_clock(billing, flag: str, value: str) -> None:
    expected = 1804136767  # 2027-03-04T05:06:07Z
    if flag == "env":
        result = billing("customer", "create", "--json", now=None, env={"BILLING_NOW": value})
    else:
        result = billing("customer", "create", "--json", now=value)
    assert json_of(result)["created"] == expected


def test_bad_now_is_exit_4_with_example(billing) -> None:
    result = billing("customer", "create", now="yesterday")
    line = assert_error(result, 4, "'yesterday'")
    assert "e.g. 2026-11-01T09:00:00Z" in result.stderr.splitlines()[1]
    assert line.startswith("error: --now")
    assert not ledger_exists(billing.db)


# -- output formats ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["meter", "product", "price", "customer", "subscription"])
def test_list_csv_parses(alpaca, name: str) -> None:
    alpaca.json("customer", "create", "--name", 'Quote "Q", Comma, Inc.', "--email", "q@x.example")
    alpaca.json("subscription", "create", "--customer", "cus_alpaca", "--price", "price_tokens")
    result = alpaca(name, "list", "--csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    data = alpaca.json(name, "list")["data"]
    assert [r["id"] for r in rows] == [d["id"] for d in data]
    assert rows and all(None not in r.values() for r in rows)  # no ragged rows
    if name == "customer":
        assert 'Quote "Q", Comma, Inc.' in [r["name"] for r in rows]


@pytest.mark.parametrize("name", ["meter", "product", "price", "customer", "subscription"])
def test_json_and_csv_together_is_usage_error(alpaca, name: str) -> None:
    unchanged(alpaca, [name, "list", "--json", "--csv"], 2, "--json", "--csv")


def test_piped_tables_never_cut_ids_or_names(billing) -> None:
    long = {
        "meter": "mtr_" + "m" * 60,
        "product": "prod_" + "p" * 59,
        "price": "price_" + "q" * 58,
        "customer": "cus_" + "c" * 60,
    }
    name = "N" * 250
    billing.json(*METER, "--event-name", "e" * 100, "--id", long["meter"], "--display-name", name)
    billing.json("product", "create", "--name", name, "--id", long["product"])
    billing.json(
        "price", "create", "--product", long["product"], "--currency", "usd", "--interval",
        "month", "--usage-type", "metered", "--meter", long["meter"], "--unit-amount-decimal",
        "0.123456789012", "--lookup-key", "k" * 200, "--id", long["price"],
    )  # fmt: skip
    billing.json("customer", "create", "--name", name, "--id", long["customer"])
    sub = billing.json(
        "subscription", "create", "--customer", long["customer"], "--price", long["price"]
    )
    for kind, object_id in [*long.items(), ("subscription", sub["id"])]:
        for args in ([kind, "list"], [kind, "show", object_id]):
            result = billing(*args)
            assert result.exit_code == 0, result.stderr
            assert object_id in result.stdout, args
            assert "…" not in result.stdout and "..." not in result.stdout
            assert "\x1b" not in result.stdout  # no colour off a terminal
    tables = billing("meter", "list").stdout + billing("product", "list").stdout
    assert name in tables and "e" * 100 in tables
    prices = billing("price", "list").stdout
    assert "0.123456789012" in prices and "k" * 200 in prices


def test_show_table_has_every_field(alpaca) -> None:
    out = alpaca("price", "show", "price_tokens").stdout
    for field in ("id", "object", "currency", "recurring", "unit_amount_decimal", "0.04"):
        assert field in out


# -- meter errors --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--event-name", "api tokens"], 4, "'api tokens'"),
        (["--event-name", "tökens"], 4, "'tökens'"),
        (["--event-name", "a/b"], 4, "'a/b'"),
        (["--event-name", ""], 4, "--event-name"),
        (["--event-name", "e" * 101], 4, "101"),
        (["--event-name", "ok", "--display-name", "d" * 251], 4, "251"),
        (["--event-name", "ok", "--customer-key", "k" * 101], 4, "--customer-key"),
        (["--event-name", "ok", "--value-key", "k" * 101], 4, "--value-key"),
        (["--event-name", "ok", "--aggregation", "avg"], 4, "'avg'"),
        (["--event-name", "ok", "--event-time-window", "minute"], 4, "'minute'"),
        (["--event-name", "ok", "--id", "meter_x"], 4, "'meter_x'"),
        (["--event-name", "ok", "--id", "mtr_a-b"], 4, "'mtr_a-b'"),
        (["--event-name", "ok", "--id", "mtr_" + "x" * 61], 4, "mtr_xxx"),
        (["--event-name", "ok", "--id", "mtr_tokens"], 5, "mtr_tokens"),
        (["--event-name", "api_tokens"], 5, "'api_tokens'"),
    ],
)
def test_meter_create_errors(alpaca, args: list[str], code: int, fragment: str) -> None:
    unchanged(alpaca, [*METER, *args], code, fragment)


def test_event_name_unique_even_when_inactive(alpaca) -> None:
    alpaca.json("meter", "deactivate", "mtr_tokens")
    unchanged(alpaca, [*METER, "--event-name", "api_tokens"], 5, "api_tokens")


def test_meter_limits_are_inclusive(billing) -> None:
    meter = billing.json(
        *METER[:3], "d" * 250, "--aggregation", "count", "--event-name", "e" * 100,
        "--customer-key", "c" * 100, "--value-key", "v" * 100, "--id", "mtr_" + "x" * 60,
    )  # fmt: skip
    assert len(meter["display_name"]) == 250 and len(meter["id"]) == 64


@pytest.mark.parametrize(
    "args",
    [
        ["meter", "show", "mtr_nope"],
        ["meter", "update", "mtr_nope", "--display-name", "x"],
        ["meter", "deactivate", "mtr_nope"],
        ["meter", "reactivate", "mtr_nope"],
        ["product", "show", "prod_nope"],
        ["price", "show", "price_nope"],
        ["customer", "show", "cus_nope"],
        ["subscription", "show", "sub_nope"],
        ["subscription", "list", "--customer", "cus_nope"],
    ],
)
def test_unknown_ids_are_not_found(alpaca, args: list[str]) -> None:
    unchanged(alpaca, args, 3, args[2] if args[2].startswith(("mtr", "pro", "pri", "cus", "sub"))
              else args[3])  # fmt: skip


def test_update_display_name_too_long(alpaca) -> None:
    unchanged(alpaca, ["meter", "update", "mtr_tokens", "--display-name", "d" * 251], 4, "251")


# -- product errors ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--name", ""], 4, "--name"),
        (["--name", "n" * 251], 4, "--name"),
        (["--name", "ok", "--unit-label", "l" * 13], 4, "--unit-label"),
        (["--name", "ok", "--id", "prod_api"], 5, "prod_api"),
        (["--name", "ok", "--id", "price_x"], 4, "'price_x'"),
        (["--name", "ok", "--metadata", "novalue"], 4, "'novalue'"),
        (["--name", "a\x07b"], 4, "--name"),
        ([], 2, "--name"),
    ],
)
def test_product_create_errors(alpaca, args: list[str], code: int, fragment: str) -> None:
    unchanged(alpaca, ["product", "create", *args], code, fragment)


def test_metadata_key_limit(alpaca) -> None:
    pairs = [a for i in range(51) for a in ("--metadata", f"k{i}=v")]
    unchanged(alpaca, ["product", "create", "--name", "x", *pairs], 4, "51")
    ok = alpaca.json("product", "create", "--name", "x", *pairs[:100])
    assert len(ok["metadata"]) == 50


# -- price errors --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        # currency
        (["--currency", "usx", "--unit-amount", "5", *LICENSED], 4, "'usx'"),
        (["--currency", "hrk", "--unit-amount", "5", *LICENSED], 4, "'hrk'"),
        # amounts
        (["--unit-amount", "-1", *LICENSED], 4, "-1"),
        (["--unit-amount-decimal", "-0.5", *LICENSED], 4, "'-0.5'"),
        (["--unit-amount", "5", "--unit-amount-decimal", "5", *LICENSED], 2, "--unit-amount"),
        ([*LICENSED], 2, "--unit-amount"),
        (["--unit-amount-decimal", "0.1234567890123", *LICENSED], 4, "'0.1234567890123'"),
        (["--unit-amount", "1e3", *LICENSED], 4, "'1e3'"),
        (["--unit-amount", "NaN", *LICENSED], 4, "'NaN'"),
        (["--unit-amount", "1,000", *LICENSED], 4, "'1,000'"),
        (["--unit-amount", "1.5", *LICENSED], 4, "'1.5'"),
        (["--unit-amount", "", *LICENSED], 4, "''"),
        (["--unit-amount-decimal", "1e3", *LICENSED], 4, "'1e3'"),
        (["--unit-amount-decimal", "nan", *LICENSED], 4, "'nan'"),
        (["--unit-amount-decimal", "Infinity", *LICENSED], 4, "'Infinity'"),
        (["--unit-amount-decimal", "1,000.5", *LICENSED], 4, "'1,000.5'"),
        (["--unit-amount-decimal", ".5", *LICENSED], 4, "'.5'"),
        (["--unit-amount-decimal", "0x10", *LICENSED], 4, "'0x10'"),
        # tiers
        (["--tiers-mode", "graduated", "--tier", "up_to=5,unit_amount=1",
          "--tier", "up_to=5,unit_amount=1", "--tier", "up_to=inf,unit_amount=1", *LICENSED],
         4, "up_to 5"),
        (["--tiers-mode", "graduated", "--tier", "up_to=9,unit_amount=1",
          "--tier", "up_to=5,unit_amount=1", "--tier", "up_to=inf,unit_amount=1", *LICENSED],
         4, "up_to 5"),
        (["--tiers-mode", "graduated", "--tier", "up_to=inf,unit_amount=1",
          "--tier", "up_to=5,unit_amount=1", *LICENSED], 4, "inf"),
        (["--tiers-mode", "graduated", "--tier", "up_to=5,unit_amount=1",
          "--tier", "up_to=10,unit_amount=1", *LICENSED], 4, "10"),
        (["--tiers-mode", "volume", "--tier", "up_to=5", "--tier", "up_to=inf,unit_amount=1",
          *LICENSED], 4, "tier 1"),
        (["--tiers-mode", "volume", "--tier", "up_to=five,unit_amount=1", *LICENSED],
         4, "'up_to=five,unit_amount=1'"),
        (["--tiers-mode", "volume", "--tier", "upto=inf,unit_amount=1", *LICENSED],
         4, "'upto'"),
        (["--tiers-mode", "volume", "--tier", "up_to=inf,unit_amount=1e3", *LICENSED],
         4, "1e3"),
        (["--tiers-mode", "volume", "--tier", "up_to=inf,unit_amount_decimal=-1", *LICENSED],
         4, "-1"),
        (["--tiers-mode", "volume", "--tier", "up_to=0,unit_amount=1",
          "--tier", "up_to=inf,unit_amount=1", *LICENSED], 4, "0"),
        (["--tiers-mode", "volume", "--tier", "up_to=inf", "--tier", "x", *LICENSED],
         4, "'x'"),
        (["--tiers-mode", "sliding", "--tier", "up_to=inf,unit_amount=1", *LICENSED],
         4, "'sliding'"),
        (["--billing-scheme", "tiered", "--tier", "up_to=inf,unit_amount=1", *LICENSED],
         2, "--tiers-mode"),
        (["--billing-scheme", "tiered", "--tiers-mode", "volume", *LICENSED], 4, "tier"),
        (["--billing-scheme", "flat", "--unit-amount", "1", *LICENSED], 4, "'flat'"),
        (["--tiers-mode", "volume", "--tier", "up_to=inf,unit_amount=1",
          "--unit-amount", "4", *LICENSED], 2, "--unit-amount"),
        # transform_quantity
        (["--tiers-mode", "volume", "--tier", "up_to=inf,unit_amount=1",
          "--transform-divide-by", "100", "--transform-round", "up", *LICENSED],
         2, "transform"),
        (["--unit-amount", "1", "--transform-divide-by", "0", "--transform-round", "up",
          *LICENSED], 4, "0"),
        (["--unit-amount", "1", "--transform-divide-by", "-3", "--transform-round", "up",
          *LICENSED], 4, "-3"),
        (["--unit-amount", "1", "--transform-divide-by", "ten", "--transform-round", "up",
          *LICENSED], 4, "'ten'"),
        (["--unit-amount", "1", "--transform-divide-by", "10", *LICENSED],
         2, "--transform-round"),
        (["--unit-amount", "1", "--transform-divide-by", "10", "--transform-round", "half",
          *LICENSED], 4, "'half'"),
        # usage type and meter
        (["--unit-amount", "1", "--usage-type", "metered"], 2, "--meter"),
        (["--unit-amount", "1", "--usage-type", "licensed", "--meter", "mtr_tokens"],
         2, "--meter"),
        (["--unit-amount", "1", "--usage-type", "seats"], 4, "'seats'"),
        (["--unit-amount", "1", "--usage-type", "metered", "--meter", "mtr_nope"],
         3, "mtr_nope"),
        # intervals
        (["--unit-amount", "1", "--interval", "fortnight", *LICENSED], 4, "'fortnight'"),
        (["--unit-amount", "1", "--interval-count", "37", *LICENSED], 4, "37"),
        (["--unit-amount", "1", "--interval-count", "0", *LICENSED], 4, "0"),
        (["--unit-amount", "1", "--interval-count", "x", *LICENSED], 4, "'x'"),
        (["--unit-amount", "1", "--interval", "day", "--interval-count", "1096", *LICENSED],
         4, "1096"),
        (["--unit-amount", "1", "--interval", "week", "--interval-count", "157", *LICENSED],
         4, "157"),
        (["--unit-amount", "1", "--interval", "year", "--interval-count", "4", *LICENSED],
         4, "4"),
        # product, ids, lookup key
        (["--unit-amount", "1", "--product", "prod_nope", *LICENSED], 3, "prod_nope"),
        (["--unit-amount", "1", "--product-name", "X", *LICENSED], 2, "--product"),
        (["--unit-amount", "1", "--id", "price_seats", *LICENSED], 5, "price_seats"),
        (["--unit-amount", "1", "--id", "prc_x", *LICENSED], 4, "'prc_x'"),
        (["--unit-amount", "1", "--lookup-key", "tokens_monthly", *LICENSED],
         5, "'tokens_monthly'"),
        (["--unit-amount", "1", "--lookup-key", "k" * 201, *LICENSED], 4, "--lookup-key"),
    ],
)  # fmt: skip
def test_price_create_errors(alpaca, args: list[str], code: int, fragment: str) -> None:
    unchanged(alpaca, price_args(*args), code, fragment)


def test_price_needs_a_product(alpaca) -> None:
    args = ["price", "create", "--currency", "usd", "--interval", "month", "--unit-amount", "1"]
    unchanged(alpaca, [*args, *LICENSED], 2, "--product")


def test_interval_caps_are_inclusive(alpaca) -> None:
    for interval, count in [("day", 1095), ("week", 156), ("month", 36), ("year", 3)]:
        args = price_args("--unit-amount", "1", "--interval", interval, *LICENSED)
        price = alpaca.json(*args, "--interval-count", str(count))
        assert price["recurring"] == {
            "interval": interval, "interval_count": count, "meter": None,
            "trial_period_days": None, "usage_type": "licensed",
        }  # fmt: skip


def test_inactive_meter_cannot_take_a_new_price(alpaca) -> None:
    alpaca.json("meter", "deactivate", "mtr_tokens")
    line = unchanged(alpaca, price_args("--unit-amount", "1", *METERED), 4, "mtr_tokens")
    assert "inactive" in line


def test_tiers_json_errors(alpaca, tmp_path) -> None:
    bad = tmp_path / "bad.json"
    cases = {
        "[{": "not valid JSON",
        '[{"up_to": "inf", "unit_amount": 1.5}]': "1.5",
        '{"up_to": "inf"}': "array",
        '[{"up_to": "inf", "unit_amount": "7"}]': "'7'",
        '[{"up_to": 5, "unit_amount": 1}]': "inf",
    }
    for text, fragment in cases.items():
        bad.write_text(text)
        args = price_args("--tiers-mode", "volume", "--tiers-json", str(bad), *LICENSED)
        unchanged(alpaca, args, 4, fragment)
    missing = str(tmp_path / "missing.json")
    args = price_args("--tiers-mode", "volume", "--tiers-json", missing, *LICENSED)
    unchanged(alpaca, args, 4, "missing.json")
    both = price_args(
        "--tiers-mode", "volume", "--tiers-json", missing, "--tier", "up_to=inf,unit_amount=1",
        *LICENSED,
    )  # fmt: skip
    unchanged(alpaca, both, 2, "--tiers-json")


def test_lookup_key_reusable_once_the_other_price_is_not_active(alpaca) -> None:
    """Unique among *active* prices: a second active one is a conflict."""
    unchanged(
        alpaca, price_args("--unit-amount", "1", "--lookup-key", "tokens_monthly", *METERED),
        5, "tokens_monthly",
    )  # fmt: skip


# -- customer errors -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--email", "alpaca.example"], 4, "'alpaca.example'"),
        (["--email", "a@b@c"], 4, "'a@b@c'"),
        (["--email", "@b"], 4, "'@b'"),
        (["--invoice-prefix", "ab"], 4, "'ab'"),
        (["--invoice-prefix", "alpaca"], 4, "'alpaca'"),
        (["--invoice-prefix", "TOOLONGPREFIX"], 4, "'TOOLONGPREFIX'"),
        (["--invoice-prefix", "AL-PA"], 4, "'AL-PA'"),
        (["--invoice-prefix", "ALPACA"], 5, "'ALPACA'"),
        (["--id", "cus_alpaca"], 5, "cus_alpaca"),
        (["--id", "customer_1"], 4, "'customer_1'"),
        (["--id", "cus_"], 4, "'cus_'"),
    ],
)
def test_customer_create_errors(alpaca, args: list[str], code: int, fragment: str) -> None:
    unchanged(alpaca, ["customer", "create", *args], code, fragment)


def test_customer_prefix_limits_are_inclusive(billing) -> None:
    assert billing.json("customer", "create", "--invoice-prefix", "A1B")["invoice_prefix"] == "A1B"
    twelve = billing.json("customer", "create", "--invoice-prefix", "ABCDEFGHIJ12")
    assert twelve["invoice_prefix"] == "ABCDEFGHIJ12"


# -- usage errors --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["meter", "create", "--display-name", "x"],  # missing options
        ["meter", "list", "--bogus"],
        ["meter", "frobnicate"],
        ["meter"],
        ["meter", "show"],
        ["nonsense"],
        [],
    ],
)
def test_usage_errors_exit_2(alpaca, args: list[str]) -> None:
    unchanged(alpaca, args, 2)


def test_errors_do_not_create_a_ledger(billing) -> None:
    for args in (
        [*METER, "--event-name", "bad name"],
        ["customer", "create", "--email", "nope"],
        ["meter", "list", "--json", "--csv"],
        ["product", "create"],
    ):
        assert billing(*args).exit_code in (2, 3, 4)
        assert not ledger_exists(billing.db), args


def test_names_are_data_not_rich_markup(billing) -> None:
    name = "[/x] [bold]B[/bold] :smile: [red]"
    product = billing.json("product", "create", "--name", name, "--description", "[/]")
    for args in (["product", "list"], ["product", "show", product["id"]]):
        result = billing(*args)
        assert result.exit_code == 0, result.stderr
        assert name in result.stdout
    assert "[/]" in billing("product", "show", product["id"]).stdout


def test_tables_show_times_as_iso(alpaca) -> None:
    shown = alpaca("meter", "show", "mtr_tokens").stdout
    assert "2026-11-01T09:00:00Z" in shown and str(NOW_TS) not in shown
    sub = alpaca.json(
        "subscription", "create", "--customer", "cus_alpaca", "--price", "price_seats"
    )
    shown = alpaca("subscription", "show", sub["id"]).stdout
    assert "2026-12-01T09:00:00Z" in shown and str(NOW_TS) not in shown


def test_price_table_shows_unit_price_in_major_units(alpaca) -> None:
    """The table shows major units; CSV keeps the number (Stripe's minor-unit decimal) and the
    currency in its own column, so a spreadsheet can compute with it."""
    table = alpaca("price", "list").stdout
    assert "0.0004 USD" in table and "20.00 USD" in table
    rows = list(csv.DictReader(io.StringIO(alpaca("price", "list", "--csv").stdout)))
    assert {r["id"]: (r["unit_amount_decimal"], r["currency"]) for r in rows} == {
        "price_tokens": ("0.04", "usd"),
        "price_seats": ("2000", "usd"),
    }


def test_help_works_with_a_bad_clock(billing) -> None:
    result = billing("meter", "create", "--help", now="garbage")
    assert result.exit_code == 0 and result.stdout.startswith("Usage:")
    assert_error(billing("meter", "list", now="garbage"), 4, "'garbage'")


def test_argument_that_is_not_utf8(alpaca) -> None:
    """`billing customer create --name $'\\xff'`: Python hands the byte over as a surrogate."""
    unchanged(alpaca, ["customer", "create", "--name", "caf\udce9"], 4, "'caf\\udce9'", "UTF-8")
    unchanged(alpaca, ["customer", "show", "cus_\udcff"], 4, "UTF-8")
