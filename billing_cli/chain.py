"""The tamper-evidence hash chain (SPEC 6, beyond Stripe).

Each money-relevant row keeps `sha256(previous hash + canonical row)`. Editing, inserting or
deleting a row behind the program's back breaks the chain at that row, which `ledger check`
names. Three chains: meter events, meter event adjustments, and the invoice chain (each
finalization and each later status transition of an invoice, in the order they happened).
The canonical form is JSON of the row's fields in a fixed order, so it does not depend on
SQLite's storage or on Python's dict order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

GENESIS = "0" * 64

EVENT_FIELDS = (
    "seq",
    "identifier",
    "event_name",
    "meter",
    "customer",
    "timestamp",
    "value",
    "payload",
    "received",
    "status",
)
ADJUSTMENT_FIELDS = ("seq", "type", "identifier", "invoice", "created")
# The invoice chain (migration 4): one row per status an invoice enters after its draft, in the
# order it happened. `open` (finalization) carries the content hashes of the invoice's header
# and of each line; `paid` the amount paid; every row the time of the transition.
INVOICE_CHAIN_FIELDS = (
    "seq",
    "invoice",
    "status",
    "at",
    "amount_paid",
    "header_hash",
    "line_hashes",
)


def canonical(values: Sequence[object]) -> bytes:
    return json.dumps(list(values), separators=(",", ":"), ensure_ascii=False).encode()


def link(previous: str, values: Sequence[object]) -> str:
    return hashlib.sha256(previous.encode() + b"\n" + canonical(values)).hexdigest()
