"""Correct under load: the SDK in threads and in processes (v1 events, the v2 stream,
idempotent retries), `billing event import` and two `invoice run`s from cron, all at once on one
ledger. Nothing is lost, nothing is doubled, the month-end close is what a quiet ledger gives.

November's usage is in the ledger before the rush; the rush sends December's usage while cron
closes November, so the closed invoices are known in advance and every December event must
arrive exactly once, however often and by whichever path it was sent.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

from billing_cli.api import Context
from billing_cli.clock import parse_time
from tests.serve_harness import billing_env, running_server
from tests.trust_state import (
    assert_event_chain_and_rollups_whole,
    build_catalog,
    gapless,
    ledger_state,
)

CUSTOMERS = 12
NOVEMBER = 1793491200  # 2026-11-01T00:00:00Z
DECEMBER = 1796083200  # 2026-12-01T00:00:00Z
NOW = "2026-12-01T02:00:00Z"  # November ended two hours ago: past the 1 h grace


def content(identifier: str) -> tuple[str, str, int]:
    """Each identifier always carries the same customer, value and December timestamp, so any
    two sends of it are duplicates, never conflicts."""
    digest = int(hashlib.sha256(identifier.encode()).hexdigest()[:8], 16)
    customer = f"cus_{digest % CUSTOMERS:02d}"
    value = f"{digest % 997}.{digest % 10}"
    return customer, value, DECEMBER + digest % 7000


def v1_params(identifier: str) -> dict:
    customer, value, ts = content(identifier)
    return {
        "event_name": "api_tokens",
        "identifier": identifier,
        "timestamp": ts,
        "payload": {"stripe_customer_id": customer, "value": value},
    }


STREAM_CLIENT = """
import sys, time
import stripe
sys.path.insert(0, {root!r})
from tests.test_serve_concurrency import content
url, token, prefixes = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
client = stripe.StripeClient(token, base_addresses={{"meter_events": url}}, max_network_retries=0)
for prefix in prefixes:
    for request in range(4):
        events = []
        for i in range(100):
            ident = f"{{prefix}}-{{request * 100 + i}}"
            customer, value, ts = content(ident)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))
            events.append({{"event_name": "api_tokens", "identifier": ident, "timestamp": stamp,
                           "payload": {{"stripe_customer_id": customer, "value": value}}}})
        client.v2.billing.meter_event_stream.create({{"events": events}})
