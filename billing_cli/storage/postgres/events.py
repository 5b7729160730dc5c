"""Appending meter events to a PostgreSQL ledger: COPY into a staging table, then one merge.

The batch is made ready by `event_batch.chain_batch` (the same call as SQLite's: duplicates,
seqs, hash chain, roll-up buckets), then stored in three statements whatever its size:
- COPY of its rows into a session-local staging table (the fastest way into PostgreSQL);
- one `INSERT … SELECT … ON CONFLICT (identifier) DO NOTHING` into `meter_events`: ingest is
  idempotent by the database's own UNIQUE index. If the insert stored fewer rows than the
  batch holds, an identifier was known (or repeated in the batch): the batch is rolled back to
  its savepoint, the batch's identifiers are looked up once, and it is classified and stored
  again, exactly as on SQLite;
- COPY of its roll-up buckets into a second staging table and one UPSERT into
  `usage_hourly`, combining stored and new buckets as `aggregation.merge` does (NUMERIC sums
  are exact, like the `Decimal`s they hold).
The caller's write transaction holds the ledger's write lock, so the chain's head cannot move
under the batch.
"""

from __future__ import annotations

from typing import Any

from billing_cli.domain.event_batch import (
    BUCKET_COLUMNS,
    EVENT_ROW_COLUMNS,
    ChainedBatch,
    Known,
    chain_batch,
    payload_json,
)
from billing_cli.domain.events import ValidEvent
from billing_cli.storage.sqlite.events import EventStore

_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS billing_staging_events"
    " (LIKE meter_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;"
    " CREATE TEMP TABLE IF NOT EXISTS billing_staging_buckets"
    " (LIKE usage_hourly INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_MERGE_BUCKETS = (
    f"INSERT INTO usage_hourly AS u ({BUCKET_COLUMNS}) SELECT {BUCKET_COLUMNS}"
    " FROM billing_staging_buckets ORDER BY meter, customer, hour"
    " ON CONFLICT (meter, customer, hour) DO UPDATE SET"
    " count = u.count + excluded.count,"
    " sum = u.sum + excluded.sum,"
    " last_ts = CASE WHEN (excluded.last_ts, excluded.last_seq) > (u.last_ts, u.last_seq)"
    " THEN excluded.last_ts ELSE u.last_ts END,"
    " last_seq = CASE WHEN (excluded.last_ts, excluded.last_seq) > (u.last_ts, u.last_seq)"
    " THEN excluded.last_seq ELSE u.last_seq END,"
    " last_value = CASE WHEN (excluded.last_ts, excluded.last_seq) > (u.last_ts, u.last_seq)"
    " THEN excluded.last_value ELSE u.last_value END,"
    " recv_ts = CASE WHEN excluded.recv_seq > u.recv_seq THEN excluded.recv_ts ELSE u.recv_ts END,"
    " recv_value = CASE WHEN excluded.recv_seq > u.recv_seq"
    " THEN excluded.recv_value ELSE u.recv_value END,"
    " recv_seq = greatest(u.recv_seq, excluded.recv_seq)"
)


class PgEventStore(EventStore):
    conn: Any
    _staging_ready: bool = False

    def bulk_import_mode(self) -> None:
        """Nothing to tune per connection: the server's settings govern a bulk load."""

    def append_events(self, events: list[ValidEvent], received: int) -> list[tuple[int, str]]:
        """As `EventStore.append_events` (SQLite), through COPY and one merge per batch."""
        if not events:
            return []
        self._prepare_staging()
        payloads = [payload_json(e.payload) for e in events]
        if not self._duplicates_seen:
            self.conn.execute("SAVEPOINT append_events")
            batch = chain_batch(events, payloads, received, self._head(), None)
            if self._store(batch):
                self.conn.execute("RELEASE append_events")
                return []
            self.conn.execute("ROLLBACK TO append_events")
            self.conn.execute("RELEASE append_events")
        identifiers = [e.identifier for e in events]
        known = self._stored_keys(identifiers)  # type: ignore[arg-type]
        self._duplicates_seen = bool(known)
        batch = chain_batch(events, payloads, received, self._head(), known)
        if not self._store(batch):  # pragma: no cover - the write lock rules this out
            raise RuntimeError("meter_events changed under the ledger's write lock")
        return batch.skipped

    def _prepare_staging(self) -> None:
        if not self._staging_ready:
            self.conn.execute(_STAGING)
            self._staging_ready = True

    def _head(self) -> tuple[int, str] | None:
        last = self.conn.execute(
            "SELECT seq, hash FROM meter_events ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return None if last is None else (last[0], last[1])

    def _stored_keys(self, identifiers: list[str]) -> Known:
        rows = self.conn.execute(
            "SELECT identifier, event_name, payload, timestamp FROM meter_events"
            " WHERE identifier = ANY(?)",
            (identifiers,),
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def _store(self, batch: ChainedBatch) -> bool:
        """COPY and merge the batch; False (and the merge left to be rolled back) when the
        UNIQUE index skipped a row, i.e. the batch held a known identifier."""
        if not batch.rows:
            return True
        raw = self.conn.raw
        with raw.cursor() as cur:
            cur.execute("TRUNCATE billing_staging_events, billing_staging_buckets")
            with cur.copy(f"COPY billing_staging_events ({EVENT_ROW_COLUMNS}) FROM STDIN") as cp:
                for row in batch.rows:
                    cp.write_row(row)
            cur.execute(
                f"INSERT INTO meter_events ({EVENT_ROW_COLUMNS}) SELECT {EVENT_ROW_COLUMNS}"
                " FROM billing_staging_events ORDER BY seq ON CONFLICT (identifier) DO NOTHING"
            )
            if cur.rowcount != len(batch.rows):
                return False
            if batch.buckets:
                copy_sql = f"COPY billing_staging_buckets ({BUCKET_COLUMNS}) FROM STDIN"
                with cur.copy(copy_sql) as cp:
                    for bucket in batch.buckets:
                        cp.write_row(bucket)
                cur.execute(_MERGE_BUCKETS)
            cur.execute(
                "INSERT INTO event_watermark (id, max_received) VALUES (1, %s) ON CONFLICT (id)"
                " DO UPDATE SET max_received"
                " = greatest(event_watermark.max_received, excluded.max_received)",
                (batch.rows[0][8],),
            )
        return True
