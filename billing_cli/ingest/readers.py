"""Meter event rows for `event send` / `event import`: reading CSV / JSONL and shaping rows.

Pure functions over byte streams; SPEC 2.2 validation against the catalog and the identifiers
of SPEC 2.3 are in `validation`, the database side (duplicates, batches, commits) in
`ledger.events` and `api.events`. Imports are fed million-row files, so parsing streams (memory
depends on the longest record, never on the row count) and the per-row path avoids regexes and
repeated work: `csv_records` finds where each CSV record ends, `json` with number hooks.

Decisions where SPEC 2 is silent:
- An empty CSV cell, and an empty JSON string for identifier/timestamp/a payload value, mean
  "absent", so both formats behave alike.
- CSV columns and JSONL keys `_line`, `_error`, `_raw` (the bookkeeping a reject file adds) are
  ignored, so a fixed reject file re-imports as is. Other unknown JSONL keys (`object`,
  `created`, ... in a Stripe export) are ignored too.
- A CSV header without an `event_name` column, or with names that have surrounding whitespace,
  is refused like duplicate or empty names: every row would be rejected otherwise.
- A CSV record that is not RFC 4180 (a stray CR, a quote inside an unquoted field or after a
  closing quote) or longer than 1 MiB is rejected as `invalid_csv`, and reading resumes after
  the end of that record as the grammar defines it (`csv_records`); a quote that never closes
  makes the rest of the input one rejected record. A JSONL line over 1 MiB is rejected as
  `invalid_json` and reading resumes at the next line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, NamedTuple

from billing_cli.errors import InvalidInput, UsageError
from billing_cli.ingest.csv_records import (
    MAX_RECORD_BYTES,
    RawRecord,
    needs_scan,
    read_record,
    read_records,
    split_cells,
    strip_line_break,
)

FORMATS = ("csv", "jsonl")
RESERVED = ("event_name", "identifier", "timestamp")
BOOKKEEPING = ("_line", "_error", "_raw")
NOT_PAYLOAD = frozenset(RESERVED + BOOKKEEPING)
MAX_LINE_BYTES = MAX_RECORD_BYTES  # a JSONL line, a CSV record
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
    fails before any row is processed), for writing a reject file in the input's format.

    `event_rows.shaped_rows` reads it the import's faster way instead (through `records`): a
    CSV record that splits cleanly is shaped from its cells, and its cells stand in for the
    RawRow, which `raw_row` rebuilds only if the row is rejected. A stream is read once."""

    def __init__(self, stream: BinaryIO, fmt: str) -> None:
        if fmt not in FORMATS:
            raise UsageError(f"unknown import format {fmt!r}", hint="use --format csv or jsonl")
        self.fmt = fmt
        self.header: list[str] | None = None
        self._stream = stream
        self._csv_state = self._csv_header(stream) if fmt == "csv" else None
        self._rows: Iterator[RawRow] | None = None

    def __iter__(self) -> Iterator[RawRow]:
        if self._rows is None:
            if self.fmt != "csv":
                self._rows = _jsonl_rows(self._stream)
            elif self._csv_state is None:
                self._rows = iter(())
            else:
                header = self.header or []

                def clean(line: int, rec: list[str]) -> RawRow:
                    return RawRow(line, dict(zip(header, rec, strict=True)), None, None)

                self._rows = self.records(clean, _same)
        return self._rows

    def __next__(self) -> RawRow:
        return next(iter(self))

    def records(
        self, clean: Callable[[int, list[str]], Any], broken: Callable[[RawRow], Any]
    ) -> Iterator[Any]:
        """CSV only: `clean(line, cells)` for each record that splits into the header's
        columns, `broken(RawRow)` for each one rejected while reading (see `event_rows`)."""
        if self._csv_state is None:
            return iter(())
        return _csv_body(*self._csv_state, clean, broken)

    def raw_row(self, line: int, source: RawRow | list[str]) -> RawRow:
        """The RawRow of a row `shaped()` gave as `source` (for reject reports and files)."""
        if isinstance(source, list):
            return RawRow(line, dict(zip(self.header or [], source, strict=True)), None, None)
        return source

    def _csv_header(self, stream: BinaryIO) -> tuple[Callable[[int], bytes], int, int] | None:
        """The header is the first record that is not blank; (readline, its last line, its
        number of columns) for reading on."""
        for record in read_records(stream.readline):
            cells = _split(record, None, bom=True)
            if isinstance(cells, RawRow):
                assert cells.reject is not None
                raise InvalidInput(f"CSV header (line {cells.line}): {cells.reject.message}")
            if cells is not None:
                self.header = _check_header(cells, record.first)
                return (stream.readline, record.last, len(self.header))
        return None


def _same(raw: RawRow) -> RawRow:
    return raw


def iter_rows(stream: BinaryIO, fmt: str) -> RowStream:
    """Stream RawRows from CSV or JSONL bytes (SPEC 2.5); raises InvalidInput for a bad header."""
    return RowStream(stream, fmt)


