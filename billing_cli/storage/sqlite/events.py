"""Writes of meter events, their adjustments and the hourly roll-ups (SPEC 2), and the hash
chain's check; the queries are in `ledger.event_queries`, which `EventStore` extends.

Three things make this the hot path of the program and shape the code:
- Events are appended in batches of ~10,000 inside the caller's write transaction: the batch's
  identifiers are looked up in one query, duplicates and conflicts classified, the rest
  inserted (no savepoint: see `append_events`).
- Every row is linked into a hash chain (`chain.link`) over its fields, `seq` (the receipt
  order, assigned here as max(seq) + 1) included, so `ledger check` can detect edits.
- `usage_hourly` keeps one `aggregation.Bucket` per (meter, customer, UTC hour) of the counted
  events, merged in the same transaction: invoice previews then read O(hours), not O(events).
  The batch is merged in Python and combined with the stored bucket in one UPSERT (exact
  decimal addition through a Python SQL function), one B-tree visit per bucket.
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

from billing_cli.domain import chain
from billing_cli.domain.aggregation import HOUR, bucket_of, bucket_to_row
from billing_cli.domain.event_batch import ChainedBatch, Known, chain_batch, payload_json
from billing_cli.domain.events import ValidEvent
from billing_cli.domain.money import DECIMAL_CONTEXT, canonical_text, decimal_str
from billing_cli.storage.sqlite.event_queries import (
    EVENT_COLUMNS,
    ROLLUP_COLUMNS,
    EventQueries,
    StoredEvent,
)

__all__ = ["EventStore", "StoredEvent", "payload_json"]

_add = DECIMAL_CONTEXT.add

_INSERT = (
    "INSERT INTO meter_events (seq, identifier, event_name, meter, customer, timestamp, value,"
    " payload, received, status, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)
_NEWER_LAST = "(excluded.last_ts, excluded.last_seq) > (last_ts, last_seq)"
_UPSERT_ROLLUP = (
    f"INSERT INTO usage_hourly (meter, customer, hour, {ROLLUP_COLUMNS})"
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


def _decimal_add(a: str, b: str) -> str:
    return decimal_str(_add(Decimal(a), Decimal(b)))


def _value_sent(payload: str, value_key: str | None) -> str | None:
    """The event's value as it was sent: its payload's text under the meter's value key."""
    try:
        sent = json.loads(payload).get(value_key) if value_key is not None else None
    except (ValueError, AttributeError):
        return None
    return sent if isinstance(sent, str) else None


def _canonical_or_none(text: str) -> str | None:
    try:
        return canonical_text(text)
    except ArithmeticError:  # not a decimal at all (decimal.InvalidOperation)
        return None


