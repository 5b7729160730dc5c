"""Meter event rows for `event send` / `event import`: reading CSV / JSONL and shaping rows.

Pure functions over byte streams; SPEC 2.2 validation against the catalog and the identifiers
of SPEC 2.3 are in `validation`, the database side (duplicates, batches, commits) in
`ledger.events` and `api.events`. Imports are fed million-row files, so parsing streams (memory
depends on the longest record, never on the row count) and the per-row path avoids regexes and
repeated work: the csv module over a decoded line iterator, `json` with number hooks.

Decisions where SPEC 2 is silent:
- An empty CSV cell, and an empty JSON string for identifier/timestamp/a payload value, mean
  "absent", so both formats behave alike.
- CSV columns and JSONL keys `_line`, `_error`, `_raw` (the bookkeeping a reject file adds) are
  ignored, so a fixed reject file re-imports as is. Other unknown JSONL keys (`object`,
  `created`, ... in a Stripe export) are ignored too.
- A CSV header without an `event_name` column, or with names that have surrounding whitespace,
  is refused like duplicate or empty names: every row would be rejected otherwise.
- A record that is not valid CSV (a stray CR, a field over the csv module's size limit) is
  rejected as `invalid_csv`; a line over 1 MiB as `invalid_csv` / `invalid_json`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, NamedTuple

from billing_cli.clock import parse_time, to_unix
from billing_cli.errors import InvalidInput, UsageError

FORMATS = ("csv", "jsonl")
RESERVED = ("event_name", "identifier", "timestamp")
BOOKKEEPING = ("_line", "_error", "_raw")
_NOT_PAYLOAD = frozenset(RESERVED + BOOKKEEPING)
MAX_LINE_BYTES = 1 << 20
MAX_IDENTIFIER_LENGTH = 100

# SPEC 2.2 / 2.3 reason codes (Stripe's names), then ours for rows that never get that far.
REASON_CODES = (
    "no_meter", "archived_meter", "meter_event_no_customer_defined",
    "meter_event_customer_not_found", "meter_event_value_not_found", "meter_event_invalid_value",
    "timestamp_in_future", "identifier_conflict",
    "invalid_utf8", "invalid_csv", "invalid_json", "invalid_payload", "wrong_column_count",
    "missing_event_name", "invalid_timestamp", "invalid_identifier",
)  # fmt: skip

_RAW_PREFIX_CHARS = 1000  # how much of an over-long line a reject keeps


@dataclass(frozen=True, slots=True)
class Reject:
    """Why a row was refused; `code` is stable (scripts match on it), `message` names the value."""

    code: str
    message: str


class RawRow(NamedTuple):
    """One record as read: `fields` (CSV: header -> cell; JSONL: the object) or a `reject`.

    `raw` is the record's text when it is needed for a reject file: the JSONL line, or for a CSV
    record that could not be split into the header's columns, its physical lines.
    """

    line: int
    fields: dict[str, Any] | None
    reject: Reject | None
    raw: str | None


@dataclass(frozen=True, slots=True)
class EventInput:
    """A row's event before any ledger lookup; `timestamp` None means "now" (SPEC 2.5)."""

    event_name: str
    payload: dict[str, str]
    identifier: str | None
    timestamp: int | None
    line: int


