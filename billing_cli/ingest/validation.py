"""SPEC 2.2 validation of event rows against the catalog, and the identifiers of SPEC 2.3.

Split from `ingest` (reading rows) because these are the rules an event must satisfy however it
arrives (`event send` as well as `event import`); both stay pure: the catalog is passed in as a
meter and a customer lookup, and "now" as an int.

Decisions where SPEC 2 is silent:
- For a `count` meter the value is ignored entirely (value 0, value_text None), even if present.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable
from decimal import Decimal

from billing_cli.clock import format_time
from billing_cli.domain.events import ValidEvent, content_key
from billing_cli.domain.models import Meter
from billing_cli.domain.money import parse_decimal
from billing_cli.errors import InvalidInput
from billing_cli.ingest.event_rows import check_payload_key
from billing_cli.ingest.readers import EventInput, Reject, show_value

FUTURE_TOLERANCE_SECONDS = 300
# Stripe refuses meter events more than 35 calendar days old (`timestamp_too_far_in_past`):
# such an event would otherwise be stored as accepted and, before every period still open,
# counted nowhere. `--max-age` widens the window for a deliberate back-fill.
MAX_EVENT_AGE_SECONDS = 35 * 86400
_ZERO = Decimal(0)


def validate_event(
    ev: EventInput,
    meter: Meter | None,
    customer_exists: Callable[[str], bool],
    now: int,
    max_age: int = MAX_EVENT_AGE_SECONDS,
) -> ValidEvent | Reject:
    """SPEC 2.2 in its order, so a row with several faults always reports the same one first;
    `max_age` is how many seconds before `now` a timestamp may lie (Stripe: 35 days)."""
    if meter is None:
        return Reject("no_meter", f"no meter has event_name {show_value(ev.event_name)}")
    if meter.status != "active":
        message = f"meter {meter.id} ({show_value(ev.event_name)}) is {meter.status}"
        return Reject("archived_meter", message)
    payload = ev.payload
    customer = payload.get(meter.customer_key)
    if not customer:
        message = f"payload has no customer key {show_value(meter.customer_key)}"
        return Reject("meter_event_no_customer_defined", message)
    if not customer_exists(customer):
        return Reject("meter_event_customer_not_found", f"no customer {show_value(customer)}")
    value, value_text = _ZERO, None
    if meter.formula != "count":
        value_text = payload.get(meter.value_key)
        if not value_text:
            message = f"payload has no value key {show_value(meter.value_key)}"
            return Reject("meter_event_value_not_found", message)
        try:
            value = parse_decimal(value_text, field="value", max_significant_digits=15)
        except InvalidInput as exc:
            return Reject("meter_event_invalid_value", exc.message)
    timestamp = now if ev.timestamp is None else ev.timestamp
    if timestamp > now + FUTURE_TOLERANCE_SECONDS:
        ahead = timestamp - now
        message = (
            f"timestamp {format_time(timestamp)} is {ahead} s after now ({format_time(now)}),"
            " over 300 s"
        )
        return Reject("timestamp_in_future", message)
    if timestamp < now - max_age:
        return Reject("timestamp_too_far_in_past", _too_old(timestamp, now, max_age))
    return ValidEvent(
        ev.identifier, ev.event_name, meter.id, customer, value, value_text, timestamp, payload,
        ev.line, ev.timestamp is not None,
    )  # fmt: skip


def _span(seconds: int) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size and (seconds % size == 0 or seconds >= 2 * size):
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _too_old(timestamp: int, now: int, max_age: int) -> str:
    return (
        f"timestamp {format_time(timestamp)} is {_span(now - timestamp)} before now"
        f" ({format_time(now)}), outside the {_span(max_age)} window"
    )


# --- identifiers ---------------------------------------------------------------------------


class IdentifierDeriver:
    """Derives identifiers for one input, counting identical rows (the n of SPEC 2.3).

    A million distinct rows must fit in the import's memory budget, so seen rows are kept as
    16-byte digests in one bytearray, found through an open-addressing table of uint32 indexes
    (about 30 bytes a row, against about 100 for a dict of bytes).
    """

    def __init__(self) -> None:
        self._keys = bytearray()  # 16-byte content digests, first-seen order
        self._counts = array("I")  # rows seen per digest
        self._mask = (1 << 16) - 1
        self._slots = array("I", bytes(4 << 16))  # 1 + index into _counts; 0 = free
        self.derived = 0  # rows given a derived identifier (the import summary reports it)

    def derive(self, event_name: str, timestamp: int | None, payload: dict[str, str]) -> str:
        """The identifier of this row: n is the number of identical rows derived before it."""
        hasher = hashlib.sha256(
            content_key(event_name, timestamp, payload).encode("utf-8", "surrogatepass")
        )
        n = self._seen(hasher.digest())
        hasher.update(b"%d" % n)
        self.derived += 1
        return "row_" + hasher.hexdigest()[:32]

    def _seen(self, digest: bytes) -> int:
        key = digest[:16]
        keys, slots, mask, counts = self._keys, self._slots, self._mask, self._counts
        i = int.from_bytes(key[:8], "little") & mask
        while index := slots[i]:
            offset = (index - 1) << 4
            if keys[offset : offset + 16] == key:
                n = counts[index - 1]
                counts[index - 1] = n + 1
                return n
            i = (i + 1) & mask
        keys += key
        counts.append(1)
        slots[i] = len(counts)
        if len(counts) * 2 > mask:
            self._grow()
        return 0

    def _grow(self) -> None:
        mask = (self._mask << 2) | 3
        slots = array("I", bytes(4 * (mask + 1)))
        keys = self._keys
        for index in range(len(self._counts)):
            i = int.from_bytes(keys[index << 4 : (index << 4) + 8], "little") & mask
            while slots[i]:
                i = (i + 1) & mask
            slots[i] = index + 1
        self._mask, self._slots = mask, slots


def payload_from_pairs(pairs: list[str]) -> dict[str, str]:
    """`--payload K=V` options; a repeated key is refused rather than silently overwritten."""
    payload: dict[str, str] = {}
    hint = "write --payload KEY=VALUE, e.g. --payload stripe_customer_id=cus_123"
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--payload {show_value(pair)} is not KEY=VALUE with a key", hint)
        if key in payload:
            raise InvalidInput(f"--payload key {show_value(key)} is given twice", hint)
        if (bad := check_payload_key(key)) is not None:
            raise InvalidInput(f"--payload {show_value(pair)}: {bad.message}", hint)
        payload[key] = value
    return payload


# --- duplicates and late events -------------------------------------------------------------


class Coverage:
    """The periods finalized invoices have billed, per (meter, customer): an event whose
    timestamp falls in one is late (SPEC 2.6). Built once per import batch from the ledger,
    then asked once per row, so intervals are merged and found by bisection."""

    def __init__(self, periods: Iterable[tuple[str, str, int, int]]) -> None:
        spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for meter, customer, start, end in periods:
            if start < end:
                spans.setdefault((meter, customer), []).append((start, end))
        self._starts: dict[tuple[str, str], list[int]] = {}
        self._ends: dict[tuple[str, str], list[int]] = {}
        for key, intervals in spans.items():
            starts: list[int] = []
            ends: list[int] = []
            for start, end in sorted(intervals):
                if ends and start <= ends[-1]:
                    ends[-1] = max(ends[-1], end)
                else:
                    starts.append(start)
                    ends.append(end)
            self._starts[key] = starts
            self._ends[key] = ends

    def __bool__(self) -> bool:
        return bool(self._starts)

    def covers(self, meter: str, customer: str, timestamp: int) -> bool:
        """True when a finalized period [start, end) of this meter and customer holds it."""
        starts = self._starts.get((meter, customer))
        if not starts:
            return False
        i = bisect_right(starts, timestamp) - 1
        return i >= 0 and timestamp < self._ends[(meter, customer)][i]
