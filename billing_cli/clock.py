"""Time at the edges: parsing user times and durations, Unix-seconds conversion, the injected clock.

Inside the program every time is an aware UTC `datetime`; the ledger and `--json` hold int Unix
seconds (SPEC 3.3). Everything here is pure except `resolve_now`, the one place that may read the
system clock, so that `--now` / `BILLING_NOW` make every command reproducible.

Decisions where SPEC 3.3 is silent:
- An all-digit string is always Unix seconds (so `20261101` is a Unix time, not ISO basic format).
  Signs, decimals and exponents are rejected: the ledger stores whole, non-negative seconds.
- ISO 8601 means the extended calendar form only: `YYYY-MM-DD`, optionally followed by `T` (or a
  space) and `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fff`, optionally followed by `Z` or an offset
  `±HH:MM` / `±HHMM` / `±HH`. Week dates, ordinal dates and basic (no-dash) forms are rejected
  because they are almost always typos in a billing context. `T` and `Z` may be lowercase.
- Fractional seconds are accepted and truncated (floored) to the whole second, matching how the
  ledger stores times; `09:00:00.999Z` is `09:00:00Z`.
- Times before 1970-01-01T00:00:00Z are rejected, like negative Unix seconds: nothing billable
  happened then and such a value is a typo.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from billing_cli.errors import InvalidInput

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_SECOND = timedelta(seconds=1)
# The largest Unix second a datetime can hold (9999-12-31T23:59:59Z).
_MAX_UNIX = 253_402_300_799

TIME_HINT = "use Unix seconds or ISO 8601, e.g. 2026-11-01T09:00:00Z or 1793523600"

_ISO = re.compile(
    r"""
    (?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})
    (?:
        [Tt\ ]
        (?P<hour>\d{2}):(?P<minute>\d{2})
        (?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?
        (?P<offset>[Zz]|(?P<sign>[+-])(?P<off_h>\d{2})(?::?(?P<off_m>\d{2}))?)?
    )?
    """,
    re.VERBOSE | re.ASCII,
)

_DURATION = re.compile(r"(?P<amount>\d{1,9})(?P<unit>[smhd])", re.ASCII)
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def ensure_utc(dt: datetime) -> datetime:
    """Naive datetimes are a programming error (their zone is a guess): fail loudly."""
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise ValueError(f"naive datetime {dt!r}: billing_cli uses aware UTC datetimes only")
    return dt.astimezone(UTC)


def to_unix(dt: datetime) -> int:
    """Exact integer arithmetic (no float timestamp), floored to the whole second."""
    return (ensure_utc(dt) - EPOCH) // _ONE_SECOND


def from_unix(seconds: int) -> datetime:
    """Built by addition from the epoch so no local-time or float conversion is involved."""
    return EPOCH + timedelta(seconds=seconds)


def format_time(value: datetime | int) -> str:
    """One canonical text form for tables, messages and hints; sub-second parts are dropped."""
    if isinstance(value, bool):
        raise TypeError("format_time expects a datetime or int Unix seconds, not bool")
    dt = from_unix(value) if isinstance(value, int) else ensure_utc(value)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _bad_time(field: str, text: str, why: str = "is not a valid time") -> InvalidInput:
    return InvalidInput(f"{field}: {text!r} {why}", hint=TIME_HINT)


def _parse_unix(text: str, field: str) -> datetime:
    # Check the length first: int() refuses digit strings longer than ~4300 characters.
    seconds = int(text) if len(text) <= 20 else None
    if seconds is None or seconds > _MAX_UNIX:
        why = "is out of range (after year 9999)"
        if seconds is not None and seconds // 1000 <= _MAX_UNIX:
            why += "; it looks like milliseconds, the value must be in seconds"
        raise _bad_time(field, text, why)
    return from_unix(seconds)


def _parse_iso(text: str, field: str) -> datetime:
    match = _ISO.fullmatch(text)
    if match is None:
        raise _bad_time(field, text)
    g = match.groupdict()
    tz = UTC
    if g["sign"] is not None:
        off_h, off_m = int(g["off_h"]), int(g["off_m"] or 0)
        if off_h > 23 or off_m > 59:
            raise _bad_time(field, text, "has an invalid UTC offset")
        offset = timedelta(hours=off_h, minutes=off_m)
        tz = timezone(-offset if g["sign"] == "-" else offset)
    try:
        local = datetime(
            int(g["year"]),
            int(g["month"]),
            int(g["day"]),
            int(g["hour"] or 0),
            int(g["minute"] or 0),
            int(g["second"] or 0),
            tzinfo=tz,
        )
        result = local.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise _bad_time(field, text, f"is not a valid time ({exc})") from None
    if result < EPOCH:
        raise _bad_time(field, text, "is before 1970-01-01T00:00:00Z (Unix time 0)")
    return result


def parse_time(text: str, *, field: str = "time") -> datetime:
    """Accept what a user or a script would type; reject everything else with exit 4 (SPEC 3.3).

    Returns an aware UTC datetime with no sub-second part. See the module docstring for the
    accepted forms.
    """
    stripped = text.strip()
    if not stripped:
        raise _bad_time(field, text, "is empty")
    if stripped.isascii() and stripped.isdigit():
        return _parse_unix(stripped, field)
    if stripped[0] in "+-" and stripped[1:].isascii() and stripped[1:].isdigit():
        raise _bad_time(field, text, "is not valid: Unix seconds are plain digits, no sign")
    return _parse_iso(stripped, field)


def resolve_now(value: str | None) -> datetime:
    """The single clock read of a command, so tests and replays can pin it with --now/BILLING_NOW.

    `None` means "not set" and reads the system clock. An empty string is an error rather than a
    silent fallback to the system clock; a caller that wants `BILLING_NOW=` to mean "unset" must
    map it to None itself.
    """
    if value is None:
        return datetime.now(UTC).replace(microsecond=0)
    return parse_time(value, field="--now")


def parse_duration(text: str, *, field: str, maximum: timedelta | None = None) -> timedelta:
    """A deliberately small grammar (`90m`, `2h`) so a grace period can't be misread (SPEC 4.4)."""
    example = "e.g. 90m, 2h, 30s or 1d (an integer followed by s, m, h or d)"
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise InvalidInput(f"{field}: {text!r} is not a valid duration", hint=example)
    amount = int(match["amount"])
    duration = timedelta(**{_DURATION_UNITS[match["unit"]]: amount})
    if maximum is not None and duration > maximum:
        raise InvalidInput(
            f"{field}: {text!r} is longer than the maximum {_format_duration(maximum)}",
            hint=f"use at most {_format_duration(maximum)}, {example}",
        )
    return duration


def _format_duration(duration: timedelta) -> str:
    """Render a maximum in the grammar parse_duration accepts; hours, as SPEC 4.4 states limits."""
    total = duration // _ONE_SECOND
    for unit, size in (("h", 3600), ("m", 60)):
        if total and total % size == 0:
            return f"{total // size}{unit}"
    return f"{total}s"
