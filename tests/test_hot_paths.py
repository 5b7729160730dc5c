"""Issue 10.7: no O(history) work on hot paths. The real functions run; these tests count how
often the costly steps are taken (benchmarks/history_bench.py gives the times):
- a close or a preview walks the periods after the last invoiced one, not every period since
  the subscription started;
- an import reads the finalized periods (what makes an event late) once, and again only after
  an invoice was finalized, not once per batch."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest

from billing_cli.api import Context, event_import
from billing_cli.api import invoices as invoices_api
from billing_cli.clock import parse_time
from billing_cli.domain import periods
from billing_cli.storage.sqlite import Ledger
from tests.conftest import Billing


def _counting(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """Count the calls of the real `owner.name` (it still runs)."""
    calls = [0]
    real: Callable[..., Any] = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


@pytest.fixture
def daily(alpaca: Billing) -> Billing:
    """A daily metered subscription started 120 days ago, every period invoiced."""
    alpaca.json(
        "price", "create", "--id", "price_daily", "--product", "prod_api", "--currency", "usd",
        "--unit-amount", "1", "--interval", "day", "--usage-type", "metered",
        "--meter", "mtr_tokens",
    )  # fmt: skip
    alpaca.json(
        "subscription", "create", "--customer", "cus_alpaca", "--price", "price_daily",
        "--backdate-start-date", "2026-07-04T09:00:00Z",
    )  # fmt: skip
    run = alpaca.json("invoice", "run", now="2026-11-01T10:00:00Z")
    assert len(run["finalized"]) == 120
    return alpaca


def test_close_and_preview_do_not_walk_the_whole_history(
    daily: Billing, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = _counting(monkeypatch, periods, "step")
    ctx = Context(db=str(daily.db), now=parse_time("2026-11-03T10:00:00Z"))
    result = invoices_api.run(ctx)
    assert len(result.finalized) == 2  # Nov 1-2 and 2-3: the walk still finds new periods
    assert steps[0] < 40, steps[0]  # stepping from the start would take > 240
    steps[0] = 0
    preview = invoices_api.upcoming(ctx, customer="cus_alpaca")
    listed = daily.json("invoice", "list")["data"]
    assert preview.period_start == max(i["period_end"] for i in listed)
    assert steps[0] < 40, steps[0]


def test_a_deleted_draft_in_the_middle_is_still_found(daily: Billing) -> None:
    """The jump is taken only when no period before it lacks an invoice."""
    run = daily.json("invoice", "run", "--grace", "72h", now="2026-11-03T10:00:00Z")
    first, second = sorted(run["created"])[:2]
    older = min(
        (daily.json("invoice", "show", i) for i in (first, second)), key=lambda i: i["period_end"]
    )
    daily.json("invoice", "delete", older["id"], now="2026-11-03T10:00:00Z")
    again = daily.json("invoice", "run", "--grace", "72h", now="2026-11-03T10:00:00Z")
    assert len(again["created"]) == 1
    recreated = daily.json("invoice", "show", again["created"][0])
    assert recreated["period_start"] == older["period_start"]


def test_import_reads_finalized_periods_once_not_per_batch(
    daily: Billing, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _counting(monkeypatch, Ledger, "finalized_periods")
    rows = "".join(
        f"api_tokens,b{n},2026-10-{1 + n % 28:02d}T12:00:00Z,cus_alpaca,1\n" for n in range(50)
    )
    csv = "event_name,identifier,timestamp,stripe_customer_id,value\n" + rows
    ctx = Context(db=str(daily.db), now=parse_time("2026-11-03T10:00:00Z"))
    summary = event_import.import_events(ctx, io.BytesIO(csv.encode()), "csv", batch_size=5)
    assert summary.accepted == 50 and summary.late == 50  # every October day is invoiced
    assert reads[0] == 1, reads[0]  # ten batches, one read


def test_preview_looks_up_only_pending_late_events(
    alpaca: Billing, monkeypatch: pytest.MonkeyPatch
) -> None:
    alpaca.json("subscription", "create", "--customer", "cus_alpaca", "--price", "price_tokens")
    alpaca.json("invoice", "run", now="2026-12-01T10:00:00Z")  # November finalized

    def late(n: int, at: str, now: str) -> None:
        rows = "".join(f"api_tokens,l{n}_{i},{at},cus_alpaca,100\n" for i in range(n))
        header = "event_name,identifier,timestamp,stripe_customer_id,value\n"
        assert alpaca("event", "import", "-", "--format", "csv", now=now, input=header + rows)
        alpaca.json("event", "late", "--resolve", "next-invoice", now=now)

    late(30, "2026-11-20T00:00:00Z", now="2026-12-02T00:00:00Z")
    run = alpaca.json("invoice", "run", now="2027-01-01T10:00:00Z")  # December + late line
    assert len(run["finalized"]) == 1
    lookups = _counting(monkeypatch, Ledger, "covering_line")
    ctx = Context(db=str(alpaca.db), now=parse_time("2027-01-15T00:00:00Z"))
    preview = invoices_api.upcoming(ctx, customer="cus_alpaca")
    assert [li.type for li in preview.lines] == ["subscription"]  # nothing pending
    assert lookups[0] == 0, lookups[0]  # not one lookup per late event already invoiced
    late(1, "2026-12-20T00:00:00Z", now="2027-01-16T00:00:00Z")  # one more, still billed
    lookups[0] = 0
    ctx = Context(db=str(alpaca.db), now=parse_time("2027-01-17T00:00:00Z"))
    preview = invoices_api.upcoming(ctx, customer="cus_alpaca")
    [late_line] = [li for li in preview.lines if li.type == "late_usage"]
    assert late_line.quantity_decimal == 100 and late_line.explain["identifiers"] == ["l1_0"]
    assert lookups[0] == 1
