"""Billing credits → Stripe-shaped dicts: `billing.credit_grant`,
`billing.credit_balance_summary`, `billing.credit_balance_transaction` (the SDK's shapes)."""

from __future__ import annotations

from typing import Any

from billing_cli.domain.credits import (
    APPLIED,
    CREDIT,
    INVOICE_VOIDED,
    Balance,
    GrantState,
    Transaction,
)


def monetary(value: int, currency: str) -> dict[str, Any]:
    """Stripe's `{monetary: {currency, value}, type: "monetary"}` amount."""
    return {"monetary": {"currency": currency, "value": value}, "type": "monetary"}


def credit_grant_dict(state: GrantState) -> dict[str, Any]:
    g = state.grant
    scope: dict[str, Any] = (
        {"price_type": None, "prices": [{"id": p} for p in g.prices]}
        if g.prices
        else {"price_type": "metered", "prices": None}
    )
    return {
        "id": g.id,
        "object": "billing.credit_grant",
        "amount": monetary(g.value, g.currency),
        "applicability_config": {"scope": scope},
        "category": g.category,
        "created": g.created,
        "customer": g.customer,
        "customer_account": None,
        "effective_at": g.effective_at,
        "expires_at": state.expires_at,
        "livemode": False,
        "metadata": dict(g.metadata),
        "name": g.name,
        "priority": g.priority,
        "test_clock": None,
        "updated": state.updated,
        "voided_at": state.voided_at,
    }


def credit_balance_summary_dict(customer: str, balances: list[Balance]) -> dict[str, Any]:
    return {
        "object": "billing.credit_balance_summary",
        "balances": [
            {
                "available_balance": monetary(b.available, b.currency),
                "ledger_balance": monetary(b.ledger, b.currency),
            }
            for b in balances
        ],
        "customer": customer,
        "customer_account": None,
        "livemode": False,
    }


def credit_balance_transaction_dict(t: Transaction) -> dict[str, Any]:
    invoice_ref = {"invoice": t.invoice, "invoice_line_item": t.invoice_line_item}
    detail: dict[str, Any] = {"amount": monetary(t.amount, t.currency), "type": t.reason}
    if t.type == CREDIT:
        detail["credits_application_invoice_voided"] = (
            invoice_ref if t.reason == INVOICE_VOIDED else None
        )
    else:
        detail["credits_applied"] = invoice_ref if t.reason == APPLIED else None
    return {
        "id": t.id,
        "object": "billing.credit_balance_transaction",
        "created": t.created,
        "credit": detail if t.type == CREDIT else None,
        "credit_grant": t.credit_grant,
        "debit": None if t.type == CREDIT else detail,
        "effective_at": t.effective_at,
        "livemode": False,
        "test_clock": None,
        "type": t.type,
    }
