"""Reads and writes of meter events, their adjustments and the hourly roll-ups (SPEC 2).

Three things make this the hot path of the program and shape the code:
- Events are appended in batches of ~10,000 inside the caller's write transaction. Most batches
  hold no identifier the ledger already has, so the batch is first inserted as is under a
  savepoint and the UNIQUE index does the duplicate check for free; only when it objects are the
  batch's identifiers looked up (one query) and the batch classified and inserted again.
- Every row is linked into a hash chain (`chain.link`) over its fields, `seq` (the receipt
  order, assigned here as max(seq) + 1) included, so `ledger check` can detect edits.
- `usage_hourly` keeps one `aggregation.Bucket` per (meter, customer, UTC hour) of the counted
  events, merged in the same transaction: invoice previews then read O(hours), not O(events).
  The batch is merged in Python and combined with the stored bucket in one UPSERT (exact
  decimal addition through a Python SQL function), one B-tree visit per bucket.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, Inexact, InvalidOperation

from billing_cli import chain
from billing_cli.aggregation import (
    HOUR,
    Aggregate,
    Bucket,
    EventPoint,
    aggregate,
    bucket_from_row,
    bucket_of,
    bucket_to_row,
    buckets_of,
)
from billing_cli.models import Meter
from billing_cli.money import decimal_str
from billing_cli.validation import ValidEvent, is_duplicate

_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[InvalidOperation, Inexact])
_add = _EXACT.add
_ZERO = Decimal(0)

# Per event, json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# and chain.canonical(fields) cost ~4 µs through json.dumps, which builds an encoder per call.
# The same bytes come from json's C encoder built once, and from its string escaper
# (tests/test_ledger_events.py checks both against json.dumps / chain.link).
_escape = json.encoder.encode_basestring  # what json.dumps uses with ensure_ascii=False
_c_make_encoder = json.encoder.c_make_encoder
if _c_make_encoder is not None:
    _payload_chunks = _c_make_encoder(None, None, _escape, None, ":", ",", True, False, True)

    def payload_json(payload: dict[str, str]) -> str:
        """The canonical JSON text of a payload, as stored and hashed."""
        return "".join(_payload_chunks(payload, 0))

else:  # pragma: no cover - CPython always has the C encoder
    payload_json = json.JSONEncoder(
        sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode
_sha256 = hashlib.sha256

_COUNTED = (
    "e.status = 'accepted' AND NOT EXISTS (SELECT 1 FROM meter_event_adjustments c"
    " WHERE c.identifier = e.identifier AND c.type = 'cancel')"
)
_INSERT = (
    "INSERT INTO meter_events (seq, identifier, event_name, meter, customer, timestamp, value,"
    " payload, received, status, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)
_ROLLUP_COLUMNS = "count, sum, last_ts, last_seq, last_value, recv_ts, recv_seq, recv_value"
_NEWER_LAST = "(excluded.last_ts, excluded.last_seq) > (last_ts, last_seq)"
_UPSERT_ROLLUP = (
    f"INSERT INTO usage_hourly (meter, customer, hour, {_ROLLUP_COLUMNS})"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (meter, customer, hour) DO UPDATE SET"
    " count = count + excluded.count,"
    " sum = billing_decimal_add(sum, excluded.sum),"
    f" last_ts = CASE WHEN {_NEWER_LAST} THEN excluded.last_ts ELSE last_ts END,"
    f" last_seq = CASE WHEN {_NEWER_LAST} THEN excluded.last_seq ELSE last_seq END,"
    f" last_value = CASE WHEN {_NEWER_LAST} THEN excluded.last_value ELSE last_value END,"
    " recv_ts = CASE WHEN excluded.recv_seq > recv_seq THEN excluded.recv_ts ELSE recv_ts END,"
    " recv_value = CASE WHEN excluded.recv_seq > recv_seq"
    " THEN excluded.recv_value ELSE recv_value END,"
    " recv_seq = max(recv_seq, excluded.recv_seq)"
)
_EVENT_COLUMNS = "seq, identifier, event_name, meter, customer, timestamp, value, payload, received"


def _decimal_add(a: str, b: str) -> str:
    return decimal_str(_add(Decimal(a), Decimal(b)))


@dataclass(frozen=True)
class StoredEvent:
    """A meter event as the ledger holds it; `value` is the value's text (None for count)."""

    seq: int
    identifier: str
    event_name: str
    meter: str
    customer: str
    timestamp: int
    value: str | None
    payload: dict[str, str]
    received: int
    status: str  # accepted | late
    cancelled: bool


