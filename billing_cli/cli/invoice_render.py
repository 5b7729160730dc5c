"""An invoice as a document for people (SPEC 5.1): header, lines, subtotal, total, amount due.

`--explain` adds each line's computation (meter, events, aggregate, transform, tiers, exact and
rounded amount). Off a terminal the same text is printed without colour or truncation.
"""

from __future__ import annotations

from typing import Any

from billing_cli.clock import format_time
from billing_cli.present.amounts import format_amount, format_unit_amount


def _period(period: dict) -> str:
    return f"{format_time(period['start'])} – {format_time(period['end'])}"


def _quantity(line: dict) -> str:
    explain = line.get("explain") or {}
    text = line["quantity_decimal"]
    transform = explain.get("transform_quantity")
    if transform and line["type"] == "subscription":
        rounding = "rounded up" if transform["round"] == "up" else "rounded down"
        text += (
            f" → {explain['transformed_quantity']} packages of {transform['divide_by']}"
            f" ({rounding})"
        )
    return text


def _unit(line: dict, currency: str) -> str:
    from decimal import Decimal

    unit = line.get("unit_amount_decimal")
    if unit is None:
        return "tiered" if (line.get("explain") or {}).get("tiers_mode") else ""
    return format_unit_amount(Decimal(unit), currency)


def _explain_rows(line: dict, currency: str) -> list[tuple[str, str]]:
    e: dict[str, Any] = line.get("explain") or {}
    rows: list[tuple[str, str]] = [("kind", str(e.get("kind")))]
    if e.get("meter"):
        window = e.get("usage_window") or {}
        rows += [
            ("meter", f"{e['meter']} ({e.get('formula')}"
             + (f", {e['event_time_window']} window" if e.get("event_time_window") else "") + ")"),
            ("usage window", _period(window) if window else ""),
            ("events", str(e.get("event_count"))),
            ("raw aggregate", str(e.get("raw_aggregate"))),
        ]  # fmt: skip
    if e.get("kind") == "late_usage":
        rows += [
            ("original invoice", str(e.get("original_invoice"))),
            ("late events", ", ".join(e.get("identifiers", []))),
            ("original quantity", str(e.get("original_quantity"))),
        ]
    rows.append(("quantity", str(e.get("quantity"))))
    transform = e.get("transform_quantity")
    if transform:
        rows.append(
            (
                "transformed",
                f"{e.get('transformed_quantity')} (÷ {transform['divide_by']}, "
                f"rounded {transform['round']})",
            )
        )
    for step in e.get("tier_walk") or []:
        rows.append(
            (
                f"tier {step['tier']} (up to {step['up_to']})",
                f"{step['units']} × {step['unit_amount_decimal'] or 0} + "
                f"{step['flat_amount_decimal'] or 0} = {step['amount_decimal']}",
            )
        )
    rows.append(("exact amount", f"{e.get('exact_amount')} (minor units)"))
    proration = e.get("proration")
    if proration:
        rows.append(
            (
                "proration",
                f"{proration['seconds']} s / {proration['period_seconds']} s of "
                f"{_period(proration['full_period'])}",
            )
        )
    if e.get("trial"):
        rows.append(("trial", f"usage before {format_time(e['trial']['trial_end'])} excluded"))
    if e.get("kind") == "late_usage":
        rows.append(
            (
                "delta",
                f"{e.get('recomputed_amount')} recomputed − {e.get('already_invoiced')} "
                "already invoiced",
            )
        )
    rows.append(("amount", format_amount(line["amount"], currency)))
    return rows


def render_invoice(data: dict, *, explain: bool = False) -> None:
    """Print one Stripe-shaped invoice dict (from `invoice_json.invoice_dict`) as a document."""
    from rich import box
    from rich.table import Table

    from billing_cli.cli.output import console

    out = console()
    currency = data["currency"]
    money = lambda amount: format_amount(amount, currency)  # noqa: E731
    who = data.get("customer_name") or ""
    if data.get("customer_email"):
        who = f"{who} <{data['customer_email']}>".strip()
    header = Table(box=None, show_header=False, pad_edge=False)
    header.add_column(no_wrap=True)
    header.add_column(no_wrap=True, overflow="ignore")
    title = data["number"] or ("preview" if data["id"] is None else "draft")
    for key, value in (
        ("invoice", title),
        ("id", data["id"] or ""),
        ("customer", f"{who} ({data['customer']})" if who else data["customer"]),
        ("subscription", data.get("subscription") or ""),
        ("billing_reason", data["billing_reason"]),
        ("period", _period({"start": data["period_start"], "end": data["period_end"]})),
        ("status", data["status"]),
    ):
        if value:
            header.add_row(key, value)
    out.print(header)
    tty = out.is_terminal
    table = Table(box=box.SIMPLE_HEAD if tty else box.ASCII2, show_edge=tty)
    for name, right in (
        ("description", False),
        ("period", False),
        ("quantity", True),
        ("unit price", True),
        ("amount", True),
    ):
        table.add_column(
            name, justify="right" if right else "left", no_wrap=True, overflow="ignore"
        )
    lines = data["lines"]["data"]
    for line in lines:
        table.add_row(
            line["description"],
            _period(line["period"]),
            _quantity(line),
            _unit(line, currency),
            money(line["amount"]),
        )
    out.print(table)
    totals = Table(box=None, show_header=False, pad_edge=False)
    totals.add_column(no_wrap=True)
    totals.add_column(justify="right", no_wrap=True, overflow="ignore")
    totals.add_row("subtotal", money(data["subtotal"]))
    for t in data.get("total_taxes") or []:
        kind = "incl." if t["inclusive"] else "on"
        totals.add_row(
            f"{t['display_name']} {t['percentage']} % {kind} {money(t['taxable_amount'])}",
            money(t["amount"]),
        )
    totals.add_row("total", money(data["total"]))
    if data["starting_balance"]:
        totals.add_row("applied balance", money(data["starting_balance"]))
    totals.add_row("amount due", money(data["amount_due"]))
    if data["ending_balance"]:
        totals.add_row("credit carried forward", money(data["ending_balance"]))
    out.print(totals)
    if explain:
        for index, line in enumerate(lines, start=1):
            detail = Table(
                title=f"line {index}: {line['description']}",
                box=None,
                show_header=False,
                pad_edge=False,
            )
            detail.add_column(no_wrap=True)
            detail.add_column(no_wrap=True, overflow="ignore")
            for key, value in _explain_rows(line, currency):
                detail.add_row(key, value)
            out.print(detail)
