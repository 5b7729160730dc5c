"""The meter page's question: whose usage, over which range, per day or per hour.

The period picker is a plain GET form (it works with JavaScript off and the URL can be shared):
a preset range, or a start and an end date in UTC, the end date included as people read dates.
Whatever the form says becomes the half-open `[start, end)` that `billing meter usage` takes, and
the page prints that very command, so its total can be checked against the CLI's digit for digit.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from billing_cli.clock import format_time, from_unix, to_unix
from billing_cli.errors import InvalidInput

HOUR = 3600
DAY = 86400
PRESETS = {
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "month": "This month",
    "last-month": "Last month",
}
DEFAULT_PRESET = "30d"
MAX_HOURS = 93 * 24  # an hourly chart of three months still draws a visible bar per hour
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class UsageQuery:
    customer: str | None  # None: every customer
    window: str  # day | hour
    start: int
    end: int
    preset: str | None  # the preset the range came from, for the picker

    @property
    def start_date(self) -> str:
        return format_time(self.start)[:10]

    @property
    def last_date(self) -> str:
        """The end date as the form shows it: the last day the range touches (inclusive)."""
        return format_time(self.end - 1)[:10]

    def cli_command(self, meter: str) -> str:
        """The `billing meter usage` command that reports the same total (one customer)."""
        args = ["billing", "meter", "usage", meter, "--customer", self.customer or "CUSTOMER"]
        args += ["--start", format_time(self.start), "--end", format_time(self.end)]
        return shlex.join(args)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _preset_range(preset: str, now: int) -> tuple[int, int, str]:
    """(start, end, natural window) of a preset, ending with the window that holds `now`."""
    today = now - now % DAY
    if preset == "24h":
        hour = now - now % HOUR
        return hour - 23 * HOUR, hour + HOUR, "hour"
    if preset == "7d":
        return today - 6 * DAY, today + DAY, "day"
    if preset == "30d":
        return today - 29 * DAY, today + DAY, "day"
    this_month = _month_start(from_unix(today).date())
    if preset == "month":
        return _day_ts(this_month), _day_ts(_next_month(this_month)), "day"
    last_month = _month_start(this_month - timedelta(days=1))
    return _day_ts(last_month), _day_ts(this_month), "day"


def _day_ts(day: date) -> int:
    return to_unix(datetime(day.year, day.month, day.day, tzinfo=UTC))


def _date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{field} {text!r} is not a date", hint="give a date as YYYY-MM-DD, e.g. 2026-11-01"
        ) from None


def parse_usage_query(params: Mapping[str, str], now: int) -> UsageQuery:
    """The picker's fields, checked: a bad date or window names the field, as the CLI does."""
    customer = params.get("customer") or None
    window = params.get("window") or None
    if window is not None and window not in ("day", "hour"):
        raise InvalidInput(f"window {window!r} is not one of day, hour")
    start_text, end_text = params.get("start") or "", params.get("end") or ""
    preset = params.get("range") or None
    if start_text or end_text:
        preset = None  # dates typed in the form win over the preset the link carried
    elif preset is None:
        preset = DEFAULT_PRESET
    if preset is not None:
        if preset not in PRESETS:
            raise InvalidInput(f"range {preset!r} is not one of {', '.join(PRESETS)}")
        start, end, natural = _preset_range(preset, now)
        return UsageQuery(customer, window or natural, start, end, preset)
    if not (start_text and end_text):
        raise InvalidInput("give both a start and an end date", hint="or pick a preset range")
    first, last = _date(start_text, "start"), _date(end_text, "end")
    if last < first:
        raise InvalidInput(f"end {end_text} is before start {start_text}")
    start, end = _day_ts(first), _day_ts(last) + DAY
    window = window or "day"
    if window == "hour" and end - start > MAX_HOURS * HOUR:
        raise InvalidInput(
            f"{(end - start) // DAY} days is too long a range to chart by hour",
            hint=f"chart at most {MAX_HOURS // 24} days by hour, or choose per day",
        )
    if end - start > MAX_DAYS * DAY:
        raise InvalidInput(
            f"{(end - start) // DAY} days is too long a range to chart",
            hint=f"chart at most {MAX_DAYS} days",
        )
    return UsageQuery(customer, window, start, end, None)