class EventStore(EventQueries):
    conn: sqlite3.Connection
    _udf_ready: bool = False

    def bulk_import_mode(self) -> None:
        """Tune this connection for a long stream of batches (`event import`). Each batch
        dirties thousands of pages spread over three B-trees (the identifier index, the usage
        index, the roll-ups), so both settings matter (benchmarks/import_bench.py gives the
        raw-insert baseline the same ones):
        - a 64 MiB page cache (SQLite's default is 2 MiB) keeps the trees' inner pages resident
          instead of re-reading them for every batch. With 32 MiB, timestamps in random order
          (every batch touching ~10,000 random roll-ups) spilled dirty pages and re-read them:
          64 MiB took 1,000,000 such events from 61 to 52 CPU seconds, at 120 MiB peak RSS
          (the budget is 150 MiB);
        - a checkpoint every 50,000 WAL frames (~200 MiB) instead of 1,000: consecutive
          batches rewrite mostly the same pages, which a checkpoint then copies into the file
          once rather than once per batch. The WAL file is deleted when the import's
          connection closes; a killed import leaves it for the next command to recover.
        Both settings end with the connection."""
        self.conn.execute("PRAGMA cache_size = -65536")
        self.conn.execute("PRAGMA wal_autocheckpoint = 50000")

    # -- appending --------------------------------------------------------------------------
    def append_events(self, events: list[ValidEvent], received: int) -> list[tuple[int, str]]:
        """Insert `events` (identifiers filled, status set) received at `received`, with their
        roll-ups; returns (index, "duplicate" | "conflict") for each one not inserted (SPEC 2.3).
        Call inside a write transaction.

        The batch's identifiers are looked up first (one query) rather than inserted under a
        savepoint for the UNIQUE index to object: a savepoint makes SQLite copy every page the
        batch first touches into a statement journal, which cost an import of 1,000,000 events
        more CPU than the lookups (benchmarks/import_bench.py)."""
        if not events:
            return []
        payloads = [payload_json(e.payload) for e in events]
        known = self.stored_keys([e.identifier for e in events])  # type: ignore[misc]
        last = self.conn.execute(
            "SELECT seq, hash FROM meter_events ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        batch = chain_batch(
            events, payloads, received, None if last is None else tuple(last), known
        )
        self.append_chained(batch, received)
        return batch.skipped

    def stored_keys(self, identifiers: list[str]) -> Known:
        """The stored content of those of `identifiers` the ledger holds (one query)."""
        rows = self.conn.execute(
            "SELECT identifier, event_name, payload, timestamp FROM meter_events"
            " WHERE identifier IN (SELECT value FROM json_each(?))",
            (json.dumps(identifiers),),
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def append_chained(self, batch: ChainedBatch, received: int) -> None:
        """Store a batch `chain_batch` linked after this ledger's head (the caller checked it,
        under the write lock): its rows, its roll-up buckets, the receipt watermark."""
        self.conn.executemany(_INSERT, batch.rows)
        if batch.buckets:
            self._merge_rollups(batch.buckets)
        if batch.rows:
            self.conn.execute(
                "INSERT INTO event_watermark (id, max_received) VALUES (1, ?) ON CONFLICT (id)"
                " DO UPDATE SET max_received = max(max_received, excluded.max_received)",
                (received,),
            )

    def _merge_rollups(self, buckets: list[list[object]]) -> None:
        """One UPSERT per touched bucket, in key order (B-tree locality); the stored bucket and
        the batch's are combined as `aggregation.merge` does, the sum by `_decimal_add`."""
        if not self._udf_ready:
            self.conn.create_function("billing_decimal_add", 2, _decimal_add, deterministic=True)
            self._udf_ready = True
        self.conn.executemany(_UPSERT_ROLLUP, buckets)

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
            f"INSERT INTO usage_hourly (meter, customer, hour, {ROLLUP_COLUMNS})"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (meter, customer, hour) DO UPDATE SET"
            f" {', '.join(f'{c} = excluded.{c}' for c in ROLLUP_COLUMNS.split(', '))}",
            (*key, *(row[c] for c in ROLLUP_COLUMNS.split(", "))),
        )

    # -- integrity (ledger check) -----------------------------------------------------------
    def verify_event_chain(self) -> str | None:
        """None when both hash chains are intact, else a message naming the first bad row.

        An event's link covers its value as sent (the payload's text under the meter's value
        key); the `value` column must hold that text's canonical form."""
        value_keys = dict(self.conn.execute("SELECT id, value_key FROM meters").fetchall())
        previous = chain.GENESIS
        for row in self.conn.execute(
            f"SELECT {EVENT_COLUMNS}, status, hash FROM meter_events ORDER BY seq"
        ):
            fields = list(row)[:10]
            stored = fields[6]
            if stored is not None:
                sent = _value_sent(row["payload"], value_keys.get(row["meter"]))
                fields[6] = sent
                if sent is None or _canonical_or_none(sent) != stored:
                    return (
                        f"meter_events seq {row['seq']} ({row['identifier']}): value {stored!r}"
                        f" does not match its payload (edited outside billing)"
                    )
            expected = chain.link(previous, fields)
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