def _check_header(names: list[str], line: int) -> list[str]:
    hint = "the header names the columns once each, e.g. event_name,stripe_customer_id,value"
    seen: set[str] = set()
    for i, name in enumerate(names, 1):
        problem = (
            "has no name" if not name
            else "holds a NUL character" if "\x00" in name
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


def _raw_text(rec: RawRecord) -> str:
    """A rejected record's text for the report and the reject file (SPEC 2.5 `_raw`):
    undecodable bytes shown as U+FFFD, a record over the limit cut to its beginning."""
    if rec.problem is not None and len(rec.data) > _RAW_PREFIX_CHARS:
        text = rec.data[: _RAW_PREFIX_CHARS * 4].decode("utf-8", "replace")
        return text[:_RAW_PREFIX_CHARS] + "…"
    return strip_line_break(rec.data.decode("utf-8", "replace"))


def _not_utf8_record(rec: RawRecord, exc: UnicodeDecodeError) -> Reject:
    data = rec.data
    line = rec.first + data.count(b"\n", 0, exc.start)
    byte = exc.start - (data.rfind(b"\n", 0, exc.start) + 1)
    return Reject("invalid_utf8", f"line {line} is not valid UTF-8 ({exc.reason} at byte {byte})")


def _wrong_count(line: int, cells: list[str], ncols: int, raw: str) -> RawRow:
    message = f"line {line} has {len(cells)} columns, the header has {ncols}"
    return RawRow(line, None, Reject("wrong_column_count", message), raw)


def _split(rec: RawRecord, ncols: int | None, bom: bool = False) -> list[str] | RawRow | None:
    """A record's cells (`ncols` of them unless None), the RawRow of its reject, or None for a
    blank line."""
    line = rec.first
    if rec.problem is not None:
        return RawRow(line, None, Reject("invalid_csv", rec.problem), _raw_text(rec))
    try:
        text = rec.data.decode()
    except UnicodeDecodeError as exc:
        return RawRow(line, None, _not_utf8_record(rec, exc), _raw_text(rec))
    if bom and line == 1 and text.startswith("\ufeff"):
        text = text[1:]
    cells = split_cells(strip_line_break(text), line)
    if isinstance(cells, str):
        return RawRow(line, None, Reject("invalid_csv", cells), _raw_text(rec))
    if len(cells) == 1 and not cells[0].strip():
        return None
    if ncols is not None and len(cells) != ncols:
        return _wrong_count(line, cells, ncols, _raw_text(rec))
    return cells


def _csv_body(
    readline: Callable[[int], bytes],
    n: int,
    ncols: int,
    clean: Callable[[int, list[str]], Any],
    broken: Callable[[RawRow], Any],
) -> Iterator[Any]:
    """Records after the header (line `n`): `clean(line, cells)` for one that splits into the
    header's columns, `broken(RawRow with its reject)` for one that does not. A one-line record
    without quotes (nearly every row of a pipeline's file) is split right here."""
    while line := readline(MAX_RECORD_BYTES):
        n += 1
        if not needs_scan(line):
            try:
                text = line.decode()
            except UnicodeDecodeError:
                text = "\r"  # not this path: `_split` names the bad byte
            if text[-1:] == "\n":
                text = text[:-2] if text[-2:-1] == "\r" else text[:-1]
            if "\r" not in text:
                cells = text.split(",")
                if len(cells) == ncols:
                    yield clean(n, cells)
                elif len(cells) > 1 or cells[0].strip():  # else a blank line
                    yield broken(_wrong_count(n, cells, ncols, text))
                continue
            record = RawRecord(n, n, line, None)
        else:
            record = read_record(readline, line, n)
            n = record.last
        got = _split(record, ncols)
        if got is not None:
            yield broken(got) if isinstance(got, RawRow) else clean(record.first, got)


class JsonNumber(str):
    """A JSON number kept as its literal text (never through float); a str so it prints as one
    (`event_rows` accepts it where a payload value or a timestamp is expected)."""

    __slots__ = ()


class DuplicateKey(ValueError):
    """A JSON object names one key twice: `{"value": "5", "value": "7"}` would otherwise keep
    the last value silently, and two readers of the same line could bill different amounts."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return obj


_decode_json = json.JSONDecoder(
    object_pairs_hook=_object,
    parse_float=JsonNumber,
    parse_int=JsonNumber,
    parse_constant=JsonNumber,
).decode


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
        except DuplicateKey as exc:
            message = f"line {n}: key {show_value(exc.key)} appears twice in one object"
            yield RawRow(n, None, Reject("invalid_json", message), text)
            continue
        except (ValueError, RecursionError) as exc:
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            yield RawRow(n, None, Reject("invalid_json", f"line {n} is not JSON: {why}"), text)
            continue
        if type(obj) is not dict:
            reject = Reject("invalid_json", f"line {n} is not a JSON object")
            yield RawRow(n, None, reject, text)
            continue
        yield RawRow(n, obj, None, text)
