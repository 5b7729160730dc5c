"""Both event layouts in both formats (issue 16.3): flat (payload keys as columns / top-level
keys) and Stripe's (a `payload` object), as `event import --help` and the README show them."""

from __future__ import annotations

from conftest import Billing

T = "2026-10-30T00:00:00Z"


def imported(billing: Billing, fmt: str, text: str) -> list[dict]:
    result = billing("event", "import", "-", "--format", fmt, input=text)
    assert result.exit_code == 0, result.stderr
    return billing.json("event", "list", "--all")["data"]


def test_csv_flat_and_payload_column(alpaca: Billing) -> None:
    events = imported(
        alpaca,
        "csv",
        "event_name,identifier,stripe_customer_id,value,timestamp\n"
        f"api_tokens,f1,cus_alpaca,5,{T}\n",
    )
    events = imported(
        alpaca,
        "csv",
        (
            'event_name,identifier,timestamp,payload\napi_tokens,s1,@T,"{""stripe_customer_id"": '
            '""cus_alpaca"", ""value"": 7.5}"\n'
        ).replace("@T", T),
    )
    payloads = {e["identifier"]: e["payload"] for e in events}
    assert payloads == {
        "f1": {"stripe_customer_id": "cus_alpaca", "value": "5"},
        "s1": {"stripe_customer_id": "cus_alpaca", "value": "7.5"},
    }


def test_jsonl_stripe_and_flat(alpaca: Billing) -> None:
    events = imported(
        alpaca,
        "jsonl",
        (
            '{"event_name": "api_tokens", "identifier": "s1", "timestamp": "@T",'
            ' "payload": {"stripe_customer_id": "cus_alpaca", "value": "3"}}\n'
            '{"event_name": "api_tokens", "identifier": "f1", "timestamp": "@T",'
            ' "stripe_customer_id": "cus_alpaca", "value": 4.25}\n'
        ).replace("@T", T),
    )
    payloads = {e["identifier"]: e["payload"] for e in events}
    assert payloads == {
        "s1": {"stripe_customer_id": "cus_alpaca", "value": "3"},
        "f1": {"stripe_customer_id": "cus_alpaca", "value": "4.25"},
    }


def test_a_key_given_both_ways_differently_is_rejected(alpaca: Billing) -> None:
    result = alpaca(
        "event", "import", "-", "--format", "jsonl",
        input=('{"event_name": "api_tokens", "value": "1", "timestamp": "@T", "payload":'
               ' {"stripe_customer_id": "cus_alpaca", "value": "2"}}\n').replace("@T", T),
    )  # fmt: skip
    assert result.exit_code == 7 and "invalid_payload" in result.stderr


def test_list_output_imports_back_unchanged(alpaca: Billing, tmp_path) -> None:
    """`event list --nl` / `--csv` output re-imports as it is: output-only fields (object,
    created, livemode, status, cancelled) are not payload, every row is a duplicate."""
    imported(
        alpaca,
        "csv",
        f"event_name,stripe_customer_id,value,timestamp\napi_tokens,cus_alpaca,5,{T}\n",
    )
    for flag, fmt in (("--nl", "jsonl"), ("--csv", "csv")):
        out = alpaca("event", "list", flag).stdout
        again = alpaca("event", "import", "-", "--format", fmt, "--json", input=out)
        assert again.exit_code == 0, again.stderr
        assert '"duplicates": 1' in again.stdout and '"accepted": 0' in again.stdout
