"""Late events as invoices see them (SPEC 2.6): which finalized line made an event late, and
the `resolve` adjustments that carry late usage onto a customer's next invoice."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

from billing_cli.domain import chain
from billing_cli.domain.events import LateEvent
from billing_cli.domain.invoicing import StoredLine, number_seq
from billing_cli.storage.dialect import SQLITE, Dialect
from billing_cli.storage.sqlite.invoice_queries import line_from_row

_NOT_CANCELLED = (
    "NOT EXISTS (SELECT 1 FROM meter_event_adjustments c"
    " WHERE c.identifier = e.identifier AND c.type = 'cancel')"
)


def _late(row: sqlite3.Row) -> LateEvent:
    value = row["value"]
    return LateEvent(
        seq=row["seq"],
        identifier=row["identifier"],
        event_name=row["event_name"],
        meter=row["meter"],
        customer=row["customer"],
        timestamp=row["timestamp"],
        value=None if value is None else Decimal(value),
        received=row["received"],
        resolved_invoice=row["resolved_invoice"],
        resolved_at=row["resolved_at"],
    )


class LateEventStore:
    conn: sqlite3.Connection
    sql: Dialect = SQLITE

    def late_events(self, customer: str | None = None) -> list[LateEvent]:
        """Late events not cancelled, oldest received first, with their resolution if any."""
        where = "" if customer is None else " AND e.customer = ?"
        rows = self.conn.execute(
            "SELECT e.seq, e.identifier, e.event_name, e.meter, e.customer, e.timestamp,"
            " e.value, e.received, r.invoice AS resolved_invoice, r.created AS resolved_at"
            " FROM meter_events e LEFT JOIN meter_event_adjustments r"
            " ON r.identifier = e.identifier AND r.type = 'resolve'"
            f" WHERE e.status = 'late' AND {_NOT_CANCELLED}{where} ORDER BY e.seq",
            () if customer is None else (customer,),
        )
        return [_late(r) for r in rows]

    def resolved_late_events(
        self, customer: str, *, since: int | None = None, original_invoice: str | None = None
    ) -> list[LateEvent]:
        """The customer's resolved late events (not cancelled), found through the small
        adjustments table so that invoicing never scans meter_events; `since`: resolved at or
        after it; `original_invoice`: resolved onto a line of that finalized invoice."""
        params: list[object]
        where, params = "", [customer]
        if since is not None:
            where, params = " AND r.created >= ?", [*params, since]
        if original_invoice is not None:
            where, params = where + " AND r.invoice = ?", [*params, original_invoice]
        rows = self.conn.execute(
            "SELECT e.seq, e.identifier, e.event_name, e.meter, e.customer, e.timestamp,"
            " e.value, e.received, r.invoice AS resolved_invoice, r.created AS resolved_at"
            # The small adjustments table is the outer loop (SQLite: CROSS JOIN pins it).
            f" FROM meter_event_adjustments r {self.sql.pinned_join} meter_events e"
            " ON e.identifier = r.identifier"
            f" WHERE r.type = 'resolve' AND e.customer = ? AND e.status = 'late'{where}"
            f" AND {_NOT_CANCELLED} ORDER BY e.seq",
            params,
        )
        return [_late(r) for r in rows]

    def last_finalized_at(self, customer: str) -> int | None:
        """When the customer's latest invoice was finalized: it carried every late event
        resolved by then (`api.compose.pending_late_lines`)."""
        row = self.conn.execute(
            "SELECT max(finalized_at) FROM invoices WHERE customer = ? AND status <> 'draft'",
            (customer,),
        ).fetchone()
        return row[0]

    def covering_line(self, customer: str, meter: str, timestamp: int) -> StoredLine | None:
        """The finalized metered line whose period holds `timestamp` (what makes it late)."""
        row = self.conn.execute(
            "SELECT l.*, i.finalized_at AS _fin, i.number AS _num FROM invoice_lines l"
            " JOIN invoices i ON i.id = l.invoice"
            " WHERE i.customer = ? AND i.status != 'draft' AND l.type = 'subscription'"
            " AND l.meter = ? AND l.period_start <= ? AND ? < l.period_end"
            " ORDER BY i.finalized_at LIMIT 1",
            (customer, meter, timestamp, timestamp),
        ).fetchone()
        if row is None:
            return None
        return StoredLine(row["invoice"], row["_fin"], row["_num"], line_from_row(row))

    def get_line(self, line_id: str) -> StoredLine | None:
        row = self.conn.execute(
            "SELECT l.*, i.finalized_at AS _fin, i.number AS _num FROM invoice_lines l"
            " JOIN invoices i ON i.id = l.invoice WHERE l.id = ?",
            (line_id,),
        ).fetchone()
        if row is None:
            return None
        return StoredLine(row["invoice"], row["_fin"], row["_num"], line_from_row(row))

    def finalized_late_lines(
        self, customer: str, original_line: str | None = None
    ) -> list[StoredLine]:
        """Late-usage lines on the customer's finalized invoices (those for `original_line`
        only, when given), in finalization order."""
        where, params = "", [customer]
        if original_line is not None:
            where = f" AND {self.sql.original_line} = ?"
            params = [customer, original_line]
        rows = self.conn.execute(
            "SELECT l.*, i.finalized_at AS _fin, i.number AS _num FROM invoice_lines l"
            " JOIN invoices i ON i.id = l.invoice"
            f" WHERE i.customer = ? AND i.status != 'draft' AND l.type = 'late_usage'{where}",
            params,
        ).fetchall()
        found = [StoredLine(r["invoice"], r["_fin"], r["_num"], line_from_row(r)) for r in rows]
        return sorted(found, key=lambda s: (s.finalized_at, number_seq(s.number), s.line.id))

    def add_resolution(self, identifier: str, invoice: str, created: int) -> None:
        """Append a `resolve` adjustment, linked into the adjustments' hash chain."""
        last = self.conn.execute(
            "SELECT seq, hash FROM meter_event_adjustments ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        seq = 1 if last is None else last["seq"] + 1
        previous = chain.GENESIS if last is None else last["hash"]
        digest = chain.link(previous, (seq, "resolve", identifier, invoice, created))
        self.conn.execute(
            "INSERT INTO meter_event_adjustments (seq, type, identifier, invoice, created, hash)"
            " VALUES (?, 'resolve', ?, ?, ?, ?)",
            (seq, identifier, invoice, created, digest),
        )
