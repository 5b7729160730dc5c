"""Rows to events (billing_cli/event_rows.py): identifiers and timestamps of a row, and the
import's fast CSV path, which must agree with `row_to_event` on every record."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_cli.clock import parse_time, to_unix
from billing_cli.ingest.event_rows import _parse_timestamp, row_to_event, shaped_rows
from billing_cli.ingest.readers import RawRow, Reject, iter_rows


def test_timestamp_shortcut_agrees_with_clock() -> None:
    for text in ["0", "1767225600", "99999999999", "000001767225600", "253402300799"]:
        assert _parse_timestamp(text) == to_unix(parse_time(text))
    assert isinstance(_parse_timestamp("253402300800"), Reject)
    assert isinstance(_parse_timestamp("-5"), Reject)


def test_identifier_rules() -> None:
    def check(identifier: str) -> str:
        ev = row_to_event(
            RawRow(2, {"event_name": "api", "identifier": identifier}, None, None), "csv"
        )
        return ev.code if isinstance(ev, Reject) else "ok"

    assert check("a" * 100) == "ok"
    assert check("a" * 101) == "invalid_identifier"
    assert check("évt:1/2") == "ok"
    for bad in ("a b", "a\tb", "a\u00a0b", "a\x00b", "a\u2028b"):
        assert check(bad) == "invalid_identifier", bad


# --- the import's fast path agrees with the general one ------------------------------------

CHUNKS = [b"a", b",", b"\n", b"\r", b" ", b"\xff", b"\xc3", b'"', b"{", b"}", b":", b"1", b"."]
HEADERS = [
    b"event_name,stripe_customer_id,value\n",
    b"value,identifier,event_name,timestamp,stripe_customer_id,_line,_error\n",
    b"timestamp,event_name,identifier,x\n",
]
CELLS = [b"api", b"cus_1", b"", b"1.5", b"a b", b"1767225600", b"2026-01-01", b"x", b"\xff"]


@settings(max_examples=300, deadline=None)
@given(
    header=st.sampled_from(HEADERS),
    fmt=st.sampled_from(["csv", "jsonl"]),
    records=st.lists(
        st.one_of(
            st.lists(st.sampled_from(CELLS), min_size=1, max_size=8).map(b",".join),
            st.lists(st.sampled_from(CHUNKS), max_size=20).map(b"".join),
        ),
        max_size=12,
    ),
)
def test_shaped_rows_equal_iter_rows_then_row_to_event(
    header: bytes, fmt: str, records: list[bytes]
) -> None:
    data = (header if fmt == "csv" else b"") + b"\n".join(records) + b"\n"
    slow = [(r.line, row_to_event(r, fmt), r) for r in iter_rows(io.BytesIO(data), fmt)]
    stream = iter_rows(io.BytesIO(data), fmt)
    fast = [(line, ev, stream.raw_row(line, src)) for line, ev, src in shaped_rows(stream)]
    assert fast == slow


def test_shaped_rows_of_an_empty_csv() -> None:
    assert list(shaped_rows(iter_rows(io.BytesIO(b""), "csv"))) == []
