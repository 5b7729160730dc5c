"""`ledger check` (SPEC 6): recompute every finalized invoice and test the ledger's invariants.

First the tamper evidence: the three hash chains (meter events, their adjustments, the invoice
chain) are walked and the first row that does not match is named by table and key; every
finalized invoice, each of its lines and its status are compared with what the invoice chain
recorded when they happened. Then finalized invoices are recomputed from the raw events (not
the hourly roll-ups, which the events store verifies against the raw events separately) and the
pinned prices, with the same `invoicing.compose` that produced them, as of their finalization.
Also checked: totals and balances, gapless numbering, each customer's balance, dangling
references.

A ledger edited outside the program may hold values the program never writes (text where a
decimal belongs, broken JSON, an unknown formula): a step that trips over one becomes a problem
naming the invoice or the stage it was checking, never a crash (BILLING_DEBUG=1 re-raises).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from billing_cli.api import ledger_head
from billing_cli.api.chain_check import Problem, check_event_chains, check_invoice_chain
from billing_cli.api.compose import base_usage, catalog_for, late_line, tax_rates_for
from billing_cli.api.context import Context
from billing_cli.api.credit_check import check_credits
from billing_cli.domain import credits, invoicing, tax
from billing_cli.domain.aggregation import Aggregate
from billing_cli.domain.chain import invoice_hash
from billing_cli.domain.invoicing import Invoice, Line, StoredLine, number_seq
from billing_cli.domain.models import Meter
from billing_cli.errors import BillingError, LedgerError, UnreadableRow
from billing_cli.storage.port import LedgerStore


@dataclass
class CheckReport:
    invoices: int = 0
    lines: int = 0
    problems: list[Problem] = field(default_factory=list)
    chains: dict[str, dict[str, object]] = field(default_factory=dict)  # table -> seq, hash
    removed_stale: list[tuple[Path, int]] = field(default_factory=list)  # killed backups' files
    head: str | None = None  # `ledger_head.current_head`: for --print-head, and in --json

    @property
    def ok(self) -> bool:
        return not self.problems


T = TypeVar("T")
# What reading or recomputing a value the program never wrote raises (InvalidOperation and
# JSONDecodeError are among these), besides a BillingError about a stored object.
_UNREADABLE = (ValueError, TypeError, LookupError, AttributeError, ArithmeticError, AssertionError)


def _safely(found: list[Problem], subject: str, what: str, step: Callable[[], T]) -> T | None:
    """Run one step of the check; if a value edited outside the program breaks it, record a
    problem naming `subject` and go on with the other steps."""
    try:
        return step()
    except UnreadableRow as exc:
        found.append(Problem(subject, exc.message))
        return None
    except LedgerError:
        raise
    except (BillingError, *_UNREADABLE) as exc:
        if os.environ.get("BILLING_DEBUG") == "1":
            raise
        detail = exc.message if isinstance(exc, BillingError) else f"{type(exc).__name__}: {exc}"
        found.append(
            Problem(
                subject,
                f"{what} failed on a value billing never writes ({' '.join(detail.split())}):"
                " edited outside billing",
            )
        )
        return None


def _number_seq(number: str | None) -> int | None:
    try:
        return number_seq(number or "")
    except ValueError:
        return None


def _read_invoices(led: LedgerStore, found: list[Problem]) -> tuple[list[Invoice], set[str]]:
    """Every readable finalized invoice in finalization order, and the ids of the others (each
    named in `found`)."""
    invoices = _safely(found, "ledger", "reading the finalized invoices", led.finalized_invoices)
    if invoices is not None:
        return invoices, set()
    found.clear()  # name the unreadable ones instead
    readable, unreadable = [], set()
    for invoice_id, number in led.finalized_invoice_ids():
        inv = _safely(
            found,
            number or invoice_id,
            f"reading invoice {invoice_id}",
            lambda i=invoice_id: led.get_invoice(i),  # type: ignore[misc]
        )
        if inv is None:
            unreadable.add(invoice_id)
        else:
            readable.append(inv)
    readable.sort(key=lambda i: (i.finalized_at or 0, _number_seq(i.number) or 0))
    return readable, unreadable


def _subscription_lines(inv: Invoice) -> list[Line]:
    return [line for line in inv.lines if line.type == "subscription"]


def _recompute(led: LedgerStore, inv: Invoice) -> list[Line] | None:
    if inv.subscription is None or inv.finalized_at is None:
        return None
    sub = led.get_subscription(inv.subscription)
    if sub is None:
        return None
    base = base_usage(led, inv.customer, raw=True)
    as_of = inv.finalized_at

    def usage(meter: Meter, start: int, end: int) -> Aggregate:
        return base(meter, start, end, as_of)

    fresh = invoicing.compose(
        sub,
        inv.target,
        catalog_for(led, sub),
        usage,
        computed_at=as_of,
        tax_rates=tax_rates_for(led, sub),
    )
    return list(fresh.lines)


def _credited_as(fresh: list[Line], stored: list[Line]) -> list[Line]:
    """Recomputed lines with the billing credits the stored ones carry (which `credit_check`
    verifies on their own), taxed on what the credits left, as the invoice was."""
    moved = [
        replace(line, pretax_credit_amounts=old.pretax_credit_amounts)
        for line, old in zip(fresh, stored, strict=False)
    ]
    return list(tax.retax(moved + fresh[len(stored) :]))


def _check_lines(led: LedgerStore, inv: Invoice, name: str) -> list[Problem]:
    raw = _recompute(led, inv)
    if raw is None:
        return [Problem(name, f"its subscription {inv.subscription} is missing")]
    stored = _subscription_lines(inv)
    found = [
        Problem(name, f"recomputed from events and prices: {d}")
        for d in invoicing.line_differences(_credited_as(raw, stored), stored)
    ]
    # The roll-ups that produced these lines are checked as a whole by `verify_rollups`.
    return found


def _check_late_lines(
    led: LedgerStore, inv: Invoice, name: str, history: dict[str, list[StoredLine]]
) -> list[Problem]:
    found: list[Problem] = []
    if not any(line.type == "late_usage" for line in inv.lines):
        return found
    late = {e.identifier: e for e in led.resolved_late_events(inv.customer)}
    raw = base_usage(led, inv.customer, raw=True)
    sub = led.get_subscription(inv.subscription) if inv.subscription else None
    rates = tax_rates_for(led, sub) if sub is not None else []
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
        recomputed = late_line(led, raw, inv.customer, original, events, earlier)
        expected = tax.apply_taxes(
            [replace(recomputed, pretax_credit_amounts=line.pretax_credit_amounts)], rates
        )[0]
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
    totals = tax.total_taxes(inv.lines)
    credited = credits.credited(inv.lines)
    total = subtotal - credited + tax.exclusive_tax(totals)
    if (inv.subtotal, inv.total) != (subtotal, total):
        found.append(
            Problem(
                name,
                f"subtotal {inv.subtotal} / total {inv.total}, lines sum to {subtotal}"
                f" / {total} after {credited} of credits and with tax",
            )
        )
    if inv.total_taxes != totals:
        found.append(Problem(name, "total_taxes do not sum the lines' taxes"))
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


def _check_customers(led: LedgerStore, invoices: list[Invoice]) -> list[Problem]:
    found: list[Problem] = []
    by_customer: dict[str, list[Invoice]] = defaultdict(list)
    for inv in invoices:
        by_customer[inv.customer].append(inv)
    for customer in led.list_customers():
        mine = by_customer.get(customer.id, [])
        odd = [i.number for i in mine if _number_seq(i.number) is None]
        if odd:
            found.append(
                Problem(customer.id, f"invoice numbers not of the form PREFIX-NNNN: {odd}")
            )
        seqs = sorted(_number_seq(i.number) or 0 for i in mine)
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


def check_ledger(ctx: Context, *, expect_head: str | None = None) -> CheckReport:
    """Every finding is a `Problem`; the CLI exits 6 when there is any. `expect_head` is a head
    printed earlier (`ledger_head`): the ledger must still be exactly there."""
    expected = None if expect_head is None else ledger_head.parse_expected(expect_head)
    report = CheckReport()
    found = report.problems

    def step(subject: str, what: str, check: Callable[[], list[Problem]]) -> None:
        found.extend(_safely(found, subject, what, check) or [])

    with ctx.ledger(write=False) as led, led.read():
        report.removed_stale = led.remove_stale_backup_files()
        found += [Problem("ledger", p) for p in led.page_problems()]
        if found:  # the rest would read the damaged pages: restore from a backup first
            return report
        unreadable: list[Problem] = []
        invoices, skipped = _read_invoices(led, unreadable)
        report.chains = led.chain_heads()
        report.head = ledger_head.current_head(led)
        step("ledger", "walking the event chains", lambda: check_event_chains(led))
        step(
            "ledger",
            "walking the invoice chain",
            lambda: check_invoice_chain(led, invoices, skipped),
        )
        step("ledger", "walking the catalog chain", lambda: _catalog_problems(led))
        if expected is not None:
            step("ledger", "comparing the head", lambda: ledger_head.head_problems(led, expected))
        found += unreadable
        found += [Problem("ledger", p) for p in led.integrity_problems()]
        step("ledger", "checking the hourly roll-ups", lambda: _rollup_problems(led))
        history: dict[str, list[StoredLine]] = defaultdict(list)
        for inv in invoices:
            name = inv.number or inv.id or "?"
            report.invoices += 1
            report.lines += len(inv.lines)
            step(
                name,
                f"checking invoice {inv.id}",
                lambda i=inv, n=name: _check_invoice(led, i, n, history),  # type: ignore[misc]
            )
        step("ledger", "checking the customers", lambda: _check_customers(led, invoices))
        found += [Problem("ledger", p) for p in led.schema_problems()]
        step("ledger", "checking billing credits", lambda: check_credits(led, invoices))
    return report


def _catalog_problems(led: LedgerStore) -> list[Problem]:
    return [Problem("ledger", p) for p in led.catalog_chain_problems()]


def _rollup_problems(led: LedgerStore) -> list[Problem]:
    finding = led.verify_rollups()
    return [] if finding is None else [Problem("ledger", finding)]


def _check_invoice(
    led: LedgerStore, inv: Invoice, name: str, history: dict[str, list[StoredLine]]
) -> list[Problem]:
    return [
        *_check_totals(inv, name),
        *_check_lines(led, inv, name),
        *_check_late_lines(led, inv, name, history),
    ]