def _stored(row: sqlite3.Row | tuple) -> StoredEvent:
    seq, ident, name, meter, customer, ts, value, payload, received, status, cancelled = row
    return StoredEvent(
        seq, ident, name, meter, customer, ts, value, json.loads(payload), received, status,
        bool(cancelled),
    )  # fmt: skip


_SELECT_EVENTS = (
    f"SELECT {', '.join('e.' + c for c in _EVENT_COLUMNS.split(', '))}, e.status,"
    " EXISTS (SELECT 1 FROM meter_event_adjustments c"
    " WHERE c.identifier = e.identifier AND c.type = 'cancel') FROM meter_events e"
)


class EventStore:
    conn: sqlite3.Connection
    _duplicates_seen: bool = False  # the last batch held known identifiers: skip the fast path
    _udf_ready: bool = False

    # -- what validation needs, once per batch ----------------------------------------------
    def meters_by_event_name(self) -> dict[str, Meter]:
        return {m.event_name: m for m in self.list_meters()}  # type: ignore[attr-defined]

    def existing_customers(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` are customers: one query whatever their number."""
        wanted = json.dumps(list(ids))
        rows = self.conn.execute(
            "SELECT id FROM customers WHERE id IN (SELECT value FROM json_each(?))", (wanted,)
        )
        return {r[0] for r in rows}

    def finalized_periods(
        self, meter: str | None = None, customer: str | None = None
    ) -> list[tuple[str, str, int, int]]:
        """(meter, customer, period_start, period_end) of every metered line of a finalized
        invoice: the periods that make an event late (SPEC 2.6)."""
        where, params = "", []
        if meter is not None:
            where, params = " AND l.meter = ?", [meter]
        if customer is not None:
            where, params = where + " AND i.customer = ?", [*params, customer]
        rows = self.conn.execute(
            "SELECT l.meter, i.customer, l.period_start, l.period_end FROM invoice_lines l"
            " JOIN invoices i ON i.id = l.invoice WHERE i.status <> 'draft'"
            f" AND l.type = 'subscription' AND l.meter IS NOT NULL{where}",
            params,
        )
        return [tuple(r) for r in rows]

    # -- appending --------------------------------------------------------------------------
    def append_events(self, events: list[ValidEvent], received: int) -> list[tuple[int, str]]:
        """Insert `events` (identifiers filled, status set) received at `received`, with their
        roll-ups; returns (index, "duplicate" | "conflict") for each one not inserted (SPEC 2.3).
        Call inside a write transaction."""
        if not events:
            return []
        payloads = [payload_json(e.payload) for e in events]
        if not self._duplicates_seen:
            self.conn.execute("SAVEPOINT append_events")
            try:
                skipped = self._append(events, payloads, received, {})
            except sqlite3.IntegrityError as exc:
                self.conn.execute("ROLLBACK TO append_events")
                self.conn.execute("RELEASE append_events")
                if "meter_events.identifier" not in str(exc):
                    raise
            else:
                self.conn.execute("RELEASE append_events")
                return skipped
        known = self._stored_keys([e.identifier for e in events])  # type: ignore[misc]
        self._duplicates_seen = bool(known)
        return self._append(events, payloads, received, known)

    def _stored_keys(self, identifiers: list[str]) -> dict[str, tuple[str, str, int]]:
        rows = self.conn.execute(
            "SELECT identifier, event_name, payload, timestamp FROM meter_events"
            " WHERE identifier IN (SELECT value FROM json_each(?))",
            (json.dumps(identifiers),),
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def _append(
        self,
        events: list[ValidEvent],
        payloads: list[str],
        received: int,
        known: dict[str, tuple[str, str, int]],
    ) -> list[tuple[int, str]]:
        last = self.conn.execute(
            "SELECT seq, hash FROM meter_events ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        seq, previous = (last[0], last[1].encode()) if last else (0, chain.GENESIS.encode())
        rows: list[tuple] = []
        skipped: list[tuple[int, str]] = []
        rollup: dict[tuple[str, str, int], list] = {}
        esc, sha = _escape, _sha256
        for i, e in enumerate(events):
            ident, pj, ts, name = e.identifier, payloads[i], e.timestamp, e.event_name
            prior = known.get(ident)  # type: ignore[arg-type]
            if prior is not None:
                given = ts if e.timestamp_given else None
                kind = "duplicate" if is_duplicate(prior, name, pj, given) else "conflict"
                skipped.append((i, kind))
                continue
            known[ident] = (name, pj, ts)  # type: ignore[index]
            seq += 1
            value, status, meter, customer = e.value_text, e.status, e.meter, e.customer
            # chain.canonical([seq, ident, name, meter, customer, ts, value, pj, received,
            # status]) spelled out: the ints print as JSON does, the strings are escaped by it.
            canonical = (
                f"[{seq},{esc(ident)},{esc(name)},{esc(meter)},{esc(customer)},{ts},"
                f"{'null' if value is None else esc(value)},{esc(pj)},{received},{esc(status)}]"
            )
            digest = sha(previous + b"\n" + canonical.encode()).hexdigest()
            previous = digest.encode()
            rows.append((seq, ident, name, meter, customer, ts, value, pj, received, status, digest))
            if status != "accepted":
                continue
            text = "0" if value is None else value
            key = (meter, customer, ts - ts % HOUR)
            b = rollup.get(key)
            if b is None:
                rollup[key] = [1, e.value, ts, seq, text, seq]
            else:  # seq only grows, so this event is the bucket's most recently received
                b[0] += 1
                b[1] = _add(b[1], e.value)
                if ts >= b[2]:
                    b[2], b[3], b[4] = ts, seq, text
                b[5] = seq
        self.conn.executemany(_INSERT, rows)
        if rollup:
            self._merge_rollups(rollup, rows)
        if rows:
            self.conn.execute(
                "INSERT INTO event_watermark (id, max_received) VALUES (1, ?) ON CONFLICT (id)"
                " DO UPDATE SET max_received = max(max_received, excluded.max_received)",
                (received,),
            )
        return skipped

    def _merge_rollups(self, rollup: dict[tuple[str, str, int], list], rows: list[tuple]) -> None:
        if not self._udf_ready:
            self.conn.create_function("billing_decimal_add", 2, _decimal_add, deterministic=True)
            self._udf_ready = True
        first_seq = rows[0][0]
        upserts = []
        for (meter, customer, hour), b in sorted(rollup.items()):
            count, total, last_ts, last_seq, last_text, recv_seq = b
            recv = rows[recv_seq - first_seq]  # rows are consecutive in seq
            recv_text = "0" if recv[6] is None else recv[6]
            total_text = last_text if count == 1 else decimal_str(total)
            upserts.append(
                (meter, customer, hour, count, total_text, last_ts, last_seq, last_text,
                 recv[5], recv_seq, recv_text)
            )  # fmt: skip
        self.conn.executemany(_UPSERT_ROLLUP, upserts)

    # -- cancellation (SPEC 2.4) ------------------------------------------------------------
    def cancel_event(self, event: StoredEvent, created: int) -> None:
        """Append a `cancel` adjustment and take the event out of its hour's roll-up."""
        last = self.conn.execute(
            "SELECT seq, hash FROM meter_event_adjustments ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        seq = 1 if last is None else last[0] + 1
        previous = chain.GENESIS if last is None else last[1]
        digest = chain.link(previous, (seq, "cancel", event.identifier, None, created))
        self.conn.execute(
            "INSERT INTO meter_event_adjustments (seq, type, identifier, invoice, created, hash)"
            " VALUES (?, 'cancel', ?, NULL, ?, ?)",
            (seq, event.identifier, created, digest),
        )
        if event.status == "accepted":
            hour = event.timestamp - event.timestamp % HOUR
            self._recompute_bucket(event.meter, event.customer, hour)

    def _recompute_bucket(self, meter: str, customer: str, hour: int) -> None:
        bucket = bucket_of(self.counted_points(meter, customer, hour, hour + HOUR))
        key = (meter, customer, hour)
        if bucket is None:
            self.conn.execute(
                "DELETE FROM usage_hourly WHERE meter = ? AND customer = ? AND hour = ?", key
            )
            return
        row = bucket_to_row(bucket)
        self.conn.execute(
            f"INSERT OR REPLACE INTO usage_hourly (meter, customer, hour, {_ROLLUP_COLUMNS})"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (*key, *(row[c] for c in _ROLLUP_COLUMNS.split(", "))),
        )

    def billing_invoice(self, event: StoredEvent) -> str | None:
        """The finalized invoice that billed `event`, if any (then it cannot be cancelled):
        for a counted event, one whose metered line's period holds it; for a late event, one
        whose late-usage line counts it (SPEC 2.6)."""
        if event.status == "accepted":
            row = self.conn.execute(
                "SELECT i.id FROM invoice_lines l JOIN invoices i ON i.id = l.invoice"
                " WHERE i.customer = ? AND i.status <> 'draft' AND l.type = 'subscription'"
                " AND l.meter = ? AND l.period_start <= ? AND ? < l.period_end"
                " ORDER BY i.finalized_at LIMIT 1",
                (event.customer, event.meter, event.timestamp, event.timestamp),
            ).fetchone()
        else:
            row = self.conn.execute(
                "SELECT i.id FROM invoice_lines l JOIN invoices i ON i.id = l.invoice,"
                " json_each(l.explain, '$.identifiers') j WHERE i.customer = ?"
                " AND i.status <> 'draft' AND l.type = 'late_usage' AND j.value = ?"
                " ORDER BY i.finalized_at LIMIT 1",
                (event.customer, event.identifier),
            ).fetchone()
        return None if row is None else row[0]

    # -- reading events ---------------------------------------------------------------------
    def get_event(self, identifier: str) -> StoredEvent | None:
        row = self.conn.execute(
            f"{_SELECT_EVENTS} WHERE e.identifier = ?", (identifier,)
        ).fetchone()
        return None if row is None else _stored(row)

    def list_events(
        self,
        *,
        customer: str | None = None,
        meter: str | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> Iterator[StoredEvent]:
        """Events in receipt order, filtered; streamed (a ledger may hold millions)."""
        clauses, params = [], []
        for clause, value in (
            ("e.customer = ?", customer),
            ("e.meter = ?", meter),
            ("e.timestamp >= ?", start),
            ("e.timestamp < ?", end),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        for row in self.conn.execute(f"{_SELECT_EVENTS}{where} ORDER BY e.seq", params):
            yield _stored(row)

    def invoice_events(self, invoice: str) -> list[StoredEvent] | None:
        """The events behind an invoice (None when there is no such invoice): per metered line,
        the counted events of its period received by finalization, plus the late events its
        late-usage lines count (SPEC 2.6: resolved onto it)."""
        head = self.conn.execute(
            "SELECT customer, finalized_at FROM invoices WHERE id = ?", (invoice,)
        ).fetchone()
        if head is None:
            return None
        customer, finalized_at = head
        lines = self.conn.execute(
            "SELECT DISTINCT meter,"  # the usage window (a trial shortens it) or the period
            " coalesce(json_extract(explain, '$.usage_window.start'), period_start),"
            " coalesce(json_extract(explain, '$.usage_window.end'), period_end)"
            " FROM invoice_lines WHERE invoice = ? AND type = 'subscription'"
            " AND meter IS NOT NULL",
            (invoice,),
        ).fetchall()
        found: dict[int, StoredEvent] = {}
        received = "" if finalized_at is None else " AND e.received <= ?"
        for meter, start, end in lines:
            params = [meter, customer, start, end]
            if finalized_at is not None:
                params.append(finalized_at)
            rows = self.conn.execute(
                f"{_SELECT_EVENTS} WHERE e.meter = ? AND e.customer = ? AND e.timestamp >= ?"
                f" AND e.timestamp < ? AND {_COUNTED}{received}",
                params,
            )
            found.update((r[0], _stored(r)) for r in rows)
        late = self.conn.execute(
            f"{_SELECT_EVENTS} WHERE e.identifier IN (SELECT j.value FROM invoice_lines l,"
            " json_each(l.explain, '$.identifiers') j WHERE l.invoice = ?"
            " AND l.type = 'late_usage')",
            (invoice,),
        )
        found.update((r[0], _stored(r)) for r in late)
        return [found[seq] for seq in sorted(found)]

    # -- usage (SPEC 2.7) -------------------------------------------------------------------
    def counted_points(
        self, meter: str, customer: str, start: int, end: int, received_by: int | None = None
    ) -> list[EventPoint]:
        """Counted events (accepted, not cancelled) with start <= timestamp < end."""
        received = "" if received_by is None else " AND e.received <= ?"
        params = [meter, customer, start, end]
        if received_by is not None:
            params.append(received_by)
        rows = self.conn.execute(
            "SELECT e.timestamp, e.seq, e.value FROM meter_events e WHERE e.meter = ?"
            " AND e.customer = ? AND e.timestamp >= ? AND e.timestamp < ?"
            f" AND {_COUNTED}{received}",
            params,
        )
        return [EventPoint(t, s, _ZERO if v is None else Decimal(v)) for t, s, v in rows]

    def max_received(self) -> int | None:
        row = self.conn.execute("SELECT max_received FROM event_watermark WHERE id = 1")
        found = row.fetchone()
        return None if found is None else found[0]

    def usage_buckets(
        self, meter: str, customer: str, start: int, end: int, *, received_by: int
    ) -> dict[int, Bucket]:
        """Hour buckets of the counted events in [start, end) received by `received_by`: whole
        hours from the roll-ups, partial edge hours from the raw events. When some event was
        received after `received_by` (only a back-dated --now does that) the roll-ups hold
        too much, and the raw events are scanned instead."""
        if start >= end:
            return {}
        latest = self.max_received()
        if latest is not None and latest > received_by:
            return buckets_of(self.counted_points(meter, customer, start, end, received_by))
        first = start + (-start) % HOUR
        last = end - end % HOUR
        if first >= last:
            return buckets_of(self.counted_points(meter, customer, start, end))
        rows = self.conn.execute(
            f"SELECT hour, {_ROLLUP_COLUMNS} FROM usage_hourly"
            " WHERE meter = ? AND customer = ? AND hour >= ? AND hour < ?",
            (meter, customer, first, last),
        )
        buckets = {r["hour"]: bucket_from_row(r) for r in rows}
        edges = self.counted_points(meter, customer, start, first)
        edges += self.counted_points(meter, customer, last, end)
        buckets.update(buckets_of(edges))
        return buckets

    def usage(
        self, meter: Meter, customer: str, start: int, end: int, *, received_by: int
    ) -> Aggregate:
        """SPEC 2.7's aggregate for one customer and meter over [start, end); what invoices
        bill. Reads O(hours in the period) rows whatever the number of events."""
        buckets = self.usage_buckets(meter.id, customer, start, end, received_by=received_by)
        return aggregate(meter.formula, meter.event_time_window, buckets)

    # -- integrity (ledger check) -----------------------------------------------------------
    def verify_event_chain(self) -> str | None:
        """None when both hash chains are intact, else a message naming the first bad row."""
        previous = chain.GENESIS
        for row in self.conn.execute(
            f"SELECT {_EVENT_COLUMNS}, status, hash FROM meter_events ORDER BY seq"
        ):
            expected = chain.link(previous, tuple(row)[:10])
            if row["hash"] != expected:
                return (
                    f"meter_events seq {row['seq']} ({row['identifier']}): hash does not match"
                    " the chain (the row or one before it was edited, inserted or deleted)"
                )
            previous = expected
        previous = chain.GENESIS
        for row in self.conn.execute(
            "SELECT seq, type, identifier, invoice, created, hash FROM meter_event_adjustments"
            " ORDER BY seq"
        ):
            expected = chain.link(previous, tuple(row)[:5])
            if row["hash"] != expected:
                return (
                    f"meter_event_adjustments seq {row['seq']} ({row['identifier']}): hash does"
                    " not match the chain (the row or one before it was edited)"
                )
            previous = expected
        return None

    def verify_rollups(self) -> str | None:
        """None when every hourly roll-up equals a recomputation from the raw events."""
        stored = {
            (r["meter"], r["customer"], r["hour"]): bucket_from_row(r)
            for r in self.conn.execute("SELECT * FROM usage_hourly")
        }
        keys = self.conn.execute(
            "SELECT DISTINCT e.meter, e.customer, e.timestamp - e.timestamp % 3600"
            f" FROM meter_events e WHERE {_COUNTED}"
        ).fetchall()
        for meter, customer, hour in sorted(set(stored) | {tuple(k) for k in keys}):
            fresh = bucket_of(self.counted_points(meter, customer, hour, hour + HOUR))
            if stored.get((meter, customer, hour)) != fresh:
                return f"usage_hourly ({meter}, {customer}, hour {hour}) differs from its events"
        return None
