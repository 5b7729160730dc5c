"""Rows to events: split a read row into the reserved fields and the payload (SPEC 2.5).

The step between `ingest` (reading CSV / JSONL into rows) and `validation` (SPEC 2.2 against
the catalog). Pure, and run once per imported row, so the CSV path finds its columns once per
file (`csv_shaper`) and builds the frozen `EventInput` without dataclass overhead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from billing_cli.clock import parse_time, to_unix
from billing_cli.errors import InvalidInput
from billing_cli.ingest.readers import (
    MAX_IDENTIFIER_LENGTH,
    NOT_PAYLOAD,
    EventInput,
    JsonNumber,
    RawRow,
    Reject,
    RowStream,
    show_value,
)


def shaped_rows(
    rows: RowStream,
) -> Iterator[tuple[int, EventInput | Reject, RawRow | list[str]]]:
    """The import's hot loop: (line, `row_to_event`'s result, the row's source), where the
    source is the RawRow, or for a CSV record that split cleanly just its cells
    (`rows.raw_row` rebuilds the RawRow if the row is rejected), saving a dict and a tuple."""
    if rows.fmt != "csv":
        return ((raw.line, row_to_event(raw, "jsonl"), raw) for raw in rows)
    if rows.header is None:  # an empty input
        return iter(())
    shape = csv_shaper(rows.header)

    def clean(line: int, rec: list[str]) -> tuple[int, EventInput | Reject, list[str]]:
        return line, shape(rec, line), rec

    def broken(raw: RawRow) -> tuple[int, EventInput | Reject, RawRow]:
        return raw.line, row_to_event(raw, "csv"), raw

    return rows.records(clean, broken)


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


def check_payload_key(key: str) -> Reject | None:
    """A payload key is a name: never empty, never with a NUL (which C-string tools, SQLite's
    JSON functions among them, cut short, so two keys could read as one)."""
    if key and "\x00" not in key:
        return None
    what = "an empty key" if not key else f"key {show_value(key)} with a NUL character"
    return Reject("invalid_payload", f"payload has {what}; keys are non-empty names")


def _parse_timestamp(text: str) -> int | Reject:
    # Plain Unix seconds of up to 11 digits (before year 5138) are what pipelines send; the
    # shortcut gives what clock.parse_time would, without building a datetime per row.
    if len(text) <= 11 and text.isdigit() and text.isascii():
        return int(text)
    try:
        return to_unix(parse_time(text, field="timestamp"))
    except InvalidInput as exc:
        return Reject("invalid_timestamp", exc.message)


_JSON_TYPES = {bool: "a boolean", type(None): "null", list: "an array", dict: "an object"}
# Keys (JSONL) and columns (CSV) that are not payload: the reserved fields, Stripe's `payload`
# object, and the output-only fields of a meter event (billing_cli's own under `billing_cli` in
# JSON, as `status` and `cancelled` columns in CSV), so `event list --nl` or `--csv` output
# re-imports as it is.
_LAYOUT = frozenset(
    {*NOT_PAYLOAD, "payload", "object", "created", "livemode", "billing_cli", "status",
     "cancelled"}
)  # fmt: skip


def csv_shaper(header: list[str]) -> Callable[[list[str], int], EventInput | Reject]:
    """`row_to_event` for CSV records given as their cells in `header` order (the column
    positions are found once): what the import runs per row. tests/test_ingest.py checks that
    both agree on every record."""
    i_name = header.index("event_name")
    i_ident = header.index("identifier") if "identifier" in header else None
    i_ts = header.index("timestamp") if "timestamp" in header else None
    payload_columns = [(key, i) for i, key in enumerate(header) if key not in _LAYOUT]
    i_payload = header.index("payload") if "payload" in header else None

    def shape(rec: list[str], line: int) -> EventInput | Reject:
        name = rec[i_name]
        if not name:
            return Reject("missing_event_name", f"line {line}: event_name is empty")
        identifier = None
        if i_ident is not None and (identifier := rec[i_ident] or None) is not None:
            if (bad := check_identifier(identifier)) is not None:
                return bad
        timestamp: int | None = None
        if i_ts is not None and (text := rec[i_ts]):
            parsed = _parse_timestamp(text)
            if isinstance(parsed, Reject):
                return parsed
            timestamp = parsed
        payload = {key: rec[i] for key, i in payload_columns if rec[i]}
        if i_payload is not None and rec[i_payload]:
            merged = _merge_payload(payload, _payload_cell(rec[i_payload], line), line)
            if isinstance(merged, Reject):
                return merged
            payload = merged
        return _event(name, payload, identifier, timestamp, line)

    return shape


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
    timestamp: int | None = None
    if text := fields.get("timestamp"):
        parsed = _parse_timestamp(text)
        if isinstance(parsed, Reject):
            return parsed
        timestamp = parsed
    payload = {k: v for k, v in fields.items() if v and k not in _LAYOUT}
    if cell := fields.get("payload"):
        merged = _merge_payload(payload, _payload_cell(cell, raw.line), raw.line)
        if isinstance(merged, Reject):
            return merged
        payload = merged
    return _event(name, payload, identifier, timestamp, raw.line)


def _payload_cell(text: str, line: int) -> dict[str, Any] | Reject:
    """A CSV `payload` column holding Stripe's payload object as JSON (numbers by their text)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        if len(set(keys)) != len(keys):
            raise ValueError("a key appears twice")
        return dict(items)

    try:
        obj = json.loads(text, object_pairs_hook=pairs, parse_float=JsonNumber,
                         parse_int=JsonNumber)  # fmt: skip
    except (ValueError, RecursionError) as exc:
        return Reject("invalid_payload", f"line {line}: payload is not a JSON object: {exc}")
    if type(obj) is not dict:
        return Reject("invalid_payload", f"line {line}: payload is not a JSON object")
    return obj


