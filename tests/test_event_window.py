"""Issue 15 items 2 and 14: events that can never be billed are refused, not "accepted" and
counted nowhere (Stripe's window: 35 days back, 5 minutes ahead; `--max-age` for back-fills),
and `--fail-on-late` makes a late event visible to a cron script (exit 7)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import NOW, NOW_TS, Billing, assert_error, json_of, snapshot

DAY = 86400


def send(billing: Billing, ts: int | str, *args: str, ident: str = "e1"):
    return billing(
        "event", "send", "--event-name", "api_tokens", "--customer", "cus_alpaca",
        "--value", "5", "--identifier", ident, "--timestamp", str(ts), *args,
    )  # fmt: skip


@pytest.mark.parametrize("ts", ["0", "1999-06-01T00:00:00Z", str(NOW_TS - 35 * DAY - 1)])
def test_send_refuses_an_event_older_than_35_days(alpaca: Billing, db, ts: str) -> None:
    before = snapshot(db)
    line = assert_error(send(alpaca, ts), 4, "timestamp_too_far_in_past", "35 days")
    assert "2026-11-01T09:00:00Z" in line  # now, as a time people read
    assert snapshot(db) == before


def test_the_window_edges_are_accepted(alpaca: Billing) -> None:
    assert (
        json_of(send(alpaca, NOW_TS - 35 * DAY, "--json", ident="old"))["billing_cli"]["status"]
        == "accepted"
    )
    assert (
        json_of(send(alpaca, NOW_TS + 300, "--json", ident="soon"))["billing_cli"]["status"]
        == "accepted"
    )
    assert_error(send(alpaca, NOW_TS + 301, ident="later"), 4, "timestamp_in_future")


def test_max_age_allows_a_back_fill(alpaca: Billing) -> None:
    ts = NOW_TS - 100 * DAY
    assert_error(send(alpaca, ts), 4, "timestamp_too_far_in_past")
    assert (
        json_of(send(alpaca, ts, "--max-age", "400d", "--json"))["billing_cli"]["status"]
        == "accepted"
    )
    assert_error(send(alpaca, NOW_TS - 2 * 3600, "--max-age", "1h", ident="e2"), 4, "1 hours")
    assert_error(send(alpaca, ts, "--max-age", "forever", ident="e3"), 4, "--max-age")


def test_import_rejects_old_rows_with_their_reason_and_keeps_the_rest(alpaca: Billing) -> None:
    data = (
        "event_name,stripe_customer_id,value,timestamp,identifier\n"
        "api_tokens,cus_alpaca,7,0,epoch\n"
        "api_tokens,cus_alpaca,7,1999-01-01T00:00:00Z,y1999\n"
        f"api_tokens,cus_alpaca,7,{NOW_TS - 3600},fresh\n"
    )
    result = alpaca("event", "import", "-", "--format", "csv", "--json", input=data)
    assert result.exit_code == 7
    summary = json.loads(result.stdout)
    assert (summary["accepted"], summary["rejected"]) == (1, 2)
    assert "line 2: epoch timestamp_too_far_in_past" in result.stderr
    assert "line 3: y1999 timestamp_too_far_in_past" in result.stderr
    events = alpaca.json("event", "list")["data"]
    assert [e["identifier"] for e in events] == ["fresh"]
    again = alpaca(
        "event", "import", "-", "--format", "csv", "--json", "--max-age", "30000d", input=data
    )
    assert json_of(again)["accepted"] == 2  # a deliberate back-fill takes the two old rows


# -- --fail-on-late -------------------------------------------------------------------------------
@pytest.fixture
def invoiced(alpaca: Billing) -> Billing:
    """October is invoiced and finalized: an event dated in October is late."""
    alpaca.json(
        "subscription", "create", "--customer", "cus_alpaca", "--price", "price_tokens",
        now="2026-10-01T00:00:00Z",
    )  # fmt: skip
    assert len(alpaca.json("invoice", "run")["finalized"]) == 1
    return alpaca


def test_send_exits_7_on_a_late_event_with_fail_on_late(invoiced: Billing) -> None:
    october = "2026-10-15T12:00:00Z"
    plain = send(invoiced, october, "--json", ident="late1")
    assert plain.exit_code == 0 and json.loads(plain.stdout)["billing_cli"]["status"] == "late"
    flagged = send(invoiced, october, "--fail-on-late", "--json", ident="late2")
    assert flagged.exit_code == 7, flagged.stderr
    assert json.loads(flagged.stdout)["billing_cli"]["status"] == "late"  # stored, and shown
    assert "error: event late2 was stored late" in flagged.stderr
    late = invoiced.json("event", "late")["data"]
    assert sorted(e["identifier"] for e in late) == ["late1", "late2"]
    on_time = send(invoiced, NOW, "--fail-on-late", ident="now1")
    assert on_time.exit_code == 0, on_time.stderr


def test_import_exits_7_on_late_rows_with_fail_on_late(invoiced: Billing) -> None:
    data = (
        "event_name,stripe_customer_id,value,timestamp,identifier\n"
        "api_tokens,cus_alpaca,7,2026-10-20T00:00:00Z,oct\n"
        f"api_tokens,cus_alpaca,7,{NOW_TS - 60},nov\n"
    )
    args = ("event", "import", "-", "--format", "csv", "--json")
    dry = invoiced(*args, "--dry-run", "--fail-on-late", input=data)
    assert dry.exit_code == 7 and "1 of 2 rows would be stored late" in dry.stderr
    result = invoiced(*args, "--fail-on-late", input=data)
    assert result.exit_code == 7
    assert json.loads(result.stdout) | {"derived_identifiers": 0} == {
        "read": 2, "accepted": 2, "duplicates": 0, "rejected": 0, "late": 1,
        "derived_identifiers": 0,
    }  # fmt: skip
    assert "error: 1 of 2 rows were stored late" in result.stderr
    again = invoiced(*args, "--fail-on-late", input=data)
    assert again.exit_code == 0, again.stderr  # duplicates now: nothing new is late


# -- issue 15 item 3: negative values are corrections, as in Stripe's meters ---------------------
def test_negative_value_is_a_correction_and_a_negative_total_bills_zero(
    alpaca: Billing,
) -> None:
    from pathlib import Path

    alpaca.json(
        "subscription", "create", "--customer", "cus_alpaca", "--price", "price_tokens",
        now="2026-10-01T00:00:00Z",
    )  # fmt: skip
    sent = {}
    for ident, value in (("plus", "10"), ("minus", "-25")):
        sent[ident] = alpaca(
            "event", "send", "--event-name", "api_tokens", "--customer", "cus_alpaca",
            "--value", value, "--identifier", ident, "--timestamp", "2026-10-07T00:00:00Z",
            now="2026-10-08T00:00:00Z",
        )  # fmt: skip
        assert sent[ident].exit_code == 0, sent[ident].stderr
    corrected = sent["minus"]
    assert "negative value" not in sent["plus"].stderr
    assert "negative value -25: a correction" in corrected.stderr
    preview = alpaca.json("invoice", "upcoming", "--customer", "cus_alpaca", "--explain",
                          now="2026-10-20T00:00:00Z")  # fmt: skip
    (line,) = preview["lines"]["data"]
    assert line["quantity"] == 0 and line["amount"] == 0
    assert line["billing_cli"]["explain"]["raw_aggregate"] == "-15"
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "Negative values are corrections, as in Stripe's meters" in readme
    assert "the surplus does not" in readme
