"""The tamper-evidence half of `ledger check`: walk the hash chains (meter events, their
adjustments, the invoice chain) and name the first row that does not match; compare every
finalized invoice, its lines and its status with what the invoice chain recorded."""

from __future__ import annotations

import json
from dataclasses import dataclass

from billing_cli.domain import chain
from billing_cli.domain.chain import STATUS_DATES, ChainEntry, header_hash, line_hashes
from billing_cli.domain.invoicing import Invoice
from billing_cli.storage.port import CHAIN_TABLES, LedgerStore


@dataclass(frozen=True)
class Problem:
    subject: str  # invoice number or id, customer id, or "ledger"
    message: str


_NEXT = {"open": ("paid", "void", "uncollectible"), "uncollectible": ("paid", "void")}  # SPEC 4.5
_STATUS_FIELDS = ("status", "finalized_at", *STATUS_DATES.values(), "amount_paid")


@dataclass
class _Recorded:
    """An invoice as the invoice chain says it must be now."""

    opened: ChainEntry
    fields: dict[str, object]


def check_event_chains(led: LedgerStore) -> list[Problem]:
    found = []
    for table in CHAIN_TABLES:
        missing = led.first_missing_seq(table)
        if missing is not None:
            found.append(
                Problem("ledger", f"{table} seq {missing} is missing (deleted outside billing)")
            )
    finding = led.verify_event_chain()
    if finding is not None:
        found.append(Problem("ledger", finding))
    return found


def _replay(entries: list[ChainEntry]) -> tuple[dict[str, _Recorded], list[Problem]]:
    """Walk the invoice chain: the first row whose hash does not link is named; the rows give
    each invoice's recorded finalization, status, dates and amount paid."""
    found: list[Problem] = []
    recorded: dict[str, _Recorded] = {}
    previous, linked = chain.GENESIS, True
    for e in entries:
        expected = chain.link(previous, e.values)
        if linked and e.hash != expected:
            found.append(
                Problem(
                    "ledger",
                    f"invoice_chain seq {e.seq} ({e.invoice}, {e.status}): hash does not match"
                    " the chain (the row or one before it was edited, inserted or deleted)",
                )
            )
            linked = False
        previous = expected
        state = recorded.get(e.invoice)
        if e.status == "open" and state is None:
            fields: dict[str, object] = dict.fromkeys(_STATUS_FIELDS)
            fields.update(status="open", finalized_at=e.at, amount_paid=0)
            recorded[e.invoice] = _Recorded(e, fields)
            continue
        if state is None or e.status not in _NEXT.get(str(state.fields["status"]), ()):
            was = "not finalized" if state is None else state.fields["status"]
            found.append(
                Problem(
                    e.invoice,
                    f"invoice_chain seq {e.seq}: {e.invoice} cannot become {e.status} (it was"
                    f" {was}; SPEC 4.5)",
                )
            )
            continue
        state.fields["status"] = e.status
        state.fields[STATUS_DATES[e.status]] = e.at
        if e.status == "paid":
            state.fields["amount_paid"] = e.amount_paid
    return recorded, found


def _recorded_lines(opened: ChainEntry) -> list[tuple[str, str]] | None:
    try:
        pairs = json.loads(opened.line_hashes or "")
        return [(str(line_id), str(digest)) for line_id, digest in pairs]
    except (ValueError, TypeError):
        return None


def _check_recorded(inv: Invoice, rec: _Recorded) -> list[Problem]:
    """One invoice against its chain rows: header, each line, status and dates."""
    name = inv.number or inv.id or "?"
    seq = rec.opened.seq
    found: list[Problem] = []
    if header_hash(inv) != rec.opened.header_hash:
        found.append(
            Problem(
                name,
                f"invoices {inv.id}: its amounts, dates or other fields are not those recorded"
                f" at finalization (invoice_chain seq {seq}): edited outside billing",
            )
        )
    want = _recorded_lines(rec.opened)
    if want is None:
        return [
            *found,
            Problem(name, f"invoice_chain seq {seq}: its line hashes are unreadable: edited"),
        ]
    have = [tuple(pair) for pair in json.loads(line_hashes(inv))]
    want_ids = {i for i, _ in want}
    have_by_id = dict(have)
    for position, (line_id, digest) in enumerate(want, start=1):
        if line_id not in have_by_id:
            found.append(
                Problem(name, f"invoice_lines {line_id} (line {position}) is missing: deleted")
            )
        elif have_by_id[line_id] != digest:
            found.append(
                Problem(
                    name,
                    f"invoice_lines {line_id} (line {position}): not the line recorded at"
                    f" finalization (invoice_chain seq {seq}): edited outside billing",
                )
            )
    for line_id, _ in have:
        if line_id not in want_ids:
            found.append(
                Problem(name, f"invoice_lines {line_id}: not part of {name} at finalization")
            )
    if not found and [i for i, _ in have] != [i for i, _ in want]:
        found.append(Problem(name, f"invoice_lines of {inv.id}: reordered after finalization"))
    actual = {f: getattr(inv, f) for f in _STATUS_FIELDS}
    moved = [f for f in _STATUS_FIELDS if actual[f] != rec.fields[f]]
    if moved:
        detail = ", ".join(f"{f} {actual[f]} (recorded: {rec.fields[f]})" for f in moved)
        found.append(
            Problem(
                name,
                f"invoices {inv.id}: {detail}: changed outside billing, not by a transition",
            )
        )
    return found


def check_invoice_chain(
    led: LedgerStore, finalized: list[Invoice], unreadable: set[str]
) -> list[Problem]:
    recorded, found = _replay(led.invoice_chain())
    by_id = {inv.id: inv for inv in finalized}
    for invoice_id, rec in recorded.items():
        if invoice_id in unreadable:
            continue  # named already
        inv = by_id.get(invoice_id) or led.get_invoice(invoice_id)
        if inv is None or inv.id != invoice_id:
            found.append(
                Problem(
                    invoice_id,
                    f"invoices {invoice_id} is missing (invoice_chain seq {rec.opened.seq}"
                    " records its finalization): deleted outside billing",
                )
            )
            continue
        found += _check_recorded(inv, rec)
    for inv in finalized:
        if inv.id not in recorded:
            found.append(
                Problem(
                    inv.number or inv.id or "?",
                    f"invoices {inv.id}: {inv.status}, but the invoice chain has no finalization"
                    " of it: finalized outside billing",
                )
            )
    return found