def _merge_payload(
    flat: dict[str, str], given: dict[str, Any] | Reject, line: int
) -> dict[str, str] | Reject:
    """The flat layout's keys plus the Stripe layout's `payload` object: a key given both ways
    with different values is refused, never resolved silently."""
    if isinstance(given, Reject):
        return given
    payload = dict(flat)
    for key, value in given.items():
        if (bad := check_payload_key(key)) is not None:
            return bad
        kind_of = type(value)
        if kind_of is JsonNumber:
            value = str(value)
        elif kind_of is not str:
            kind = _JSON_TYPES.get(kind_of, kind_of.__name__)
            return Reject(
                "invalid_payload",
                f"payload value {show_value(key)} is {kind}; values must be strings or numbers",
            )
        if not value:
            continue
        if payload.get(key, value) != value:
            return Reject(
                "invalid_payload",
                f"line {line}: {show_value(key)} is given as a column and inside payload "
                "with different values",
            )
        payload[key] = value
    return payload


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
        if not isinstance(timestamp, str):  # a JSON string or a number's literal text (JsonNumber)
            kind = _JSON_TYPES.get(type(timestamp), "not a time")
            return Reject("invalid_timestamp", f"timestamp {timestamp!r} is {kind}")
        timestamp = _parse_timestamp(str(timestamp))
        if isinstance(timestamp, Reject):
            return timestamp
    else:
        timestamp = None
    given = obj.get("payload") or {}  # if absent, SPEC 2.2 names the missing customer key
    if type(given) is not dict:
        kind = _JSON_TYPES.get(type(given), "a number or string")
        return Reject("invalid_payload", f"line {line}: payload is {kind}, not an object")
    flat: dict[str, str] = {}
    if any(k not in _LAYOUT for k in obj):
        # The flat layout: payload keys beside event_name (`"stripe_customer_id": "cus_1"`).
        extra = {k: v for k, v in obj.items() if k not in _LAYOUT}
        merged = _merge_payload({}, extra, line)
        if isinstance(merged, Reject):
            return merged
        flat = merged
    merged = _merge_payload(flat, given, line)
    if isinstance(merged, Reject):
        return merged
    payload = merged
    if raw is None or "\\u" in raw:  # only escapes can produce an unpaired surrogate
        for text in (name, identifier or "", *payload, *payload.values()):
            try:
                text.encode()
            except UnicodeEncodeError:
                return Reject(
                    "invalid_json", f"line {line}: {show_value(text)} is not valid Unicode"
                )
    return _event(name, payload, identifier, timestamp, line)
