"""Queries on meter events: what validation needs per batch, single events, lists, usage.

Split from `ledger.events` (the writes); `EventStore` inherits these. The usage queries are
what invoices bill from (SPEC 2.7): whole hours from the `usage_hourly` roll-ups, partial edge
hours from the raw events, so a preview costs O(hours in the period) whatever the number of
events.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from decimal import Decimal

from billing_cli.domain.aggregation import (
    HOUR,
    Aggregate,
    Bucket,
    EventPoint,
    aggregate,
    bucket_from_row,
    bucket_of,
    buckets_of,
    exact_sum_of_texts,
)
from billing_cli.domain.events import StoredEvent
from billing_cli.domain.models import Meter
from billing_cli.storage.dialect import SQLITE, Dialect

_ZERO = Decimal(0)
COUNTED = (
    "e.status = 'accepted' AND NOT EXISTS (SELECT 1 FROM meter_event_adjustments c"
    " WHERE c.identifier = e.identifier AND c.type = 'cancel')"
)
ROLLUP_COLUMNS = "count, sum, last_ts, last_seq, last_value, recv_ts, recv_seq, recv_value"
EVENT_COLUMNS = "seq, identifier, event_name, meter, customer, timestamp, value, payload, received"


def _stored(row: sqlite3.Row | tuple) -> StoredEvent:
    seq, ident, name, meter, customer, ts, value, payload, received, status, cancelled = row
    return StoredEvent(
        seq, ident, name, meter, customer, ts, value, json.loads(payload), received, status,
        bool(cancelled),
    )  # fmt: skip


_SELECT_EVENTS = (
    f"SELECT {', '.join('e.' + c for c in EVENT_COLUMNS.split(', '))}, e.status,"
    " EXISTS (SELECT 1 FROM meter_event_adjustments c"
    " WHERE c.identifier = e.identifier AND c.type = 'cancel') FROM meter_events e"
)


class EventQueries:
    conn: sqlite3.Connection
    sql: Dialect = SQLITE

    # -- what validation needs, once per batch ----------------------------------------------
    def meters_by_event_name(self) -> dict[str, Meter]:
        """Every meter, active or not (an inactive one is a named reject, not an unknown)."""
        return {m.event_name: m for m in self.list_meters()}  # type: ignore[attr-defined]

    def existing_customers(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` are customers: one query whatever their number."""
        rows = self.conn.execute(
            f"SELECT id FROM customers WHERE id {self.sql.in_list}", (self.sql.list_param(ids),)
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
                f" {self.sql.explain_identifiers} WHERE i.customer = ?"
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
        newest_first: bool = False,
        before_seq: int | None = None,
    ) -> Iterator[StoredEvent]:
        """Events in receipt order (newest first on request, then only those received before
        `before_seq`: a page cursor), filtered; streamed (a ledger may hold millions)."""
        clauses, params = [], []
        for clause, value in (
            ("e.customer = ?", customer),
            ("e.meter = ?", meter),
            ("e.timestamp >= ?", start),
            ("e.timestamp < ?", end),
            ("e.seq < ?", before_seq),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        order = " ORDER BY e.seq DESC" if newest_first else " ORDER BY e.seq"
        for row in self.conn.execute(f"{_SELECT_EVENTS}{where}{order}", params):
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
            f" {self.sql.usage_window_start}, {self.sql.usage_window_end}"
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
                f" AND e.timestamp < ? AND {COUNTED}{received}",
                params,
            )
            found.update((r[0], _stored(r)) for r in rows)
        late = self.conn.execute(
            f"{_SELECT_EVENTS} WHERE e.identifier IN (SELECT j.value FROM invoice_lines l,"
            f" {self.sql.explain_identifiers} WHERE l.invoice = ?"
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
            f" AND {COUNTED}{received}",
            params,
        )
        return [EventPoint(t, s, _ZERO if v is None else Decimal(v)) for t, s, v in rows]

    def max_received(self) -> int | None:
        """The latest receipt time of any event (migration 3's watermark), None before any."""
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
            f"SELECT hour, {ROLLUP_COLUMNS} FROM usage_hourly"
            " WHERE meter = ? AND customer = ? AND hour >= ? AND hour < ?",
            (meter, customer, first, last),
        )
        buckets = {r["hour"]: bucket_from_row(r) for r in rows}
        edges = self.counted_points(meter, customer, start, first)
        edges += self.counted_points(meter, customer, last, end)
        buckets.update(buckets_of(edges))
        return buckets

    def meter_usage_buckets(
        self, meter: str, start: int, end: int, *, received_by: int
    ) -> dict[str, dict[int, Bucket]]:
        """`usage_buckets` of every customer of the meter at once, by customer: the meter
        page's "all customers" view reads the roll-ups in one pass, never the events."""
        if start >= end:
            return {}
        latest = self.max_received()
        if latest is not None and latest > received_by:
            return self._points_by_customer(meter, start, end, received_by)
        first = start + (-start) % HOUR
        last = end - end % HOUR
        if first >= last:
            return self._points_by_customer(meter, start, end)
        found: dict[str, dict[int, Bucket]] = {}
        rows = self.conn.execute(
            f"SELECT customer, hour, {ROLLUP_COLUMNS} FROM usage_hourly"
            " WHERE meter = ? AND customer IN (SELECT id FROM customers)"
            " AND hour >= ? AND hour < ?",
            (meter, first, last),
        )
        for r in rows:
            found.setdefault(r["customer"], {})[r["hour"]] = bucket_from_row(r)
        for lo, hi in ((start, first), (last, end)):
            for customer, buckets in self._points_by_customer(meter, lo, hi).items():
                found.setdefault(customer, {}).update(buckets)
        return found

    def meter_hour_sums(
        self, meter: str, start: int, end: int, *, received_by: int
    ) -> list[tuple[int, int, Decimal]] | None:
        """(hour, count, exact sum) of every customer's roll-up of the meter in [start, end):
        what a sum or count over all customers adds up, without building a bucket per row.
        None when the roll-ups cannot answer alone (a range off whole hours, or events
        received after `received_by`); `meter_usage_buckets` can then."""
        if start % HOUR or end % HOUR:
            return None
        latest = self.max_received()
        if latest is not None and latest > received_by:
            return None
        # One row per hour, the customers' exact sums joined as text: SQLite walks the roll-ups
        # in C and Python builds 24 rows a day instead of one per customer and hour.
        rows = self.conn.execute(
            f"SELECT hour, CAST(sum(count) AS BIGINT), {self.sql.joined_sums} FROM usage_hourly"
            " WHERE meter = ? AND customer IN (SELECT id FROM customers)"
            " AND hour >= ? AND hour < ? GROUP BY hour",
            (meter, start, end),
        )
        return [(hour, count, exact_sum_of_texts(totals)) for hour, count, totals in rows]

    def _points_by_customer(
        self, meter: str, start: int, end: int, received_by: int | None = None
    ) -> dict[str, dict[int, Bucket]]:
        if start >= end:
            return {}
        received = "" if received_by is None else " AND e.received <= ?"
        params = [meter, start, end] + ([] if received_by is None else [received_by])
        rows = self.conn.execute(
            "SELECT e.customer, e.timestamp, e.seq, e.value FROM meter_events e"
            " WHERE e.meter = ? AND e.customer IN (SELECT id FROM customers)"  # the usage index
            " AND e.timestamp >= ? AND e.timestamp < ?"
            f" AND {COUNTED}{received}",
            params,
        )
        points: dict[str, list[EventPoint]] = {}
        for customer, t, seq, v in rows:
            points.setdefault(customer, []).append(
                EventPoint(t, seq, _ZERO if v is None else Decimal(v))
            )
        return {customer: buckets_of(found) for customer, found in points.items()}

    def usage(
        self, meter: Meter, customer: str, start: int, end: int, *, received_by: int
    ) -> Aggregate:
        """SPEC 2.7's aggregate for one customer and meter over [start, end); what invoices
        bill. Reads O(hours in the period) rows whatever the number of events."""
        buckets = self.usage_buckets(meter.id, customer, start, end, received_by=received_by)
        return aggregate(meter.formula, meter.event_time_window, buckets)

    # -- integrity (ledger check) -----------------------------------------------------------
    def verify_rollups(self) -> str | None:
        """None when every hourly roll-up equals a recomputation from the raw events, else a
        message naming the first bucket that differs. One ordered pass over each table (the
        usage index and the roll-ups' key share an order), so `ledger check` stays linear in
        the number of events and memory holds one hour of one customer's events."""
        stored = (
            ((r[0], r[1], r[2]), bucket_from_row(r))
            for r in self.conn.execute(
                f"SELECT meter, customer, hour, {ROLLUP_COLUMNS} FROM usage_hourly"
                " ORDER BY meter, customer, hour"
            )
        )
        fresh = self._recomputed_buckets()
        done = (("\U0010ffff",), None)  # sorts after every real key
        a, b = next(stored, done), next(fresh, done)
        while a is not done or b is not done:
            if a[0] == b[0] and a[1] == b[1]:
                a, b = next(stored, done), next(fresh, done)
                continue
            key = min(a[0], b[0])
            meter, customer, hour = key  # type: ignore[misc]
            return f"usage_hourly ({meter}, {customer}, hour {hour}) differs from its events"
        return None

    def _recomputed_buckets(self) -> Iterator[tuple[tuple[str, str, int], Bucket]]:
        rows = self.conn.execute(
            "SELECT e.meter, e.customer, e.timestamp, e.seq, e.value FROM meter_events e"
            f" WHERE {COUNTED} ORDER BY e.meter, e.customer, e.timestamp"
        )
        key: tuple[str, str, int] | None = None
        points: list[EventPoint] = []
        for meter, customer, ts, seq, value in rows:
            here = (meter, customer, ts - ts % HOUR)
            if here != key:
                if key is not None:
                    yield key, bucket_of(points)  # type: ignore[misc]
                key, points = here, []
            points.append(EventPoint(ts, seq, _ZERO if value is None else Decimal(value)))
        if key is not None:
            yield key, bucket_of(points)  # type: ignore[misc]
