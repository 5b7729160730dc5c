from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_cli import clock
from billing_cli.clock import (
    ensure_utc,
    format_time,
    from_unix,
    parse_duration,
    parse_time,
    resolve_now,
    to_unix,
)
from billing_cli.errors import InvalidInput

NOV_1_9AM = datetime(2026, 11, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "1793523600",
        "2026-11-01T09:00:00Z",
        "2026-11-01t09:00:00z",
        "2026-11-01T09:00:00",
        "2026-11-01 09:00",
        "2026-11-01T09:00Z",
        "2026-11-01T10:00:00+01:00",
        "2026-11-01T10:00:00+0100",
        "2026-11-01T10:00:00+01",
        "2026-11-01T07:30:00-01:30",
        "2026-11-01T09:00:00-00:00",
        "2026-11-01T09:00:00.999Z",
        "2026-11-01T09:00:00,5",
        "  2026-11-01T09:00:00Z\n",
    ],
)
def test_parse_time_accepts(text: str) -> None:
    result = parse_time(text)
    assert result == NOV_1_9AM
    assert result.tzinfo is UTC
    assert result.microsecond == 0


def test_date_is_midnight_utc() -> None:
    assert parse_time("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)


def test_offset_crossing_midnight_converts_to_utc() -> None:
    assert parse_time("2026-11-01T00:30:00+02:00") == datetime(2026, 10, 31, 22, 30, tzinfo=UTC)


def test_unix_zero_and_all_digits_is_unix() -> None:
    assert parse_time("0") == datetime(1970, 1, 1, tzinfo=UTC)
    # 8 digits would be ISO basic format for fromisoformat; here it is Unix seconds.
    assert parse_time("20261101") == from_unix(20261101)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "-1",
        "+1793523600",
        "1793523600.5",
        "1e9",
        "yesterday",
        "2026-11-01X09:00",
        "2026-11-01T09",
        "2026-1-1",
        "2026-13-01",
        "2026-02-30",
        "2026-11-01T24:00:00",
        "2026-11-01T09:00:60",
        "2026-11-01T09:00:00+24:00",
        "2026-11-01T09:00:00+01:60",
        "2026-11-01T09:00:00 Z",
        "2026-W44-1",
        "2026-305",
        "20261101T090000Z",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:30:00+01:00",
        "9999-12-31T23:30:00-01:00",
        "253402300800",
        "9" * 5000,
        "١٧٩٣٥٢٣٦٠٠",  # Arabic-Indic digits
        "2026-11-01T09:00:00Z trailing",
    ],
)
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_time(text, field="--timestamp")
    err = info.value
    assert err.exit_code == 4
    assert err.message.startswith("--timestamp: ")
    assert repr(text) in err.message
    assert err.hint is not None
    assert "2026-11-01T09:00:00Z" in err.hint and "1793523600" in err.hint


def test_milliseconds_get_a_specific_message() -> None:
    with pytest.raises(InvalidInput, match="milliseconds"):
        parse_time("1793523600000")


def test_max_unix_accepted() -> None:
    assert parse_time("253402300799") == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_to_from_unix_and_format() -> None:
    assert to_unix(NOV_1_9AM) == 1793523600
    assert from_unix(1793523600) == NOV_1_9AM
    assert from_unix(1793523600).tzinfo is UTC
    assert format_time(NOV_1_9AM) == "2026-11-01T09:00:00Z"
    assert format_time(1793523600) == "2026-11-01T09:00:00Z"
    plus_one = NOV_1_9AM.astimezone(timezone(timedelta(hours=1)))
    assert format_time(plus_one) == "2026-11-01T09:00:00Z"
    assert to_unix(plus_one) == 1793523600


def test_to_unix_floors_fractions() -> None:
    assert to_unix(NOV_1_9AM + timedelta(microseconds=999_999)) == 1793523600
    assert to_unix(datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC)) == -1


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 11, 1, 9)
    for func in (to_unix, format_time, ensure_utc):
        with pytest.raises(ValueError, match="naive"):
            func(naive)
    with pytest.raises(TypeError):
        format_time(True)


@given(st.integers(min_value=0, max_value=253402300799))
def test_unix_round_trip(seconds: int) -> None:
    dt = from_unix(seconds)
    assert to_unix(dt) == seconds
    assert parse_time(str(seconds)) == dt
    assert parse_time(format_time(seconds)) == dt


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
        ),
    )
)
def test_iso_round_trip_any_offset(dt: datetime) -> None:
    text = dt.isoformat()
    expected = dt.astimezone(UTC).replace(microsecond=0)
    assert parse_time(text) == expected


def test_resolve_now_pinned_and_system() -> None:
    assert resolve_now("2026-11-01T09:00:00Z") == NOV_1_9AM
    assert resolve_now("1793523600") == NOV_1_9AM
    before = datetime.now(UTC).replace(microsecond=0)
    now = resolve_now(None)
    assert now.tzinfo is UTC and now.microsecond == 0
    assert before <= now <= datetime.now(UTC)


def test_resolve_now_names_the_option() -> None:
    with pytest.raises(InvalidInput) as info:
        resolve_now("soon")
    assert info.value.message.startswith("--now: 'soon'")
    with pytest.raises(InvalidInput):
        resolve_now("")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("2h", timedelta(hours=2)),
        ("30s", timedelta(seconds=30)),
        ("1d", timedelta(days=1)),
        ("0s", timedelta(0)),
        ("72h", timedelta(hours=72)),
        (" 3d ", timedelta(days=3)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text, field="--grace", maximum=timedelta(hours=72)) == expected


@pytest.mark.parametrize(
    "text", ["", "90", "m", "1.5h", "-1h", "1H", "2 h", "1h30m", "1w", "h2", "１h", "9" * 12 + "s"]
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_duration(text, field="--grace")
    assert info.value.exit_code == 4
    assert info.value.message.startswith(f"--grace: {text!r}")
    assert info.value.hint is not None and "90m" in info.value.hint


def test_parse_duration_maximum() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_duration("73h", field="--grace", maximum=timedelta(hours=72))
    assert "'73h'" in info.value.message and "72h" in info.value.message
    assert "72h" in (info.value.hint or "")
    with pytest.raises(InvalidInput):
        parse_duration("4d", field="--grace", maximum=timedelta(hours=72))


def test_no_naive_clock_calls_in_source() -> None:
    source = open(clock.__file__, encoding="utf-8").read()
    assert "utcnow" not in source and "utcfromtimestamp" not in source
