"""One batch of validated events made ready for the ledger: duplicates classified, `seq`s
assigned, each row linked into the event hash chain, and the batch's hourly roll-up buckets.

Pure, and the one place that does this: both storage backends call `chain_batch` with the
chain's head and then only store its rows and merge its buckets (SQLite with an UPSERT,
PostgreSQL with COPY and one merge), so the chain a ledger holds does not depend on where it
is kept, and a ledger copied between backends verifies.

This is the import's hot path (~1 µs per event matters): the chain link and the payload JSON
are spelled out with json's C encoder and string escaper instead of `json.dumps`, which builds
an encoder per call; tests/test_ledger_events.py checks both against `chain.link`/`json.dumps`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal

from billing_cli.domain.aggregation import HOUR
from billing_cli.domain.chain import GENESIS
from billing_cli.domain.events import ValidEvent, is_duplicate
from billing_cli.domain.money import DECIMAL_CONTEXT, canonical_text, decimal_str

_add = DECIMAL_CONTEXT.add
_escape = json.encoder.encode_basestring  # what json.dumps uses with ensure_ascii=False
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)  # private, not in typeshed
if _c_make_encoder is not None:
    _payload_chunks = _c_make_encoder(None, None, _escape, None, ":", ",", True, False, True)

    def payload_json(payload: dict[str, str]) -> str:
        """The canonical JSON text of a payload, as stored and hashed."""
        return "".join(_payload_chunks(payload, 0))

else:  # pragma: no cover - CPython always has the C encoder
    _encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def payload_json(payload: dict[str, str]) -> str:
        """The canonical JSON text of a payload, as stored and hashed."""
        return _encoder.encode(payload)


# The stored content of an identifier, as the duplicate rule compares it:
# (event_name, payload JSON, timestamp).
Known = dict[str, tuple[str, str, int]]

EVENT_ROW_COLUMNS = (
    "seq, identifier, event_name, meter, customer, timestamp, value, payload, received,"
    " status, hash"
)
BUCKET_COLUMNS = (
    "meter, customer, hour, count, sum, last_ts, last_seq, last_value, recv_ts, recv_seq,"
    " recv_value"
)


@dataclass
class ChainedBatch:
    """`rows` in EVENT_ROW_COLUMNS order; `buckets` in BUCKET_COLUMNS order (decimals as
    canonical text), sorted by key; `skipped` = (index, "duplicate" | "conflict")."""

    rows: list[tuple[object, ...]] = field(default_factory=list)
    buckets: list[list[object]] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    head: tuple[int, str] = (0, GENESIS)  # the chain's last (seq, hash) after this batch


def chain_batch(
    events: list[ValidEvent],
    payloads: list[str],
    received: int,
    head: tuple[int, str] | None,
    known: Known | None,
    links: list[str] | None = None,
) -> ChainedBatch:
    """Link `events` (with their `payload_json`s) after the chain's `head` (None: empty).

    With `known` (the stored content of the batch's identifiers), an event whose identifier is
    known, or repeated earlier in the batch, is classified into `skipped` instead of stored
    (SPEC 2.3); without it the caller relies on the ledger's UNIQUE index to object.

    The chain covers the value as sent (the payload's text, `+007.50`); the row holds its
    canonical form (`7.5`). A bucket merges counted events as `aggregation.merge` does: the
    sum exactly, `last` by (timestamp, seq), `recv` by seq (receipt order).

    `links` (a list) receives each stored row's chain text after its seq: a backend that
    prepares the batch before it holds the write lock (PostgreSQL) passes head None, so the
    seqs count from 1, and `relink`s the rows to the real head once it holds the lock."""
    seq, prev = head if head is not None else (0, GENESIS)
    previous = prev.encode()
    out = ChainedBatch()
    rows, skipped = out.rows, out.skipped
    rollup: dict[tuple[str, str, int], list[object]] = {}
    esc, sha, add, append, get, canon = (
        _escape, hashlib.sha256, _add, rows.append, rollup.get, canonical_text,
    )  # fmt: skip
    for i, e in enumerate(events):
        ident, pj, ts, name = e.identifier, payloads[i], e.timestamp, e.event_name
        assert ident is not None  # the caller derives missing identifiers first
        if known is not None:
            prior = known.get(ident)
            if prior is not None:
                given = ts if e.timestamp_given else None
                kind = "duplicate" if is_duplicate(prior, name, pj, given) else "conflict"
                skipped.append((i, kind))
                continue
            known[ident] = (name, pj, ts)
        seq += 1
        sent, status, meter, customer = e.value_text, e.status, e.meter, e.customer
        # chain.canonical([seq, ident, name, meter, customer, ts, sent, pj, received, status])
        # spelled out: the ints print as JSON does, the strings are escaped by it.
        sent_json = "null" if sent is None else esc(sent)
        after_seq = (
            f",{esc(ident)},{esc(name)},{esc(meter)},{esc(customer)},{ts},"
            f"{sent_json},{esc(pj)},{received},{esc(status)}]"
        )
        if links is not None:
            links.append(after_seq)
        digest = sha(previous + f"\n[{seq}{after_seq}".encode()).hexdigest()
        previous = digest.encode()
        value = None if sent is None else canon(sent)
        append((seq, ident, name, meter, customer, ts, value, pj, received, status, digest))
        if status == "accepted":
            text = "0" if value is None else value
            hour = ts - ts % HOUR
            key = (meter, customer, hour)
            b = get(key)
            if b is None:
                rollup[key] = [meter, customer, hour, 1, text, ts, seq, text, ts, seq, text]
            else:  # seq only grows: this event is the bucket's most recently received
                n = b[3]
                b[4] = add(Decimal(b[4]) if n == 1 else b[4], e.value)  # type: ignore[arg-type]
                b[3] = n + 1  # type: ignore[operator]
                if ts >= b[5]:  # type: ignore[operator]
                    b[5], b[6], b[7] = ts, seq, text
                b[8], b[9], b[10] = ts, seq, text
    for b in rollup.values():
        if b[3] != 1:
            b[4] = decimal_str(b[4])  # type: ignore[arg-type]
    out.buckets = sorted(rollup.values())  # type: ignore[type-var]
    out.head = (seq, previous.decode())
    return out


def relink(links: list[str], head: tuple[int, str] | None) -> tuple[list[str], tuple[int, str]]:
    """The hashes of rows prepared by `chain_batch(..., head=None, links=links)` once linked
    after the chain's real `head` (their seqs shift by the head's seq), and the new head."""
    base, prev = head if head is not None else (0, GENESIS)
    previous = prev.encode()
    sha = hashlib.sha256
    hashes: list[str] = []
    append = hashes.append
    for seq, after_seq in enumerate(links, base + 1):
        digest = sha(previous + f"\n[{seq}{after_seq}".encode()).hexdigest()
        append(digest)
        previous = digest.encode()
    return hashes, (base + len(links), previous.decode())
