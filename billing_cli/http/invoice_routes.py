"""`/v1/invoices`: preview, list, retrieve, lines, finalize, pay, void, mark uncollectible,
delete a draft. The month-end `invoice run` stays a cron command (`billing invoice run`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from billing_cli.api import catalog, invoices
from billing_cli.api.context import Context
from billing_cli.api.prices import products_by_price
from billing_cli.http.endpoint import Action, Call, Reply, Spec
from billing_cli.http.forms import param_error
from billing_cli.http.lists import listing, page_request
from billing_cli.present.invoice_json import deleted_dict, invoice_dict, line_dict

INVOICE = "invoice"
STATUSES = ("draft", "open", "paid", "uncollectible", "void")


def _explain(call: Call, prefix: str = "") -> bool:
    """billing_cli's per-line computation, only when asked for (`expand[]=lines.data.explain`,
    the way Stripe's clients ask for more of an object; `data.…` on a list)."""
    return any(call.expand.wants(prefix + e) for e in ("explain", "lines.data.explain"))


def _invoice(ctx: Context, inv: Any, *, explain: bool = False) -> dict[str, Any]:
    customer = catalog.get_customer(ctx, inv.customer)
    return invoice_dict(inv, customer, products=products_by_price(ctx), explain=explain)


def create_preview(call: Call) -> Action:
    p = call.params
    customer = p.required("customer")
    subscription = p.text("subscription")
    explain = _explain(call)

    def act(ctx: Context) -> Reply:
        inv = invoices.upcoming(ctx, customer=customer, subscription=subscription)
        return 200, _invoice(ctx, inv, explain=explain)

    return act


def list_all(call: Call) -> Action:
    p = call.params
    customer = p.text("customer")
    status = p.choice("status", STATUSES)
    subscription = p.text("subscription")
    page = page_request(p)
    explain = _explain(call, "data.")

    def act(ctx: Context) -> Reply:
        found = [
            i
            for i in invoices.list_invoices(ctx, customer=customer, status=status)
            if subscription in (None, i.subscription)
        ]
        customers = {c.id: c for c in catalog.list_customers(ctx)}
        products = products_by_price(ctx)
        return 200, listing(
            call.path,
            found,
            page,
            lambda inv: invoice_dict(
                inv, customers.get(inv.customer), products=products, explain=explain
            ),
        )

    return act


def retrieve(call: Call) -> Action:
    invoice_id = call.path_param("id")
    explain = _explain(call)
    return lambda ctx: (200, _invoice(ctx, invoices.get_invoice(ctx, invoice_id), explain=explain))


def lines(call: Call) -> Action:
    invoice_id = call.path_param("id")
    page = page_request(call.params)
    explain = call.expand.wants("data.explain")

    def act(ctx: Context) -> Reply:
        inv = invoices.get_invoice(ctx, invoice_id)
        products = products_by_price(ctx)
        rendered = [line_dict(line, inv, products=products, explain=explain) for line in inv.lines]
        return 200, listing(call.path, rendered, page, lambda d: d, key=lambda d: d["id"])

    return act


def _transition(use_case: Callable[[Context, str], Any]) -> Callable[[Call], Action]:
    def handler(call: Call) -> Action:
        invoice_id = call.path_param("id")
        return lambda ctx: (200, _invoice(ctx, use_case(ctx, invoice_id)))

    return handler


def pay(call: Call) -> Action:
    """Only payments made outside billing_cli exist here: `paid_out_of_band=true`."""
    if call.params.flag("paid_out_of_band") is not True:
        raise param_error(
            "paid_out_of_band",
            "billing_cli records payments made out of band only: send paid_out_of_band=true",
        )
    return _transition(invoices.pay)(call)


def finalize(call: Call) -> Action:
    call.params.flag("auto_advance")  # accepted; a finalized invoice here never auto-charges
    return _transition(invoices.finalize)(call)


def delete(call: Call) -> Action:
    invoice_id = call.path_param("id")

    def act(ctx: Context) -> Reply:
        return 200, deleted_dict(invoices.delete(ctx, invoice_id))

    return act


ROUTES: tuple[tuple[str, str, Spec], ...] = (
    ("POST", "/v1/invoices/create_preview", Spec(create_preview, kind=INVOICE)),
    ("GET", "/v1/invoices", Spec(list_all, kind=INVOICE, listed=True)),
    ("GET", "/v1/invoices/{id}", Spec(retrieve, kind=INVOICE)),
    ("GET", "/v1/invoices/{id}/lines", Spec(lines, kind="line_item", listed=True)),
    ("POST", "/v1/invoices/{id}/finalize", Spec(finalize, kind=INVOICE)),
    ("POST", "/v1/invoices/{id}/pay", Spec(pay, kind=INVOICE)),
    ("POST", "/v1/invoices/{id}/void", Spec(_transition(invoices.void), kind=INVOICE)),
    (
        "POST",
        "/v1/invoices/{id}/mark_uncollectible",
        Spec(_transition(invoices.mark_uncollectible), kind=INVOICE),
    ),
    ("DELETE", "/v1/invoices/{id}", Spec(delete)),
)
