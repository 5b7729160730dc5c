"""CSV records for `event import` (SPEC 2.5): where a record ends, and its cells (RFC 4180).

Why not the csv module: after an error (a field over its size limit, a quote that never
closes) `csv.reader` starts afresh on the next physical line, which may lie inside a quoted
field. The text of a quoted cell (`"…\ntokens,INJECTED,cus_1,999999\n…"`) was then read as rows
and billed. Here the end of a record is found by the grammar alone, before any cell is split:
a line break ends the record unless it is inside a quoted field, and a quoted field opens only
at the start of a field (a quote elsewhere is a literal, as the csv module reads it). A record
that is too long, or not valid RFC 4180, is rejected whole and reading goes on after *its* end;
a quote that never closes makes the rest of the input one rejected record. Nothing inside a
quoted field is ever read as a row.

Memory depends on the longest accepted record (`MAX_RECORD_BYTES`), never on the input: the
rest of a longer record is scanned for its end without being kept. Most lines hold no quote at
all; they take a fast path (a line is a record, `str.split`), so the import stays near the speed
of the csv module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

MAX_RECORD_BYTES = 1 << 20  # a record (and each physical line) longer than this is rejected

# States of the record scanner (RFC 4180, read like the csv module's non-strict reader).
_FIELD_START, _UNQUOTED, _QUOTED, _QUOTE_IN_QUOTED, _END = range(5)
_QUOTE, _COMMA, _NEWLINE = 0x22, 0x2C, 0x0A
_UNQUOTED_RUN = re.compile(rb"[^,\n]*")
_QUOTED_RUN = re.compile(rb'[^"]*')
# One cell of a record known to contain quotes: a quoted field or a quote-free unquoted one.
_CELL = re.compile(r'"((?:[^"]+|"")*)"|([^",\r\n]*)')


def _scan(data: bytes, state: int) -> int:
    """The scanner's state after `data` (part of a record), starting in `state`; `_END` when a
    line break outside quotes ended the record (only ever the last byte of a line)."""
    pos, size = 0, len(data)
    while pos < size:
        if state == _FIELD_START:
            if data[pos] == _QUOTE:
                state, pos = _QUOTED, pos + 1
            else:
                state = _UNQUOTED
        elif state == _UNQUOTED:
            pos = _UNQUOTED_RUN.match(data, pos).end()  # type: ignore[union-attr]
            if pos < size:
                state = _FIELD_START if data[pos] == _COMMA else _END
                pos += 1
        elif state == _QUOTED:
            pos = _QUOTED_RUN.match(data, pos).end()  # type: ignore[union-attr]
            if pos < size:
                state, pos = _QUOTE_IN_QUOTED, pos + 1
        elif state == _QUOTE_IN_QUOTED:  # a doubled quote, or the field's closing quote
            if data[pos] == _QUOTE:
                state, pos = _QUOTED, pos + 1
            else:  # text after a closing quote is kept as a literal (rejected when split)
                state = _UNQUOTED
        else:  # _END before the end of `data` cannot happen: lines end at their line break
            break
    return state


class RawRecord:
    """One record as read: its first and last physical line, its bytes (at most about
    `MAX_RECORD_BYTES`: a longer record keeps only its beginning) and why it cannot be split,
    if it cannot (`problem`, a message naming its lines)."""

    __slots__ = ("data", "first", "last", "problem")

    def __init__(self, first: int, last: int, data: bytes, problem: str | None) -> None:
        self.first, self.last, self.data, self.problem = first, last, data, problem


def needs_scan(line: bytes) -> bool:
    """False for the usual line: quote-free and complete, so the line is the whole record."""
    return _QUOTE in line or (line[-1] != _NEWLINE and len(line) == MAX_RECORD_BYTES)


def read_record(readline: Callable[[int], bytes], line: bytes, n: int) -> RawRecord:
    """The record that starts with `line` (physical line `n`, one that `needs_scan`), read on
    to its end by the grammar: across line breaks inside quotes, past the size limit (whose
    excess is scanned, not kept), to the end of the input when a quote never closes."""
    first = n
    parts, size = [line], len(line)
    state = _scan(line, _FIELD_START)
    ended = line[-1] == _NEWLINE
    while state != _END and (more := readline(MAX_RECORD_BYTES)):
        if ended:
            n += 1
        ended = more[-1] == _NEWLINE
        size += len(more)
        if size <= MAX_RECORD_BYTES:
            parts.append(more)
        state = _scan(more, state)
    where = f"line {first}" if first == n else f"lines {first}-{n}"
    if state == _QUOTED:  # the input ended inside a quoted field
        problem = (
            f"line {first} opens a quoted field that is never closed: {where} (the rest of the"
            " input) were read as that one field and refused"
        )
    elif size > MAX_RECORD_BYTES:
        problem = (
            f"{where} ({'one record, ' if first != n else ''}{size} bytes) is longer than"
            f" {MAX_RECORD_BYTES} bytes"
        )
    else:
        problem = None
    return RawRecord(first, n, b"".join(parts), problem)


def read_records(readline: Callable[[int], bytes]) -> Iterator[RawRecord]:
    """Every record of the input, in order."""
    n = 0
    while line := readline(MAX_RECORD_BYTES):
        n += 1
        rec = read_record(readline, line, n) if needs_scan(line) else RawRecord(n, n, line, None)
        n = rec.last
        yield rec


def strip_line_break(text: str) -> str:
    """A record's text without its final line break (LF or CRLF)."""
    if text[-1:] == "\n":
        text = text[:-1]
        if text[-1:] == "\r":
            text = text[:-1]
    return text


def split_cells(text: str, line: int) -> list[str] | str:
    """RFC 4180 cells of one record (its text without the final line break), or a message
    saying why it is not valid CSV: a quote inside an unquoted field or after a closing one, or
    a carriage return outside quotes."""
    if '"' not in text:
        if "\r" in text or "\n" in text:
            return f"line {line}: a line break (CR) outside a quoted field; quote the field"
        return text.split(",")
    cells: list[str] = []
    pos, size, match = 0, len(text), _CELL.match
    while True:
        m = match(text, pos)
        assert m is not None  # the unquoted alternative matches the empty string
        quoted, plain = m.groups()
        cells.append(plain if quoted is None else quoted.replace('""', '"'))
        pos = m.end()
        if pos == size:
            return cells
        if text[pos] != ",":
            what = "a quote" if text[pos] == '"' or quoted is not None else "a line break (CR)"
            return (
                f"line {line + text.count(chr(10), 0, pos)}: {what} at character"
                f" {pos + 1} of the record is not RFC 4180 CSV (a field holding quotes, commas"
                ' or line breaks is written in quotes, and a quote inside it is doubled: "")'
            )
        pos += 1
