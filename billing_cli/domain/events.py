"""What makes one meter event: its validated form, its derived identifier (SPEC 2.3) and the
duplicate rule. Pure, so that both storage backends and every way in (send, import, HTTP) share
one definition of "the same event"."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal


@dataclass(slots=True)
class ValidEvent:
    """An event that passed SPEC 2.2; the caller fills `identifier` when it is None."""

    identifier: str | None
    event_name: str
    meter: str
    customer: str
    value: Decimal
    value_text: str | None
    timestamp: int
    payload: dict[str, str]
    line: int
    timestamp_given: bool = True  # False: the row had none (duplicates match without it, 2.3)
    status: str = "accepted"  # or "late" (SPEC 2.6), set by the caller from the `Coverage`


def content_key(event_name: str, timestamp: int | None, payload: dict[str, str]) -> str:
    ts = "" if timestamp is None else timestamp
    items = "".join([f"{len(k)}:{k},{len(v)}:{v}," for k, v in sorted(payload.items())])
    return f"{len(event_name)}:{event_name},{ts},{items}"


def derived_identifier(
    event_name: str, timestamp: int | None, payload: dict[str, str], n: int
) -> str:
    """SPEC 2.3: "row_" + the first 32 hex digits of SHA-256 over the UTF-8 of
    `<len>:<event_name>,<timestamp>,` + `<len>:<key>,<len>:<value>,` per payload key in
    code-point order + `<n>`, where <len> counts characters and <timestamp> is Unix seconds or
    empty when the row had none. Length prefixes make the encoding unambiguous whatever the
    values contain, so distinct rows never collide by format."""
    text = content_key(event_name, timestamp, payload) + str(n)
    return "row_" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def is_duplicate(
    stored: tuple[str, str, int], event_name: str, payload_json: str, timestamp: int | None
) -> bool:
    """SPEC 2.3: the stored (event_name, canonical payload, timestamp) of the same identifier
    against a new row; a row without a timestamp (None) matches on the other two."""
    if stored[0] != event_name or stored[1] != payload_json:
        return False
    return timestamp is None or stored[2] == timestamp


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


@dataclass(frozen=True)
class LateEvent:
    """A stored late event (SPEC 2.6) and, once resolved, the invoice whose period it is in."""

    seq: int
    identifier: str
    event_name: str
    meter: str
    customer: str
    timestamp: int
    value: Decimal | None
    received: int
    resolved_invoice: str | None
    resolved_at: int | None
