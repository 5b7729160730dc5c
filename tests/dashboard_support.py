"""`billing serve` with its dashboard, for the dashboard tests, and the ledger it shows.

`served(db, now)` starts a real `billing serve` process (tests/serve_harness.py: a free
loopback port, `--now` freezing the clock) and reads the dashboard's one-time sign-in URL from
what it printed on stderr. `build_shop` makes a ledger with everything the pages show: two
meters, usage over November, a finalized invoice, an upcoming one, late events and hostile
customer names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.serve_harness import running_server

API_KEY = "sk_test_dashboard_0123456789"
SHOP_NOW = "2026-12-02T12:00:00Z"
HOSTILE_SCRIPT = "<script>window.__pwned = 1</script>"
HOSTILE_IMG = '"><img src=x onerror="window.__pwned = 2">'
_LOGIN = re.compile(r"sign in once with (http://\S+/dashboard/login\?token=\S+)")


@dataclass(frozen=True)
class Server:
    base: str  # http://127.0.0.1:PORT
    login_url: str  # the one-time sign-in URL from stderr


@contextmanager
def served(db: Path, now: str = SHOP_NOW) -> Iterator[Server]:
    with running_server(db, now=now, keys=(API_KEY,)) as server:
        found = _LOGIN.search(server.stderr)
        assert found is not None, server.stderr
        yield Server(server.url, found[1])


def exact_text(value: float) -> str:
    """`meter usage --json` writes `aggregated_value` as a JSON number (as Stripe's summaries
    have it); its text as the dashboard shows it ("13533.75", "1200")."""
    from decimal import Decimal

    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def build_shop(billing) -> None:  # noqa: ANN001 - tests.conftest.Billing
    """Alpaca's token meter with usage over November for two customers, a count meter, the
    November invoice finalized, usage in December (the upcoming invoice), two late events and
    two customers whose names are HTML payloads."""
    run = billing.json
    run(
        "meter",
        "create",
        "--id",
        "mtr_tokens",
        "--display-name",
        "API tokens",
        "--event-name",
        "api_tokens",
        "--aggregation",
        "sum",
        now="2026-11-01T00:00:00Z",
    )
    run(
        "meter",
        "create",
        "--id",
        "mtr_calls",
        "--display-name",
        "Calls",
        "--event-name",
        "calls",
        "--aggregation",
        "count",
        now="2026-11-01T00:00:00Z",
    )
    run(
        "product",
        "create",
        "--id",
        "prod_api",
        "--name",
        "Alpaca API",
        "--unit-label",
        "tokens",
        now="2026-11-01T00:00:00Z",
    )
    run(
        "price",
        "create",
        "--id",
        "price_tokens",
        "--product",
        "prod_api",
        "--currency",
        "usd",
        "--unit-amount-decimal",
        "0.04",
        "--interval",
        "month",
        "--usage-type",
        "metered",
        "--meter",
        "mtr_tokens",
        now="2026-11-01T00:00:00Z",
    )
    for cid, name in (
        ("cus_alpaca", "Alpaca AI"),
        ("cus_llama", "Llama Labs"),
        ("cus_script", HOSTILE_SCRIPT),
        ("cus_img", HOSTILE_IMG),
    ):
        run("customer", "create", "--id", cid, "--name", name, now="2026-11-01T00:00:00Z")
    for cid in ("cus_alpaca", "cus_llama", "cus_script"):
        run(
            "subscription",
            "create",
            "--customer",
            cid,
            "--price",
            "price_tokens",
            now="2026-11-01T00:00:00Z",
        )
    sends = [
        ("cus_alpaca", "2026-11-01T10:00:00Z", "1200"),
        ("cus_alpaca", "2026-11-03T10:00:00Z", "3333.5"),
        ("cus_alpaca", "2026-11-14T08:00:00Z", "9000"),
        ("cus_alpaca", "2026-11-14T20:00:00Z", "0.25"),
        ("cus_llama", "2026-11-14T09:00:00Z", "700"),
        ("cus_llama", "2026-11-29T23:00:00Z", "41"),
        ("cus_script", "2026-11-20T12:00:00Z", "5"),
    ]
    for cid, at, value in sends:
        run(
            "event",
            "send",
            "--event-name",
            "api_tokens",
            "--customer",
            cid,
            "--value",
            value,
            "--timestamp",
            at,
            now="2026-11-30T00:00:00Z",
        )
    billing("invoice", "run", now="2026-12-01T02:00:00Z")
    for cid, at, value in (
        ("cus_alpaca", "2026-12-01T10:00:00Z", "2500"),
        ("cus_alpaca", "2026-12-02T09:00:00Z", "1234.75"),
    ):
        run(
            "event",
            "send",
            "--event-name",
            "api_tokens",
            "--customer",
            cid,
            "--value",
            value,
            "--timestamp",
            at,
            now="2026-12-02T10:00:00Z",
        )
    for cid, ident in (("cus_alpaca", "late-1"), ("cus_llama", "late-2")):
        run(
            "event",
            "send",
            "--event-name",
            "api_tokens",
            "--customer",
            cid,
            "--value",
            "50",
            "--timestamp",
            "2026-11-15T00:00:00Z",
            "--identifier",
            ident,
            now="2026-12-02T11:00:00Z",
        )
    run(
        "event",
        "send",
        "--event-name",
        "calls",
        "--customer",
        "cus_llama",
        "--timestamp",
        "2026-12-02T10:30:00Z",
        now="2026-12-02T11:00:00Z",
    )
