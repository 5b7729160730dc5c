"""Racing processes never spend one credit twice (issue 19, item 5).

Each customer has two subscriptions on two meters, so one `invoice run` finalizes two invoices
that draw on the same grants, and a high-priority promotional grant that a third process tries
to void while the runs go on. Three real `billing` processes start at once on one ledger file:
two `invoice run`s and the voids. Whatever order they get the lock in: every grant pays at most
what it holds, each invoice's credits are those a serial run gives for the same order, a voided
grant paid nothing and a grant that paid something was not voided, and `ledger check` passes.
On both backends (issue 13.4).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from billing_cli.api import Context, catalog, credits, events, subscriptions
from billing_cli.api import invoices as invoices_api
from billing_cli.api import prices as prices_api
from billing_cli.api.ledger_check import check_ledger
from billing_cli.clock import parse_time
from tests.backends import copy_location, new_location, query_rows
from tests.trust_state import start

pytestmark = pytest.mark.both_backends

CUSTOMERS = 6
START = "2026-11-01T00:00:00Z"
RUN = "2026-12-01T01:00:00Z"


def build(path: Path | str) -> None:
    ctx = Context(path, parse_time(START))
    for name in ("tokens", "images"):
        catalog.create_meter(
            ctx, display_name=name, event_name=name, aggregation="sum", meter_id=f"mtr_{name}"
        )
        prices_api.create_price(
            ctx, product_name=name, currency="usd", unit_amount=3, interval="month",
            usage_type="metered", meter=f"mtr_{name}", price_id=f"price_{name}",
        )  # fmt: skip
    for i in range(CUSTOMERS):
        cid = f"cus_{i}"
        catalog.create_customer(ctx, name=cid, customer_id=cid, invoice_prefix=f"C{i}X")
        for name in ("tokens", "images"):
            subscriptions.create_subscription(ctx, customer=cid, prices=[f"price_{name}"])
        credits.create_grant(ctx, customer=cid, amount=2000 + 100 * i, currency="usd",
                             grant_id=f"cg_paid_{i}")  # fmt: skip
        credits.create_grant(ctx, customer=cid, amount=500, currency="usd", priority=0,
                             category="promotional", grant_id=f"cg_promo_{i}")  # fmt: skip
        for n, name in enumerate(("tokens", "images")):
            events.send_event(
                Context(path, parse_time("2026-11-15T00:00:00Z")),
                event_name=name,
                customer=cid,
                value=str(400 + 37 * i + 200 * n),
                identifier=f"e_{i}_{name}",
                timestamp="2026-11-10T00:00:00Z",
            )


def debits(path: Path | str) -> dict[str, int]:
    rows = query_rows(
        path,
        "SELECT credit_grant, sum(amount) FROM credit_balance_transactions"
        " WHERE reason = 'credits_applied' GROUP BY credit_grant",
    )
    return {grant: int(total) for grant, total in rows}


def invoice_credits(path: Path | str) -> list[tuple]:
    """(customer, subscription's price, total, credits per line) of every invoice."""
    return sorted(
        query_rows(
            path,
            "SELECT i.customer, l.price, i.subtotal, i.total, i.status,"
            " l.pretax_credit_amounts FROM invoices i JOIN invoice_lines l ON l.invoice = i.id",
        )
    )


@pytest.fixture(scope="module")
def templates() -> dict[str, Path | str]:
    return {}


@pytest.fixture
def template(
    backend: str, templates: dict[str, Path | str], request: pytest.FixtureRequest
) -> Path | str:
    """The catalog, grants and usage, built once per backend and copied for each round."""
    if backend not in templates:
        templates[backend] = new_location(request, template=True)
        build(templates[backend])
    return templates[backend]


@pytest.mark.parametrize("round_", range(3))
def test_racing_runs_and_voids_spend_each_credit_once(
    template: Path | str, request: pytest.FixtureRequest, round_: int
) -> None:
    db = copy_location(template, request)
    voids = ["cg_promo_" + str(i) for i in range(CUSTOMERS)]
    procs = [start(db, RUN, "invoice", "run", "--json")]
    # The voids run in one shell loop of separate processes, interleaved with the runs.
    procs += [start(db, RUN, "credit-grant", "void", v, "--json") for v in voids[: round_ + 2]]
    procs.append(start(db, RUN, "invoice", "run", "--json"))
    procs += [start(db, RUN, "credit-grant", "void", v, "--json") for v in voids[round_ + 2 :]]
    outs = [p.communicate(timeout=120) for p in procs]
    for (_out, err), p in zip(outs, procs, strict=True):
        assert "Traceback" not in err and "locked" not in err, err
        assert p.returncode in (0, 5), err
    runs = [json.loads(outs[0][0]), json.loads(outs[1 + round_ + 2][0])]
    finalized = [i for r in runs for i in r["finalized"]]
    assert len(finalized) == len(set(finalized)) == 2 * CUSTOMERS  # each invoice once
    spent = debits(db)
    for i in range(CUSTOMERS):
        assert spent.get(f"cg_paid_{i}", 0) <= 2000 + 100 * i
        assert spent.get(f"cg_promo_{i}", 0) <= 500
    voided = {v for v, p in zip(voids, _void_procs(procs, round_), strict=True) if p == 0}
    for v in voids:
        if v in voided:
            assert spent.get(v, 0) == 0, v  # a voided grant paid nothing
        else:
            assert spent.get(v, 0) > 0, v  # it lost the race: it had paid already
    # The same order, one command after another, gives the same invoices and credits.
    serial = copy_location(template, request)
    for v in voids:
        if v in voided:
            credits.void_grant(Context(serial, parse_time(RUN)), v)
    invoices_api.run(Context(serial, parse_time(RUN)))
    assert debits(serial) == spent
    assert _without_ids(invoice_credits(serial)) == _without_ids(invoice_credits(db))
    assert check_ledger(Context(db, parse_time(RUN))).ok


def _void_procs(procs: list, round_: int) -> list[int]:
    codes = [p.returncode for p in procs]
    return codes[1 : 1 + round_ + 2] + codes[2 + round_ + 2 :]


def _without_ids(rows: list[tuple]) -> list[tuple]:
    out = []
    for *head, credits_json in rows:
        paid = [(grant, amount) for grant, amount, _ in json.loads(credits_json)]
        out.append((*head, paid))
    return sorted(out)