"""


def _november(db: Path) -> None:
    """The catalog and November's usage, before the rush."""
    build_catalog(
        Context(db=db, now=parse_time("2026-11-01T00:00:00Z")),
        CUSTOMERS,
        unit_amount_decimal="0.04",
        seat_amount=900,
        seats=2,
    )
    rows = "".join(
        f"api_tokens,nov-{i},{NOVEMBER + i * 1700},cus_{i % CUSTOMERS:02d},{i % 50}\n"
        for i in range(1500)
    )
    path = db.parent / "november.csv"
    path.write_text("event_name,identifier,timestamp,stripe_customer_id,value\n" + rows)
    imported = subprocess.run(
        [sys.executable, "-m", "billing_cli", "--db", str(db), "--now", "2026-11-30T12:00:00Z",
         "event", "import", str(path)],
        capture_output=True, text=True, env=billing_env(),
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr


def test_everything_at_once_loses_and_doubles_nothing(tmp_path: Path) -> None:
    db = tmp_path / "busy.db"
    _november(db)
    december_csv = tmp_path / "december.csv"
    csv_ids = [f"csv-{i}" for i in range(600)] + [f"s0-{i}" for i in range(150)]  # overlap
    december_csv.write_text(
        "event_name,identifier,timestamp,stripe_customer_id,value\n"
        + "".join(
            "api_tokens,{},{},{},{}\n".format(ident, content(ident)[2], *content(ident)[:2])
            for ident in csv_ids
        )
    )
    thread_ids = {t: [f"t{t}-{i}" for i in range(40)] for t in range(4)}
    expected = set(csv_ids) | {i for ids in thread_ids.values() for i in ids}
    expected |= {f"s{p}-{i}" for p in range(3) for i in range(400)}

    with running_server(db, now=NOW) as server:
        token = server.client().v2.billing.meter_event_session.create().authentication_token
        cli = [sys.executable, "-m", "billing_cli", "--db", str(db), "--now", NOW]
        stream_code = STREAM_CLIENT.format(root=str(Path(__file__).resolve().parents[1]))
        errors: list[BaseException] = []
        created: list[str] = []

        def sdk_thread(t: int) -> None:
            try:
                client = server.client()
                for ident in thread_ids[t] + thread_ids[(t + 1) % 4][:15]:  # neighbours' too
                    client.v1.billing.meter_events.create(v1_params(ident))
                for n in range(5):  # the same customer creation, retried under one key
                    options = {"idempotency_key": f"customer-{n}"}
                    customer = client.v1.customers.create({"name": f"New {n}"}, options)  # type: ignore[arg-type]
                    created.append(customer.id)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        env = billing_env()
        procs = [
            subprocess.Popen([sys.executable, "-c", stream_code, server.url, token, prefixes],
                             env=env, stderr=subprocess.PIPE, text=True)
            for prefixes in ("s0,s1", "s1,s2")  # s1 is sent twice, by both processes
        ]  # fmt: skip
        procs.append(
            subprocess.Popen(
                [*cli, "event", "import", str(december_csv)],
                env=env,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
        )
        runs = [
            subprocess.Popen(
                [*cli, "invoice", "run", "--json"],
                env=env,
                text=True,
                stdout=subprocess.DEVNULL,  # a list of invoices: more than a pipe holds
                stderr=subprocess.PIPE,
            )  # fmt: skip
            for _ in range(2)
        ]
        threads = [threading.Thread(target=sdk_thread, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        for proc in procs + runs:
            proc.wait(timeout=300)
        assert not errors, errors
        for proc in procs + runs:
            assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        assert len(set(created)) == 5 and len(created) == 20  # each key made one customer

        # December's usage as the API reports it, per customer, against what was sent
        client = server.client()
        sums: dict[str, Decimal] = {}
        for ident in expected:
            customer, value, _ = content(ident)
            sums[customer] = sums.get(customer, Decimal(0)) + Decimal(value)
        for customer, total in sums.items():
            (summary,) = client.v1.billing.meters.event_summaries.list(
                "mtr_tokens",
                {"customer": customer, "start_time": DECEMBER, "end_time": DECEMBER + 7200},
            ).data
            assert Decimal(str(summary.aggregated_value)) == total, customer
        listed = client.v1.invoices.list({"limit": 100}).auto_paging_iter()
        november = [i for i in listed if i.billing_reason == "subscription_cycle"]
        assert len(november) == CUSTOMERS
        assert all((i.period_end, i.status) == (DECEMBER, "open") for i in november)

    with sqlite3.connect(db) as conn:
        stored = [r[0] for r in conn.execute("SELECT identifier FROM meter_events")]
        per_sub = conn.execute(
            "SELECT subscription, count(*) FROM invoices WHERE billing_reason ="
            " 'subscription_cycle' GROUP BY subscription"
        ).fetchall()
    december = {i for i in stored if not i.startswith("nov-")}
    assert december == expected and len(stored) == len(set(stored))
    assert len(per_sub) == CUSTOMERS and all(n == 1 for _, n in per_sub)
    state = ledger_state(db)
    assert gapless(state)
    assert_event_chain_and_rollups_whole(db)
    check = subprocess.run(
        [sys.executable, "-m", "billing_cli", "--db", str(db), "--now", NOW, "ledger", "check"],
        capture_output=True, text=True, env=billing_env(),
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
