"""The billing-credit half of `ledger check` (issue 19).

- The credit chain: each transaction links to the one before it, each grant's content matches
  the hash its `credits_granted` row recorded, and each grant has that row exactly once.
- Invoices and transactions agree both ways: every pretax credit of a finalized invoice line is
  the `credits_applied` debit it names, every such debit is on a line, and a void invoice gave
  back what it took (once), a live one nothing.
- The credits are recomputed: replaying the chain to the place each invoice was finalized
  (`invoices.credit_seq`), its credits are what Stripe's order gives from the grants as they
  stood there; an invoice without credits had none it could have used.
- Every grant's balance is recomputed from its amount and the invoices, and must equal what its
  transactions leave; no grant ever went below zero.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from billing_cli.api.chain_check import Problem
from billing_cli.domain import chain, credits
from billing_cli.domain.credits import CreditChainEntry, CreditGrant, Transaction
from billing_cli.domain.invoicing import Invoice, PretaxCredit
from billing_cli.storage.port import LedgerStore


def check_credits(led: LedgerStore, invoices: list[Invoice]) -> list[Problem]:
    entries = led.credit_chain()
    grants = {g.id: g for g in led.list_credit_grants()}
    if not entries and not grants:
        return []
    txns = [e.transaction for e in entries]
    return [
        *_walk_chain(entries, grants),
        *_match_invoices(invoices, txns),
        *_replay(invoices, txns, grants, led.credit_positions()),
        *_balances(invoices, txns, grants),
    ]


def _walk_chain(entries: list[CreditChainEntry], grants: dict[str, CreditGrant]) -> list[Problem]:
    found: list[Problem] = []
    previous, granted = chain.GENESIS, defaultdict(list)
    for e in entries:
        t = e.transaction
        if e.hash != chain.link(previous, e.values):
            found.append(
                Problem(
                    "ledger",
                    f"credit_balance_transactions seq {t.seq} ({t.id}): hash does not match the"
                    " chain (the row or one before it was edited, inserted or deleted)",
                )
            )
            break
        previous = e.hash
        if t.reason == credits.GRANTED:
            granted[t.credit_grant].append(e)
    for grant in grants.values():
        rows = granted.get(grant.id, [])
        if len(rows) != 1:
            found.append(
                Problem(grant.id, f"credit grant has {len(rows)} credits_granted transactions")
            )
        elif rows[0].grant_hash != chain.grant_hash(grant):
            found.append(
                Problem(
                    grant.id,
                    f"credit_grants {grant.id}: not the grant recorded at its creation"
                    f" (credit_balance_transactions seq {rows[0].transaction.seq}): edited"
                    " outside billing",
                )
            )
    return found


def _line_credits(
    invoices: list[Invoice],
) -> dict[str, tuple[Invoice, str | None, PretaxCredit]]:
    """Transaction id → (invoice, line id, pretax credit) for every finalized invoice."""
    out = {}
    for inv in invoices:
        for line in inv.lines:
            for c in line.pretax_credit_amounts:
                out[c.credit_balance_transaction or ""] = (inv, line.id, c)
    return out


def _match_invoices(invoices: list[Invoice], txns: list[Transaction]) -> list[Problem]:
    found: list[Problem] = []
    on_lines = _line_credits(invoices)
    by_id = {i.id: i for i in invoices}
    applied = {t.id: t for t in txns if t.reason == credits.APPLIED}
    for txn_id, (inv, line_id, c) in on_lines.items():
        name = inv.number or inv.id or "?"
        t = applied.get(txn_id)
        want = (c.credit_grant, c.amount, inv.id, line_id)
        if t is None:
            found.append(Problem(name, f"line {line_id} names a missing credit debit {txn_id!r}"))
        elif (t.credit_grant, t.amount, t.invoice, t.invoice_line_item) != want:
            found.append(
                Problem(
                    name,
                    f"line {line_id}: credit debit {txn_id} is {t.amount} from {t.credit_grant},"
                    f" the line says {c.amount} from {c.credit_grant}",
                )
            )
    for t in applied.values():
        if t.id not in on_lines:
            found.append(
                Problem(t.invoice or "ledger", f"credit debit {t.id} is on no invoice line")
            )
    back = defaultdict(list)
    for t in txns:
        if t.reason == credits.INVOICE_VOIDED:
            back[t.invoice].append((t.invoice_line_item, t.credit_grant, t.amount))
    for invoice_id in set(back) | {t.invoice for t in applied.values()}:
        owner = by_id.get(invoice_id)
        took = sorted(
            (t.invoice_line_item, t.credit_grant, t.amount)
            for t in applied.values()
            if t.invoice == invoice_id
        )
        expected = took if owner is not None and owner.status == "void" else []
        if sorted(back.get(invoice_id, [])) != expected:
            found.append(
                Problem(
                    invoice_id or "ledger",
                    f"credits given back {sorted(back.get(invoice_id, []))}, expected {expected}"
                    " (a void invoice returns what it took, a live one nothing)",
                )
            )
    return found


def _replay(
    invoices: list[Invoice],
    txns: list[Transaction],
    grants: dict[str, CreditGrant],
    positions: dict[str, int],
) -> list[Problem]:
    """Walk the chain; at the place each invoice was finalized (its `credit_seq`), recompute
    its credits from the grants as they stood there: what Stripe's order gives must be what
    the invoice took, whether that is something or nothing."""
    found: list[Problem] = []
    at_position: dict[int, list[Invoice]] = defaultdict(list)
    for inv in invoices:
        if inv.id in positions:
            at_position[positions[inv.id]].append(inv)
    seen: dict[str, list[Transaction]] = defaultdict(list)
    for inv in at_position.pop(0, []):
        found += _recompute(inv, seen, grants)
    for t in txns:
        seen[t.credit_grant].append(t)
        if sum(x.signed for x in seen[t.credit_grant]) < 0:
            found.append(Problem(t.credit_grant, f"credit grant went below zero at {t.id}"))
        for inv in at_position.pop(t.seq or 0, []):
            found += _recompute(inv, seen, grants)
            if any(x.invoice == inv.id and (x.seq or 0) <= (t.seq or 0) for x in txns):
                found.append(
                    Problem(
                        inv.number or inv.id or "?",
                        f"credits applied before its finalization (credit_seq {t.seq})",
                    )
                )
    for position, stranded in at_position.items():
        for inv in stranded:
            found.append(
                Problem(
                    inv.number or inv.id or "?",
                    f"finalized at credit chain seq {position}, which does not exist",
                )
            )
    return found


def _recompute(
    inv: Invoice, txns: dict[str, list[Transaction]], grants: dict[str, CreditGrant]
) -> list[Problem]:
    assert inv.finalized_at is not None
    states = [
        credits.grant_state(grants[grant_id], rows)
        for grant_id, rows in txns.items()
        if grant_id in grants and grants[grant_id].customer == inv.customer
    ]
    bare = tuple(replace(line, pretax_credit_amounts=()) for line in inv.lines)
    fresh = credits.allocate(bare, states, currency=inv.currency, at=inv.finalized_at)
    found = []
    for index, (want, have) in enumerate(zip(fresh, inv.lines, strict=True), start=1):
        a = [(c.credit_grant, c.amount) for c in want.pretax_credit_amounts]
        b = [(c.credit_grant, c.amount) for c in have.pretax_credit_amounts]
        if a != b:
            found.append(
                Problem(
                    inv.number or inv.id or "?",
                    f"line {index} ({have.description}): credits recomputed as {a}, found {b}",
                )
            )
    return found


def _balances(
    invoices: list[Invoice], txns: list[Transaction], grants: dict[str, CreditGrant]
) -> list[Problem]:
    """Each grant: its amount, less what invoice lines took, plus what void invoices gave
    back, less its expiries and its voiding, equals what its transactions leave."""
    from_invoices = {g.id: g.value for g in grants.values()}
    for inv in invoices:
        for line in inv.lines:
            for c in line.pretax_credit_amounts:
                if c.credit_grant in from_invoices and inv.status != "void":
                    from_invoices[c.credit_grant] -= c.amount
    from_txns: dict[str, int] = defaultdict(int)
    for t in txns:
        from_txns[t.credit_grant] += t.signed
        if t.reason in (credits.EXPIRED, credits.VOIDED) and t.credit_grant in from_invoices:
            from_invoices[t.credit_grant] -= t.amount
    return [
        Problem(
            grant_id,
            f"credit grant balance {from_txns[grant_id]} by its transactions, {expected} by its"
            " amount and the invoices",
        )
        for grant_id, expected in from_invoices.items()
        if from_txns[grant_id] != expected
    ]
