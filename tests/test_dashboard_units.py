"""The dashboard's pure parts: the sign-in slow-down and sessions, the period picker, the
chart's axis. The pages themselves are tested over HTTP and in a browser."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing_cli.errors import InvalidInput
from billing_cli.http.dashboard.charts import bar_chart, nice_top
from billing_cli.http.dashboard.signin import FIRST_DELAY, MAX_DELAY, SESSION_SECONDS, SignIn
from billing_cli.http.dashboard.usage import parse_usage_query

NOW = 1796212800  # 2026-12-02T12:00:00Z
DEC_1 = 1796083200  # 2026-12-01T00:00:00Z
NOV_1 = 1793491200


def test_failures_past_the_third_wait_longer_and_longer_up_to_a_cap() -> None:
    signin = SignIn(["sk_test_a"])
    delays = []
    for _ in range(10):
        delays.append(signin.delay_for("10.0.0.1", 100.0))
        signin.failed("10.0.0.1", 100.0)
    assert delays[:3] == [0, 0, 0]  # three tries free, then each waits twice as long
    assert delays[3:6] == [FIRST_DELAY, FIRST_DELAY * 2, FIRST_DELAY * 4]
    assert delays[-1] == MAX_DELAY
    assert signin.delay_for("10.0.0.2", 100.0) == 0  # per client
    assert signin.delay_for("10.0.0.1", 100.0 + 16 * 60) == 0  # forgotten after a while
    signin.succeeded("10.0.0.1")
    assert signin.delay_for("10.0.0.1", 101.0) == 0


def test_sessions_expire_and_end() -> None:
    signin = SignIn(["sk_test_a", "sk_test_b"])
    assert signin.key_matches("sk_test_b") and not signin.key_matches("sk_test_")
    cookie, max_age = signin.start_session(NOW)
    assert max_age == SESSION_SECONDS
    session = signin.session_of(cookie, NOW + 10)
    assert session is not None
    assert signin.session_of(cookie, NOW + SESSION_SECONDS) is None
    assert SignIn(["sk_test_a"]).session_of(cookie, NOW) is None  # another process's secret
    signin.end_session(session)
    assert signin.session_of(cookie, NOW + 10) is None


def test_one_time_token_works_once() -> None:
    signin = SignIn(["k"], one_time_token="tok")
    assert not signin.use_one_time_token("to")
    assert signin.use_one_time_token("tok")
    assert not signin.use_one_time_token("tok")
    assert not SignIn(["k"]).use_one_time_token("")


def test_presets_and_dates_become_half_open_utc_ranges() -> None:
    q = parse_usage_query({}, NOW)
    assert (q.preset, q.window, q.end - q.start) == ("30d", "day", 30 * 86400)
    assert q.end == DEC_1 + 2 * 86400  # the day holding now is included
    q = parse_usage_query({"range": "last-month", "customer": "cus_a"}, NOW)
    assert (q.start, q.end, q.customer) == (NOV_1, DEC_1, "cus_a")
    q = parse_usage_query({"range": "24h"}, NOW)
    assert (q.window, q.end - q.start, q.end) == ("hour", 86400, NOW + 3600)
    q = parse_usage_query({"range": "month", "start": "2026-11-01", "end": "2026-11-30"}, NOW)
    assert (q.start, q.end, q.preset) == (NOV_1, DEC_1, None)  # typed dates win
    assert q.last_date == "2026-11-30"
    assert q.cli_command("mtr_x") == (
        "billing meter usage mtr_x --customer CUSTOMER --start 2026-11-01T00:00:00Z "
        "--end 2026-12-01T00:00:00Z"
    )


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"start": "2026-11-31", "end": "2026-12-01"}, "start '2026-11-31' is not a date"),
        ({"start": "2026-11-05", "end": "2026-11-01"}, "is before start"),
        ({"start": "2026-11-05"}, "both a start and an end"),
        ({"window": "week"}, "window 'week'"),
        ({"range": "year"}, "range 'year'"),
        ({"start": "2026-01-01", "end": "2026-12-31", "window": "hour"}, "too long"),
    ],
)
def test_bad_picker_input_names_the_field(params: dict[str, str], fragment: str) -> None:
    with pytest.raises(InvalidInput, match=fragment.replace("(", r"\(")):
        parse_usage_query(params, NOW)


def test_axis_tops_are_round_and_bars_sit_in_their_window() -> None:
    assert [nice_top(Decimal(v)) for v in ("0", "7", "13533.75", "0.003", "250")] == [
        Decimal(1), Decimal(10), Decimal(20000), Decimal("0.005"), Decimal(250)]  # fmt: skip
    chart = bar_chart([(NOV_1 + 86400, NOV_1 + 2 * 86400, Decimal(5)),
                       (NOV_1 + 3 * 86400, NOV_1 + 4 * 86400, Decimal(-2))],
                      NOV_1, NOV_1 + 4 * 86400, "day")  # fmt: skip
    up, down = chart.bars
    assert up.x < down.x and up.y + up.height == pytest.approx(chart.baseline)
    assert down.y == pytest.approx(chart.baseline)  # a negative window hangs below zero
    assert (up.value, down.value, up.label) == ("5", "-2", "2026-11-02")
    assert chart.value_ticks[0].label == "-2" and chart.value_ticks[-1].label == "5"