def show_value(text: str, limit: int = 60) -> str:
    """Quote a user value for a message without letting a 1 MiB cell flood the terminal."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "…"


# --- reading ------------------------------------------------------------------------------


def _skip_rest(readline: Callable[[int], bytes], line: bytes) -> bool:
    """Lines are read at most 1 MiB at a time so one newline-free blob cannot exhaust memory;
    True when `line` was such a chunk (the rest of its line is then consumed unread)."""
    if len(line) < MAX_LINE_BYTES or line[-1] == 10:
        return False
    while line and line[-1] != 10:
        line = readline(MAX_LINE_BYTES)
    return True


def _too_long(n: int, line: bytes) -> tuple[str, str]:
    prefix = line[: _RAW_PREFIX_CHARS * 4].decode("utf-8", "replace")[:_RAW_PREFIX_CHARS]
    return f"line {n} is longer than {MAX_LINE_BYTES} bytes", prefix + "…"


def _not_utf8(n: int, exc: UnicodeDecodeError) -> str:
    return f"line {n} is not valid UTF-8 ({exc.reason} at byte {exc.start})"


class RowStream:
    """Iterator of `RawRow`. `header` holds the CSV column names (read eagerly, so a bad header
    fails before any row is processed), for writing a reject file in the input's format."""

    def __init__(self, stream: BinaryIO, fmt: str) -> None:
        if fmt not in FORMATS:
            raise UsageError(f"unknown import format {fmt!r}", hint="use --format csv or jsonl")
        self.fmt = fmt
        self.header: list[str] | None = None
        self._rows = self._csv(stream) if fmt == "csv" else _jsonl_rows(stream)

    def __iter__(self) -> Iterator[RawRow]:
        return self._rows

    def __next__(self) -> RawRow:
        return next(self._rows)

    def _csv(self, stream: BinaryIO) -> Iterator[RawRow]:
        bad: dict[int, tuple[str, str]] = {}  # line -> (code, message) within the current record
        buf: list[str] = []  # the current record's physical lines
        reader = csv.reader(_csv_lines(stream, bad, buf), strict=True)
        prev = 0
        try:
            for rec in reader:
                start, prev = prev + 1, reader.line_num
                if bad:
                    raise InvalidInput(f"CSV header (line {start}): {bad[min(bad)][1]}")
                buf.clear()
                if rec and (len(rec) > 1 or rec[0].strip()):
                    self.header = _check_header(rec, start)
                    return _csv_body(reader, self.header, bad, buf, prev)
        except csv.Error as exc:
            raise InvalidInput(f"CSV header (line {prev + 1}) is not valid CSV: {exc}") from None
        return iter(())


def iter_rows(stream: BinaryIO, fmt: str) -> RowStream:
    """Stream RawRows from CSV or JSONL bytes (SPEC 2.5); raises InvalidInput for a bad header."""
    return RowStream(stream, fmt)


def _csv_lines(stream: BinaryIO, bad: dict[int, tuple[str, str]], buf: list[str]) -> Iterator[str]:
    """Decoded physical lines for csv.reader. A bad line is still fed (surrogate-escaped, or
    empty when over-long) so the reader keeps its place, and marked in `bad` so the record
    holding it is rejected; `buf` collects the current record's text for that reject."""
    readline = stream.readline
    n = 0
    while line := readline(MAX_LINE_BYTES):
        n += 1
        if len(line) == MAX_LINE_BYTES and _skip_rest(readline, line):
            message, prefix = _too_long(n, line)
            bad[n] = ("invalid_csv", message)
            buf.append(prefix + "\n")
            yield "\n"
            continue
        try:
            text = line.decode()
        except UnicodeDecodeError as exc:
            bad[n] = ("invalid_utf8", _not_utf8(n, exc))
            text = line.decode("utf-8", "surrogateescape")
        if n == 1 and text.startswith("\ufeff"):
            text = text[1:]
        buf.append(text)
        yield text


def _check_header(names: list[str], line: int) -> list[str]:
    hint = "the header names the columns once each, e.g. event_name,stripe_customer_id,value"
    seen: set[str] = set()
    for i, name in enumerate(names, 1):
        problem = (
            "has no name" if not name
            else "has surrounding spaces" if name != name.strip()
            else "appears twice" if name in seen
            else None
        )  # fmt: skip
        if problem:
            raise InvalidInput(
                f"CSV header (line {line}): column {i} {show_value(name)} {problem}", hint
            )
        seen.add(name)
    if "event_name" not in seen:
        raise InvalidInput(f"CSV header (line {line}) has no event_name column", hint)
    return names


