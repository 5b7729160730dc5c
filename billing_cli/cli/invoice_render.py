"""An invoice as a document for people (SPEC 5.1): header, lines, subtotal, billing credits,
total, amount due.

`--explain` adds each line's computation (meter, events, aggregate, transform, tiers, exact and
rounded amount). Every stored text (customer name, product name) is printed as data, and the
lines table follows `output.print_table`'s rules: no amount, quantity or id is ever cut.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from billing_cli.cli.output import AMOUNT, NUMBER, TEXT, Column, literal, period_column
from billing_cli.clock import format_time
from billing_cli.present.amounts import format_amount, format_unit_amount


def _period(period: dict) -> str:
    return f"{format_time(period['start'])} – {format_time(period['end'])}"


def _explain(line: dict) -> dict[str, Any]:
    """The line's computation (asked for: the document always shows packages and tiers)."""
    return line["billing_cli"].get("explain") or {}


def packages(quantity: str, transformed: str, transform: dict) -> str:
    """`4275 → 43 packages of 100 (rounded up)`; one package is "1 package"."""
    rounding = "rounded up" if transform["round"] == "up" else "rounded down"
    noun = "package" if Decimal(transformed) == 1 else "packages"
    return f"{quantity} → {transformed} {noun} of {transform['divide_by']} ({rounding})"


def _quantity(line: dict) -> str:
    """The quantity column: the usage before any transform, then the packages it made. A late
    usage line shows the re-rated period's quantity, in the same words."""
    explain = _explain(line)
    transform = explain.get("transform_quantity")
    quantity = line["quantity_decimal"]
    if line["billing_cli"]["type"] == "late_usage":
        quantity = explain.get("quantity", quantity)
    if transform:
        return packages(quantity, explain["transformed_quantity"], transform)
    return quantity


def _unit(line: dict, currency: str) -> str:
    unit = (line.get("pricing") or {}).get("unit_amount_decimal")
    if unit is None:
        return "tiered" if _explain(line).get("tiers_mode") else ""
    return format_unit_amount(Decimal(unit), currency)


def _original_quantity(e: dict) -> str:
    transform = e.get("transform_quantity")
    original = str(e.get("original_quantity"))
    if not transform:
        return original
    divided = Decimal(original) / Decimal(transform["divide_by"])
    rounding = "ROUND_CEILING" if transform["round"] == "up" else "ROUND_FLOOR"
    packs = divided.to_integral_value(rounding=rounding)
    return packages(original, str(packs), transform)


def _signed(quantity: str) -> str:
    return quantity if quantity.startswith("-") else f"+{quantity}"


def _explain_rows(line: dict, currency: str) -> list[tuple[str, str]]:
    e = _explain(line)
    late = (
        line["billing_cli"]["type"] == "late_usage"
    )  # its explain's `kind` is the meter's ("metered")
    rows: list[tuple[str, str]] = [("kind", "late_usage" if late else str(e.get("kind")))]
    if e.get("meter"):
        window = e.get("usage_window") or {}
        rows += [
            ("meter", f"{e['meter']} ({e.get('formula')}"
             + (f", {e['event_time_window']} window" if e.get("event_time_window") else "") + ")"),
            ("usage window", _period(window) if window else ""),
            ("events", str(e.get("event_count"))),
            ("raw aggregate", str(e.get("raw_aggregate"))),
        ]  # fmt: skip
    if late:
        rows += [
            ("original invoice", str(e.get("original_invoice"))),
            ("late events", ", ".join(e.get("identifiers", []))),
            ("original quantity", str(e.get("original_quantity"))),
        ]
    rows.append(("quantity", str(e.get("quantity"))))
    transform = e.get("transform_quantity")
    if transform:
        packs = packages(str(e.get("quantity")), str(e.get("transformed_quantity")), transform)
        rows.append(("transformed", packs))
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
    if late:
        rows += _true_up_rows(e, currency)
    else:
        rows.append(("amount", format_amount(line["amount"], currency)))
    return rows


def _true_up_rows(e: dict, currency: str) -> list[tuple[str, str]]:
    """How a late-usage line was reached: the period re-rated with its late events, what was
    already invoiced for it, and the difference that this line bills (or credits)."""
    money = lambda amount: format_amount(amount, currency)  # noqa: E731
    return [
        ("re-rated total", money(e["recomputed_amount"])),
        ("already invoiced", money(e["already_invoiced"])),
        ("difference", money(e["recomputed_amount"] - e["already_invoiced"])),
    ]


def _print_pairs(out: Any, pairs: list[tuple[str, str]], title: str | None = None) -> None:
    """`label  value` lines, whole (the terminal wraps a long one, Rich never cuts it)."""
    from rich.text import Text

    if title is not None:
        out.print(Text(literal(title), style="bold"), soft_wrap=True)
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        out.print(Text(f"{key:<{width}}  {literal(value)}".rstrip()), soft_wrap=True)


def _grant_label(grant_id: str, grants: Mapping[str, dict]) -> str:
    grant = grants.get(grant_id)
    if grant is None:
        return grant_id
    name = f"{grant['name']}, " if grant.get("name") else ""
    return f"{grant_id} ({name}{grant['category']})"


