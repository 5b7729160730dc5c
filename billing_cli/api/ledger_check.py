"""`ledger check` (SPEC 6): recompute every finalized invoice and test the ledger's invariants.

Finalized invoices are recomputed from the raw events (not the hourly roll-ups, which the
events store verifies against the raw events separately) and the pinned prices, with the same
`invoicing.compose` that produced them, as of their finalization. Also checked: totals and
balances, the invoice hashes, gapless numbering, each customer's balance, dangling references.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from billing_cli import invoicing
from billing_cli.aggregation import Aggregate
from billing_cli.api.compose import base_usage, catalog_for, late_line
from billing_cli.api.context import Context
from billing_cli.invoice_json import invoice_hash
from billing_cli.invoicing import Invoice, Line
from billing_cli.ledger import Ledger
from billing_cli.ledger.invoices import StoredLine, number_seq
from billing_cli.models import Meter


@dataclass(frozen=True)
class Problem:
    subject: str  # invoice number or id, customer id, or "ledger"
    message: str


@dataclass
class CheckReport:
    invoices: int = 0
    lines: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _subscription_lines(inv: Invoice) -> list[Line]:
    return [line for line in inv.lines if line.type == "subscription"]


def _recompute(led: Ledger, inv: Invoice) -> list[Line] | None:
    if inv.subscription is None or inv.finalized_at is None:
        return None
    sub = led.get_subscription(inv.subscription)
    if sub is None:
        return None
    base = base_usage(led, inv.customer, raw=True)
    as_of = inv.finalized_at

    def usage(meter: Meter, start: int, end: int) -> Aggregate:
        return base(meter, start, end, as_of)

    fresh = invoicing.compose(sub, inv.target, catalog_for(led, sub), usage, computed_at=as_of)
    return list(fresh.lines)


def _check_lines(led: Ledger, inv: Invoice, name: str) -> list[Problem]:
    raw = _recompute(led, inv)
    if raw is None:
        return [Problem(name, f"its subscription {inv.subscription} is missing")]
    found = [
        Problem(name, f"recomputed from events and prices: {d}")
        for d in invoicing.line_differences(raw, _subscription_lines(inv))
    ]
    # The roll-ups that produced these lines are checked as a whole by `verify_rollups`.
    return found


def _check_late_lines(
    led: Ledger, inv: Invoice, name: str, history: dict[str, list[StoredLine]]
) -> list[Problem]:
    found: list[Problem] = []
    if not any(line.type == "late_usage" for line in inv.lines):
        return found
    late = {e.identifier: e for e in led.resolved_late_events(inv.customer)}
    raw = base_usage(led, inv.customer, raw=True)
    for line in inv.lines:
        if line.type != "late_usage":
            continue
        original_id = str(line.explain.get("original_line"))
        original = led.get_line(original_id)
        if original is None:
            found.append(Problem(name, f"late line {line.id} names a missing line {original_id}"))
            continue
        earlier = history[original_id]
        wanted = {i for s in earlier for i in s.line.explain["identifiers"]}
        wanted.update(line.explain.get("identifiers", []))
        missing = sorted(i for i in wanted if i not in late)
        if missing:
            found.append(Problem(name, f"late line {line.id} counts unknown events {missing}"))
            continue
        events = sorted((late[i] for i in wanted), key=lambda e: e.seq)
        expected = late_line(led, raw, inv.customer, original, events, earlier)
        found += [
            Problem(name, f"late usage recomputed: {d}")
            for d in invoicing.line_differences([expected], [line])
        ]
        assert inv.finalized_at is not None and inv.number is not None
        history[original_id].append(StoredLine(inv.id or "", inv.finalized_at, inv.number, line))
    return found


def _check_totals(inv: Invoice, name: str) -> list[Problem]:
    found = []
    subtotal = sum(line.amount for line in inv.lines)
    if (inv.subtotal, inv.total) != (subtotal, subtotal):
        found.append(
            Problem(name, f"subtotal {inv.subtotal} / total {inv.total}, lines sum to {subtotal}")
        )
    due, ending = invoicing.settle(inv.total, inv.starting_balance)
    if (inv.amount_due, inv.ending_balance) != (due, ending):
        found.append(
            Problem(
                name,
                f"amount_due {inv.amount_due} / ending_balance {inv.ending_balance}, expected "
                f"{due} / {ending} from total {inv.total} and starting_balance "
                f"{inv.starting_balance}",
            )
        )
    if inv.hash != invoice_hash(inv):
        found.append(Problem(name, "its content does not match its hash (edited after finalizing)"))
    return found


def _check_customers(led: Ledger, invoices: list[Invoice]) -> list[Problem]:
    found: list[Problem] = []
    by_customer: dict[str, list[Invoice]] = defaultdict(list)
    for inv in invoices:
        by_customer[inv.customer].append(inv)
    for customer in led.list_customers():
        mine = by_customer.get(customer.id, [])
        seqs = sorted(number_seq(i.number or "-0") for i in mine)
        if seqs != list(range(1, len(seqs) + 1)):
            found.append(Problem(customer.id, f"invoice numbers are not gapless: {seqs}"))
        if customer.next_invoice_sequence != len(seqs) + 1:
            found.append(
                Problem(
                    customer.id,
                    f"next_invoice_sequence is {customer.next_invoice_sequence}, "
                    f"expected {len(seqs) + 1}",
                )
            )
        wrong = [i.number for i in mine if not (i.number or "").startswith(customer.invoice_prefix)]
        if wrong:
            found.append(Problem(customer.id, f"numbers without its prefix: {wrong}"))
        balance = sum(
            (i.ending_balance or 0) - i.starting_balance for i in mine if i.status != "void"
        )
        if customer.balance != balance:
            found.append(
                Problem(
                    customer.id,
                    f"balance {customer.balance}, but its invoices carry {balance}",
                )
            )
    return found


def check_ledger(ctx: Context) -> CheckReport:
    """Every finding is a `Problem`; the CLI exits 6 when there is any."""
    report = CheckReport()
    with ctx.ledger(write=False) as led, led.read():
        report.problems += [Problem("ledger", p) for p in led.integrity_problems()]
        for finding in (led.verify_event_chain(), led.verify_rollups()):
            if finding is not None:
                report.problems.append(Problem("ledger", finding))
        invoices = led.finalized_invoices()
        history: dict[str, list[StoredLine]] = defaultdict(list)
        for inv in invoices:
            name = inv.number or inv.id or "?"
            report.invoices += 1
            report.lines += len(inv.lines)
            report.problems += _check_totals(inv, name)
            report.problems += _check_lines(led, inv, name)
            report.problems += _check_late_lines(led, inv, name, history)
        report.problems += _check_customers(led, invoices)
    return report