def _replace_text(lines: list[str]) -> str:
    """The record's physical text, undecodable bytes shown as U+FFFD (SPEC 2.5 `_raw`)."""
    text = "".join(lines).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text.rstrip("\r\n")


def _csv_body(
    reader: Any, header: list[str], bad: dict[int, tuple[str, str]], buf: list[str], prev: int
) -> Iterator[RawRow]:
    ncols = len(header)
    while True:
        try:
            for rec in reader:
                start, prev = prev + 1, reader.line_num
                if bad:
                    reject = Reject(*bad[min(bad)])
                    bad.clear()
                    yield RawRow(start, None, reject, _replace_text(buf))
                elif len(rec) == ncols:
                    yield RawRow(start, dict(zip(header, rec, strict=True)), None, None)
                elif rec and (len(rec) > 1 or rec[0].strip()):  # else a blank line
                    message = f"line {start} has {len(rec)} columns, the header has {ncols}"
                    reject = Reject("wrong_column_count", message)
                    yield RawRow(start, None, reject, _replace_text(buf))
                buf.clear()
            return
        except csv.Error as exc:  # the reader resets and goes on with the next line
            start, prev = prev + 1, reader.line_num
            reject = (
                Reject(*bad[min(bad)]) if bad else Reject("invalid_csv", f"line {start}: {exc}")
            )
            bad.clear()
            yield RawRow(start, None, reject, _replace_text(buf))
            buf.clear()


class _Num(str):
    """A JSON number kept as its literal text (never through float); a str so it prints as one."""

    __slots__ = ()


_decode_json = json.JSONDecoder(parse_float=_Num, parse_int=_Num, parse_constant=_Num).decode


def _jsonl_rows(stream: BinaryIO) -> Iterator[RawRow]:
    readline = stream.readline
    n = 0
    while line := readline(MAX_LINE_BYTES):
        n += 1
        if len(line) == MAX_LINE_BYTES and _skip_rest(readline, line):
            message, prefix = _too_long(n, line)
            yield RawRow(n, None, Reject("invalid_json", message), prefix)
            continue
        try:
            text = line.decode()
        except UnicodeDecodeError as exc:
            raw = line.decode("utf-8", "replace").rstrip("\r\n")
            yield RawRow(n, None, Reject("invalid_utf8", _not_utf8(n, exc)), raw)
            continue
        text = text.rstrip("\r\n")
        if n == 1 and text.startswith("\ufeff"):
            text = text[1:]
        if not text or text.isspace():
            continue
        try:
            obj = _decode_json(text)
        except (ValueError, RecursionError) as exc:
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            yield RawRow(n, None, Reject("invalid_json", f"line {n} is not JSON: {why}"), text)
            continue
        if type(obj) is not dict:
            reject = Reject("invalid_json", f"line {n} is not a JSON object")
            yield RawRow(n, None, reject, text)
            continue
        yield RawRow(n, obj, None, text)


# --- rows to events -----------------------------------------------------------------------

# A frozen dataclass's __init__ goes through object.__setattr__ per field; setting the slots
# directly builds the same object in half the time, once per imported row.
_new = object.__new__
_set_name, _set_payload, _set_identifier, _set_timestamp, _set_line = (
    getattr(EventInput, f).__set__ for f in EventInput.__slots__
)


def _event(
    name: str, payload: dict[str, str], ident: str | None, ts: int | None, line: int
) -> EventInput:
    ev = _new(EventInput)
    _set_name(ev, name)
    _set_payload(ev, payload)
    _set_identifier(ev, ident)
    _set_timestamp(ev, ts)
    _set_line(ev, line)
    return ev


def check_identifier(identifier: str) -> Reject | None:
    """SPEC 2.2's identifier rule, shared by rows and `event send --identifier`."""
    # isprintable() is False for every whitespace character except the ASCII space.
    if len(identifier) <= MAX_IDENTIFIER_LENGTH and identifier.isprintable():
        if " " not in identifier:
            return None
    return Reject(
        "invalid_identifier",
        f"identifier {show_value(identifier)} must be at most {MAX_IDENTIFIER_LENGTH} printable "
        "characters without whitespace",
    )


