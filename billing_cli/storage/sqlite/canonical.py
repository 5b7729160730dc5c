"""Migration 5: every decimal column of an older ledger rewritten as canonical text.

Older programs stored some decimals as given or as `str(Decimal)`: an event value `+007.50`, a
unit price `1E-7`, a line quantity `2501.000`, the same text in a single-event roll-up. Today
every decimal column holds `money.decimal_str`'s form (`7.5`, `0.0000001`, `2501`), so the file
reads the same to any tool. The rewrite keeps every hash chain valid by construction, since
each chain hashes what it hashed before:
- an event's link covers its value as sent, which stays in its payload
  (`EventStore.verify_event_chain` checks the canonical column against it);
- invoice hashes cover `decimal_str` of line quantities and prices, not the stored text;
- the `explain` records were always written canonically and are not touched.
The append-only triggers on events and finalized lines are dropped for the rewrite and created
again, exactly as they were, inside the same upgrade transaction.
"""

from __future__ import annotations

import sqlite3

from billing_cli.domain.money import canonical_text
from billing_cli.storage.sqlite.catalog import tiers_from_json, tiers_to_json

DECIMAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "prices": ("unit_amount_decimal",),
    "meter_events": ("value",),
    "usage_hourly": ("sum", "last_value", "recv_value"),
    "invoice_lines": ("quantity_decimal", "unit_amount_decimal"),
}
# The triggers that would refuse the rewrite (migration 2): dropped and created again.
_FROZEN = ("meter_events_no_update", "invoice_lines_frozen_update")


def _canonical(text: str | None) -> str | None:
    """The UDF behind the UPDATEs (the columns are STRICT TEXT, so a value is text or NULL)."""
    return None if text is None else canonical_text(text)


def canonicalize_decimals(conn: sqlite3.Connection) -> None:
    """Rewrite non-canonical decimal text in place (run by `connection._migrate`)."""
    conn.create_function("billing_canonical", 1, _canonical, deterministic=True)
    triggers = [
        row[0]
        for row in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?)", _FROZEN
        )
    ]
    for name in _FROZEN:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    for table, columns in DECIMAL_COLUMNS.items():
        for column in columns:
            conn.execute(
                f"UPDATE {table} SET {column} = billing_canonical({column})"
                f" WHERE {column} IS NOT NULL AND {column} <> billing_canonical({column})"
            )
    for price_id, tiers in conn.execute(
        "SELECT id, tiers FROM prices WHERE tiers IS NOT NULL"
    ).fetchall():
        text = tiers_to_json(tiers_from_json(tiers))
        if text != tiers:
            conn.execute("UPDATE prices SET tiers = ? WHERE id = ?", (text, price_id))
    for sql in triggers:
        conn.execute(sql)
