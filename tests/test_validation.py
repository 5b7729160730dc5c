"""SPEC 2.2-2.3 rules shared by `event send` and `event import` (billing_cli/validation.py):
derived identifiers, `--payload` pairs, and the late-event coverage of SPEC 2.6."""

from __future__ import annotations

import io

import pytest

from billing_cli.domain.events import derived_identifier, is_duplicate
from billing_cli.errors import InvalidInput
from billing_cli.ingest.event_rows import row_to_event
from billing_cli.ingest.readers import EventInput, iter_rows
from billing_cli.ingest.validation import (
    Coverage,
    IdentifierDeriver,
    payload_from_pairs,
)


def test_derived_identifiers_are_stable_and_count_identical_rows() -> None:
    data = b"event_name,stripe_customer_id,value\n" + b"api,cus_1,1\n" * 3 + b"api,cus_1,2\n"

    def derive_all() -> list[str]:
        deriver = IdentifierDeriver()
        out = []
        for raw in iter_rows(io.BytesIO(data), "csv"):
            ev = row_to_event(raw, "csv")
            assert isinstance(ev, EventInput)
            out.append(deriver.derive(ev.event_name, ev.timestamp, ev.payload))
        assert deriver.derived == 4
        return out

    first, second = derive_all(), derive_all()
    assert first == second
    assert len(set(first)) == 4
    payload = {"value": "1", "stripe_customer_id": "cus_1"}
    assert first[:3] == [derived_identifier("api", None, payload, n) for n in range(3)]
    assert all(i.startswith("row_") and len(i) == 36 for i in first)
    # A given timestamp, another key order, or a shifted boundary are (not) the same content.
    assert derived_identifier("api", None, payload, 0) != derived_identifier("api", 0, payload, 0)
    assert derived_identifier("api", 5, {"a": "1", "b": "2"}, 0) == derived_identifier(
        "api", 5, {"b": "2", "a": "1"}, 0
    )
    assert derived_identifier("api", 5, {"a": "1,1:b"}, 0) != derived_identifier(
        "api", 5, {"a": "1", "b": ""}, 0
    )


def test_identifier_deriver_survives_table_growth() -> None:
    deriver = IdentifierDeriver()
    ids = [deriver.derive("api", i % 50_000, {}) for i in range(100_000)]
    assert ids[:50_000] == [derived_identifier("api", i, {}, 0) for i in range(50_000)]
    assert ids[50_000:] == [derived_identifier("api", i, {}, 1) for i in range(50_000)]


def test_payload_from_pairs() -> None:
    assert payload_from_pairs(["stripe_customer_id=cus_1", "value=a=b", "x="]) == {
        "stripe_customer_id": "cus_1", "value": "a=b", "x": "",
    }  # fmt: skip
    for bad in (["novalue"], ["=1"], ["a=1", "a=2"]):
        with pytest.raises(InvalidInput):
            payload_from_pairs(bad)


def test_is_duplicate_matches_without_a_timestamp_only_when_none_was_given() -> None:
    stored = ("api", '{"v":"1"}', 100)
    assert is_duplicate(stored, "api", '{"v":"1"}', 100)
    assert is_duplicate(stored, "api", '{"v":"1"}', None)
    assert not is_duplicate(stored, "api", '{"v":"1"}', 101)
    assert not is_duplicate(stored, "api", '{"v":"2"}', None)
    assert not is_duplicate(stored, "other", '{"v":"1"}', 100)


# -- late coverage (SPEC 2.6) --------------------------------------------------------------------
def test_coverage_merges_periods_and_is_half_open() -> None:
    cov = Coverage([("m", "c", 10, 20), ("m", "c", 20, 30), ("m", "c", 50, 60),
                    ("m", "c", 15, 25), ("m", "d", 0, 5), ("m", "c", 70, 70)])  # fmt: skip
    assert [cov.covers("m", "c", t) for t in (9, 10, 29, 30, 49, 50, 59, 60, 70)] == [
        False, True, True, False, False, True, True, False, False
    ]  # fmt: skip
    assert cov.covers("m", "d", 4) and not cov.covers("m", "d", 5)
    assert not cov.covers("x", "c", 15)
    assert not Coverage([]) and Coverage([("m", "c", 1, 2)])


def test_a_future_timestamp_is_named_in_iso() -> None:
    """Issue 15.13: the message names times as people read them, not only Unix seconds."""
    from billing_cli.domain.models import Meter
    from billing_cli.ingest.readers import EventInput, Reject
    from billing_cli.ingest.validation import validate_event

    meter = Meter("mtr_1", 0, "T", "t", "sum", "stripe_customer_id", "value", None, "active", 0)
    row = EventInput("t", {"stripe_customer_id": "cus_1", "value": "1"}, None, 1_767_229_200, 1)
    found = validate_event(row, meter, lambda c: True, 1_767_225_600)
    assert isinstance(found, Reject) and found.code == "timestamp_in_future"
    assert "2026-01-01T01:00:00Z" in found.message and "2026-01-01T00:00:00Z" in found.message