def _parse_timestamp(text: str) -> int | Reject:
    # Plain Unix seconds of up to 11 digits (before year 5138) are what pipelines send; the
    # shortcut gives what clock.parse_time would, without building a datetime per row.
    if len(text) <= 11 and text.isdigit() and text.isascii():
        return int(text)
    try:
        return to_unix(parse_time(text, field="timestamp"))
    except InvalidInput as exc:
        return Reject("invalid_timestamp", exc.message)


def row_to_event(raw: RawRow, fmt: str) -> EventInput | Reject:
    """Split a parsed row into the reserved fields and the payload, checking their shape."""
    if raw.reject is not None:
        return raw.reject
    fields = raw.fields
    if fields is None:
        return Reject("invalid_json" if fmt == "jsonl" else "invalid_csv", "row has no fields")
    if fmt != "csv":
        return _json_event(fields, raw.line, raw.raw)
    name = fields.get("event_name")
    if not name:
        return Reject("missing_event_name", f"line {raw.line}: event_name is empty")
    identifier = fields.get("identifier") or None
    if identifier is not None and (bad := check_identifier(identifier)) is not None:
        return bad
    timestamp = None
    if text := fields.get("timestamp"):
        timestamp = _parse_timestamp(text)
        if type(timestamp) is not int:
            return timestamp
    payload = {k: v for k, v in fields.items() if v and k not in _NOT_PAYLOAD}
    return _event(name, payload, identifier, timestamp, raw.line)


_JSON_TYPES = {bool: "a boolean", type(None): "null", list: "an array", dict: "an object"}


def _json_event(obj: dict[str, Any], line: int, raw: str | None) -> EventInput | Reject:
    name = obj.get("event_name")
    if name is None or name == "":
        return Reject("missing_event_name", f"line {line}: event_name is missing")
    if type(name) is not str:
        return Reject("invalid_json", f"line {line}: event_name {name!r} is not a string")
    identifier = obj.get("identifier")
    if identifier == "":  # like an empty CSV cell: absent
        identifier = None
    if identifier is not None:
        if type(identifier) is not str:
            return Reject("invalid_identifier", f"identifier {identifier!r} is not a string")
        if (bad := check_identifier(identifier)) is not None:
            return bad
    timestamp = obj.get("timestamp")
    if timestamp is not None and timestamp != "":
        if not isinstance(timestamp, str):  # a JSON string or a number's literal text (_Num)
            kind = _JSON_TYPES.get(type(timestamp), "not a time")
            return Reject("invalid_timestamp", f"timestamp {timestamp!r} is {kind}")
        timestamp = _parse_timestamp(str(timestamp))
        if type(timestamp) is not int:
            return timestamp
    else:
        timestamp = None
    given = obj.get("payload") or {}  # if absent, SPEC 2.2 names the missing customer key
    if type(given) is not dict:
        kind = _JSON_TYPES.get(type(given), "a number or string")
        return Reject("invalid_payload", f"line {line}: payload is {kind}, not an object")
    payload: dict[str, str] = {}
    for key, value in given.items():
        kind_of = type(value)
        if kind_of is str:
            if value:
                payload[key] = value
        elif kind_of is _Num:
            payload[key] = str(value)
        else:
            kind = _JSON_TYPES.get(kind_of, kind_of.__name__)
            message = (
                f"payload value {show_value(key)} is {kind}; values must be strings or numbers"
            )
            return Reject("invalid_payload", message)
    if raw is None or "\\u" in raw:  # only escapes can produce an unpaired surrogate
        for text in (name, identifier or "", *payload, *payload.values()):
            try:
                text.encode()
            except UnicodeEncodeError:
                return Reject(
                    "invalid_json", f"line {line}: {show_value(text)} is not valid Unicode"
                )
    return _event(name, payload, identifier, timestamp, line)
