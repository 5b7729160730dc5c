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
The chain's head must not move under the batch, so linking happens under the ledger's write
lock. In an import's `append_write()` transaction everything else happens before it, while other
importers link theirs: the batch is validated, its identifiers looked up (once one was known),
classified and chained after a provisional head (seqs from 1), and COPYed with its buckets into
the staging tables. Under the lock only the real head is read, the rows' hashes recomputed from
their chain text (`event_batch.relink`, ~1 µs a row) and passed as one array, and the two
merges run with the seqs shifted by the head's. If the merge skipped a row (an identifier
another importer stored after the lookup), the batch falls back to the path above, under the
lock; if an invoice was finalized meanwhile, StaleBatch sends it back to be validated again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from billing_cli.domain.event_batch import (
    BUCKET_COLUMNS,
    EVENT_ROW_COLUMNS,
    ChainedBatch,
    Known,
    chain_batch,
    payload_json,
    relink,
)
from billing_cli.domain.events import ValidEvent
from billing_cli.storage.sqlite.events import EventStore

_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS billing_staging_events"
    " (LIKE meter_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;"
    " CREATE TEMP TABLE IF NOT EXISTS billing_staging_buckets"
    " (LIKE usage_hourly INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
# Staged buckets hold their batch's seqs, shifted by %(base)s (0 once linked to the real head).
_MERGE_BUCKETS = (
    f"INSERT INTO usage_hourly AS u ({BUCKET_COLUMNS}) SELECT meter, customer, hour, count,"
    " sum, last_ts, last_seq + %(base)s, last_value, recv_ts, recv_seq + %(base)s, recv_value"
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


_STORED_COLUMNS = EVENT_ROW_COLUMNS.replace("seq,", "").replace(", hash", "")
# Rows staged before the lock: provisional seqs 1..n, linked to the head at %(base)s by the
# hashes in %(hashes)s (the i-th hash is the row of provisional seq i).
_MERGE_LINKED = (
    f"INSERT INTO meter_events ({EVENT_ROW_COLUMNS}) SELECT s.seq + %(base)s,"
    f" {', '.join('s.' + c.strip() for c in _STORED_COLUMNS.split(','))}, h.hash"
    " FROM billing_staging_events s JOIN unnest(%(hashes)s::text[]) WITH ORDINALITY"
    " AS h(hash, n) ON h.n = s.seq ORDER BY s.seq ON CONFLICT (identifier) DO NOTHING"
)


class PgEventStore(EventStore):
    conn: Any
    _staging_ready: bool = False
    _duplicates_seen: bool = False  # the last batch held known identifiers: skip the fast path
    # PgLedgerBase's (annotations only: a method defined here would shadow its own)
    _unlocked_marks: tuple[int, int] | None
    take_write_lock: Callable[[], None]

    def bulk_import_mode(self) -> None:
        """Nothing to tune per connection: the server's settings govern a bulk load."""

    def append_events(self, events: list[ValidEvent], received: int) -> list[tuple[int, str]]:
        """As `EventStore.append_events` (SQLite), through COPY and one merge per batch."""
        if not events:
            return []
        self._prepare_staging()
        payloads = [payload_json(e.payload) for e in events]
        if self._unlocked_marks is not None:
            return self._append_before_lock(events, payloads, received)
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

    def _append_before_lock(
        self, events: list[ValidEvent], payloads: list[str], received: int
    ) -> list[tuple[int, str]]:
        known = None
        if self._duplicates_seen:
            known = self._stored_keys([e.identifier for e in events])  # type: ignore[misc]
        links: list[str] = []
        batch = chain_batch(events, payloads, received, None, known, links)
        self._copy(batch)
        self.take_write_lock()
        if not batch.rows:
            return batch.skipped
        head = self._head()
        hashes, _ = relink(links, head)
        base = 0 if head is None else head[0]
        self.conn.execute("SAVEPOINT append_events")
        with self.conn.raw.cursor() as cur:
            cur.execute(_MERGE_LINKED, {"base": base, "hashes": hashes})
            if cur.rowcount == len(batch.rows):
                self._merge(cur, batch, base)
                self.conn.execute("RELEASE append_events")
                return batch.skipped
        # Another importer stored one of these identifiers after the lookup: classify again
        # against what is stored now, under the lock.
        self.conn.execute("ROLLBACK TO append_events")
        self.conn.execute("RELEASE append_events")
        known = self._stored_keys([e.identifier for e in events])  # type: ignore[misc]
        self._duplicates_seen = True
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
        self._copy(batch)
        with self.conn.raw.cursor() as cur:
            cur.execute(
                f"INSERT INTO meter_events ({EVENT_ROW_COLUMNS}) SELECT {EVENT_ROW_COLUMNS}"
                " FROM billing_staging_events ORDER BY seq ON CONFLICT (identifier) DO NOTHING"
            )
            if cur.rowcount != len(batch.rows):
                return False
            self._merge(cur, batch, 0)
        return True

    def _copy(self, batch: ChainedBatch) -> None:
        """The batch's rows and buckets into the (emptied) staging tables."""
        with self.conn.raw.cursor() as cur:
            cur.execute("TRUNCATE billing_staging_events, billing_staging_buckets")
            if batch.rows:
                with cur.copy(
                    f"COPY billing_staging_events ({EVENT_ROW_COLUMNS}) FROM STDIN"
                ) as cp:
                    for row in batch.rows:
                        cp.write_row(row)
            if batch.buckets:
                with cur.copy(f"COPY billing_staging_buckets ({BUCKET_COLUMNS}) FROM STDIN") as cp:
                    for bucket in batch.buckets:
                        cp.write_row(bucket)

    def _merge(self, cur: Any, batch: ChainedBatch, base: int) -> None:
        """The staged buckets into the roll-ups, seqs shifted by `base`, and the watermark."""
        if batch.buckets:
            cur.execute(_MERGE_BUCKETS, {"base": base})
        cur.execute(
            "INSERT INTO event_watermark (id, max_received) VALUES (%s, %s) ON CONFLICT (id)"
            " DO UPDATE SET max_received"
            " = greatest(event_watermark.max_received, excluded.max_received)",
            (1, batch.rows[0][8]),
        )
