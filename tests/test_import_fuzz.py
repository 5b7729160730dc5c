"""`billing event import` on random input (SPEC 2.5): random rows and random bytes never show a
traceback, and read = accepted + duplicates + rejected always."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import NOW_TS, Billing, json_of

TS = NOW_TS - 3600


def run_import(billing: Billing, *args: str, input: bytes):
    return billing("event", "import", "-", *args, "--json", input=input)


# -- random input never shows a traceback --------------------------------------------------------
@pytest.fixture(scope="module")
def fuzz_ledger(tmp_path_factory: pytest.TempPathFactory) -> Billing:
    billing = Billing(tmp_path_factory.mktemp("fuzz") / "billing.db")
    json_of(billing("meter", "create", "--id", "mtr_t", "--display-name", "T", "--event-name",
                    "api_tokens", "--aggregation", "sum", "--json"))  # fmt: skip
    json_of(billing("customer", "create", "--id", "cus_a", "--json"))
    return billing


def check_invariants(result, data: bytes) -> None:
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, (
        data,
        result.stderr,
    )
    if result.exit_code == 4:  # a CSV header refused as a whole
        assert result.stderr.startswith("error: CSV header"), result.stderr
        return
    assert result.exit_code in (0, 7), result.stderr
    s = json.loads(result.stdout)
    assert s["read"] == s["accepted"] + s["duplicates"] + s["rejected"]
    assert 0 <= s["late"] <= s["accepted"]
    assert (result.exit_code == 7) == (s["rejected"] > 0)


values = st.one_of(
    st.sampled_from(["1", "0.5", "-3", "1e3", "NaN", "", "1,000", "１", " 2", "123456789012345",
                     "1234567890123456", "0.30000000000000004"]),
    st.text(max_size=6),
)  # fmt: skip
cells = st.one_of(
    st.sampled_from(["api_tokens", "cus_a", "cus_b", "", str(TS)]), st.text(max_size=8)
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.text(max_size=6), values
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {"event_name": st.sampled_from(["api_tokens", "other", ""]),
             "identifier": st.one_of(st.none(), st.sampled_from(["i1", "i2", "a b"]),
                                     st.text(max_size=5)),
             "timestamp": st.one_of(st.none(), st.sampled_from([TS, NOW_TS + 1000, "2026-10-31"]),
                                    json_scalars),
             "payload": st.one_of(
                 st.fixed_dictionaries({"stripe_customer_id": st.sampled_from(["cus_a", "cus_b"]),
                                        "value": st.one_of(values, json_scalars)}),
                 json_scalars)}
        ),
        max_size=8,
    ),
    garbage=st.lists(st.binary(max_size=20), max_size=2),
)  # fmt: skip
def test_random_jsonl_rows(fuzz_ledger: Billing, rows: list[dict], garbage: list[bytes]) -> None:
    lines = [json.dumps(r).encode() for r in rows] + [g.replace(b"\n", b" ") for g in garbage]
    data = b"\n".join(lines) + b"\n"
    result = run_import(fuzz_ledger, "--format", "jsonl", input=data)
    check_invariants(result, data)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    header=st.sampled_from(["event_name,identifier,timestamp,stripe_customer_id,value",
                            "event_name,stripe_customer_id,value,_line,_error,_raw",
                            "value,event_name,stripe_customer_id"]),
    rows=st.lists(st.lists(cells, min_size=1, max_size=7), max_size=8),
)  # fmt: skip
def test_random_csv_rows(fuzz_ledger: Billing, header: str, rows: list[list[str]]) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header.split(","), *rows])
    data = out.getvalue().encode("utf-8", "surrogatepass")
    result = run_import(fuzz_ledger, "--format", "csv", input=data)
    check_invariants(result, data)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    fmt=st.sampled_from(["csv", "jsonl"]),
    body=st.binary(max_size=200),
    with_header=st.booleans(),
)
def test_random_bytes(fuzz_ledger: Billing, fmt: str, body: bytes, with_header: bool) -> None:
    data = body
    if with_header and fmt == "csv":
        data = b"event_name,stripe_customer_id,value\n" + body
    result = run_import(fuzz_ledger, "--format", fmt, input=data)
    check_invariants(result, data)
