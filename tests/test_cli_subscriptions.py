"""`billing subscription create|list|show` (SPEC 1.4, 3.3, 5.2) through Typer's CliRunner."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.conftest import NOW_TS, assert_error, snapshot

pytestmark = pytest.mark.both_backends


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp())


SUB = ["subscription", "create", "--customer", "cus_alpaca"]


def unchanged(billing, args: list[str], code: int, *fragments: str) -> str:
    before = snapshot(billing.db)
    line = assert_error(billing(*args), code, *fragments)
    assert snapshot(billing.db) == before
    return line


def add_price(billing, price_id: str, *extra: str, currency: str = "usd") -> None:
    billing.json(
        "price", "create", "--id", price_id, "--product", "prod_api", "--currency", currency,
        "--unit-amount", "100", *extra,
    )  # fmt: skip


def licensed(billing, price_id: str, *, interval: str = "month", count: str = "1",
             currency: str = "usd") -> None:  # fmt: skip
    add_price(
        billing, price_id, "--interval", interval, "--interval-count", count,
        "--usage-type", "licensed", currency=currency,
    )  # fmt: skip


# -- round trip and periods ----------------------------------------------------------------
def test_alpaca_subscription_round_trip(alpaca) -> None:
    sub = alpaca.json(*SUB, "--price", "price_tokens", "--price", "price_seats:3")
    assert re.fullmatch(r"sub_[0-9A-Za-z]{24}", sub["id"])
    start, end = ts("2026-11-01T09:00:00Z"), ts("2026-12-01T09:00:00Z")
    assert start == NOW_TS
    items = sub["items"]["data"]
    assert [i["price"]["id"] for i in items] == ["price_tokens", "price_seats"] or [
        i["price"]["id"] for i in items
    ] == sorted(["price_tokens", "price_seats"])
    for item in items:
        assert re.fullmatch(r"si_[0-9A-Za-z]{24}", item["id"])
        assert item["object"] == "subscription_item"
        assert item["subscription"] == sub["id"]
        assert (item["current_period_start"], item["current_period_end"]) == (start, end)
        assert item["created"] == NOW_TS
        assert item["price"] == alpaca.json("price", "show", item["price"]["id"])
    quantities = {i["price"]["id"]: i["quantity"] for i in items}
    assert quantities == {"price_tokens": None, "price_seats": 3}
    expected = {
        "id": sub["id"],
        "object": "subscription",
        "billing_cycle_anchor": start,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "created": NOW_TS,
        "currency": "usd",
        "customer": "cus_alpaca",
        "ended_at": None,
        "default_tax_rates": [],
        "livemode": False,
        "metadata": {},
        "start_date": start,
        "status": "active",
        "trial_end": None,
        "trial_start": None,
        "billing_cli": {"current_period_end": end, "current_period_start": start},
    }
    assert {k: sub[k] for k in expected} == expected
    assert {k: v for k, v in sub["items"].items() if k != "data"} == {
        "object": "list",
        "has_more": False,
        "url": f"/v1/subscription_items?subscription={sub['id']}",
    }
    assert alpaca.json("subscription", "show", sub["id"]) == sub
    assert alpaca.json("subscription", "list")["data"] == [sub]
    assert alpaca.json("subscription", "list", "--customer", "cus_alpaca")["data"] == [sub]
    assert alpaca.json("customer", "show", "cus_alpaca")["currency"] == "usd"


def test_list_filters_by_customer(alpaca) -> None:
    alpaca.json("customer", "create", "--id", "cus_other")
    mine = alpaca.json(*SUB, "--price", "price_seats")
    theirs = alpaca.json("subscription", "create", "--customer", "cus_other", "--price",
                         "price_seats")  # fmt: skip
    assert [s["id"] for s in alpaca.json("subscription", "list")["data"]] == sorted(
        [mine["id"], theirs["id"]], key=[theirs["id"], mine["id"]].index
    )  # newest first
    only = alpaca.json("subscription", "list", "--customer", "cus_other")["data"]
    assert [s["id"] for s in only] == [theirs["id"]]


def test_price_by_lookup_key_and_default_quantity(alpaca) -> None:
    sub = alpaca.json(*SUB, "--price", "tokens_monthly", "--price", "price_seats")
    by_price = {i["price"]["id"]: i["quantity"] for i in sub["items"]["data"]}
    assert by_price == {"price_tokens": None, "price_seats": 1}


def test_period_moves_with_now(alpaca) -> None:
    sub = alpaca.json(*SUB, "--price", "price_tokens")
    later = alpaca.json("subscription", "show", sub["id"], now="2027-01-15T00:00:00Z")
    assert (
        later["items"]["data"][0]["current_period_start"],
        later["items"]["data"][0]["current_period_end"],
    ) == (
        ts("2027-01-01T09:00:00Z"),
        ts("2027-02-01T09:00:00Z"),
    )
    at_boundary = alpaca.json("subscription", "show", sub["id"], now="2026-12-01T09:00:00Z")
    assert at_boundary["items"]["data"][0]["current_period_start"] == ts("2026-12-01T09:00:00Z")


def test_future_anchor_gives_a_short_first_period(alpaca) -> None:
    sub = alpaca.json(*SUB, "--price", "price_tokens", "--billing-cycle-anchor", "2026-11-15")
    anchor = ts("2026-11-15T00:00:00Z")
    assert sub["billing_cycle_anchor"] == anchor and sub["start_date"] == NOW_TS
    assert (
        sub["items"]["data"][0]["current_period_start"],
        sub["items"]["data"][0]["current_period_end"],
    ) == (NOW_TS, anchor)
    assert sub["status"] == "active"
    after = alpaca.json("subscription", "show", sub["id"], now="2026-11-20T00:00:00Z")
    assert (
        after["items"]["data"][0]["current_period_start"],
        after["items"]["data"][0]["current_period_end"],
    ) == (
        anchor,
        ts("2026-12-15T00:00:00Z"),
    )


def test_anchor_limits_are_inclusive(alpaca) -> None:
    licensed(alpaca, "price_b")
    full = alpaca.json(*SUB, "--price", "price_seats", "--billing-cycle-anchor",
                       "2026-12-01T09:00:00Z")  # fmt: skip
    assert (
        full["items"]["data"][0]["current_period_start"],
        full["items"]["data"][0]["current_period_end"],
    ) == (
        NOW_TS,
        ts("2026-12-01T09:00:00Z"),
    )
    now = alpaca.json(*SUB, "--price", "price_b", "--billing-cycle-anchor", str(NOW_TS))
    assert now["items"]["data"][0]["current_period_end"] == ts("2026-12-01T09:00:00Z")


def test_trial_period_days(alpaca) -> None:
    sub = alpaca.json(*SUB, "--price", "price_tokens", "--trial-period-days", "14")
    trial_end = ts("2026-11-15T09:00:00Z")
    assert sub["status"] == "trialing"
    assert (sub["trial_start"], sub["trial_end"]) == (NOW_TS, trial_end)
    assert sub["billing_cycle_anchor"] == trial_end
    assert (
        sub["items"]["data"][0]["current_period_start"],
        sub["items"]["data"][0]["current_period_end"],
    ) == (NOW_TS, trial_end)
    after = alpaca.json("subscription", "show", sub["id"], now="2026-11-15T09:00:00Z")
    assert after["status"] == "active"
    assert (
        after["items"]["data"][0]["current_period_start"],
        after["items"]["data"][0]["current_period_end"],
    ) == (
        trial_end,
        ts("2026-12-15T09:00:00Z"),
    )


def test_trial_end(alpaca) -> None:
    sub = alpaca.json(*SUB, "--price", "price_seats", "--trial-end", "2026-11-08T00:00:00+02:00")
    trial_end = ts("2026-11-07T22:00:00Z")
    assert sub["status"] == "trialing" and sub["trial_end"] == trial_end
    assert (
        sub["items"]["data"][0]["current_period_start"],
        sub["items"]["data"][0]["current_period_end"],
    ) == (NOW_TS, trial_end)


def test_backdated_start(alpaca) -> None:
    sub = alpaca.json(*SUB, "--price", "price_tokens", "--backdate-start-date", "2026-10-15")
    start = ts("2026-10-15T00:00:00Z")
    assert sub["start_date"] == start and sub["created"] == NOW_TS
    assert sub["billing_cycle_anchor"] == start
    assert (
        sub["items"]["data"][0]["current_period_start"],
        sub["items"]["data"][0]["current_period_end"],
    ) == (
        start,
        ts("2026-11-15T00:00:00Z"),
    )


def test_twenty_items_are_allowed(alpaca) -> None:
    for n in range(19):
        licensed(alpaca, f"price_l{n}")
    prices = [a for n in range(19) for a in ("--price", f"price_l{n}")]
    sub = alpaca.json(*SUB, *prices, "--price", "price_tokens")
    assert len(sub["items"]["data"]) == 20


def test_subscription_table_output(alpaca) -> None:
    sub = alpaca.json(*SUB, "--price", "price_tokens", "--price", "price_seats:2")
    listing = alpaca("subscription", "list")
    assert listing.exit_code == 0
    assert sub["id"] in listing.stdout and "2026-12-01T09:00:00Z" in listing.stdout
    shown = alpaca("subscription", "show", sub["id"])
    assert shown.exit_code == 0
    for item in sub["items"]["data"]:
        assert item["id"] in shown.stdout


# -- errors --------------------------------------------------------------------------------
def test_more_than_twenty_items(alpaca) -> None:
    for n in range(21):
        licensed(alpaca, f"price_l{n}")
    prices = [a for n in range(21) for a in ("--price", f"price_l{n}")]
    unchanged(alpaca, [*SUB, *prices], 4, "21")


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--price", "price_seats", "--price", "price_seats"], 4, "price_seats"),
        (["--price", "price_seats:2", "--price", "price_seats:3"], 4, "price_seats"),
        (["--price", "price_seats", "--price", "price_eur"], 4, "price_eur"),
        (["--price", "price_seats", "--price", "price_year"], 4, "price_year"),
        (["--price", "price_seats", "--price", "price_2month"], 4, "price_2month"),
        (["--price", "price_tokens:5"], 4, "price_tokens"),
        (["--price", "price_seats:x"], 4, "'price_seats:x'"),
        (["--price", "price_seats:-1"], 4, "'price_seats:-1'"),
        (["--price", "price_seats:1.5"], 4, "'price_seats:1.5'"),
        (["--price", "price_seats:9223372036854775808"], 4, "9223372036854775808"),
        (["--price", "price_seats:³"], 4, "'price_seats:³'"),
        (["--price", "price_tokens", "--price", "price_tokens2"], 5, "mtr_tokens"),
        (["--price", "price_nope"], 3, "price_nope"),
        ([], 2, "--price"),
        (["--price", "price_seats", "--backdate-start-date", "2026-11-02"], 4,
         "2026-11-02T00:00:00Z"),
        (["--price", "price_seats", "--billing-cycle-anchor", "2026-12-01T09:00:01Z"], 4,
         "2026-12-01T09:00:01Z"),
        (["--price", "price_seats", "--billing-cycle-anchor", "2027-06-01"], 4,
         "2027-06-01T00:00:00Z"),
        (["--price", "price_seats", "--billing-cycle-anchor", "2026-10-01"], 4,
         "2026-10-01T00:00:00Z"),
        (["--price", "price_seats", "--trial-end", "2026-11-01T08:00:00Z"], 4,
         "2026-11-01T08:00:00Z"),
        (["--price", "price_seats", "--trial-period-days", "0"], 4, "0"),
        (["--price", "price_seats", "--trial-period-days", "731"], 4, "731"),
        (["--price", "price_seats", "--trial-period-days", "two"], 4, "'two'"),
        (["--price", "price_seats", "--trial-end", "2026-11-10", "--trial-period-days", "3"],
         2, "--trial-end"),
        (["--price", "price_seats", "--metadata", "oops"], 4, "'oops'"),
    ],
)  # fmt: skip
def test_subscription_create_errors(alpaca, args: list[str], code: int, fragment: str) -> None:
    licensed(alpaca, "price_eur", currency="eur")
    licensed(alpaca, "price_year", interval="year")
    licensed(alpaca, "price_2month", count="2")
    add_price(alpaca, "price_tokens2", "--interval", "month", "--usage-type", "metered",
              "--meter", "mtr_tokens")  # fmt: skip
    unchanged(alpaca, [*SUB, *args], code, fragment)


@pytest.mark.parametrize(
    "option", ["--billing-cycle-anchor", "--backdate-start-date", "--trial-end"]
)
@pytest.mark.parametrize("value", ["next tuesday", "2026-13-01", "1.5", "-5", "2026/11/01"])
def test_bad_times_exit_4_with_an_example(alpaca, option: str, value: str) -> None:
    result = alpaca(*SUB, "--price", "price_seats", option, value)
    before = snapshot(alpaca.db)
    assert_error(result, 4, option, repr(value))
    assert re.search(r"e\.g\. \d{4}-\d\d-\d\dT", result.stderr.splitlines()[1])
    assert snapshot(alpaca.db) == before


def test_unknown_customer(alpaca) -> None:
    unchanged(alpaca, ["subscription", "create", "--customer", "cus_nope", "--price",
                       "price_seats"], 3, "cus_nope")  # fmt: skip


def test_two_live_items_on_one_meter_for_a_customer(alpaca) -> None:
    add_price(alpaca, "price_tokens2", "--interval", "month", "--usage-type", "metered",
              "--meter", "mtr_tokens")  # fmt: skip
    first = alpaca.json(*SUB, "--price", "price_tokens")
    line = unchanged(alpaca, [*SUB, "--price", "price_tokens2"], 5, "mtr_tokens")
    assert first["id"] in line
    # another customer may use the same meter
    alpaca.json("customer", "create", "--id", "cus_other")
    alpaca.json("subscription", "create", "--customer", "cus_other", "--price", "price_tokens2")


def test_customer_currency_is_fixed_by_its_first_subscription(alpaca) -> None:
    licensed(alpaca, "price_eur", currency="eur")
    alpaca.json(*SUB, "--price", "price_seats")
    line = unchanged(alpaca, [*SUB, "--price", "price_eur"], 5, "usd")
    assert "eur" in line


def test_cancel_at_period_end_shows_cancel_at_until_the_end(alpaca) -> None:
    """Stripe: a scheduled end is `cancel_at`; `ended_at` stays null until it has passed."""
    sub = alpaca.json(*SUB, "--price", "price_tokens")
    end = ts("2026-12-01T09:00:00Z")
    during = alpaca.json(
        "subscription", "cancel", sub["id"], "--at-period-end", now="2026-11-10T00:00:00Z"
    )
    assert (during["cancel_at"], during["ended_at"], during["status"]) == (end, None, "active")
    after = alpaca.json("subscription", "show", sub["id"], now="2026-12-02T00:00:00Z")
    assert (after["ended_at"], after["status"]) == (end, "canceled")