def _credit_rows(line: dict, currency: str, grants: Mapping[str, dict]) -> list[tuple[str, str]]:
    """`--explain`: the grants that paid the line (or would, in a preview or a draft)."""
    rows = []
    for credit in _explain(line).get("credits") or []:
        txn = credit.get("credit_balance_transaction")
        how = f"transaction {txn}" if txn else "would apply now"
        rows.append(
            (
                f"credit {_grant_label(credit['credit_grant'], grants)}",
                f"{format_amount(-credit['amount'], currency)} ({how})",
            )
        )
    if rows:
        paid = sum(c["amount"] for c in line["pretax_credit_amounts"])
        rows.append(("after credits", format_amount(line["amount"] - paid, currency)))
    return rows


def _credits_by_grant(lines: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in lines:
        for credit in _explain(line).get("credits") or []:
            out[credit["credit_grant"]] = out.get(credit["credit_grant"], 0) + credit["amount"]
    return out


def _totals(data: dict, grants: Mapping[str, dict]) -> list[tuple[str, str]]:
    """Subtotal, the billing credits per grant, tax, total, amount due; then for a finalized
    invoice what was paid and what is due now: a paid or void invoice owes nothing, whatever
    it billed."""
    currency = data["currency"]
    pairs = [("subtotal", data["subtotal"])]
    for grant_id, amount in _credits_by_grant(data["lines"]["data"]).items():
        pairs.append((f"credits: {_grant_label(grant_id, grants)}", -amount))
    for t in data.get("total_taxes") or []:
        kind = "incl." if t["tax_behavior"] == "inclusive" else "on"
        base = format_amount(t["taxable_amount"], currency)
        rate = t["billing_cli"]  # the rate's name and percentage when the tax was computed
        pairs.append((f"{rate['display_name']} {rate['percentage']} % {kind} {base}", t["amount"]))
    pairs.append(("total", data["total"]))
    if data["starting_balance"]:
        pairs.append(("applied balance", data["starting_balance"]))
    pairs.append(("amount due", data["amount_due"]))
    if data["status"] not in ("draft",) and data["id"] is not None:
        pairs.append(("amount paid", data["amount_paid"]))
        pairs.append(("due now", data["amount_remaining"]))
    if data["ending_balance"]:
        pairs.append(("credit carried forward", data["ending_balance"]))
    shown = [(k, format_amount(v, currency)) for k, v in pairs]
    width = max(len(v) for _, v in shown)
    return [(k, f"{v:>{width}}") for k, v in shown]


def _paid(line: dict, currency: str) -> str:
    paid = sum(c["amount"] for c in line.get("pretax_credit_amounts") or [])
    return format_amount(-paid, currency) if paid else ""


CREDITS_COLUMN = Column("credits", lambda r: r["credits"], AMOUNT)
LINE_COLUMNS = [
    Column("description", lambda r: r["description"], TEXT),
    period_column("period", "start", "end"),
    Column("quantity", lambda r: r["quantity"], NUMBER),
    Column("unit price", lambda r: r["unit"], AMOUNT, stack=True),
    Column("amount", lambda r: r["amount"], AMOUNT),
]


def render_invoice(
    data: dict, *, explain: bool = False, grants: Mapping[str, dict] | None = None
) -> None:
    """Print one Stripe-shaped invoice dict (from `invoice_json.invoice_dict`) as a document.
    `grants` (credit grant dicts by id) lets billing credits be named, not only numbered."""
    from billing_cli.cli.output import console, print_table

    out = console()
    currency = data["currency"]
    who = data.get("customer_name") or ""
    if data.get("customer_email"):
        who = f"{who} <{data['customer_email']}>".strip()
    title = data["number"] or ("preview" if data["id"] is None else "draft")
    header = [
        ("invoice", title),
        ("id", data["id"] or ""),
        ("customer", f"{who} ({data['customer']})" if who else data["customer"]),
        (
            "subscription",
            ((data.get("parent") or {}).get("subscription_details") or {}).get("subscription")
            or "",
        ),
        ("billing_reason", data["billing_reason"]),
        ("period", _period({"start": data["period_start"], "end": data["period_end"]})),
        ("status", data["status"]),
    ]
    _print_pairs(out, [(k, v) for k, v in header if v])
    lines = data["lines"]["data"]
    rows = [
        {
            "description": line["description"],
            "start": line["period"]["start"],
            "end": line["period"]["end"],
            "quantity": _quantity(line),
            "unit": _unit(line, currency),
            "amount": format_amount(line["amount"], currency),
            "credits": _paid(line, currency),
        }
        for line in lines
    ]
    credited = any(line.get("pretax_credit_amounts") for line in lines)
    print_table([*LINE_COLUMNS, *([CREDITS_COLUMN] if credited else [])], rows)
    for line in lines:
        e = _explain(line)
        if line["billing_cli"]["type"] == "late_usage" and "recomputed_amount" in e:
            out.print()
            _print_pairs(
                out,
                [
                    (
                        "re-rated total",
                        f"{_quantity(line)}: {format_amount(e['recomputed_amount'], currency)}",
                    ),
                    (
                        "already invoiced",
                        f"{_original_quantity(e)} on "
                        f"{e.get('original_invoice')}: "
                        f"{format_amount(e['already_invoiced'], currency)}",
                    ),
                    (
                        "difference",
                        f"{_signed(line['quantity_decimal'])}: "
                        f"{format_amount(line['amount'], currency)}",
                    ),
                ],  # fmt: skip
                title=f"how “{line['description']}” was reached",
            )
    out.print()
    _print_pairs(out, _totals(data, grants or {}))
    if explain:
        for index, line in enumerate(lines, start=1):
            out.print()
            title = f"line {index}: {line['description']}"
            rows_of = _explain_rows(line, currency) + _credit_rows(line, currency, grants or {})
            _print_pairs(out, rows_of, title=title)
