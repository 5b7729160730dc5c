"""Row parsing and SPEC 2.1-2.5 validation for `event send` / `event import`."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_cli.domain.events import ValidEvent
from billing_cli.domain.models import Meter
from billing_cli.errors import InvalidInput
from billing_cli.ingest.event_rows import row_to_event
from billing_cli.ingest.readers import (
    MAX_LINE_BYTES,
    REASON_CODES,
    EventInput,
    Reject,
    iter_rows,
)
from billing_cli.ingest.validation import (
    validate_event,
)

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z


def meter(event_name: str, formula: str = "sum", status: str = "active") -> Meter:
    return Meter(
        f"mtr_{event_name}", 0, event_name, event_name, formula, "stripe_customer_id", "value",
        None, status, 0,
    )  # fmt: skip


METERS = {
    "api": meter("api"),
    "old": meter("old", status="inactive"),
    "calls": meter("calls", "count"),
}
CUSTOMERS = {"cus_1", "cus_2"}


def run(data: bytes, fmt: str) -> list[tuple[int, str | ValidEvent]]:
    """(line, reason code or the ValidEvent) for every row, as `event import` would see them."""
    out: list[tuple[int, str | ValidEvent]] = []
    for raw in iter_rows(io.BytesIO(data), fmt):
        ev = row_to_event(raw, fmt)
        if isinstance(ev, EventInput):
            ev = validate_event(ev, METERS.get(ev.event_name), CUSTOMERS.__contains__, NOW)
        out.append((raw.line, ev.code if isinstance(ev, Reject) else ev))
        if isinstance(ev, Reject):
            assert ev.code in REASON_CODES and ev.message
    return out


def codes(results: list[tuple[int, str | ValidEvent]]) -> list[tuple[int, str]]:
    return [(line, r if isinstance(r, str) else "ok") for line, r in results]


CSV = (
    "event_name,stripe_customer_id,value,timestamp,identifier,region\n"  # 1
    "api,cus_1,12.5,1767225600,id_1,eu\n"  # 2
    "unknown,cus_1,1,,,\n"  # 3
    "old,cus_1,1,,,\n"  # 4
    "api,,1,,,\n"  # 5
    "api,cus_9,1,,,\n"  # 6
    "api,cus_1,,,,\n"  # 7
    "api,cus_1,1e3,,,\n"  # 8
    'api,cus_1,"1,000",,,\n'  # 9
    "api,cus_1,NaN,,,\n"  # 10
    "api,cus_1,0.1.2,,,\n"  # 11
    "api,cus_1,1234567890123456,,,\n"  # 12: 16 significant digits
    f"api,cus_1,1,{NOW + 301},,\n"  # 13: more than 5 minutes ahead
    "api,cus_1,1,yesterday,,\n"  # 14
    "api,cus_1,1\n"  # 15
    "api,cus_\xff1,1,,,\n"  # 16: invalid UTF-8 (placeholder, replaced below)
    'api,cus_2,3,,,"north\nwest"\n'  # 17-18: quoted newline
    "\n"  # 19: blank
    "api,cus_1,+5,2026-01-01T00:00:00Z,,\n"  # 20
    "calls,cus_2,,,,\n"  # 21: count needs no value
    "api,cus_1,1,,bad id,\n"  # 22
    "api,cus_1,123456789012345,,,\n"  # 23: 15 significant digits
    f"api,cus_1,-0.5,{NOW + 300},,\n"  # 24: exactly 5 minutes ahead
    ",cus_1,1,,,\n"  # 25
    "api,cus_9,1e3,,,\n"  # 26: unknown customer is reported before the bad value
    "calls,cus_1,not-a-number,,,\n"  # 27: count ignores the value
).encode()
CSV = CSV.replace("\xff".encode(), b"\xff")


def test_csv_mixed_rows_report_line_numbers_and_reasons() -> None:
    results = run(CSV, "csv")
    assert codes(results) == [
        (2, "ok"),
        (3, "no_meter"),
        (4, "archived_meter"),
        (5, "meter_event_no_customer_defined"),
        (6, "meter_event_customer_not_found"),
        (7, "meter_event_value_not_found"),
        (8, "meter_event_invalid_value"),
        (9, "meter_event_invalid_value"),
        (10, "meter_event_invalid_value"),
        (11, "meter_event_invalid_value"),
        (12, "meter_event_invalid_value"),
        (13, "timestamp_in_future"),
        (14, "invalid_timestamp"),
        (15, "wrong_column_count"),
        (16, "invalid_utf8"),
        (17, "ok"),
        (20, "ok"),
        (21, "ok"),
        (22, "invalid_identifier"),
        (23, "ok"),
        (24, "ok"),
        (25, "missing_event_name"),
        (26, "meter_event_customer_not_found"),
        (27, "ok"),
    ]
    ok = {line: r for line, r in results if isinstance(r, ValidEvent)}
    first = ok[2]
    assert (first.identifier, first.meter, first.customer) == ("id_1", "mtr_api", "cus_1")
    assert (first.value, first.value_text, first.timestamp) == (Decimal("12.5"), "12.5", NOW)
    assert first.payload == {"stripe_customer_id": "cus_1", "value": "12.5", "region": "eu"}
    assert ok[17].payload["region"] == "north\nwest" and ok[17].timestamp == NOW
    assert not ok[17].timestamp_given and ok[2].timestamp_given
    assert ok[20].value == Decimal("5") and ok[20].timestamp == NOW
    assert ok[21].value == 0 and ok[21].value_text is None and ok[27].value == 0
    assert ok[23].value == Decimal("123456789012345")
    assert ok[24].value == Decimal("-0.5")


def test_csv_reject_messages_and_raw_text() -> None:
    rows = {raw.line: raw for raw in iter_rows(io.BytesIO(CSV), "csv")}
    assert rows[15].raw == "api,cus_1,1" and rows[15].fields is None
    assert rows[16].raw == "api,cus_\ufffd1,1,,," and rows[16].reject is not None
    assert "line 16" in rows[16].reject.message
    assert rows[2].raw is None and rows[2].fields is not None
    assert list(rows[2].fields) == [
        "event_name", "stripe_customer_id", "value", "timestamp", "identifier", "region",
    ]  # fmt: skip
    messages = {line: r for line, r in results_with_messages(CSV, "csv")}
    assert "'1e3'" in messages[8] and "exponent" in messages[8]
    assert "16 significant digits" in messages[12]
    assert "'yesterday'" in messages[14]
    assert "'cus_9'" in messages[6]
    assert "'bad id'" in messages[22]


def results_with_messages(data: bytes, fmt: str) -> list[tuple[int, str]]:
    out = []
    for raw in iter_rows(io.BytesIO(data), fmt):
        ev = row_to_event(raw, fmt)
        if isinstance(ev, EventInput):
            ev = validate_event(ev, METERS.get(ev.event_name), CUSTOMERS.__contains__, NOW)
        if isinstance(ev, Reject):
            out.append((raw.line, ev.message))
    return out


def test_csv_bom_crlf_and_bookkeeping_columns() -> None:
    data = (
        "\ufeffevent_name,stripe_customer_id,value,_line,_error\r\n"
        "api,cus_1,2,7,meter_event_customer_not_found: x\r\n"
        "\r\n"
        "api,cus_2,3,,\r\n"
    ).encode()
    results = run(data, "csv")
    assert [line for line, _ in results] == [2, 4]
    assert all(isinstance(r, ValidEvent) for _, r in results)
    assert results[0][1].payload == {"stripe_customer_id": "cus_1", "value": "2"}  # type: ignore[union-attr]
    assert iter_rows(io.BytesIO(data), "csv").header == [
        "event_name", "stripe_customer_id", "value", "_line", "_error",
    ]  # fmt: skip


def test_csv_invalid_utf8_inside_a_quoted_record_rejects_the_record_once() -> None:
    data = b'event_name,v\n"api\n\xff",1\napi,2\n'
    rows = list(iter_rows(io.BytesIO(data), "csv"))
    assert [(r.line, r.reject.code if r.reject else "ok") for r in rows] == [
        (2, "invalid_utf8"),
        (4, "ok"),
    ]
    assert rows[0].raw == '"api\n\ufffd",1'


def test_csv_stray_carriage_return_and_overlong_line() -> None:
    data = b"event_name,v\napi,1\rx\n" + b"a" * (MAX_LINE_BYTES + 10) + b"\napi,3\n"
    rows = list(iter_rows(io.BytesIO(data), "csv"))
    assert [(r.line, r.reject.code if r.reject else "ok") for r in rows] == [
        (2, "invalid_csv"),
        (3, "invalid_csv"),
        (4, "ok"),
    ]
    assert rows[1].raw is not None and len(rows[1].raw) < 2000
    # RFC 4180 quoting is enforced: a quote that never closes, or text after a closing quote.
    data = b'event_name,v\napi,"ab"c\napi,2\napi,"unterminated\n'
    rows = list(iter_rows(io.BytesIO(data), "csv"))
    assert [(r.line, r.reject.code if r.reject else "ok") for r in rows] == [
        (2, "invalid_csv"),
        (3, "ok"),
        (4, "invalid_csv"),
    ]
    jrows = list(iter_rows(io.BytesIO(b"x" * (MAX_LINE_BYTES * 2) + b"\n{}\n"), "jsonl"))
    assert [(r.line, r.reject.code if r.reject else "ok") for r in jrows] == [
        (1, "invalid_json"),
        (2, "ok"),
    ]


@pytest.mark.parametrize(
    "header",
    [
        b"event_name,value,value\n",
        b"event_name,,value\n",
        b"stripe_customer_id,value\n",
        b"event_name, value\n",
        b"event_\xffname,value\n",
    ],
)
def test_bad_csv_header_refuses_the_whole_input(header: bytes) -> None:
    with pytest.raises(InvalidInput) as info:
        list(iter_rows(io.BytesIO(header + b"api,1\n"), "csv"))
    assert "header" in info.value.message


def test_empty_csv_and_header_only() -> None:
    assert list(iter_rows(io.BytesIO(b""), "csv")) == []
    assert list(iter_rows(io.BytesIO(b"\n\nevent_name,v\n"), "csv")) == []


def test_iter_rows_streams() -> None:
    data = b"event_name,v\n" + b"api,1\n" * 200_000
    stream = io.BytesIO(data)
    rows = iter_rows(stream, "csv")
    first = next(rows)
    assert first.line == 2 and stream.tell() < 100_000


def jl(obj: object) -> str:
    return json.dumps(obj)


JSONL = "\n".join(
    [
        '{"event_name": "api", "payload": {"stripe_customer_id": "cus_1", "value": 0.1},'
        ' "timestamp": 1767225600, "identifier": "e1"}',  # 1
        '{"event_name": "api", "payload": {"stripe_customer_id": "cus_1", "value": 1e3}}',  # 2
        '{"event_name": "api", "payload": {"stripe_customer_id": "cus_1"',  # 3: broken JSON
        "",  # 4: blank
        "[1, 2]",  # 5
        jl({"event_name": "api", "payload": "cus_1"}),  # 6
        jl({"event_name": "api", "payload": {"stripe_customer_id": "cus_1", "value": True}}),  # 7
        jl({"event_name": "api", "payload": {"stripe_customer_id": "cus_1", "value": None}}),  # 8
        jl({"event_name": "api", "payload": {"stripe_customer_id": "cus_1", "value": [1]}}),  # 9
        '{"event_name": "api", "payload": {"stripe_customer_id": "cus_1", "value": NaN}}',  # 10
        jl({"event_name": "api", "payload": {"stripe_customer_id": "cus_1", "value": "7"},
            "timestamp": "2026-01-01T00:04:00+00:00"}),  # 11
        jl({"event_name": "api", "payload": {"stripe_customer_id": "cus_1", "value": "7"},
            "timestamp": NOW + 301}),  # 12
        jl({"event_name": "api", "payload": {"stripe_customer_id": "cus_1", "value": "7"},
            "timestamp": True}),  # 13
        jl({"event_name": 5, "payload": {}}),  # 14
        jl({"payload": {"stripe_customer_id": "cus_1"}}),  # 15
        jl({"event_name": "calls", "payload": {"stripe_customer_id": "cus_2"}}),  # 16
        '{"event_name": "api", "payload": {"stripe_customer_id": "\\ud800", "value": 1}}',  # 17
        '{"event_name": "api", "payload": {"stripe_customer_id": "cus_2", "value": -12.50},'
        ' "object": "billing.meter_event", "_line": 3}',  # 18
        jl({"event_name": "api", "identifier": 12, "payload": {}}),  # 19
        '{"event_name": "api", "payload": {"stripe_customer_id": "cus_1", "value": 1.0e-2}}',  # 20
        '{"event_name": "api", "payload": {"stripe_customer_id": "cus_1", "value": '
        "1234567890123456}}",  # 21
        '{"event_name": "api", "payload": {"stripe_customer_id": "cus_\xff"}}',  # 22
    ]
).encode() + b"\n"  # fmt: skip
JSONL = JSONL.replace("\xff".encode(), b"\xff")


def test_jsonl_mixed_rows_report_line_numbers_and_reasons() -> None:
    results = run(JSONL, "jsonl")
    assert codes(results) == [
        (1, "ok"),
        (2, "meter_event_invalid_value"),
        (3, "invalid_json"),
        (5, "invalid_json"),
        (6, "invalid_payload"),
        (7, "invalid_payload"),
        (8, "invalid_payload"),
        (9, "invalid_payload"),
        (10, "meter_event_invalid_value"),
        (11, "ok"),
        (12, "timestamp_in_future"),
        (13, "invalid_timestamp"),
        (14, "invalid_json"),
        (15, "missing_event_name"),
        (16, "ok"),
        (17, "invalid_json"),
        (18, "ok"),
        (19, "invalid_identifier"),
        (20, "meter_event_invalid_value"),
        (21, "meter_event_invalid_value"),
        (22, "invalid_utf8"),
    ]
    ok = {line: r for line, r in results if isinstance(r, ValidEvent)}
    assert ok[1].value_text == "0.1" and ok[1].value == Decimal("0.1")
    assert ok[1].payload == {"stripe_customer_id": "cus_1", "value": "0.1"}
    assert type(ok[1].payload["value"]) is str
    assert ok[1].identifier == "e1" and ok[1].timestamp == NOW
    assert ok[11].timestamp == NOW + 240
    assert ok[18].value_text == "-12.50" and ok[18].payload == {
        "stripe_customer_id": "cus_2", "value": "-12.50",
    }  # fmt: skip
    rows = {r.line: r for r in iter_rows(io.BytesIO(JSONL), "jsonl")}
    assert rows[3].raw is not None and rows[3].raw.startswith('{"event_name"')
    assert rows[22].raw is not None and "\ufffd" in rows[22].raw


def test_jsonl_deep_nesting_is_a_reject_not_a_crash() -> None:
    data = b"[" * 200_000 + b"\n" + b'{"event_name": "api", "payload": {"x": [[[]]]}}\n'
    results = run(data, "jsonl")
    assert codes(results) == [(1, "invalid_json"), (2, "invalid_payload")]


def test_jsonl_bom_and_crlf() -> None:
    data = (
        "\ufeff" + jl({"event_name": "api", "payload": {"stripe_customer_id": "cus_1", "value": 3}})
    ).encode() + b"\r\n  \r\n"
    results = run(data, "jsonl")
    assert len(results) == 1 and isinstance(results[0][1], ValidEvent)


# --- random input never crashes the reader ------------------------------------------------

CHUNKS = [b"a", b"b", b",", b",", b"\n", b"\n", b"\r", b" ", b"\t", b"\xff", b"\xc3\xa9", b"\xc3"]
CHUNKS += [b"\x00", b"1", b".", b"{", b"}", b":", b'"', b"[", b"]"]


def physical_lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    return lines[:-1] if lines and lines[-1] == b"" else lines


@settings(max_examples=300, deadline=None)
@given(
    body=st.lists(st.sampled_from(CHUNKS), max_size=80).map(b"".join),
    with_header=st.booleans(),
)
def test_random_csv_never_crashes(body: bytes, with_header: bool) -> None:
    data = (b"event_name,stripe_customer_id,value\n" if with_header else b"") + body
    try:
        rows = list(iter_rows(io.BytesIO(data), "csv"))
    except InvalidInput:
        assert not with_header
        return
    lines = physical_lines(data)
    seen = [r.line for r in rows]
    assert seen == sorted(set(seen))
    assert all(1 < line <= len(lines) for line in seen)
    for r in rows:
        assert (r.fields is None) != (r.reject is None)
        ev = row_to_event(r, "csv")
        if isinstance(ev, EventInput):
            validate_event(ev, METERS.get(ev.event_name), CUSTOMERS.__contains__, NOW)
    if b'"' not in data:
        header_line = next((i for i, line in enumerate(lines, 1) if line.strip()), 0)
        expected = {i for i, line in enumerate(lines, 1) if i > header_line and line.strip()}
        assert expected <= set(seen)
        assert all(not lines[i - 1].strip() for i in set(seen) - expected)


@settings(max_examples=300, deadline=None)
@given(body=st.lists(st.sampled_from(CHUNKS), max_size=80).map(b"".join))
def test_random_jsonl_never_crashes(body: bytes) -> None:
    rows = list(iter_rows(io.BytesIO(body), "jsonl"))
    lines = physical_lines(body)
    assert [r.line for r in rows] == [i for i, line in enumerate(lines, 1) if line.strip()]
    for r in rows:
        assert (r.fields is None) != (r.reject is None)
        ev = row_to_event(r, "jsonl")
        if isinstance(ev, EventInput):
            validate_event(ev, METERS.get(ev.event_name), CUSTOMERS.__contains__, NOW)


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "event_name": st.sampled_from(["api", "calls", "nope"]),
                "payload": st.dictionaries(
                    st.sampled_from(["stripe_customer_id", "value", "x"]),
                    st.one_of(st.text(max_size=5), st.integers(), st.sampled_from(["cus_1"])),
                ),
            }
        ),
        max_size=10,
    )
)
def test_jsonl_objects_round_trip_through_rows(rows: list[dict]) -> None:
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode(
        "utf-8", "surrogatepass"
    )
    got = list(iter_rows(io.BytesIO(data), "jsonl"))
    assert [r.line for r in got] == list(range(1, len(rows) + 1))
    for raw, row in zip(got, rows, strict=True):
        ev = row_to_event(raw, "jsonl")
        if isinstance(ev, EventInput):
            assert ev.payload == {k: str(v) for k, v in row["payload"].items() if v != ""}
